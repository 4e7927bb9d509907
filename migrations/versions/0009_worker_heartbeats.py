"""Worker heartbeats: each process running the worker's loops says it is alive and how busy it is
(GET /admin/status).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 16:30:00.000000
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("id", advanced_alchemy.types.guid.GUID(length=16), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("embedded", sa.Boolean(), nullable=False),
        sa.Column("started_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("beat_at", advanced_alchemy.types.DateTimeUTC(timezone=True), nullable=False),
        sa.Column("in_flight_sends", sa.Integer(), nullable=False),
        sa.Column("in_flight_deliveries", sa.Integer(), nullable=False),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_worker_heartbeat")),
        sa.UniqueConstraint("owner", name=op.f("uq_worker_heartbeat_owner")),
    )


def downgrade() -> None:
    op.drop_table("worker_heartbeat")
