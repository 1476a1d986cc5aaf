"""Every SIP of a batch, per packaging attempt and part (digests, approval, VITAM outcome).

Revision ID: 0005_sips
Revises: 0004_accounts
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_sips"
down_revision = "0004_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sip",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("batch_id", sa.Integer(), sa.ForeignKey("batch.id"), nullable=False, index=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("message_identifier", sa.String(128), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("manifest_sha512", sa.String(128), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("objects", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("approved_sha256", sa.String(64), nullable=True),
        sa.Column("vitam_operation_id", sa.String(64), nullable=True),
        sa.Column("atr_path", sa.Text(), nullable=True),
        sa.Column("atr_reply_code", sa.String(32), nullable=True),
        sa.Column("status", sa.String(32), nullable=True),
        sa.UniqueConstraint("batch_id", "attempt", "part"),
    )


def downgrade() -> None:
    op.drop_table("sip")
