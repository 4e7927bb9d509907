"""DELETE /api/v1/sandbox/data with 10,000 messages stored (issue 19: fast enough to call before every
test), on SQLite and on Postgres.

The tenant's sandbox messages are written straight into the tables (each with 3 status events, a webhook
event and an attempt, 100 conversations, some failover chains, journal entries and catcher requests),
beside a second tenant holding as many, which the reset must leave alone. Then the reset is called
through the app (in-process ASGI client: the HTTP stack without a socket), a few times over fresh data.

Run with `.venv/bin/python -m bench.sandbox_reset [--messages N] [--rounds R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from litestar.testing import AsyncTestClient
from sqlalchemy import func, insert, select

from bench.support import POSTGRES
from gateway.app import create_app
from gateway.lib.db import create_engine
from gateway.migrate import upgrade
from gateway.models import (
    Conversation,
    FailoverChain,
    Message,
    MessageEvent,
    SandboxCatcher,
    SandboxCatcherRequest,
    SandboxExchange,
    Webhook,
    WebhookAttempt,
    WebhookEvent,
)
from gateway.settings import Settings, normalise_database_url

ADMIN = {"Authorization": "Bearer bench-admin-token"}
CONVERSATIONS = 100


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=normalise_database_url(url),
        jwt_keys=("bench-jwt-key-0123456789abcdefghijkl",),
        secret_keys=("bench-secret-key-0123456789abcdefgh",),
        admin_token="bench-admin-token",
        worker_in_server=False,
    )


async def tenant(client: AsyncTestClient) -> tuple[str, str, str]:
    """(tenant id, API key, sandbox sms account id)."""
    made = (await client.post("/admin/tenants", json={"name": "bench"}, headers=ADMIN)).json()
    key = (await client.post(f"/admin/tenants/{made['id']}/api-keys", json={"name": "b"}, headers=ADMIN)).json()
    body = {"name": "sms", "channel": "sms", "sandbox": True}
    account = (await client.post(f"/admin/tenants/{made['id']}/traffic-accounts", json=body, headers=ADMIN)).json()
    return made["id"], key["key"], account["id"]


async def fill(engine: object, tenant_id: str, account_id: str, messages: int) -> None:
    """``messages`` delivered SMS of the account, with what a delivered message leaves behind."""
    tenant, account, at = uuid.UUID(tenant_id), uuid.UUID(account_id), datetime.datetime.now(datetime.UTC)
    conversations = [
        {"id": uuid.uuid4(), "tenant_id": tenant, "traffic_account_id": account, "channel": "sms",
         "participant": f"+4477009{uuid.uuid4().int % 10**5:05d}{n}", "created_at": at, "updated_at": at}
        for n in range(CONVERSATIONS)
    ]  # fmt: skip
    webhook = {
        "id": uuid.uuid4(), "tenant_id": tenant, "url": "https://example.com/hook", "description": "",
        "triggers": ["Delivered"], "headers": "{}", "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "enabled": True, "created_at": at, "updated_at": at,
    }  # fmt: skip
    catcher = {"id": uuid.uuid4(), "tenant_id": tenant, "answer_remaining": 0, "created_at": at, "updated_at": at}
    chains = [
        {"id": uuid.uuid4(), "tenant_id": tenant, "required_status": "Delivered", "timeout_seconds": 60,
         "steps": 1, "active_step": 0, "state": "done", "created_at": at, "updated_at": at}
        for _ in range(messages // 100)
    ]  # fmt: skip
    rows: dict[object, list[dict]] = {
        Message: [], MessageEvent: [], WebhookEvent: [], WebhookAttempt: [], SandboxExchange: [],
        SandboxCatcherRequest: [],
    }  # fmt: skip
    for n in range(messages):
        conversation = conversations[n % CONVERSATIONS]
        message_id, event_id = uuid.uuid4(), uuid.uuid4()
        chain = chains[n // 100]["id"] if n % 100 == 0 else None
        rows[Message].append(
            {"id": message_id, "tenant_id": tenant, "traffic_account_id": account,
             "conversation_id": conversation["id"], "channel": "sms", "direction": "outbound",
             "destination": conversation["participant"], "status": "Delivered", "sequence": 3, "message_parts": 1,
             "content": {"text": "Your code is 1234"}, "provider_message_id": str(message_id), "attempts": 1,
             "failover_chain_id": chain, "failover_step": 0 if chain else None, "created_at": at, "updated_at": at}
        )  # fmt: skip
        for sequence, status in enumerate(("Ready", "Sent", "Delivered"), 1):
            rows[MessageEvent].append(
                {
                    "id": uuid.uuid4(),
                    "message_id": message_id,
                    "sequence": sequence,
                    "status": status,
                    "occurred_at": at,
                }
            )
        rows[WebhookEvent].append(
            {"id": event_id, "tenant_id": tenant, "webhook_id": webhook["id"], "message_id": message_id,
             "event": "Delivered", "sequence": 3, "payload": {"messageId": str(message_id)}, "status": "succeeded",
             "attempts": 1, "created_at": at, "updated_at": at}
        )  # fmt: skip
        rows[WebhookAttempt].append(
            {"id": uuid.uuid4(), "tenant_id": tenant, "webhook_event_id": event_id, "attempted_at": at,
             "response_status": 200, "latency_ms": 3, "response_body": "ok"}
        )  # fmt: skip
        rows[SandboxExchange].append(
            {"id": uuid.uuid4(), "tenant_id": tenant, "traffic_account_id": account, "channel": "sms",
             "direction": "request", "message_id": message_id, "method": "POST", "url": "http://x/sandbox/sms",
             "request_headers": {}, "request_body": "{}", "response_status": 200, "response_headers": {},
             "response_body": "{}", "latency_ms": 1, "occurred_at": at}
        )  # fmt: skip
        rows[SandboxCatcherRequest].append(
            {"id": uuid.uuid4(), "tenant_id": tenant, "catcher_id": catcher["id"], "received_at": at,
             "method": "POST", "headers": {}, "body": "{}", "answered_status": 200}
        )  # fmt: skip
    async with engine.begin() as connection:  # type: ignore[attr-defined]
        await connection.execute(insert(Conversation.__table__), conversations)
        await connection.execute(insert(Webhook.__table__), [webhook])
        await connection.execute(insert(SandboxCatcher.__table__), [catcher])
        await connection.execute(insert(FailoverChain.__table__), chains)
        for model, values in rows.items():
            for start in range(0, len(values), 5000):
                await connection.execute(insert(model.__table__), values[start : start + 5000])


async def measure(url: str, messages: int, rounds: int) -> tuple[list[float], list[float]]:
    """The reset's wall-clock seconds per round, and the CPU seconds this process spent in it (SQLite's work
    included: it runs in aiosqlite's thread here; Postgres' is in its server)."""
    settings = settings_for(url)
    upgrade(settings)
    engine = create_engine(settings.database_url)
    timings, cpu = [], []
    try:
        async with AsyncTestClient(app=create_app(settings)) as client:
            kept_tenant, _, kept_account = await tenant(client)
            await fill(engine, kept_tenant, kept_account, messages)  # another tenant's, which stays
            for _ in range(rounds):
                tenant_id, key, account_id = await tenant(client)
                await fill(engine, tenant_id, account_id, messages)
                if engine.dialect.name == "postgresql":
                    async with engine.connect() as connection:
                        await connection.exec_driver_sql("ANALYZE")  # as autovacuum would have by then
                began, began_cpu = time.perf_counter(), time.process_time()
                answer = await client.delete("/api/v1/sandbox/data", headers={"X-Mitto-API-Key": key})
                timings.append(time.perf_counter() - began)
                cpu.append(time.process_time() - began_cpu)
                assert answer.status_code == 200 and answer.json()["messages"] == messages, answer.text
            async with engine.connect() as connection:
                left = await connection.scalar(select(func.count()).select_from(Message.__table__))
            assert left == messages, left  # the other tenant's
    finally:
        await engine.dispose()
    return timings, cpu


async def main(messages: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        sqlite = await measure(f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}", messages, rounds)
    name = f"gateway_bench_reset_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{POSTGRES}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        postgres = await measure(f"{POSTGRES}/{name}", messages, rounds)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"load average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores; other work shares them)")
    for label, (timings, cpu) in (("SQLite", sqlite), ("Postgres", postgres)):
        print(
            f"{label}: reset of {messages} messages (beside another tenant's {messages}): "
            f"median {statistics.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms over {rounds} rounds "
            f"(this process's CPU: median {statistics.median(cpu) * 1000:.0f} ms)"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.rounds))
