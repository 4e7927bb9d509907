"""GET /admin/status: the workers' heartbeats, the queues, the database and Redis, as an operator sees them."""

from __future__ import annotations

import datetime
import socket

from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.models import WorkerHeartbeat
from gateway.workers import FORGET_AFTER, Heartbeat, read_workers
from tests.conftest import ADMIN, REDIS_URL, in_app_loop, make_settings, new_tenant

SMS = {"text": "hello", "sender": "MITTO SMS"}


async def status_of(client) -> dict:
    response = await client.get("/admin/status", headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_operator_token_is_required(client):
    assert (await client.get("/admin/status")).status_code == 401
    assert (await client.get("/admin/status", headers={"Authorization": "Bearer nope"})).status_code == 401


async def test_messages_no_worker_takes_are_the_dispatch_backlog(database_url):
    settings = make_settings(database_url, worker_in_server=False)  # nobody dispatches
    async with AsyncTestClient(app=create_app(settings)) as client:
        before = (await status_of(client))["dispatch"]["due"]
        tenant = await new_tenant(client, ("sms",))
        for _ in range(3):
            sent = await client.post(
                "/api/v1/Message/send",
                json={"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "sms": SMS},
                headers=tenant.key,
            )
            assert sent.status_code == 200, sent.text
        body = await status_of(client)
        assert body["dispatch"]["due"] >= before + 3  # retries other tests scheduled may come due meanwhile
        assert body["dispatch"]["oldestDueAt"] is not None
        if not any(worker["alive"] for worker in body["workers"]):
            assert body["status"] == "degraded"
            assert any("no worker is alive" in problem for problem in body["problems"])


async def test_redis_is_shown_when_configured(database_url, redis_client):
    settings = make_settings(database_url, redis_url=REDIS_URL, worker_in_server=False)
    async with AsyncTestClient(app=create_app(settings)) as client:
        redis = (await status_of(client))["redis"]
    assert redis["status"] == "ok" and redis["latencyMs"] >= 0


async def test_a_redis_that_refuses_is_a_problem_named(database_url):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # a port of ours that nothing listens on: connections are refused
    port = closed.getsockname()[1]
    try:
        settings = make_settings(database_url, redis_url=f"redis://127.0.0.1:{port}/0", worker_in_server=False)
        async with AsyncTestClient(app=create_app(settings)) as client:
            body = await status_of(client)
    finally:
        closed.close()
    assert body["redis"]["status"] == "unavailable" and body["redis"]["detail"]
    assert body["status"] == "degraded" and any("Redis is unavailable" in problem for problem in body["problems"])


async def test_a_heartbeat_updates_its_row_and_removes_it_when_stopped(client):
    import asyncio

    runtime = client.app.runtime
    moments = iter(
        datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC) + datetime.timedelta(seconds=s) for s in (0, 5, 10)
    )
    heartbeat = Heartbeat(
        runtime.sessions, "test-heartbeat", embedded=False, in_flight=lambda: (7, 3), clock=lambda: next(moments)
    )

    async def rows() -> list[WorkerHeartbeat]:
        async with runtime.sessions() as session:
            return [row for row in await read_workers(session) if row.owner == "test-heartbeat"]

    async def work() -> None:
        await heartbeat.beat()
        await heartbeat.beat()
        [row] = await rows()
        assert (row.in_flight_sends, row.in_flight_deliveries, row.embedded) == (7, 3, False)
        assert row.beat_at - row.started_at == datetime.timedelta(seconds=10)
        stop = asyncio.Event()
        stop.set()
        await heartbeat.run(stop)
        assert await rows() == []

    in_app_loop(client, work)


async def test_a_dead_worker_s_row_is_forgotten_after_a_day(client):
    runtime = client.app.runtime
    at = datetime.datetime.now(datetime.UTC)
    dead = Heartbeat(
        runtime.sessions,
        "dead-worker",
        embedded=False,
        in_flight=lambda: (0, 0),
        clock=lambda: at - FORGET_AFTER - datetime.timedelta(minutes=1),
    )
    newcomer = Heartbeat(runtime.sessions, "new-worker", embedded=False, in_flight=lambda: (0, 0), clock=lambda: at)

    async def work() -> set[str]:
        await dead.beat()
        await newcomer.beat()
        async with runtime.sessions() as session:
            owners = {row.owner for row in await read_workers(session)}
        async with runtime.sessions() as session, session.begin():
            from sqlalchemy import delete

            await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.owner == "new-worker"))
        return owners

    owners = in_app_loop(client, work)
    assert "new-worker" in owners and "dead-worker" not in owners
