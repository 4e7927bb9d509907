"""GET /admin/status: what an operator asks when messages seem stuck. The worker processes and their
heartbeats, the queues (gateway.store.backlog), and whether the database and Redis answer. Unlike
/health (a probe's yes or no), it always answers 200 and says what it found."""

from __future__ import annotations

import datetime
import time
from typing import Literal

from litestar import get
from sqlalchemy import text

from gateway.api.deps import Engine, RedisClient
from gateway.lib.clock import now
from gateway.lib.db import current_revision, head_revision, session_maker
from gateway.schemas import Out
from gateway.store.backlog import read_backlog
from gateway.workers import ALIVE_SECONDS, read_workers

State = Literal["ok", "unavailable", "absent"]


class WorkerOut(Out):
    owner: str  # the name its leases carry (lease_owner)
    host: str
    pid: int
    embedded: bool  # the loops run in an API server (no Redis: the local mock's mode)
    started_at: datetime.datetime
    last_beat_at: datetime.datetime
    alive: bool  # heard from within the last 15 seconds
    in_flight_sends: int
    in_flight_deliveries: int


class DispatchOut(Out):
    due: int  # messages waiting for a worker
    oldest_due_at: datetime.datetime | None
    in_flight: int  # messages a worker holds


class WebhookBacklogOut(Out):
    pending: int  # events not yet delivered (due, under way, or waiting for a retry)
    oldest_pending_at: datetime.datetime | None


class FailoverOut(Out):
    pending_timers: int
    next_due_at: datetime.datetime | None


class DatabaseOut(Out):
    status: State
    latency_ms: float | None
    schema_revision: str | None
    expected_revision: str | None
    detail: str | None


class RedisOut(Out):
    status: State  # absent: none configured (the embedded mode)
    latency_ms: float | None
    detail: str | None


class StatusOut(Out):
    status: Literal["ok", "degraded"]
    problems: list[str]  # why it is degraded, in words
    checked_at: datetime.datetime
    database: DatabaseOut
    redis: RedisOut
    workers: list[WorkerOut] | None  # null when the database can't be read
    dispatch: DispatchOut | None
    webhooks: WebhookBacklogOut | None
    failover: FailoverOut | None


@get("/admin/status", tags=["admin"], summary="Workers, queues, database and Redis")
async def status(engine: Engine, redis: RedisClient) -> StatusOut:
    at = now()
    problems: list[str] = []
    database, parts = await _database(engine), None
    if database.status == "ok":
        try:
            parts = await _queues(engine, at)
        except Exception as error:  # noqa: BLE001  (the database went away, or the schema is behind)
            database = DatabaseOut(
                "unavailable", None, database.schema_revision, database.expected_revision, type(error).__name__
            )
        if database.schema_revision != database.expected_revision:
            problems.append(
                f"the schema is at {database.schema_revision}, this gateway needs {database.expected_revision}"
            )
    if database.status != "ok":
        problems.append(f"the database is unavailable: {database.detail}")
    redis_state = await _redis(redis)
    if redis_state.status == "unavailable":
        problems.append(f"Redis is unavailable: {redis_state.detail}")
    workers, dispatch, webhooks, failover = parts or (None, None, None, None)
    if workers is not None and not any(worker.alive for worker in workers):
        problems.append("no worker is alive: messages are not sent and webhooks not delivered")
    return StatusOut(
        "degraded" if problems else "ok", problems, at, database, redis_state, workers, dispatch, webhooks, failover
    )


async def _database(engine: Engine) -> DatabaseOut:
    expected = head_revision()
    started = time.perf_counter()
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        latency = round((time.perf_counter() - started) * 1000, 2)
        return DatabaseOut("ok", latency, await current_revision(engine), expected, None)
    except Exception as error:  # noqa: BLE001  (any failure is what the report is for)
        return DatabaseOut("unavailable", None, None, expected, type(error).__name__)


async def _queues(
    engine: Engine, at: datetime.datetime
) -> tuple[list[WorkerOut], DispatchOut, WebhookBacklogOut, FailoverOut]:
    async with session_maker(engine)() as session:
        rows = await read_workers(session)
        backlog = await read_backlog(session, at)
    alive_since = at - datetime.timedelta(seconds=ALIVE_SECONDS)
    workers = [
        WorkerOut(
            row.owner,
            row.host,
            row.pid,
            row.embedded,
            row.started_at,
            row.beat_at,
            row.beat_at >= alive_since,
            row.in_flight_sends,
            row.in_flight_deliveries,
        )
        for row in rows
    ]
    return (
        workers,
        DispatchOut(backlog.messages_due, backlog.oldest_due_at, backlog.messages_in_flight),
        WebhookBacklogOut(backlog.webhook_events_pending, backlog.oldest_pending_event_at),
        FailoverOut(backlog.failover_timers_pending, backlog.next_failover_due_at),
    )


async def _redis(redis: RedisClient) -> RedisOut:
    if redis is None:
        return RedisOut("absent", None, None)
    started = time.perf_counter()
    try:
        await redis.ping()
    except Exception as error:  # noqa: BLE001
        return RedisOut("unavailable", None, type(error).__name__)
    return RedisOut("ok", round((time.perf_counter() - started) * 1000, 2), None)
