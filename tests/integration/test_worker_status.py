"""A `gateway worker` process as GET /admin/status shows it: alive while it runs, gone once it stops."""

from __future__ import annotations

import asyncio
import signal

from tests.conftest import ADMIN, eventually
from tests.integration.conftest import start_worker


async def test_a_worker_process_beats_until_it_stops(server_without_worker, database_url):
    client = server_without_worker
    worker = await start_worker(database_url, env={"GATEWAY_PUBLIC_URL": str(client.base_url).rstrip("/")})

    async def workers_of_the_process() -> list[dict]:
        body = (await client.get("/admin/status", headers=ADMIN)).json()
        return [w for w in body["workers"] if w["pid"] == worker.pid]

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
