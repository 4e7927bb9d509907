"""A worker's provider sends go through the operator's proxy (GATEWAY_EGRESS_PROXY, or the standard
HTTP_PROXY & co.), NO_PROXY's hosts go direct, and a proxy refusing the tunnel is a transient failure.
The sandbox providers are served by the test's gateway: the proxy tunnels to its port only
(tests/connect_proxy.py)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.connect_proxy import connect_proxy
from tests.integration.conftest import (
    attempted,
    dispatcher_of,
    send_sms,
    serve,
    start_worker,
    tenant_on,
    wait_for_status,
)
from wire.http import DirectClient, Proxies


@pytest.mark.parametrize(
    "variables",
    [
        {"HTTP_PROXY": "{proxy}"},
        {"http_proxy": "{other}", "GATEWAY_EGRESS_PROXY": "{proxy}"},  # the setting comes first
        {"HTTP_PROXY": "{proxy}", "NO_PROXY": "localhost,127.0.0.1"},
    ],
    ids=["HTTP_PROXY", "GATEWAY_EGRESS_PROXY", "NO_PROXY"],
)
async def test_a_workers_provider_sends_go_through_the_proxy(postgres_url, variables):
    async with serve(postgres_url, worker_in_server=False) as api:
        port = api.base_url.port
        async with connect_proxy(port) as proxy, connect_proxy(refuse=403) as other:
            env = {name: value.format(proxy=proxy.url, other=other.url) for name, value in variables.items()}
            env["GATEWAY_PUBLIC_URL"] = f"http://127.0.0.1:{port}"  # the sandbox providers, on the API
            worker = await start_worker(postgres_url, env=env, stderr=asyncio.subprocess.PIPE)
            try:
                tenant = await tenant_on(api)
                message_id = await send_sms(api, tenant)
                await wait_for_status(api, tenant, message_id, "Delivered", seconds=30)
            finally:
                worker.terminate()
                _, errors = await asyncio.wait_for(worker.communicate(), 30)
    bypassed = "NO_PROXY" in variables
    if bypassed:  # NO_PROXY=127.0.0.1: nothing of this worker's went through
        assert proxy.tunnels == [], errors.decode()[-2000:]
    else:  # (events and messages other tests left due may have gone through beside this one)
        assert f"127.0.0.1:{port}" in proxy.tunnels, errors.decode()[-2000:]
    assert other.tunnels == []


async def test_a_proxy_refusing_the_tunnel_is_a_transient_failure(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send_sms(client, tenant)
    async with connect_proxy(client.base_url.port, refuse=403) as proxy:
        dispatcher = dispatcher_of(client, http=DirectClient(4, httpx.Timeout(5.0), Proxies(proxy.url)))
        try:
            assert await dispatcher.dispatch_once(limit=1000) >= 1
        finally:
            await dispatcher.http.aclose()
    row = await attempted(client, message_id)
    assert set(proxy.tunnels) == {f"127.0.0.1:{client.base_url.port}"}
    assert row.status == "Ready" and row.next_attempt_at is not None  # tried again later, not failed
    assert (await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()["deliveryStatus"] == "Ready"
