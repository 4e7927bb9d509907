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
import sqlalchemy as sa
import uvicorn

from bench.support import free_port
from channels.base import Account
from gateway.app import create_app
from gateway.lib.coalesced_writes import CoalescingHttpToolsProtocol
from gateway.lib.db import session_maker
from gateway.messages.dispatcher import Dispatcher
from gateway.models import Message, WebhookEvent
from tests.conftest import ADMIN, TenantFixture, eventually, make_settings

GATEWAY = str(Path(sys.executable).with_name("gateway"))

# For probing a provider's slow answer: impatient for the answer, not for the connection (which a
# loaded machine may take a moment to open).
IMPATIENT = httpx.Timeout(0.3, connect=10)


async def start_worker(
    database_url: str,
    *args: str,
    env: dict[str, str] | None = None,
    stderr: int = asyncio.subprocess.DEVNULL,
    stdout: int = asyncio.subprocess.DEVNULL,  # the log lines are on stderr (gateway.logs)
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
    return await asyncio.create_subprocess_exec(GATEWAY, "worker", *args, env=environment, stdout=stdout, stderr=stderr)


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
    overrides.setdefault("worker_in_server", None)  # served on a port of its own: the worker's loops run here
    overrides.setdefault("allow_private_webhook_urls", True)  # the tests' receivers listen on loopback
    settings = make_settings(database_url, port=port, **overrides)
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http=CoalescingHttpToolsProtocol,  # as `gateway serve` serves
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
    )
    async with (
        running(uvicorn.Server(config)),
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        client.tenants = []  # type: ignore[attr-defined]
        yield client
        # The tests share one database: a test's messages (some still being retried) go with its tenants,
        # so no later test's worker picks them up.
        for tenant_id in client.tenants:  # type: ignore[attr-defined]
            await client.delete(f"/admin/tenants/{tenant_id}", headers=ADMIN)


@asynccontextmanager
async def running(server: uvicorn.Server) -> AsyncIterator[uvicorn.Server]:
    """``server`` serving in a task of this loop, once it has started (a failure to start is raised); it is
    told to exit, and awaited, at the end."""
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield server
    finally:
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

    async def reached() -> dict:
        message = (await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()
        assert message["deliveryStatus"] in statuses, f"still {message['deliveryStatus']}: {message}"
        return message

    return await eventually(reached, seconds)


async def attempted(client: httpx.AsyncClient, message_id: str, seconds: float = 10) -> Message:
    """The message row once a send attempt was recorded and the lease released (polled)."""

    async def recorded() -> Message:
        row = await message_row(client, message_id)
        assert row.attempts >= 1 and row.lease_owner is None, (row.status, row.attempts, row.lease_owner)
        return row

    return await eventually(recorded, seconds)


async def history(client: httpx.AsyncClient, tenant: TenantFixture, message_id: str) -> list[str]:
    """The statuses the message went through, as the API shows them."""
    message = (await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()
    return [change["status"] for change in message["statusHistory"]]


async def assert_history_stays(
    client: httpx.AsyncClient, tenant: TenantFixture, message_id: str, *expected: str, seconds: float = 0.4
) -> None:
    """The message went through ``expected`` and nothing more happens to it for ``seconds``: a fixed sleep,
    not a poll, as it proves that something does not happen."""
    await asyncio.sleep(seconds)
    assert await history(client, tenant, message_id) == list(expected)


def assert_history(message: dict, *expected: str) -> None:
    """The message went through ``expected``, in order: a provider's report that overtakes the worker's
    recording of the send answer records the ``Sent`` it implies first."""
    history = [change["status"] for change in message["statusHistory"]]
    assert history == list(expected), history


async def send_sms(
    client: httpx.AsyncClient, tenant: TenantFixture, destination: str = "+447700900123", **sms: Any
) -> str:
    """Sends a short SMS (``sms`` adds fields or replaces its text and sender) through the tenant's sandbox."""
    return await send_message(client, tenant, "sms", destination, {"text": "hello", "sender": "MITTO SMS", **sms})


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


def dispatcher_of(client: httpx.AsyncClient, clock: Any = None, **options: Any) -> Dispatcher:
    """A Dispatcher on the test server's database (``options``: owner, http, send_rate, work_due...)."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return Dispatcher(
        session_maker(runtime.engine),
        runtime.settings.callback_base_url,
        runtime.callbacks.tokens,
        **({"clock": clock} if clock else {}),
        **options,
    )


async def webhook_events(client: httpx.AsyncClient, message_id: str) -> list[WebhookEvent]:
    """The outbox rows written for the message."""
    async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
        query = sa.select(WebhookEvent).where(WebhookEvent.message_id == uuid.UUID(message_id))
        return list(await session.scalars(query))
