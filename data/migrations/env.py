"""Alembic environment: the engine comes from ``Store.migrate`` (or ONEMAP_DATABASE_URL for the CLI)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from config import Config
from data.models import Base

engine = context.config.attributes.get("engine") or create_engine(Config.from_env().database_url)

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
