"""Batches record their scope and the dataset specification they were extracted with.

Revision ID: 0003_scope
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_scope"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batch") as table:
        table.add_column(sa.Column("scope_detail", sa.JSON(), nullable=True))
        table.add_column(sa.Column("spec", sa.JSON(), nullable=True))
    with op.batch_alter_table("dataset") as table:
        table.add_column(sa.Column("spec", sa.JSON(), nullable=True))
        table.add_column(sa.Column("manifest", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dataset") as table:
        table.drop_column("manifest")
        table.drop_column("spec")
    with op.batch_alter_table("batch") as table:
        table.drop_column("spec")
        table.drop_column("scope_detail")
