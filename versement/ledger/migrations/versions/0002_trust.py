"""Approver identity and supersession on batches.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite rebuilds the table, PostgreSQL alters it in place.
    with op.batch_alter_table("batch") as batch:
        batch.add_column(sa.Column("approver_identity", sa.String(200), nullable=True))
        batch.add_column(sa.Column("supersedes", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("superseded_by", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("batch") as batch:
        batch.drop_column("superseded_by")
        batch.drop_column("supersedes")
        batch.drop_column("approver_identity")
