"""Webhook delivery under load (issue 5's targets, issue 21's for one worker), on Postgres + Redis, `gateway worker` processes
delivering to a local receiver process, all on loopback.

1. throughput: 10,000 due events for 10 webhooks, drained by one worker, then by two; target >= 2,000
   deliveries/s with one worker, with its ratio to the echo limit (bench/limits.py) (each phase stops after
   45 s and reports what it managed);
2. isolation: one dead webhook (it accepts connections and never answers; a backlog of its events is
   due) beside a live one, 200 messages/s reported Delivered for 15 s, each in its own transaction
   (one event for each webhook); target p99 event -> delivery on the live one <= 200 ms, from the
   commit of the event to its arrival at the receiver.

First, as a gauge of the machine at that moment, the worker's sending code alone posts to the receiver
with no database. Run with `.venv/bin/python -m bench.webhooks` (two to three minutes; `--events`,
`--seconds` and `--workers` make it shorter).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from bench.limits import ratio

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = str(Path(sys.executable).with_name("gateway"))
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
SECRET_KEY = "bench-secret-key-0123456789abcdef"
JWT_KEY = "bench-jwt-key-0123456789abcdefghijklmnop"


# --------------------------------------------------------------------------
# The receiver: its own process, so it doesn't share the worker's event loop


def receiver_app():
    arrivals: list[tuple[str, str, float]] = []  # (path, webhook-id, wall-clock time)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        path = scope["path"]
        if path == "/results":
            body = json.dumps(arrivals).encode()
            arrivals.clear()
            await send(
                {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
            )
            await send({"type": "http.response.body", "body": body})
            return
        event_id = next((v.decode() for k, v in scope["headers"] if k == b"webhook-id"), "")
        arrivals.append((path, event_id, time.time()))
        if path.startswith("/dead"):
            await asyncio.sleep(3600)
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    return app


def serve_receiver(port: int) -> None:
    import uvicorn

    uvicorn.run(receiver_app(), host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


# --------------------------------------------------------------------------
# The database: a fresh one, with a tenant, a traffic account, webhooks and messages


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def psql(database: str, sql: str) -> None:
    subprocess.run(["psql", f"{POSTGRES}/{database}", "-qc", sql], check=True, capture_output=True)


class World:
    """The rows the benchmark writes, through the gateway's own models and pipeline code."""

    def __init__(self, url: str) -> None:
        from gateway.lib.crypto import configure_encryption
        from gateway.lib.db import create_engine, session_maker

        configure_encryption((SECRET_KEY,))
        self.engine = create_engine(url)
        self.sessions = session_maker(self.engine)

    async def setup(self) -> None:
        from gateway.models import Tenant, TrafficAccount

        async with self.sessions() as session:
            tenant = Tenant(name="bench")
            session.add(tenant)
            await session.flush()
            account = TrafficAccount(tenant_id=tenant.id, name="sms", channel="sms", sandbox=True, credentials="{}")
            session.add(account)
            await session.commit()
            self.tenant_id, self.account_id = tenant.id, account.id

    async def webhook(self, url: str):
        from gateway.lib.crypto import new_webhook_secret
        from gateway.models import Webhook, WebhookTrafficAccount

        async with self.sessions() as session:
            webhook = Webhook(
                tenant_id=self.tenant_id, url=url, triggers=["Delivered"], headers="{}", secret=new_webhook_secret()
            )
            session.add(webhook)
            await session.flush()
            session.add(
                WebhookTrafficAccount(
                    tenant_id=self.tenant_id, webhook_id=webhook.id, traffic_account_id=self.account_id
                )
            )
            await session.commit()
            return webhook.id

    async def drop(self, webhook_id) -> None:
        """The webhook goes, with its links and whatever of its events was not delivered."""
        from sqlalchemy import delete

        from gateway.models import Webhook

        async with self.sessions() as session:
            await session.execute(delete(Webhook).where(Webhook.id == webhook_id))
            await session.commit()

    async def delivered(self, count: int, one_by_one: bool = False) -> dict[str, float]:
        """``count`` messages reported Delivered, writing their outbox rows (one per linked webhook) as
        the pipeline does; in one transaction, or each in its own (as callbacks do). The events' ids
        and the wall-clock time of their commit."""
        from gateway.lib.clock import now
        from gateway.models import Conversation, Message, TrafficAccount
        from gateway.store.outbox import add_webhook_events, status_payload

        committed: dict[str, float] = {}
        session = self.sessions()
        try:
            account = await session.get(TrafficAccount, self.account_id)
            written: list[uuid.UUID] = []
            for number in range(count):
                address = f"+44{uuid.uuid4().int % 10**10:010d}"  # a conversation of its own
                conversation = Conversation(
                    id=uuid.uuid4(),
                    tenant_id=self.tenant_id,
                    traffic_account_id=self.account_id,
                    channel="sms",
                    participant=address,
                )
                message = Message(
                    tenant_id=self.tenant_id,
                    traffic_account_id=self.account_id,
                    conversation_id=conversation.id,
                    channel="sms",
                    direction="outbound",
                    destination=address,
                    status="Delivered",
                    sequence=3,
                    content={"text": "Your code is 1234"},
                    reference="order-1042",
                )
                session.add_all([conversation, message])
                await session.flush()
                payload = status_payload(message, "Delivered", now(), account)
                written += await add_webhook_events(session, message, "Delivered", payload)
                if one_by_one or number == count - 1:
                    await session.commit()
                    committed.update({str(event_id): time.time() for event_id in written})
                    written.clear()
        finally:
            await session.close()
        return committed

    async def attempts(self) -> int:
        from sqlalchemy import func, select

        from gateway.models import WebhookAttempt

        async with self.sessions() as session:
            return await session.scalar(select(func.count()).select_from(WebhookAttempt))


# --------------------------------------------------------------------------


async def start_worker(url: str) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": url,
        "GATEWAY_REDIS_URL": REDIS,
        "GATEWAY_SECRET_KEY": SECRET_KEY,
        "GATEWAY_JWT_KEYS": JWT_KEY,
        "GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS": "true",  # the receiver is on loopback
    }
    return await asyncio.create_subprocess_exec(
        GATEWAY,
        "worker",
        env=env,
        cwd=ROOT,
        stderr=subprocess.DEVNULL,
    )


async def stop(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 15)
    except TimeoutError:
        process.kill()
        await process.wait()


async def results(receiver: str) -> list:
    """What the receiver got since the last call: (path, webhook-id, arrival time)."""
    async with httpx.AsyncClient() as client:
        return (await client.get(f"{receiver}/results")).json()


def percentile(values: list[float], share: float) -> float | None:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1) if ordered else None


def cpu_seconds(process: asyncio.subprocess.Process) -> float:
    """CPU time (user + system) the process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load() -> str:
    """What else the machine is doing: the 1-minute load average, against its CPUs."""
    return f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


async def http_alone(receiver: str, requests: int = 3000, concurrency: int = 50) -> dict:
    """The worker's own sending code posting to the receiver with no database: what one process on this
    machine manages at that moment, the ceiling of a worker process (and a gauge of the machine)."""
    from gateway.webhooks.deliverer import post_keeping
    from wire.http import KeepAliveTransport

    connections = KeepAliveTransport(concurrency)
    slots = asyncio.Semaphore(concurrency)
    body = json.dumps({"event": "Delivered", "text": "x" * 400}).encode()

    async def post(number: int) -> None:
        async with slots:
            await post_keeping(connections, f"{receiver}/calibration", body, {"webhook-id": str(number)}, 1024, 15)

    machine = load()
    began = time.monotonic()
    await asyncio.gather(*(post(number) for number in range(requests)))
    elapsed = time.monotonic() - began
    await connections.aclose()
    await results(receiver)
    return {
        "phase": f"HTTP alone: {requests} POSTs by the worker's sending code, {concurrency} at a time, no database",
        "load average before": machine,
        "requests per second": round(requests / elapsed),
    }


async def throughput(world: World, receiver: str, url: str, events: int, webhooks: int, workers: int) -> dict:
    hooks = [await world.webhook(f"{receiver}/live/{n}") for n in range(webhooks)]
    for start in range(0, events // webhooks, 500):
        await world.delivered(min(500, events // webhooks - start))
    machine = load()
    await results(receiver)  # late arrivals of an earlier phase are not this one's
    started = [await start_worker(url) for _ in range(workers)]
    try:
        deadline = time.monotonic() + 45  # bounded: a slow run reports what it managed
        arrivals: list = []
        while len(arrivals) < events and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            arrivals += await results(receiver)
        while await world.attempts() < events and time.monotonic() < deadline:  # noqa: ASYNC110  (polls the database)
            await asyncio.sleep(0.1)
        cpu = sum(cpu_seconds(worker) for worker in started)
    finally:
        for worker in started:
            await stop(worker)
    for hook in hooks:
        await world.drop(hook)
    times = [at for _, _, at in arrivals]
    return {
        "phase": f"throughput: {events} due events for {webhooks} webhooks, drained by {workers} worker process(es)",
        "load average before": machine,
        "delivered": len({event_id for _, event_id, _ in arrivals}),
        "deliveries per second": (per_second := round(len(times) / (max(times) - min(times))) if len(times) > 1 else 0),
        "ratio to echo requests/s": ratio(per_second, "echo requests/s"),
        "worker CPU ms per delivery (start-up included)": round(cpu * 1000 / max(1, len(arrivals)), 2),
        "target": ">= 2000/s with one worker",
    }


async def isolation(world: World, receiver: str, url: str, seconds: float, rate: int) -> dict:
    dead = await world.webhook(f"{receiver}/dead")
    await world.delivered(200)  # a backlog for the dead one, due at once
    live = await world.webhook(f"{receiver}/live-beside-dead")
    machine = load()
    worker = await start_worker(url)
    try:
        await asyncio.sleep(2)  # the worker is up and its dead-endpoint slots are taken
        began = time.monotonic()
        committed: dict[str, float] = {}
        while (elapsed := time.monotonic() - began) < seconds:
            if (due := int(elapsed * rate) - len(committed) // 2) > 0:  # two events a message: dead, live
                committed |= await world.delivered(due, one_by_one=True)
            await asyncio.sleep(0.002)
        await asyncio.sleep(1)
        arrivals = await results(receiver)
    finally:
        await stop(worker)
    latencies = [
        (at - committed[event_id]) * 1000
        for path, event_id, at in arrivals
        if path == "/live-beside-dead" and event_id in committed
    ]
    await world.drop(dead)
    await world.drop(live)
    return {
        "phase": f"isolation: {rate} events/s for {seconds:g} s to a live and a dead webhook (200 dead events due before)",
        "load average before": machine,
        "live deliveries": len(latencies),
        "events written for the live webhook": len(committed) // 2,
        "dead endpoint requests open": sum(1 for path, _, _ in arrivals if path == "/dead"),
        "p50 ms": percentile(latencies, 0.50),
        "p99 ms": percentile(latencies, 0.99),
        "max ms": percentile(latencies, 1.0),
        "target": "p99 <= 200 ms",
    }


async def main(events: int, seconds: float, workers: list[int]) -> None:
    from gateway.migrate import upgrade
    from gateway.settings import Settings

    database = f"gateway_bench_webhooks_{os.getpid()}"
    psql("postgres", f'CREATE DATABASE "{database}"')
    url = f"{POSTGRES.replace('postgresql://', 'postgresql+asyncpg://')}/{database}"
    port = free_port()
    receiver_process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.webhooks", "--receiver", str(port), cwd=ROOT
    )
    receiver = f"http://127.0.0.1:{port}"
    world = None
    try:
        upgrade(Settings(database_url=url, jwt_keys=(JWT_KEY,), secret_keys=(SECRET_KEY,)))
        world = World(url)
        await world.setup()
        for _ in range(100):
            try:
                await results(receiver)
                break
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
        phases = [await http_alone(receiver)]
        phases += [await throughput(world, receiver, url, events, webhooks=10, workers=n) for n in workers]
        phases.append(await isolation(world, receiver, url, seconds, rate=200))
        print(
            json.dumps(
                {"when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "results": phases},
                indent=2,
            ),
            flush=True,
        )
    finally:
        receiver_process.kill()  # its dead endpoint's requests never end by themselves
        await receiver_process.wait()
        if world is not None:
            await world.engine.dispose()
        psql("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000, help="events of the throughput phase")
    parser.add_argument("--seconds", type=float, default=15, help="length of the isolation phase")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="worker processes of each throughput run"
    )
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)  # internal: serve the receiver on this port
    arguments = parser.parse_args()
    if arguments.receiver:
        serve_receiver(arguments.receiver)
    else:
        asyncio.run(main(arguments.events, arguments.seconds, arguments.workers))
