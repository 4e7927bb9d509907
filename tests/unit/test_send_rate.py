"""Send rates shared by every worker: GCRA in memory and in Redis (the real server, two clients)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gateway.messages.send_rate import BURST, MemorySendRate, RedisSendRate


async def test_memory_rate_allows_a_burst_then_spaces_sends():
    now = [100.0]
    rate = MemorySendRate(clock=lambda: now[0])
    allowed = [await rate.reserve("a", 10) for _ in range(15)]
    assert allowed[: int(BURST * 10) + 1] == [0.0] * 11  # one second of burst, and the send at its edge
    assert allowed[11] == pytest.approx(0.1)
    assert await rate.reserve("b", 10) == 0.0  # accounts are independent
    now[0] += 0.1
    assert await rate.reserve("a", 10) == 0.0  # room again after one interval


async def test_redis_rate_is_shared_by_two_workers(redis_client):
    key = f"test-{uuid.uuid4()}"
    first, second = RedisSendRate(redis_client), RedisSendRate(redis_client, prefix="gateway:send-rate:")
    waits = [await (first if n % 2 else second).reserve(key, 20) for n in range(40)]
    sent_now = sum(1 for wait in waits if wait == 0)
    assert 21 <= sent_now <= 22, waits  # one second of burst at 20/s (+1 for the clock moving on)
    assert all(0 < wait <= 1.0 for wait in waits if wait)
    assert await redis_client.ttl(f"gateway:send-rate:{key}") > 0  # state expires on its own


async def test_concurrent_reservations_share_round_trips_and_stay_exact(redis_client):
    """Sends reserve concurrently; their script calls go to Redis together, each still counted once."""
    key = f"test-{uuid.uuid4()}"
    rate = RedisSendRate(redis_client)
    waits = await asyncio.gather(*(rate.reserve(key, 20) for _ in range(60)))
    assert 21 <= sum(1 for wait in waits if wait == 0) <= 22, waits
    assert all(0 < wait <= 1.0 for wait in waits if wait)
