"""The user's name: the latest one known on the conversation, and the one each inbound message gave.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without a default: added in place on SQLite and Postgres alike (no table copy).
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.add_column(sa.Column("participant_name", sa.String(length=256), nullable=True))
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender_name", sa.String(length=256), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_column("sender_name")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_column("participant_name")
