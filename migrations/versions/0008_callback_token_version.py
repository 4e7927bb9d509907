"""A traffic account's callback token version: its callbackUrl's token can be rotated on its own.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 13:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("traffic_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("callback_token_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("traffic_account", schema=None) as batch_op:
        batch_op.drop_column("callback_token_version")
