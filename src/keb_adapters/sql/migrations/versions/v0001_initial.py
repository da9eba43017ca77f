"""Instances, operations, archived instances and operation events.

The column lists are functions so that ``keb_adapters.sql.tables`` builds its Table objects from the
migrations themselves: the schema is written once, and a later revision adds to it without copying.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keb_adapters.sql.types import Json, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def instances_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("instance_id", sa.String(255), primary_key=True),
        sa.Column("runtime_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("global_account_id", sa.String(255), nullable=False),
        sa.Column("subaccount_id", sa.String(255), nullable=False),
        sa.Column("user_id", sa.String(255), nullable=False),
        sa.Column("service_id", sa.String(255), nullable=False),
        sa.Column("service_plan_id", sa.String(255), nullable=False),
        sa.Column("service_plan_name", sa.String(255), nullable=False),
        sa.Column("platform_region", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("provider_region", sa.String(255), nullable=False),
        sa.Column("shoot_name", sa.String(255), nullable=False),
        sa.Column("dashboard_url", sa.Text, nullable=False, server_default=""),
        sa.Column("parameters", Json(), nullable=False),
        sa.Column("context", Json(), nullable=False),
        sa.Column("eu_access", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_operation_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("expired_at", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def operations_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("instance_id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("temporary", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("plan_id", sa.String(255), nullable=False),
        sa.Column("runtime_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("finished_stages", Json(), nullable=False),
        sa.Column("request_digest", sa.String(128), nullable=False, server_default=""),
        sa.Column("parameters", Json(), nullable=False),
        sa.Column("user_agent", sa.Text, nullable=False, server_default=""),
        sa.Column("stage_started_at", UtcDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_run_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        # Engine bookkeeping, outside the domain's version: which worker holds the operation until when.
        sa.Column("lease_owner", sa.String(255), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
    ]


def archived_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("instance_id", sa.String(255), primary_key=True),
        sa.Column("global_account_id", sa.String(255), nullable=False),
        sa.Column("subaccount_id", sa.String(255), nullable=False),
        sa.Column("plan_id", sa.String(255), nullable=False),
        sa.Column("plan_name", sa.String(255), nullable=False),
        sa.Column("subaccount_region", sa.String(255), nullable=False),
        sa.Column("region", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("shoot_name", sa.String(255), nullable=False),
        sa.Column("last_runtime_id", sa.String(255), nullable=False),
        sa.Column("internal_user", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=False),
        sa.Column("provisioning_started_at", UtcDateTime(), nullable=True),
        sa.Column("provisioning_finished_at", UtcDateTime(), nullable=True),
        sa.Column("provisioning_state", sa.String(32), nullable=False),
        sa.Column("first_deprovisioning_started_at", UtcDateTime(), nullable=True),
        sa.Column("first_deprovisioning_finished_at", UtcDateTime(), nullable=True),
        sa.Column("last_deprovisioning_finished_at", UtcDateTime(), nullable=True),
    ]


def events_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("instance_id", sa.String(255), nullable=False),
        sa.Column("operation_id", sa.String(255), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    ]


INDEXES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("instances_created_at", "instances", ("created_at",)),
    ("instances_global_account_id", "instances", ("global_account_id",)),
    ("operations_instance_id_created_at", "operations", ("instance_id", "created_at")),
    ("operations_state_next_run_at", "operations", ("state", "next_run_at")),
    ("operations_type_state_created_at", "operations", ("type", "state", "created_at")),
    ("events_instance_id", "events", ("instance_id",)),
    ("events_operation_id", "events", ("operation_id",)),
)

TABLES = (
    ("instances", instances_columns),
    ("operations", operations_columns),
    ("instances_archived", archived_columns),
    ("events", events_columns),
)


def upgrade() -> None:
    for name, column_factory in TABLES:
        op.create_table(name, *column_factory())
    for index, table, indexed in INDEXES:
        op.create_index(index, table, list(indexed))


def downgrade() -> None:
    for name, _ in reversed(TABLES):
        op.drop_table(name)
