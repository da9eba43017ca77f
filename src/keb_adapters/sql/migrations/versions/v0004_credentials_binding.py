"""The CredentialsBinding claimed for an instance from a hyperscaler account pool (KEB's column name).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def instances_columns() -> list[sa.Column[object]]:
    return [sa.Column("subscription_secret_name", sa.String(255), nullable=False, server_default="")]


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        for column in instances_columns():
            batch.add_column(column)


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        for column in instances_columns():
            batch.drop_column(column.name)
