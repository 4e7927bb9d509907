"""The pipeline with Redis: workers in other processes are woken through Redis, send rates are
shared through it, and a Redis flush loses nothing (the database is the queue; Redis holds only
rate buckets and wake-ups)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.lib.work_due import MESSAGES, WorkDue
from gateway.messages.dispatcher import Dispatcher
from gateway.messages.send_rate import RedisSendRate
from tests.conftest import ADMIN, REDIS_URL, eventually
from tests.integration.conftest import dispatcher_of, message_row, send_sms, serve, tenant_on, wait_for_status

# A database number of its own: this test flushes it, and other tests' keys must not go with it.
FLUSHED_REDIS_URL = REDIS_URL.rsplit("/", 1)[0] + "/11"


@pytest.fixture
async def api_with_redis(database_url: str, redis_client: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An API process with Redis and no dispatch loop of its own: workers are separate (as in production)."""
    async with serve(database_url, redis_url=FLUSHED_REDIS_URL, worker_in_server=False) as client:
        yield client


def worker_of(client: httpx.AsyncClient, redis: Any) -> Dispatcher:
    return dispatcher_of(client, send_rate=RedisSendRate(redis), work_due=WorkDue(redis))


async def subscribers(redis: Any) -> int:
    """How many listen for the message wake-ups (in any process on this Redis)."""
    [(_, count)] = await redis.pubsub_numsub(MESSAGES)
    return count


async def test_a_worker_elsewhere_is_woken_through_redis(api_with_redis: httpx.AsyncClient) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(FLUSHED_REDIS_URL)
    worker, stop = worker_of(api_with_redis, redis), asyncio.Event()
    tenant = await tenant_on(api_with_redis)
    # The worker polls only every 30 s: a message sent now is dispatched at once only if it is woken.
    claims, claim, listening = [], worker.claim, await subscribers(redis)

    async def counted(limit: int) -> list:
        claims.append(await claim(limit))
        return claims[-1]

    async def ready() -> None:  # subscribed, and its first (empty) poll done
        assert claims and await subscribers(redis) > listening, (claims, listening)

    worker.claim = counted  # type: ignore[method-assign]
    loop = asyncio.create_task(worker.run(stop, poll_seconds=30))
    await eventually(ready)
    started = time.monotonic()
    message_id = await send_sms(api_with_redis, tenant, "+447700900123")
    await wait_for_status(api_with_redis, tenant, message_id, "Sent", "Delivered", seconds=5)
    assert time.monotonic() - started < 5
    stop.set()
    await loop
    await worker.http.aclose()
    await redis.aclose()


async def test_a_redis_flush_loses_nothing(api_with_redis: httpx.AsyncClient) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(FLUSHED_REDIS_URL)
    worker, stop = worker_of(api_with_redis, redis), asyncio.Event()
    tenant = await tenant_on(api_with_redis)
    url = f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts['sms']}"
    assert (await api_with_redis.patch(url, json={"settings": {"sendRate": 5}}, headers=ADMIN)).status_code == 200
    ids = [await send_sms(api_with_redis, tenant, f"+4477009003{n:02d}") for n in range(15)]
    loop = asyncio.create_task(worker.run(stop, poll_seconds=0.2))

    async def halfway() -> None:  # some sent, the rest held back by the send rate (whose buckets live in Redis)
        sent = [(await message_row(api_with_redis, message_id)).attempts > 0 for message_id in ids]
        assert 0 < sum(sent) < len(ids), sent

    await eventually(halfway)
    assert await redis.flushdb()
    for message_id in ids:
        await wait_for_status(api_with_redis, tenant, message_id, "Delivered", seconds=20)
    stop.set()
    await loop
    for message_id in ids:  # each sent once: nothing lost, nothing doubled
        row = await message_row(api_with_redis, message_id)
        assert row.attempts == 1 and row.provider_message_id, (row.attempts, row.provider_message_id)
    await worker.http.aclose()
    await redis.aclose()
