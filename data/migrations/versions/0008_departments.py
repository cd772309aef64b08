"""departments, department staff, and the case's stage between bodies

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

A department tree with jurisdictions and categories; users may belong to one; every incident
carries its owning department, its stage (立案 … 结案), the routing sentence and the stage's clock.
Existing incidents become ``filed`` with no owner (what they were: items in one shared pool).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from data.models import GeometryType

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("departments.id"), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("kind", sa.String(32), nullable=False, server_default=""),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("jurisdiction", GeometryType("MULTIPOLYGON"), nullable=True),
        sa.Column("jurisdiction_m2", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_departments_parent_id", "departments", ["parent_id"])
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_users_department_id", ["department_id"])
        batch_op.create_foreign_key("fk_users_department", "departments", ["department_id"], ["id"])
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("stage", sa.String(16), nullable=False, server_default="filed"))
        batch_op.add_column(sa.Column("routing", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("stage_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("stage_due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("held_stage", sa.String(16), nullable=True))
        batch_op.add_column(sa.Column("urged_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("urge_note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("urge_due_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("extension_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("rework_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("return_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_incidents_department_id", ["department_id"])
        batch_op.create_index("ix_incidents_stage_department", ["stage", "department_id"])
        batch_op.create_foreign_key("fk_incidents_department", "departments", ["department_id"], ["id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_departments_jurisdiction_gist ON departments USING GIST (jurisdiction)")


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint("fk_incidents_department", type_="foreignkey")
        batch_op.drop_index("ix_incidents_stage_department")
        batch_op.drop_index("ix_incidents_department_id")
        for column in (
            "return_count",
            "rework_count",
            "extension_reason",
            "extension_until",
            "urge_due_at",
            "urge_note",
            "urged_at",
            "held_stage",
            "stage_due_at",
            "stage_at",
            "routing",
            "stage",
            "department_id",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint("fk_users_department", type_="foreignkey")
        batch_op.drop_index("ix_users_department_id")
        batch_op.drop_column("department_id")
    op.drop_table("departments")
