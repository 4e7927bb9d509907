"""The demo tenant of a local mock: fixed, documented credentials, created once."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.registry import channel_names
from gateway.lib.crypto import api_key_digest
from gateway.models import ApiKey, Customer, Tenant, TrafficAccount
from gateway.tenants.service import TenantService
from gateway.tenants.traffic_accounts import TrafficAccountService

DEMO_TENANT = "demo"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
# A fixed key, so integration tests can hard-code it; only for the local mock.
DEMO_API_KEY = "gk_demo_0123456789abcdefghijklmnopqrstuvwxyz"
_IDS = uuid.UUID("6f1c3a52-8d0e-4b7a-9c55-2f0d6b1e9a10")


def demo_traffic_account_id(channel: str) -> uuid.UUID:
    """Stable ids: the same on every laptop and every run."""
    return uuid.uuid5(_IDS, channel)


async def ensure_demo(session: AsyncSession) -> dict[str, Any]:
    tenant = await session.get(Tenant, uuid.uuid5(_IDS, "tenant"))
    if tenant is None:
        tenant = await TenantService(session).create(DEMO_TENANT, uuid.uuid5(_IDS, "tenant"))
    if await session.scalar(select(Customer).where(Customer.email == DEMO_EMAIL)) is None:
        await TenantService(session).create_customer(tenant.id, DEMO_EMAIL, DEMO_PASSWORD)
    if await session.scalar(select(ApiKey).where(ApiKey.digest == api_key_digest(DEMO_API_KEY))) is None:
        session.add(
            ApiKey(tenant_id=tenant.id, name="demo", digest=api_key_digest(DEMO_API_KEY), prefix=DEMO_API_KEY[:10])
        )
        await session.commit()
    accounts = {}
    for channel in channel_names():
        account_id = demo_traffic_account_id(channel)
        if await session.get(TrafficAccount, account_id) is None:
            await TrafficAccountService(session).create(tenant.id, f"demo {channel}", channel, True, {}, account_id)
        accounts[channel] = str(account_id)
    return {
        "tenantId": str(tenant.id),
        "email": DEMO_EMAIL,
        "password": DEMO_PASSWORD,
        "apiKey": DEMO_API_KEY,
        "trafficAccounts": accounts,
    }
