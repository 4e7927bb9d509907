"""`gateway sandbox`: the sandbox providers served by a process of their own."""

from __future__ import annotations

import httpx
import uvicorn

from gateway.sandbox_app import create_sandbox_app
from tests.conftest import ADMIN, make_settings
from tests.integration.conftest import (
    assert_history,
    attempted,
    free_port,
    running,
    send_message,
    tenant_on,
    wait_for_status,
)


async def test_a_message_goes_through_the_standalone_sandbox(server: httpx.AsyncClient, database_url: str) -> None:
    port = free_port()
    tenant = await tenant_on(server, ("sms", "telegram"))
    for channel in ("sms", "telegram"):
        patched = await server.patch(
            f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts[channel]}",
            json={"settings": {"baseUrl": f"http://127.0.0.1:{port}/sandbox/{channel}"}},
            headers=ADMIN,
        )
        assert patched.status_code == 200, patched.text
    sms = await send_message(server, tenant, "sms", "+447700900123", {"sender": "Acme", "text": "Hello"})
    # Nothing listens there yet: the message waits (a connection error is a transient failure).
    row = await attempted(server, sms)
    assert row.status == "Ready" and "Connect" in (row.description or ""), row.description

    # The same database and keys as the gateway, and the gateway's public URL to call back.
    gateway_settings = server.app.state.runtime.settings  # type: ignore[attr-defined]
    settings = make_settings(database_url, public_url=gateway_settings.callback_base_url)
    config = uvicorn.Config(create_sandbox_app(settings), host="127.0.0.1", port=port, log_level="warning")
    async with running(uvicorn.Server(config)):
        telegram = await send_message(server, tenant, "telegram", "123456789", {"text": {"message": "Hello"}})
        assert_history(await wait_for_status(server, tenant, telegram, "Delivered"), "Ready", "Delivered")
        assert_history(
            await wait_for_status(server, tenant, sms, "Delivered", seconds=20), "Ready", "Sent", "Delivered"
        )
        async with httpx.AsyncClient() as user:  # a simulated user writes through the standalone provider
            inbound = await user.post(
                f"http://127.0.0.1:{port}/sandbox/sms/inbound",
                json={"trafficAccountId": tenant.accounts["sms"], "from": "+447700900123", "text": "Hi back"},
            )
        assert inbound.status_code < 300, inbound.text
        replies = await server.get(
            "/api/v1/Messages",
            params={"direction": "inbound", "trafficAccountId": tenant.accounts["sms"]},
            headers=tenant.key,
        )
        assert [m["destination"] for m in replies.json()["items"]] == ["+447700900123"]
