"""An export of 100,000 messages streams in constant memory (seed 003): a real `gateway serve` on Postgres
streams them all, in order and complete, while its resident memory grows by less than a bound far below
the size of the export. bench/export.py measures NDJSON and CSV alike; the figures are in BENCHMARKS.md
("Export")."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from bench.export import insert_messages, stream
from tests.conftest import make_settings
from tests.integration.conftest import GATEWAY, free_port, tenant_on
from tests.integration.processes import gateway_environment, stop, tail, until_healthy

MESSAGES = 100_000
GROWTH_BOUND = 32 * 2**20  # bytes of resident memory the server may gain while streaming (the export: ~85 MiB)


async def test_an_export_of_100_000_messages_streams_in_constant_memory(postgres_url: str, tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "gateway.log"
    database_url = make_settings(postgres_url).database_url
    env = gateway_environment(tmp_path, None, port)
    env |= {"GATEWAY_DATABASE_URL": database_url, "GATEWAY_WORKER_IN_SERVER": "false"}
    with log.open("ab") as out:
        server = await asyncio.create_subprocess_exec(
            GATEWAY, "serve", "--host", "127.0.0.1", "--port", str(port), env=env, stdout=out, stderr=out
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            client.tenants = []  # type: ignore[attr-defined]
            await until_healthy(client, server, log)
            tenant = await tenant_on(client, ("sms",))
            ids = await insert_messages(database_url, tenant.id, tenant.accounts["sms"], MESSAGES)
            # A first, small export: the code and the connection pool are loaded before the baseline.
            await stream(client, server.pid, {"to": "2000-01-01T00:00:00Z"}, tenant.key)
            streamed = await stream(client, server.pid, {}, tenant.key)
    finally:
        await stop(server)
        print(tail(log))
    records = [json.loads(line) for line in streamed.lines]
    assert [r["messageId"] for r in records] == ids  # every message, once, in creation order
    assert all(r["statusHistory"][0]["status"] == "Delivered" for r in records)
    print(json.dumps(streamed.summary("ndjson")))
    assert streamed.size > 2 * GROWTH_BOUND  # the bound means something: holding the export would break it
    assert streamed.growth < GROWTH_BOUND, f"the server grew by {streamed.growth / 2**20:.1f} MiB while streaming"
