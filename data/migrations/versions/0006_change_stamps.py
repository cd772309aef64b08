"""change stamps on workers and parking spaces

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

``changed_at`` is when this store last changed the row, on the server's clock (a parking space's
``updated_at`` is the sensor's event time, which may be far in the past). Each process keeps the
workers and spaces in memory and reads only the rows stamped since it last looked.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("workers", "parking_spaces")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("changed_at", sa.DateTime(), nullable=True))
            batch_op.create_index(f"ix_{table}_changed_at", ["changed_at"], unique=False)


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_changed_at")
            batch_op.drop_column("changed_at")
