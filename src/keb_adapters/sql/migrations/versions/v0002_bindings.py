"""Bindings: one row per (instance, binding) with the encrypted kubeconfig.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keb_adapters.sql.types import UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def bindings_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("instance_id", sa.String(255), primary_key=True),
        sa.Column("binding_type", sa.String(64), nullable=False),
        sa.Column("expiration_seconds", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False, server_default=""),
        # base64(nonce || AES-GCM ciphertext || tag); empty while the binding is being created
        sa.Column("kubeconfig", sa.Text, nullable=False, server_default=""),
        sa.Column("version", sa.Integer, nullable=False),
    ]


def upgrade() -> None:
    op.create_table("bindings", *bindings_columns())
    op.create_index("bindings_instance_id", "bindings", ["instance_id"])
    op.create_index("bindings_expires_at", "bindings", ["expires_at"])


def downgrade() -> None:
    op.drop_table("bindings")
