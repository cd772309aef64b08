"""case_facts: one row a case, kept from the case event log for the evaluation

Revision ID: 0011_casefacts
Revises: 0010_evalperf
Create Date: 2026-12-02

The table starts empty: the first ``ops.case_facts.refresh`` (the first evaluation read) folds in
every case event from id 0, then only the events after its cursor.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_casefacts"
down_revision = "0010_evalperf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "case_facts",
        sa.Column("case_id", big, autoincrement=False, nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.Column("owner", sa.Integer(), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(), nullable=True),
        sa.Column("signed_at", sa.DateTime(), nullable=True),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.Column("last_handled_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("reopened_at", sa.DateTime(), nullable=True),
        sa.Column("deadline", sa.DateTime(), nullable=True),
        sa.Column("handle_deadline", sa.DateTime(), nullable=True),
        sa.Column("reworks", sa.Integer(), nullable=False),
        sa.Column("voids", sa.Integer(), nullable=False),
        sa.Column("held_at", sa.DateTime(), nullable=True),
        sa.Column("resumed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )
    op.create_index("ix_case_facts_last_at", "case_facts", ["last_at"])
    op.create_index("ix_case_facts_dispatched_at", "case_facts", ["dispatched_at"])
    op.create_index("ix_case_facts_held_at", "case_facts", ["held_at"])


def downgrade() -> None:
    op.drop_table("case_facts")
