"""An export of 100,000 messages streams in constant memory (seed 003): a real `gateway serve` on Postgres
streams them all, in order and complete, while its resident memory grows by less than a bound far below
the size of the export. The figures are in BENCHMARKS.md ("Export")."""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from gateway.models import Conversation
from gateway.store.messages import NewMessage, insert_accepted
from tests.conftest import make_settings
from tests.integration.conftest import GATEWAY, free_port, tenant_on
from tests.integration.processes import gateway_environment, stop, tail, until_healthy

MESSAGES = 100_000
INSERTED_PER_TRANSACTION = 10_000
GROWTH_BOUND = 32 * 2**20  # bytes of resident memory the server may gain while streaming (the export: ~100 MB)


def resident_bytes(pid: int) -> int:
    """The process's resident set size (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


async def insert_messages(database_url: str, tenant_id: str, account_id: str) -> list[str]:
    """MESSAGES Delivered messages of one conversation, a millisecond apart (COPY, through the store)."""
    engine = create_async_engine(database_url)
    tenant, account = uuid.UUID(tenant_id), uuid.UUID(account_id)
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    ids: list[str] = []
    try:
        async with engine.begin() as connection:
            conversation = uuid.uuid4()
            await connection.execute(
                Conversation.__table__.insert(),
                {"id": conversation, "tenant_id": tenant, "traffic_account_id": account, "channel": "sms",
                 "participant": "+447700900123", "created_at": start, "updated_at": start},
            )  # fmt: skip
        for first in range(0, MESSAGES, INSERTED_PER_TRANSACTION):
            batch = [
                NewMessage(
                    tenant_id=tenant,
                    traffic_account_id=account,
                    channel="sms",
                    destination="+447700900123",
                    content={"text": f"message {index}", "sender": "Acme"},
                    message_parts=1,
                    reference=None,
                    created_at=start + datetime.timedelta(milliseconds=index),
                    valid_until=start + datetime.timedelta(days=2),
                    next_attempt_at=None,
                    status="Delivered",  # nothing for a worker to send
                    conversation_id=conversation,
                )
                for index in range(first, min(first + INSERTED_PER_TRANSACTION, MESSAGES))
            ]
            async with engine.begin() as connection:
                await insert_accepted(connection, batch)
            ids += [str(m.id) for m in batch]
    finally:
        await engine.dispose()
    return ids


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
            ids = await insert_messages(database_url, tenant.id, tenant.accounts["sms"])
            # A first, small export: the code and the connection pool are loaded before the baseline.
            warm = await client.get(
                "/api/v1/export/messages", params={"to": "2000-01-01T00:00:00Z"}, headers=tenant.key
            )
            assert warm.status_code == 200, warm.text
            baseline = peak = resident_bytes(server.pid)
            seen: list[str] = []
            size, started = 0, time.monotonic()
            async with client.stream("GET", "/api/v1/export/messages", headers=tenant.key) as answer:
                assert answer.status_code == 200
                async for line in answer.aiter_lines():
                    record = json.loads(line)
                    seen.append(record["messageId"])
                    size += len(line) + 1
                    if len(seen) % 1000 == 0:
                        peak = max(peak, resident_bytes(server.pid))
                        assert record["statusHistory"][0]["status"] == "Delivered", record
            seconds = time.monotonic() - started
    finally:
        await stop(server)
        print(tail(log))
    assert seen == ids  # every message, once, in creation order
    growth = peak - baseline
    print(
        f"exported {len(seen)} messages ({size / 2**20:.0f} MiB of NDJSON) in {seconds:.1f} s; server RSS "
        f"{baseline / 2**20:.0f} MiB before, peak {peak / 2**20:.0f} MiB (+{growth / 2**20:.1f} MiB)"
    )
    assert size > 2 * GROWTH_BOUND  # the bound means something: holding the export would break it
    assert growth < GROWTH_BOUND, f"the server grew by {growth / 2**20:.1f} MiB while streaming"
