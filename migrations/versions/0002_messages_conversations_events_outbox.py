"""Messages, conversations, their status history and the webhook event outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 21:44:34.141823
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('traffic_account_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('participant', sa.String(length=256), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_conversation_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['traffic_account_id'], ['traffic_account.id'], name=op.f('fk_conversation_traffic_account_id_traffic_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversation')),
    sa.UniqueConstraint('traffic_account_id', 'participant', name=op.f('uq_conversation_traffic_account_id'))
    )
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_conversation_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('message',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('traffic_account_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('conversation_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('direction', sa.String(length=16), nullable=False),
    sa.Column('destination', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('message_parts', sa.Integer(), nullable=False),
    sa.Column('content', advanced_alchemy.types.JsonB, nullable=False),
    sa.Column('reference', sa.String(length=256), nullable=True),
    sa.Column('provider_message_id', sa.String(length=256), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('lease_until', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('valid_until', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversation.id'], name=op.f('fk_message_conversation_id_conversation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_message_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['traffic_account_id'], ['traffic_account.id'], name=op.f('fk_message_traffic_account_id_traffic_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message'))
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index('ix_message_conversation_created', ['conversation_id', 'created_at', 'id'], unique=False)
        batch_op.create_index('ix_message_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_message_provider_id', ['traffic_account_id', 'provider_message_id'], unique=False)
        batch_op.create_index(
            'uq_message_inbound_provider_id', ['traffic_account_id', 'provider_message_id'], unique=True,
            postgresql_where=sa.text("direction = 'inbound'"), sqlite_where=sa.text("direction = 'inbound'"),
        )
        batch_op.create_index('ix_message_tenant_created', ['tenant_id', 'created_at', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_tenant_id'), ['tenant_id'], unique=False)

    op.create_table('message_event',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('message_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('occurred_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_message_event_message_id_message'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_event'))
    )
    with op.batch_alter_table('message_event', schema=None) as batch_op:
        batch_op.create_index('ix_message_event_message', ['message_id', 'sequence'], unique=False)

    op.create_table('webhook_event',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('webhook_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('message_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('payload', advanced_alchemy.types.JsonB, nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_webhook_event_message_id_message'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_webhook_event_tenant_id_tenant'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhook.id'], name=op.f('fk_webhook_event_webhook_id_webhook'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_event'))
    )
    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_event_due', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_event_message_id'), ['message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_event_tenant_id'), ['tenant_id'], unique=False)
        batch_op.create_index('ix_webhook_event_webhook_created', ['webhook_id', 'created_at', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('webhook_event', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_event_webhook_created')
        batch_op.drop_index(batch_op.f('ix_webhook_event_tenant_id'))
        batch_op.drop_index(batch_op.f('ix_webhook_event_message_id'))
        batch_op.drop_index('ix_webhook_event_due')

    op.drop_table('webhook_event')
    with op.batch_alter_table('message_event', schema=None) as batch_op:
        batch_op.drop_index('ix_message_event_message')

    op.drop_table('message_event')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_tenant_id'))
        batch_op.drop_index('ix_message_tenant_created')
        batch_op.drop_index('uq_message_inbound_provider_id')
        batch_op.drop_index('ix_message_provider_id')
        batch_op.drop_index('ix_message_due')
        batch_op.drop_index('ix_message_conversation_created')

    op.drop_table('message')
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_conversation_tenant_id'))
        batch_op.drop_index('ix_conversation_tenant_created')

    op.drop_table('conversation')
