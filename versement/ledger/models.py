"""Ledger tables: batches, their datasets, and the append-only audit trail."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Batch(Base):
    """One transfer: a consistent extraction of one source scope, packaged as one SIP."""

    __tablename__ = "batch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(64))  # its label, e.g. "2023-2024"
    # What the scope is (extractors.scope.Scope.to_json) and the specification extracted with
    # ({tool, version, sha256}): every later stage reads these, never the current configuration.
    scope_detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # "source/scope" while the batch is alive, NULL once closed: one live batch per scope.
    active_key: Mapped[str | None] = mapped_column(String(140), unique=True)
    state: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[str] = mapped_column(String(32))
    snapshot_marker: Mapped[str | None] = mapped_column(Text)
    message_identifier: Mapped[str | None] = mapped_column(String(128))
    sip_path: Mapped[str | None] = mapped_column(Text)
    sip_sha256: Mapped[str | None] = mapped_column(String(64))
    manifest_sha512: Mapped[str | None] = mapped_column(String(128))
    sip_validation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    approved_by: Mapped[str | None] = mapped_column(String(200))  # the name the archivist declared
    # Who was logged in when approving: the authenticated identity (Airflow, browser), else "os:<user>".
    approver_identity: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[str | None] = mapped_column(String(32))
    approved_sha256: Mapped[str | None] = mapped_column(String(64))
    vitam_operation_id: Mapped[str | None] = mapped_column(String(64))
    atr_path: Mapped[str | None] = mapped_column(Text)
    atr_reply_code: Mapped[str | None] = mapped_column(String(32))
    atr: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Supersession (a corrected re-transfer of an archived scope): both directions, each audited.
    supersedes: Mapped[int | None] = mapped_column(Integer)
    superseded_by: Mapped[int | None] = mapped_column(Integer)

    datasets: Mapped[list[Dataset]] = relationship(
        back_populates="batch", order_by="Dataset.id", cascade="all, delete-orphan"
    )
    # Every SIP of every packaging attempt (versement/ledger/sips.py); the columns above describe
    # part 1 of the current attempt (the whole SIP when there is one part).
    sips: Mapped[list[Sip]] = relationship(
        back_populates="batch", order_by=lambda: [Sip.attempt, Sip.part], cascade="all, delete-orphan"
    )


class Dataset(Base):
    """One extracted table (or table partition) of a batch, with its digest and quality result."""

    __tablename__ = "dataset"
    __table_args__ = (UniqueConstraint("batch_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    source_table: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)
    rows: Mapped[int] = mapped_column(BigInteger)
    source_count: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list[Any]] = mapped_column(JSON)
    query: Mapped[str] = mapped_column(Text)
    # The dataset's specification as extracted (label, record type, key, person key, column tags)
    # and its extraction manifest (query, parameters, snapshot, counts, schema, times).
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    quality: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    quality_success: Mapped[bool | None] = mapped_column()

    batch: Mapped[Batch] = relationship(back_populates="datasets")


class Sip(Base):
    """One SIP (part) of one packaging attempt of a batch: its digests, approval and VITAM outcome.

    Attempt 1 is the first packaging; ``versement repackage`` starts the next one and keeps the
    rows of the previous attempts. A batch over the packaging limits has several parts per attempt.
    """

    __tablename__ = "sip"
    __table_args__ = (UniqueConstraint("batch_id", "attempt", "part"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batch.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    part: Mapped[int] = mapped_column(Integer)
    message_identifier: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    manifest_sha512: Mapped[str] = mapped_column(String(128))
    units: Mapped[int] = mapped_column(BigInteger)
    objects: Mapped[int] = mapped_column(BigInteger)
    bytes: Mapped[int] = mapped_column(BigInteger)
    approved_sha256: Mapped[str | None] = mapped_column(String(64))
    vitam_operation_id: Mapped[str | None] = mapped_column(String(64))
    atr_path: Mapped[str | None] = mapped_column(Text)
    atr_reply_code: Mapped[str | None] = mapped_column(String(32))
    # Where this part's transfer stands (submitting, submitted, accepted, refused, verified...).
    status: Mapped[str | None] = mapped_column(String(32))

    batch: Mapped[Batch] = relationship(back_populates="sips")


class AuditEvent(Base):
    """An append-only record of a transition or decision, chained to the previous one by hash."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batch.id"), index=True)
    at: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(32))
    to_state: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The single row locked while appending, so concurrent writers keep one chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)
