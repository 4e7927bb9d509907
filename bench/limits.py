"""The machine's own limits, measured first by `make bench` with the same load generator, so that every phase
can say what fraction of them it reaches (issue 21): a figure alone moves with this shared machine's speed, a
ratio to a limit measured minutes before moves much less.

1. echo: a bare Litestar + msgspec app decoding a send body and answering it (bench/echo.py), served by uvicorn
   as `gateway serve` is (one process, httptools, uvloop), closed loop with 64 connections: requests/s;
2. insert: asyncpg, 16 connections, each inserting one row per transaction (a message-sized row): rows/s;
3. copy: asyncpg COPY of 100-row batches, 4 connections: rows/s.

The figures are written to ``bench/.limits.json`` (not committed); the other benchmarks read them
(``ratio``) and print each figure's ratio to its limit beside it.

Run with `make bench` (or `.venv/bin/python -m bench.limits [--seconds N]`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg

from bench.loadgen import closed_loop, post
from bench.support import POSTGRES, cpu_probe, free_port, stop_processes, wait_until_healthy

SAVED = Path(__file__).with_name(".limits.json")
# A message-sized row: what a send writes in its transaction, without the gateway's other tables.
TABLE = """CREATE TABLE bench_row (
    id uuid PRIMARY KEY, tenant_id uuid NOT NULL, destination text NOT NULL, status text NOT NULL,
    content jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"""
CONTENT = json.dumps({"sms": {"sender": "Bench", "text": "Hello"}})
BODY = json.dumps(
    {"trafficAccountId": str(uuid.uuid4()), "destination": "+447700902000", "sms": {"sender": "Bench", "text": "Hi"}}
).encode()


async def echo(seconds: float) -> float:
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "bench.echo:app", "--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen([*command, "--no-access-log"], cwd=Path(__file__).parent.parent)  # noqa: ASYNC220  (before the load)
    try:
        wait_until_healthy(f"http://127.0.0.1:{port}", [server])
        request = post("/echo", BODY, {})
        await closed_loop("127.0.0.1", port, lambda _: request, connections=16, seconds=1)  # warm-up
        results = await closed_loop("127.0.0.1", port, lambda _: request, connections=64, seconds=seconds)
        assert results.count(200) == len(results.latencies), results.statuses
        return results.rate(200)
    finally:
        stop_processes([server])


async def database_rows(seconds: float, connections: int, batch: int) -> float:
    """Rows/s into a fresh database's table, by ``connections`` at once: one INSERT per transaction when
    ``batch`` is 1, else COPY of ``batch`` rows."""
    name = f"bench_limits_{os.getpid()}"
    admin = await asyncpg.connect(f"{POSTGRES}/test")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        pool = await asyncpg.create_pool(f"{POSTGRES}/{name}", min_size=connections, max_size=connections)
        await pool.execute(TABLE)
        tenant = uuid.uuid4()
        rows = 0
        deadline = time.perf_counter() + seconds

        async def writer() -> None:
            nonlocal rows
            async with pool.acquire() as connection:
                while time.perf_counter() < deadline:
                    if batch == 1:
                        await connection.execute(
                            "INSERT INTO bench_row (id, tenant_id, destination, status, content)"
                            " VALUES ($1, $2, $3, 'Ready', $4::jsonb)",
                            uuid.uuid4(), tenant, "+447700902000", CONTENT,
                        )  # fmt: skip
                    else:
                        records = [(uuid.uuid4(), tenant, "+447700902000", "Ready", CONTENT) for _ in range(batch)]
                        columns = ["id", "tenant_id", "destination", "status", "content"]
                        await connection.copy_records_to_table("bench_row", records=records, columns=columns)
                    rows += batch

        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(connections)))
        elapsed = time.perf_counter() - started
        await pool.close()
        return rows / elapsed
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def measure(seconds: float) -> dict:
    limits = {
        "machine": cpu_probe(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "echo requests/s": round(await echo(seconds)),
        "insert rows/s": round(await database_rows(seconds, connections=16, batch=1)),
        "copy rows/s": round(await database_rows(seconds, connections=4, batch=100)),
    }
    return limits


def saved() -> dict | None:
    """The limits of the last `bench.limits` run, if one was made within the last hour (the same `make bench`)."""
    if not SAVED.exists() or time.time() - SAVED.stat().st_mtime > 3600:
        return None
    return json.loads(SAVED.read_text())


def ratio(figure: float, limit: str) -> float | None:
    """``figure`` over the saved limit named ``limit`` (e.g. "echo requests/s"), or None without saved limits."""
    limits = saved()
    return round(figure / limits[limit], 3) if limits else None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="length of each measurement")
    arguments = parser.parse_args()
    result = asyncio.run(measure(arguments.seconds))
    SAVED.write_text(json.dumps(result))
    print(json.dumps({"limits": result}), flush=True)
