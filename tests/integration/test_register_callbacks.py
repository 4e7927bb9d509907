"""``registerCallbacks`` for every channel whose provider has an API for it, against its sandbox provider: one
implementation for the operator's and the customer's API, naming no channel."""

from __future__ import annotations

import pytest

from channels.registry import all_channels
from tests.conftest import ADMIN, assert_problem
from tests.integration.conftest import tenant_on

REGISTERING = sorted(name for name, channel in all_channels().items() if channel.register_callbacks is not None)
NOT_REGISTERING = sorted(name for name, channel in all_channels().items() if channel.register_callbacks is None)


@pytest.mark.parametrize("channel", REGISTERING)
async def test_the_sandbox_provider_takes_the_accounts_callback_url(server, channel):
    tenant = await tenant_on(server, (channel,))
    account_id = tenant.accounts[channel]
    shown = (await server.get(f"/api/v1/trafficAccounts/{account_id}", headers=tenant.key)).json()["callbackUrl"]
    registered = await server.post(f"/api/v1/trafficAccounts/{account_id}/registerCallbacks", headers=tenant.key)
    assert registered.status_code == 200, registered.text
    assert registered.json() == {"callbackUrl": shown}
    admin = await server.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts/{account_id}/register-callbacks", headers=ADMIN
    )
    assert admin.status_code == 200 and admin.json() == {"callbackUrl": shown}, admin.text


@pytest.mark.parametrize("channel", NOT_REGISTERING)
async def test_a_channel_without_the_api_is_a_400_saying_so(server, channel):
    tenant = await tenant_on(server, (channel,))
    response = await server.post(
        f"/api/v1/trafficAccounts/{tenant.accounts[channel]}/registerCallbacks", headers=tenant.key
    )
    assert_problem(response, 400, "no_callback_registration")
