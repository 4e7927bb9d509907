"""Fewer index entries per stored message: what a bulk send's 10,000 inserts pay for.

The tenant_id indexes of message and conversation only repeated the leading column of their (tenant_id,
created_at, id) indexes, which serve the same look-ups (and the tenant foreign key's cascade). A message's
provider id, failover chain and bulk send are NULL when it is accepted (and the first two for most messages
ever): their indexes keep only the rows that have one, which every query by them still finds (it asks for a
value, which is not NULL).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 03:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

# index name: its columns, and the column that must not be NULL for a row to be in it
PARTIAL = {
    'ix_message_provider_id': (['traffic_account_id', 'provider_message_id'], 'provider_message_id'),
    'ix_message_failover_chain_id': (['failover_chain_id'], 'failover_chain_id'),
    'ix_message_bulk_id': (['bulk_id'], 'bulk_id'),
}


def upgrade() -> None:
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.drop_index('ix_conversation_tenant_id')
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('ix_message_tenant_id')
        for name, (columns, column) in PARTIAL.items():
            where = sa.text(f'{column} IS NOT NULL')
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False, postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        for name, (columns, _) in PARTIAL.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False)
        batch_op.create_index('ix_message_tenant_id', ['tenant_id'], unique=False)
    with op.batch_alter_table('conversation', schema=None) as batch_op:
        batch_op.create_index('ix_conversation_tenant_id', ['tenant_id'], unique=False)
