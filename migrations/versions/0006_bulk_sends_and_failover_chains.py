"""Bulk sends (message.bulk_id) and Timeout failover chains.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 00:37:10.058668
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('failover_chain',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('tenant_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('required_status', sa.String(length=16), nullable=False),
    sa.Column('timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('steps', sa.Integer(), nullable=False),
    sa.Column('active_step', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('due_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.Column('created_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('updated_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant_id'], ['tenant.id'], name=op.f('fk_failover_chain_tenant_id_tenant'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_failover_chain'))
    )
    with op.batch_alter_table('failover_chain', schema=None) as batch_op:
        batch_op.create_index('ix_failover_chain_due', ['state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_failover_chain_tenant_id'), ['tenant_id'], unique=False)

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bulk_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True))
        batch_op.add_column(sa.Column('failover_chain_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True))
        batch_op.add_column(sa.Column('failover_step', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_message_bulk_id'), ['bulk_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_message_failover_chain_id'), ['failover_chain_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_failover_chain_id'))
        batch_op.drop_index(batch_op.f('ix_message_bulk_id'))
        batch_op.drop_column('failover_step')
        batch_op.drop_column('failover_chain_id')
        batch_op.drop_column('bulk_id')

    with op.batch_alter_table('failover_chain', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_failover_chain_tenant_id'))
        batch_op.drop_index('ix_failover_chain_due')

    op.drop_table('failover_chain')
