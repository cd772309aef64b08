"""indexes for the evaluation's scans of the case event log

Revision ID: 0010_evalperf
Revises: 0009_secinput
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0010_evalperf"
down_revision = "0009_secinput"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_kind_at", "events", ["kind", "at"])
    op.create_index("ix_events_kind_entity_id", "events", ["kind", "entity_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_events_kind_entity_id", table_name="events")
    op.drop_index("ix_events_kind_at", table_name="events")
