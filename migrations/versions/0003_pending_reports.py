"""Reports that overtook the recording of the provider's send answer.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 22:21:15.656698
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('pending_report',
    sa.Column('id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('traffic_account_id', advanced_alchemy.types.guid.GUID(length=16), nullable=False),
    sa.Column('provider_message_id', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('description', sa.String(length=1000), nullable=True),
    sa.Column('received_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False),
    sa.Column('sa_orm_sentinel', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['traffic_account_id'], ['traffic_account.id'], name=op.f('fk_pending_report_traffic_account_id_traffic_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_report'))
    )
    with op.batch_alter_table('pending_report', schema=None) as batch_op:
        batch_op.create_index('ix_pending_report_provider_id', ['traffic_account_id', 'provider_message_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pending_report_received_at'), ['received_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('pending_report', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pending_report_received_at'))
        batch_op.drop_index('ix_pending_report_provider_id')

    op.drop_table('pending_report')
