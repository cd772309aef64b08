"""warning titles as message keys

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24

A warning's title is kept as a catalog key with its parameters, so every screen reads it in its own
language; ``title`` keeps the English text for the API and for rows raised before this migration
(those have no key and are shown as stored).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("title_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("title_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("warnings", schema=None) as batch_op:
        batch_op.drop_column("title_params")
        batch_op.drop_column("title_key")
