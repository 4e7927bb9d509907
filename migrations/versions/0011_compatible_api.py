"""A channel's compatible API (the SMS HTTP API served to customers).

An API key bound to a traffic account; webhooks of the kind ``compatible`` (the gateway's own, for the SMS
API's delivery reports and inbound forwarding) with their method, one per tenant, method and URL origin; a
message's reports' webhook and what to report there (its URL template, statuses), and the time the customer told
it converted.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 22:50:00.000000
"""

from __future__ import annotations

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('traffic_account_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True))
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=16), server_default='chat', nullable=False))
        batch_op.add_column(sa.Column('method', sa.String(length=8), server_default='POST', nullable=False))
        batch_op.create_index(
            'uq_webhook_compatible',
            ['tenant_id', 'method', 'url'],
            unique=True,
            postgresql_where=sa.text("kind = 'compatible'"),
            sqlite_where=sa.text("kind = 'compatible'"),
        )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_webhook_id', advanced_alchemy.types.guid.GUID(length=16), nullable=True))
        batch_op.add_column(sa.Column('notify', advanced_alchemy.types.JsonB, nullable=True))
        batch_op.add_column(
            sa.Column('converted_at', advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('converted_at')
        batch_op.drop_column('notify')
        batch_op.drop_column('notify_webhook_id')
    with op.batch_alter_table('webhook', schema=None) as batch_op:
        batch_op.drop_index('uq_webhook_compatible')
        batch_op.drop_column('method')
        batch_op.drop_column('kind')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_column('traffic_account_id')
