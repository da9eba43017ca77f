"""Indexes for the runtime inventory's filters (``/runtimes``) and the archive's ordering.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("instances_subaccount_id", "instances", ("subaccount_id",)),
    ("instances_runtime_id", "instances", ("runtime_id",)),
    ("instances_plan_name_created_at", "instances", ("service_plan_name", "created_at")),
    ("instances_shoot_name", "instances", ("shoot_name",)),
    ("instances_archived_created_at", "instances_archived", ("created_at",)),
    ("instances_archived_global_account_id", "instances_archived", ("global_account_id",)),
    ("instances_archived_subaccount_id", "instances_archived", ("subaccount_id",)),
    ("instances_archived_last_runtime_id", "instances_archived", ("last_runtime_id",)),
)


def upgrade() -> None:
    for index, table, columns in INDEXES:
        op.create_index(index, table, list(columns))


def downgrade() -> None:
    for index, table, _ in reversed(INDEXES):
        op.drop_index(index, table_name=table)
