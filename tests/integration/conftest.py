"""A real gateway server on loopback: the sandbox providers call it back over real HTTP."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bench.support import free_port
from channels.base import Account
from gateway.app import create_app
from gateway.lib.db import session_maker
from gateway.models import Message
from tests.conftest import ADMIN, TenantFixture, make_settings

GATEWAY = str(Path(sys.executable).with_name("gateway"))

# For probing a provider's slow answer: impatient for the answer, not for the connection (which a
# loaded machine may take a moment to open).
IMPATIENT = httpx.Timeout(0.3, connect=10)


async def start_worker(
    database_url: str, *args: str, env: dict[str, str] | None = None, stderr: int = asyncio.subprocess.DEVNULL
) -> asyncio.subprocess.Process:
    """`gateway worker *args` in a process of its own, on the tests' database and keys, without Redis;
    ``env`` adds settings (GATEWAY_...)."""
    settings = make_settings(database_url)
    environment = {
        **os.environ,
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_JWT_KEYS": settings.jwt_keys[0],
        "GATEWAY_SECRET_KEY": settings.secret_keys[0],
        **(env or {}),
    }
    environment.pop("GATEWAY_REDIS_URL", None)
    return await asyncio.create_subprocess_exec(
        GATEWAY, "worker", *args, env=environment, stdout=asyncio.subprocess.DEVNULL, stderr=stderr
    )


@pytest.fixture
async def server(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway serving on a free loopback port (embedded worker, sandbox providers), and a client of it."""
    async with serve(database_url) as client:
        yield client


@pytest.fixture
async def server_without_worker(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The same, with no dispatch loop: tests drive Dispatcher objects themselves."""
    async with serve(database_url, worker_in_server=False) as client:
        yield client


@asynccontextmanager
async def serve(database_url: str, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    port = free_port()
    settings = make_settings(database_url, port=port, allow_private_webhook_urls=True, **overrides)
    app = create_app(settings)
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        client.app = app  # type: ignore[attr-defined]
        client.tenants = []  # type: ignore[attr-defined]
        yield client
        # The tests share one database: a test's messages (some still being retried) go with its tenants,
        # so no later test's worker picks them up.
        for tenant_id in client.tenants:  # type: ignore[attr-defined]
            await client.delete(f"/admin/tenants/{tenant_id}", headers=ADMIN)
    server.should_exit = True
    await task


async def tenant_on(client: httpx.AsyncClient, channels: tuple[str, ...] = ("sms",)) -> TenantFixture:
    tenant = (await client.post("/admin/tenants", json={"name": "pipeline"}, headers=ADMIN)).json()
    client.tenants.append(tenant["id"])  # type: ignore[attr-defined]
    key = (await client.post(f"/admin/tenants/{tenant['id']}/api-keys", json={"name": "t"}, headers=ADMIN)).json()
    result = TenantFixture(tenant["id"], "", "", "", key["key"])
    for channel in channels:
        account = await client.post(
            f"/admin/tenants/{tenant['id']}/traffic-accounts",
            json={"name": f"{channel} sandbox", "channel": channel, "sandbox": True},
            headers=ADMIN,
        )
        result.accounts[channel] = account.json()["id"]
    return result


async def wait_for_status(
    client: httpx.AsyncClient, tenant: TenantFixture, message_id: str, *statuses: str, seconds: float = 15
) -> dict:
    """The message once it has one of ``statuses`` (polled; fails after ``seconds``)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        message = (await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()
        if message["deliveryStatus"] in statuses:
            return message
        assert asyncio.get_running_loop().time() < deadline, f"still {message['deliveryStatus']}: {message}"
        await asyncio.sleep(0.05)


def assert_history(message: dict, *expected: str) -> None:
    """The message went through ``expected``, in order: a provider's report that overtakes the worker's
    recording of the send answer records the ``Sent`` it implies first."""
    history = [change["status"] for change in message["statusHistory"]]
    assert history == list(expected), history


async def send_message(
    client: httpx.AsyncClient, tenant: TenantFixture, channel: str, destination: str, block: dict
) -> str:
    """Sends ``block`` through the tenant's sandbox account of ``channel``; the message id."""
    payload = {"trafficAccountId": tenant.accounts[channel], "destination": destination, channel: block}
    response = await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert response.status_code == 200, response.text
    return response.json()["messageId"]


async def adapter_account_of(client: httpx.AsyncClient, tenant: TenantFixture, channel: str) -> Account:
    """The tenant's sandbox account of ``channel`` as its adapter sees it (with derived credentials)."""
    account = await client.app.state.runtime.callbacks.account(uuid.UUID(tenant.accounts[channel]), channel)
    assert account is not None
    return account


async def message_row(client: httpx.AsyncClient, message_id: str) -> Message:
    """The message as the database holds it."""
    async with session_maker(client.app.state.runtime.engine)() as session:
        return await session.get(Message, uuid.UUID(message_id))
