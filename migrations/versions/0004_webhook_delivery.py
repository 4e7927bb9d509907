"""Webhook delivery: the attempts, leases on outbox rows, secret rotation and failure tracking.

Encrypted columns are plain text holding Fernet tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 23:48:33.978985
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('webhook_attempt',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('webhook_event_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('attempted_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('response_body', sa.String(length=1024), nullable=False),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_webhook_attempt_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_event_id'], ['webhook_event.id'], name=op.f('fk_webhook_attempt_webhook_event_id_webhook_event'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempt'))
    )
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_attempt_event', ['webhook_event_id', 'attempted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_attempt_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_secret', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('secret_rotated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failing_since', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True))

    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('lease_owner', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('lease_until', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.drop_column('lease_until')
        batch_op.drop_column('lease_owner')

    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_column('failing_since')
        batch_op.drop_column('secret_rotated_at')
        batch_op.drop_column('previous_secret')

    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_attempt_tenant_id'))
        batch_op.drop_index('ix_webhook_attempt_event')

    op.drop_table('webhook_attempt')
