"""Initial ledger: batches, datasets, chained audit events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("active_key", sa.String(140), nullable=True, unique=True),
        sa.Column("state", sa.String(32), nullable=False, index=True),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.Column("snapshot_marker", sa.Text(), nullable=True),
        sa.Column("message_identifier", sa.String(128), nullable=True),
        sa.Column("sip_path", sa.Text(), nullable=True),
        sa.Column("sip_sha256", sa.String(64), nullable=True),
        sa.Column("manifest_sha512", sa.String(128), nullable=True),
        sa.Column("sip_validation", sa.JSON(), nullable=True),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", sa.String(32), nullable=True),
        sa.Column("approved_sha256", sa.String(64), nullable=True),
        sa.Column("vitam_operation_id", sa.String(64), nullable=True),
        sa.Column("atr_path", sa.Text(), nullable=True),
        sa.Column("atr_reply_code", sa.String(32), nullable=True),
        sa.Column("atr", sa.JSON(), nullable=True),
    )
    op.create_table(
        "dataset",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batch.id"), nullable=False, index=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("source_table", sa.String(128), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("source_count", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("columns", sa.JSON(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("quality", sa.JSON(), nullable=True),
        sa.Column("quality_success", sa.Boolean(), nullable=True),
        sa.UniqueConstraint("batch_id", "name"),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batch.id"), nullable=True, index=True),
        sa.Column("at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=True),
        sa.Column("to_state", sa.String(32), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_head")
    op.drop_table("audit_event")
    op.drop_table("dataset")
    op.drop_table("batch")
