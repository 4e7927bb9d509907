"""The local-mock workbench: the sandbox journal, provider behaviours, webhook catchers, an event index.

The journal of exchanges with the sandbox providers, per-account provider behaviour, webhook catchers, the
index the event stream reads status events by, and the customer's inbox session version (signing out ends them).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 19:15:29.471275
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sandbox_catcher',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('answer_status', sa.Integer(), nullable=True),
    sa.Column('answer_remaining', sa.Integer(), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_sandbox_catcher_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_catcher'))
    )
    with op.batch_alter_table('sandbox_catcher', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_catcher_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('sandbox_behaviour',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('traffic_account_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('latency_min_ms', sa.Integer(), nullable=False),
    sa.Column('latency_max_ms', sa.Integer(), nullable=False),
    sa.Column('error_rate', sa.Float(), nullable=False),
    sa.Column('fail_next_count', sa.Integer(), nullable=False),
    sa.Column('fail_next_with', sa.String(length=32), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_sandbox_behaviour_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['traffic_account_id'], ['traffic_account.id'], name=op.f('fk_sandbox_behaviour_traffic_account_id_traffic_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_behaviour')),
    sa.UniqueConstraint('traffic_account_id', name=op.f('uq_sandbox_behaviour_traffic_account_id'))
    )
    with op.batch_alter_table('sandbox_behaviour', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_behaviour_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('sandbox_catcher_request',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('catcher_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('received_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('headers', advanced_alchemy.types.JsonB, nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('answered_status', sa.Integer(), nullable=False),
    sa.Column('signature_verified', sa.Boolean(), nullable=True),
    sa.Column('webhook_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['catcher_id'], ['sandbox_catcher.id'], name=op.f('fk_sandbox_catcher_request_catcher_id_sandbox_catcher'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_sandbox_catcher_request_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_catcher_request'))
    )
    with op.batch_alter_table('sandbox_catcher_request', schema=None) as batch_op:
        batch_op.create_index('ix_sandbox_catcher_request_catcher', ['catcher_id', 'received_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_catcher_request_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('sandbox_exchange',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('traffic_account_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('message_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True),
    sa.Column('destination', sa.String(length=256), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('request_headers', advanced_alchemy.types.JsonB, nullable=False),
    sa.Column('request_body', sa.Text(), nullable=False),
    sa.Column('response_status', sa.Integer(), nullable=True),
    sa.Column('response_headers', advanced_alchemy.types.JsonB, nullable=False),
    sa.Column('response_body', sa.Text(), nullable=False),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('occurred_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_sandbox_exchange_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['traffic_account_id'], ['traffic_account.id'], name=op.f('fk_sandbox_exchange_traffic_account_id_traffic_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sandbox_exchange'))
    )
    with op.batch_alter_table('sandbox_exchange', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sandbox_exchange_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_sandbox_exchange_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_sandbox_exchange_tenant_occurred', ['tenant_id', 'occurred_at', 'id'], unique=False)

    with op.batch_alter_table('message_event', schema=None) as batch_op:
        batch_op.create_index('ix_message_event_occurred', ['occurred_at'], unique=False)

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inbox_session_version', sa.Integer(), server_default='1', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('inbox_session_version')

    with op.batch_alter_table('message_event', schema=None) as batch_op:
        batch_op.drop_index('ix_message_event_occurred')

    with op.batch_alter_table('sandbox_exchange', schema=None) as batch_op:
        batch_op.drop_index('ix_sandbox_exchange_tenant_occurred')
        batch_op.drop_index(batch_op.f('ix_sandbox_exchange_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_sandbox_exchange_message_id'))

    op.drop_table('sandbox_exchange')
    with op.batch_alter_table('sandbox_catcher_request', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_catcher_request_tenant_id'))
        batch_op.drop_index('ix_sandbox_catcher_request_catcher')

    op.drop_table('sandbox_catcher_request')
    with op.batch_alter_table('sandbox_behaviour', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_behaviour_tenant_id'))

    op.drop_table('sandbox_behaviour')
    with op.batch_alter_table('sandbox_catcher', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sandbox_catcher_tenant_id'))

    op.drop_table('sandbox_catcher')
