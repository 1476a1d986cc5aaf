"""Local accounts of the consultation browser (argon2 hashes, one role each).

Revision ID: 0004_accounts
Revises: 0003_scope
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_accounts"
down_revision = "0003_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "browser_account",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("browser_account")
