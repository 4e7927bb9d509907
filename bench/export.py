"""Export benchmark (issue 19): one `gateway serve` on a fresh Postgres database streams N messages (default
100,000) as NDJSON, then as CSV; for each: the time, the size, and how much the server's resident memory
grew while it streamed (sampled every 1,000 lines). tests/integration/test_export_memory.py runs the
NDJSON half with a bound.

    .venv/bin/python -m bench.export [--messages 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.ext.asyncio import create_async_engine

from bench.support import free_port, gateway
from gateway.models import Conversation
from gateway.settings import normalise_database_url
from gateway.store.messages import NewMessage, insert_accepted

INSERTED_PER_TRANSACTION = 10_000
SAMPLE_EVERY = 1_000  # lines


def resident_bytes(pid: int) -> int:
    """The process's resident set size (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


async def insert_messages(database_url: str, tenant_id: str, account_id: str, count: int) -> list[str]:
    """``count`` Delivered messages of one conversation, a millisecond apart, through the store (COPY); their
    ids in creation order."""
    engine = create_async_engine(database_url)
    tenant, account = uuid.UUID(tenant_id), uuid.UUID(account_id)
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    conversation = uuid.uuid4()
    ids: list[str] = []
    try:
        async with engine.begin() as connection:
            await connection.execute(
                Conversation.__table__.insert(),
                {"id": conversation, "tenant_id": tenant, "traffic_account_id": account, "channel": "sms",
                 "participant": "+447700900123", "created_at": start, "updated_at": start},
            )  # fmt: skip
        for first in range(0, count, INSERTED_PER_TRANSACTION):
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
                for index in range(first, min(count, first + INSERTED_PER_TRANSACTION))
            ]
            async with engine.begin() as connection:
                await insert_accepted(connection, batch)
            ids += [str(m.id) for m in batch]
    finally:
        await engine.dispose()
    return ids


@dataclass
class Streamed:
    """One export as a client read it, and the server's memory meanwhile."""

    lines: list[str] = field(default_factory=list)
    size: int = 0
    seconds: float = 0.0
    baseline: int = 0  # the server's resident bytes before
    peak: int = 0  # and the most seen while it streamed

    @property
    def growth(self) -> int:
        return self.peak - self.baseline

    def summary(self, what: str) -> dict[str, object]:
        return {
            "export": what,
            "lines": len(self.lines),
            "MiB": round(self.size / 2**20, 1),
            "seconds": round(self.seconds, 1),
            "records/s": round(len(self.lines) / self.seconds) if self.seconds else None,
            "server RSS MiB before": round(self.baseline / 2**20, 1),
            "growth MiB": round(self.growth / 2**20, 1),
        }


async def stream(client: httpx.AsyncClient, pid: int, params: dict[str, str], headers: dict[str, str]) -> Streamed:
    """Read the messages' export line by line, sampling the server's (``pid``) memory."""
    result = Streamed()
    result.baseline = result.peak = resident_bytes(pid)
    started = time.monotonic()
    async with client.stream("GET", "/api/v1/export/messages", params=params, headers=headers) as answer:
        if answer.status_code != 200:
            raise RuntimeError(f"export answered {answer.status_code}: {(await answer.aread()).decode()}")
        async for line in answer.aiter_lines():
            result.lines.append(line)
            result.size += len(line) + 1
            if len(result.lines) % SAMPLE_EVERY == 0:
                result.peak = max(result.peak, resident_bytes(pid))
    result.seconds = time.monotonic() - started
    return result


async def measure(url: str, pid: int, api_key: str) -> list[dict[str, object]]:
    headers = {"X-Mitto-API-Key": api_key}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        # A first, small export: the code and the connection pool are loaded before the baseline.
        await stream(client, pid, {"to": "2000-01-01T00:00:00Z"}, headers)
        ndjson = await stream(client, pid, {"format": "ndjson"}, headers)
        csv = await stream(client, pid, {"format": "csv"}, headers)
    return [ndjson.summary("ndjson"), csv.summary("csv (lines: the header and one a message)")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    # Ports of its own: the other benchmarks' fixed ones may be in use, and their load sent here.
    with gateway(port=free_port(), workers=0, sandbox_port=free_port()) as gw:
        database_url = normalise_database_url(gw.env["GATEWAY_DATABASE_URL"])
        started = time.monotonic()
        asyncio.run(insert_messages(database_url, gw.tenant_id, gw.accounts["sms"], args.messages))
        print(json.dumps({"inserted": args.messages, "seconds": round(time.monotonic() - started, 1)}), flush=True)
        for line in asyncio.run(measure(gw.url, gw.processes[0].pid, gw.api_key)):
            print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
