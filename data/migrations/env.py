"""Alembic environment: the engine comes from ``Store.migrate`` (or ONEMAP_DATABASE_URL for the CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, text

from config import Config
from data.models import Base

# PostgreSQL advisory lock ids of OneMap's (0x0E0E_0001 orders events, migration 0009).
MIGRATION_LOCK = 0x0E0E_0002

engine = context.config.attributes.get("engine") or create_engine(Config.from_env().database_url)

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Processes starting at once on one database migrate in turn; the later ones find it at head.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
    connection.commit()
