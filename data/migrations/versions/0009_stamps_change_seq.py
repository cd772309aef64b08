"""change stamps in commit order: ``change_seq`` on incidents, workers and parking spaces

Revision ID: 0009_stamps
Revises: 0008
Create Date: 2026-12-01

A wall-clock stamp is taken when a row is written, not when its transaction commits: a long
transaction (an SLA pass, a 20,000-row push) commits rows stamped earlier than rows other
transactions committed meanwhile, and a screen that caught up in between never re-reads them.
``change_seq`` is set by the database on every insert and update, so no writer can forget it:
- PostgreSQL: the writing transaction's id (``pg_current_xact_id()``). A reader takes the oldest
  transaction still running (``pg_snapshot_xmin``) as its mark; every row committed later carries
  an id at or above it, so "rows with change_seq >= mark" cannot miss one.
- SQLite: one writer at a time (``BEGIN IMMEDIATE``), so ``max + 1`` is already commit order.
See ``data/mirror.py`` for the readers.

``onemap_order_events`` (PostgreSQL) gives a transaction's events fresh ids just before it commits,
under one lock the commit releases, so event ids too are in commit order (``data.store.commit_order_events``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_stamps"
down_revision = "0008"
branch_labels = None
depends_on = None

TABLES = ("incidents", "workers", "parking_spaces")

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION onemap_change_seq() RETURNS trigger AS $$
BEGIN
    NEW.change_seq := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END
$$ LANGUAGE plpgsql
"""


# Takes the order lock, then renumbers the given events from the sequence in their order; returns the new ids.
PG_ORDER_EVENTS = """
CREATE OR REPLACE FUNCTION onemap_order_events(old bigint[]) RETURNS bigint[] AS $$
DECLARE
    sorted bigint[];
    fresh bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock(%d);
    SELECT array_agg(x ORDER BY x) INTO sorted FROM unnest(old) AS x;
    SELECT array_agg(nextval(pg_get_serial_sequence('events', 'id')) ORDER BY g) INTO fresh
        FROM generate_series(1, cardinality(sorted)) AS g;
    UPDATE events SET id = m.new FROM unnest(sorted, fresh) AS m(old, new) WHERE events.id = m.old;
    RETURN fresh;
END
$$ LANGUAGE plpgsql
"""
EVENT_ORDER_LOCK = 0x0E0E_0001


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("change_seq", sa.BigInteger(), nullable=False, server_default="0"))
            batch_op.create_index(f"ix_{table}_change_seq", ["change_seq"], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(PG_ORDER_EVENTS % EVENT_ORDER_LOCK)
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_change_seq BEFORE INSERT OR UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION onemap_change_seq()"
            )
        return
    for table in TABLES:
        for when in ("INSERT", "UPDATE"):
            # Recursive triggers are off (SQLite's default), so the stamp's own update fires nothing.
            op.execute(
                f"CREATE TRIGGER {table}_change_seq_{when.lower()} AFTER {when} ON {table} FOR EACH ROW BEGIN "
                f"UPDATE {table} SET change_seq = (SELECT coalesce(max(change_seq), 0) + 1 FROM {table}) "
                "WHERE rowid = NEW.rowid; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_change_seq ON {table}")
        op.execute("DROP FUNCTION IF EXISTS onemap_change_seq()")
        op.execute("DROP FUNCTION IF EXISTS onemap_order_events(bigint[])")
    else:
        for table in TABLES:
            for when in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_change_seq_{when}")
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_change_seq")
            batch_op.drop_column("change_seq")
