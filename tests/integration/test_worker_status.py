"""Worker processes as GET /admin/status shows them: a server's embedded loops, and a `gateway worker`
process, alive while it runs and gone once it stops."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

from gateway.lib.db import head_revision
from gateway.store import statuses
from tests.conftest import ADMIN, create_webhook, eventually
from tests.integration import webhook_fixtures as wf
from tests.integration.conftest import start_worker


async def status_of(client) -> dict:
    response = await client.get("/admin/status", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_embedded_worker_beats_and_the_database_answers(server):
    client = server
    owner = client.app.runtime.dispatcher.owner

    async def beating() -> dict:
        body = await status_of(client)
        found = [worker for worker in body["workers"] if worker["owner"] == owner]
        assert len(found) == 1, body
        return found[0]

    mine = await eventually(beating)
    assert mine["alive"] is True and mine["embedded"] is True
    assert mine["pid"] == os.getpid() and mine["host"] == socket.gethostname()
    assert mine["inFlightSends"] >= 0 and mine["inFlightDeliveries"] >= 0
    body = await status_of(client)
    assert body["status"] == "ok", body["problems"]
    assert body["database"]["status"] == "ok" and body["database"]["latencyMs"] >= 0
    assert body["database"]["schemaRevision"] == body["database"]["expectedRevision"] == head_revision()
    assert body["redis"] == {"status": "absent", "latencyMs": None, "detail": None}
    assert set(body) >= {"checkedAt", "dispatch", "webhooks", "failover"}


async def test_a_worker_process_beats_until_it_stops(server_without_worker, database_url):
    client = server_without_worker
    worker = await start_worker(database_url, env={"GATEWAY_PUBLIC_URL": str(client.base_url).rstrip("/")})

    async def workers_of_the_process() -> list[dict]:
        return [w for w in (await status_of(client))["workers"] if w["pid"] == worker.pid]

    async def beating() -> dict:
        found = await workers_of_the_process()
        assert len(found) == 1, found
        return found[0]

    try:
        mine = await eventually(beating, seconds=30)
        assert mine["alive"] is True and mine["embedded"] is False
    finally:
        worker.send_signal(signal.SIGTERM)
        await asyncio.wait_for(worker.wait(), 30)
    assert await workers_of_the_process() == []  # a worker that stopped is gone, not shown as dead


async def test_a_disabled_webhook_s_events_are_no_backlog(server_without_worker):
    """They wait for the webhook to be enabled again, not for a worker: counted, the backlog's age would grow
    for ever once any tenant's webhook was disabled, and an alert on it would always fire."""
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await create_webhook(client, tenant)  # on the suite's closed port: never delivered (no worker runs)
    before = (await status_of(client))["webhooks"]["pending"]
    await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
    assert (await status_of(client))["webhooks"]["pending"] == before + 1
    put = {"url": hook["url"], "webhookTriggers": hook["webhookTriggers"], "enabled": False}
    assert (await client.put(f"/api/v1/Webhook/{hook['id']}", json=put, headers=tenant.key)).status_code == 200
    assert (await status_of(client))["webhooks"]["pending"] == before
