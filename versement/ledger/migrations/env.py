"""Alembic environment: migrations run on the connection the Ledger hands over."""

from __future__ import annotations

from alembic import context

from versement.ledger.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through versement.ledger.Ledger.migrate()")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
