"""Rate-limit counting (GCRA in memory and in Redis), the header fields, and idempotency-key parsing."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from redis.asyncio import Redis

from gateway.idempotency import MAX_KEY_LENGTH, fingerprint, parse_key
from gateway.lib import redis_client as redis_client_module
from gateway.lib.problems import Problem
from gateway.rate_limits import Count, MemoryCounter, Policy, RedisCounter, Verdict, gcra


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_fresh_bucket_holds_the_whole_quota_and_refills_one_per_interval() -> None:
    after, count = gcra(arrival=0.0, now=100.0, quota=10, window=60)
    assert count == Count(True, 9, 6.0) and after == 106.0  # the quota is whole again 6 s from now
    arrival = after
    for left in range(8, -1, -1):
        arrival, count = gcra(arrival, 100.0, 10, 60)
        assert count.allowed and count.remaining == left
    assert count.seconds == 60.0  # all ten used: the whole window until the quota is back
    refused_at, refused = gcra(arrival, 100.0, 10, 60)
    assert refused_at is None and refused == Count(False, 0, 6.0)  # one more request in 6 s
    assert gcra(arrival, 106.0, 10, 60)[1] == Count(True, 0, 60.0)  # and exactly one


async def test_memory_counter_counts_per_key_and_forgets_full_buckets() -> None:
    clock = Clock()
    counter = MemoryCounter(clock, max_keys=3)
    assert [(await counter.take("a", 2, 10)).allowed for _ in range(3)] == [True, True, False]
    assert (await counter.take("b", 2, 10)).remaining == 1  # another key, another bucket
    clock.now += 10
    assert (await counter.take("a", 2, 10)).remaining == 1  # refilled
    await counter.take("c", 2, 10)
    clock.now += 100
    await counter.take("d", 2, 10)  # over max_keys: buckets that are full again are dropped
    assert set(counter.arrival) == {"d"}


async def test_redis_counter_counts_like_memory_and_is_shared(redis_client: Redis) -> None:
    prefix = f"test:rate-limit:{uuid.uuid4().hex}:"
    first, second = RedisCounter(redis_client, prefix), RedisCounter(redis_client, prefix)
    try:
        counts = [await (first if n % 2 else second).take("tenant", 4, 60) for n in range(5)]
        assert [c.allowed for c in counts] == [True, True, True, True, False]
        assert [c.remaining for c in counts] == [3, 2, 1, 0, 0]
        assert counts[0].seconds == pytest.approx(15, abs=0.1) and counts[3].seconds == pytest.approx(60, abs=0.1)
        assert counts[4].seconds == pytest.approx(15, abs=0.1)  # the next request in 15 s
        ttl = await redis_client.pttl(prefix + "tenant")
        assert 59_000 < ttl <= 61_000  # the key lives as long as the bucket is not full, and no longer
    finally:
        await redis_client.delete(prefix + "tenant")


async def test_concurrent_counts_share_round_trips_and_stay_exact(redis_client: Redis) -> None:
    prefix = f"test:rate-limit:{uuid.uuid4().hex}:"
    counter = RedisCounter(redis_client, prefix)
    round_trips = 0
    pipeline = counter.gcra._pipeline

    async def counted(items: list) -> list:
        nonlocal round_trips
        round_trips += 1
        return await pipeline(items)

    counter.gcra._pipeline = counted  # type: ignore[method-assign]
    try:
        counts = await asyncio.gather(*(counter.take("tenant", 20, 60) for _ in range(50)))
        assert sum(c.allowed for c in counts) == 20  # atomic per request, batched or not
        assert sorted(c.remaining for c in counts if c.allowed) == list(range(20))
        assert round_trips < 10
        await redis_client.script_flush()  # what a Redis restart does to the loaded script
        assert not (await counter.take("tenant", 20, 60)).allowed  # loaded again, still counting
        assert (await counter.take("other", 20, 60)).remaining == 19
    finally:
        await redis_client.delete(prefix + "tenant", prefix + "other")


async def test_a_bucket_is_counted_once_per_round_trip_for_all_its_waiting_requests(redis_client: Redis) -> None:
    prefix = f"test:rate-limit:{uuid.uuid4().hex}:"
    counter = RedisCounter(redis_client, prefix)
    batches: list[list] = []
    pipeline = counter.gcra._pipeline

    async def recorded(items: list) -> list:
        batches.append(items)
        return await pipeline(items)

    counter.gcra._pipeline = recorded  # type: ignore[method-assign]
    try:
        takes = [counter.take("a" if n % 3 else "b", 10, 60) for n in range(30)]
        counts = await asyncio.gather(*takes)
        assert all(len({key for key, _ in batch}) == len(batch) for batch in batches)  # a script call per bucket
        assert sum(len(batch) for batch in batches) < 10  # not one per request
        a, b = counts[1::3] + counts[2::3], counts[0::3]
        assert sorted(c.remaining for c in a if c.allowed) == list(range(10)) and sum(c.allowed for c in a) == 10
        assert sorted(c.remaining for c in b if c.allowed) == list(range(10)) and sum(c.allowed for c in b) == 10
        assert sorted(c.seconds for c in b if c.allowed) == pytest.approx([6.0 * n for n in range(1, 11)], abs=0.1)
        assert all(c.seconds == pytest.approx(6, abs=0.1) for c in a if not c.allowed)  # the next request in 6 s
        assert not (await counter.take("b", 10, 60)).allowed  # stored: the bucket is empty for the next batch too
    finally:
        await redis_client.delete(prefix + "a", prefix + "b")


async def test_redis_counter_falls_back_to_memory_when_redis_fails() -> None:
    broken = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    try:
        counter = RedisCounter(broken)
        assert [(await counter.take("t", 2, 60)).allowed for _ in range(3)] == [True, True, False]
    finally:
        await broken.aclose()


async def test_a_redis_that_stops_answering_is_given_up_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process's client (gateway.lib.redis_client) has timeouts: a Redis that accepts connections and
    never answers costs a request a bounded wait, then the count falls back to memory."""
    monkeypatch.setattr(redis_client_module, "ANSWER_SECONDS", 0.3)
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accepts, reads nothing, never answers

    silent = await asyncio.start_server(hold, "127.0.0.1", 0)
    redis = redis_client_module.redis_client(f"redis://127.0.0.1:{silent.sockets[0].getsockname()[1]}/0")
    assert redis is not None
    try:
        began = time.monotonic()
        count = await asyncio.wait_for(RedisCounter(redis).take("t", 2, 60), 10)
        assert count.allowed and time.monotonic() - began < 3
    finally:
        await redis.aclose()
        for writer in held:
            writer.close()
        silent.close()


def test_header_fields_follow_the_draft() -> None:
    policy = Policy("default", 120000, 60)
    allowed = Verdict(policy, Count(True, 119999, 0.0005))
    assert dict(allowed.headers()) == {
        b"ratelimit-policy": b'"default";q=120000;w=60',
        b"ratelimit": b'"default";r=119999;t=1',
    }
    refused = Verdict(policy, Count(False, 0, 2.2))
    assert dict(refused.headers())[b"ratelimit"] == b'"default";r=0;t=3' and refused.retry_after == 3


@pytest.mark.parametrize(
    ("value", "key"),
    [("abc", "abc"), ('"abc"', "abc"), ("a b~!", "a b~!"), ("x" * MAX_KEY_LENGTH, "x" * MAX_KEY_LENGTH), ('"', '"')],
)
def test_keys_are_printable_ascii_bare_or_quoted(value: str, key: str) -> None:
    assert parse_key(value) == key


@pytest.mark.parametrize("value", ["", '""', "x" * (MAX_KEY_LENGTH + 1), "ключ", "a\tb", "a\x7fb", "é"])
def test_other_keys_are_a_400_naming_the_header(value: str) -> None:
    with pytest.raises(Problem) as raised:
        parse_key(value)
    assert raised.value.status_code == 400
    assert raised.value.extra["errors"][0]["field"] == "Idempotency-Key"


def test_a_request_is_its_method_path_and_body() -> None:
    base = fingerprint("POST", "/api/v1.1/Messages/send", b'{"a":1}')
    assert base == fingerprint("POST", "/api/V1.1/Messages/send", b'{"a":1}')  # the version is not case-sensitive
    assert base != fingerprint("POST", "/api/v1/Messages/send", b'{"a":1}')
    assert base != fingerprint("POST", "/api/v1.1/Messages/send", b'{"a": 1}')  # bytes, not meaning
