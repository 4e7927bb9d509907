"""Rate limits, and the IETF RateLimit header fields on every response.

Three policies; every response names the one that counted it:

- ``"default"``: the customer API, per tenant: GATEWAY_RATE_LIMIT_QUOTA requests per
  GATEWAY_RATE_LIMIT_WINDOW seconds, or the tenant's own quota (``rateLimitQuota`` in the admin API).
- ``"address"``: every request not authenticated as a tenant (login, /health, /admin, /schema, unknown
  paths, refused credentials), per client address.
- ``"providers"``: /callbacks and /sandbox, per client address, with a quota far above what the tenants'
  own sends cause: providers report at the pace the gateway sends, and a refused report is a late one.

Headers as in draft-ietf-httpapi-ratelimit-headers-11: ``RateLimit-Policy: "default";q=120000;w=60`` and
``RateLimit: "default";r=119999;t=1`` (``r`` requests left now; ``t`` seconds until the whole quota is
back). A request over the quota gets a 429 ``rate_limited`` problem with ``Retry-After``, and ``r=0``
with ``t`` equal to it.

Counting is GCRA, as gateway.messages.send_rate counts send rates: a quota of ``q`` per ``w`` seconds is a
bucket of ``q`` requests refilled at one per ``w/q`` seconds, kept as one number per partition. With Redis
that number lives in Redis and a Lua script reads and updates it (for the requests of a partition that
arrive together, in one call), atomically across processes and on Redis' clock; without Redis (the embedded
mode) it lives in memory. send_rate's ``reserve`` answers only how long to wait; the headers also need what
is left, hence a script of our own.

Litestar's RateLimitMiddleware doesn't do this job: it reads and writes each identifier's history in two
store calls (two processes can both read 99 and both write 100), has one fixed limit for everyone (no
per-tenant quota), writes the older RateLimit-Limit/-Remaining/-Reset fields, and runs only on routed
requests, so a 404 of an unknown path would carry no headers.

How a request is counted: ``AddressRateLimit`` (app middleware) counts a routed request by address,
unless its route is on the customer API (``opt={"rate_limit": "tenant"}``); there ``TenantRateLimit``
counts it once authentication knows the tenant. Either refuses with a 429 before the handler runs.
``RateLimitHeaders`` (around the whole app) adds the headers of that count to the response; a request
answered before either could count it (an unknown path, a 405, refused credentials) is counted by
address as it is answered, and answered as it was. GET /metrics alone is not counted (UNCOUNTED).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import select

from gateway import metrics
from gateway.channel_routes import PROVIDER_PREFIXES
from gateway.lib.group_commit import GroupCommit
from gateway.lib.lookups import Lookups
from gateway.lib.problems import Problem
from gateway.lib.redis_scripts import BatchedScript
from gateway.models import Tenant
from gateway.settings import Settings

log = logging.getLogger(__name__)

SCOPE_KEY = "gateway.rate_limit"  # the request's Verdict, once it has been counted
TENANT_OPT = "rate_limit"  # opt={"rate_limit": "tenant"}: counted per tenant, after authentication
# opt={"rate_limit": "none"}: not counted, no RateLimit fields (GET /metrics: a scraper sharing an address
# with busy clients must not go dark when they use up its quota; its token guards it).
UNCOUNTED = "none"
MAX_QUOTA = 1_000_000_000  # a tenant's own quota, at most (it is a 32-bit column)


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    quota: int  # requests per window
    window: int  # seconds


@dataclass(frozen=True, slots=True)
class Count:
    allowed: bool
    remaining: int  # requests left now
    seconds: float  # allowed: until the whole quota is back; refused: until one request is allowed


@dataclass(frozen=True, slots=True)
class Verdict:
    policy: Policy
    count: Count

    @property
    def retry_after(self) -> int:
        return max(1, math.ceil(self.count.seconds))

    def headers(self) -> list[tuple[bytes, bytes]]:
        name, seconds = self.policy.name, math.ceil(self.count.seconds)
        return [
            (b"ratelimit-policy", f'"{name}";q={self.policy.quota};w={self.policy.window}'.encode()),
            (b"ratelimit", f'"{name}";r={self.count.remaining};t={seconds}'.encode()),
        ]


def gcra(arrival: float, now: float, quota: int, window: float) -> tuple[float | None, Count]:
    """One request against a bucket whose theoretical arrival time is ``arrival``: the new arrival time
    (None when refused) and the count. The Lua script below is the same arithmetic."""
    interval = window / quota
    after = max(arrival, now) + interval
    if after - now > window:
        return None, Count(False, 0, after - now - window)
    return after, Count(True, int((window - (after - now)) / interval + 1e-9), after - now)


class Counter(Protocol):
    async def take(self, key: str, quota: int, window: int) -> Count: ...


class MemoryCounter:
    """The embedded mode: buckets of this process."""

    def __init__(self, clock=time.monotonic, max_keys: int = 100_000) -> None:  # type: ignore[no-untyped-def]
        self.clock = clock
        self.max_keys = max_keys
        self.arrival: dict[str, float] = {}

    async def take(self, key: str, quota: int, window: int) -> Count:
        now = self.clock()
        after, count = gcra(self.arrival.get(key, now), now, quota, window)
        if after is not None:
            if len(self.arrival) >= self.max_keys:  # full buckets need no entry: drop them
                self.arrival = {k: at for k, at in self.arrival.items() if at > now}
                if len(self.arrival) > self.max_keys // 2:  # a flood of addresses: start afresh, not prune per request
                    self.arrival.clear()
            self.arrival[key] = after
        return count


# KEYS[1]: the partition's key; ARGV: quota, window (seconds), requests. Redis' own clock, so the processes'
# clocks don't have to agree. Counts the requests one after the other as ``gcra`` does, with times relative
# to now, and stores the bucket's new arrival time; returns where the bucket stood before them (seconds from
# now, every digit of the double), from which ``RedisCounter`` replays each request's count with ``gcra``.
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local quota = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local interval = window / quota
local start = math.max(tonumber(redis.call('GET', KEYS[1]) or now) - now, 0)
local after = start
for _ = 1, tonumber(ARGV[3]) do
  if after + interval > window then break end
  after = after + interval
end
if after > start then
  redis.call('SET', KEYS[1], string.format('%.6f', now + after), 'PX', math.ceil(after * 1000) + 1000)
end
return string.format('%.17g', start)
"""


class RedisCounter:
    """Buckets shared by every process, in Redis; in memory while Redis fails, so that an outage of Redis
    limits per process rather than refusing or stopping the API.

    The counts that arrive while one round trip is under way are taken together, one script call per
    bucket: a busy tenant's requests cost Redis one script run and the API one command per round trip,
    not one per request (a script call per request was 4 % of the API's CPU per send, py-spy)."""

    def __init__(self, redis: Redis, prefix: str = "gateway:rate-limit:") -> None:
        self.prefix = prefix
        self.gcra = BatchedScript(redis, _GCRA)
        self._takes = GroupCommit(self._take_all, max_batch=10_000)
        self.fallback = MemoryCounter()
        self.failing = False  # logged once per outage, not once per request

    async def take(self, key: str, quota: int, window: int) -> Count:
        try:
            count = await self._takes.submit((key, quota, window))
        except RedisError as error:
            if not self.failing:
                log.warning("rate limits are counted in memory while Redis fails: %s", error)
            self.failing = True
            metrics.redis_fallback("rate_limits")
            return await self.fallback.take(key, quota, window)
        if self.failing:
            log.warning("rate limits are counted in Redis again")
        self.failing = False
        return count

    async def _take_all(self, takes: list[tuple[str, int, int]]) -> list[Count | BaseException]:
        """Per take its count, in the order given, or the error its caller raises (returned: a failing Redis
        fails the batch's takes at once, not each again alone)."""
        buckets: dict[tuple[str, int, int], list[int]] = {}
        for index, take in enumerate(takes):
            buckets.setdefault(take, []).append(index)
        answers = await asyncio.gather(
            *(self.gcra(self.prefix + key, quota, window, len(of)) for (key, quota, window), of in buckets.items()),
            return_exceptions=True,
        )
        counts: dict[int, Count | BaseException] = {}
        for ((_, quota, window), of), answer in zip(buckets.items(), answers, strict=True):
            if isinstance(answer, BaseException):
                counts.update(dict.fromkeys(of, answer))
                continue
            arrival = float(answer)
            for index in of:
                after, counts[index] = gcra(arrival, 0.0, quota, window)  # as the script counted them
                arrival = arrival if after is None else after
        return [counts[index] for index in range(len(takes))]


class RateLimits:
    """The policies of this installation and the counter they are counted with."""

    def __init__(self, settings: Settings, counter: Counter) -> None:
        self.settings = settings
        self.counter = counter
        window = settings.rate_limit_window_seconds
        self.address = Policy("address", settings.rate_limit_address_quota, window)
        self.providers = Policy("providers", settings.rate_limit_provider_quota, window)

    async def count(self, policy: Policy, partition: str) -> Verdict:
        return Verdict(policy, await self.counter.take(f"{policy.name}:{partition}", policy.quota, policy.window))

    async def count_address(self, scope: Scope) -> Verdict:
        policy = self.providers if scope["path"].startswith(PROVIDER_PREFIXES) else self.address
        client = scope.get("client")
        return await self.count(policy, client[0] if client else "unknown")

    async def count_tenant(self, scope: Scope, tenant_id: UUID) -> Verdict:
        # Remembered a moment like the other hot lookups (and forgotten at once when changed through the API).
        state = scope["app"].state
        lookups: Lookups = state.runtime.lookups

        async def load() -> int | None:
            session = state.runtime.db_config.provide_session(state, scope)  # the request's own session
            return await session.scalar(select(Tenant.rate_limit_quota).where(Tenant.id == tenant_id))

        quota = await lookups.remember(("rate limit quota", tenant_id), load)
        policy = Policy("default", quota or self.settings.rate_limit_quota, self.settings.rate_limit_window_seconds)
        return await self.count(policy, str(tenant_id))


def refuse(verdict: Verdict) -> Problem:
    metrics.rate_limited(verdict.policy.name)
    return Problem(
        429,
        "rate_limited",
        f'Over the "{verdict.policy.name}" quota of {verdict.policy.quota} requests per '
        f"{verdict.policy.window} seconds; retry in {verdict.retry_after} seconds.",
        headers={"Retry-After": str(verdict.retry_after)},
    )


def _rate_limits(scope: Scope) -> RateLimits:
    return scope["app"].state.runtime.rate_limits


class AddressRateLimit:
    """App middleware: counts a routed request by client address, unless its route counts per tenant."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["route_handler"].opt.get(TENANT_OPT) not in ("tenant", UNCOUNTED):
            verdict = scope[SCOPE_KEY] = await _rate_limits(scope).count_address(scope)  # type: ignore[literal-required]
            if not verdict.count.allowed:
                raise refuse(verdict)
        await self.app(scope, receive, send)


class TenantRateLimit:
    """Customer API middleware, after authentication: counts the request against its tenant's quota. A
    request authentication lets through without credentials (OPTIONS, a CORS preflight) counts by address."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            rate_limits, user = _rate_limits(scope), scope.get("user")
            if user is None:
                verdict = await rate_limits.count_address(scope)
            else:
                verdict = await rate_limits.count_tenant(scope, user.tenant_id)
            scope[SCOPE_KEY] = verdict  # type: ignore[literal-required]
            if not verdict.count.allowed:
                raise refuse(verdict)
        await self.app(scope, receive, send)


def with_rate_limit_headers(scope: Scope, send: Send, rate_limits: RateLimits) -> Send:
    """``send``, adding the RateLimit fields of the request's count to the response; a request nothing
    counted yet is counted by address now."""

    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            verdict: Verdict | None = scope.get(SCOPE_KEY)  # type: ignore[assignment]
            handler = scope.get("route_handler")
            if verdict is None and not (handler and handler.opt.get(TENANT_OPT) == UNCOUNTED):
                verdict = await rate_limits.count_address(scope)
            if verdict is not None:
                message["headers"] = [*message.get("headers", ()), *verdict.headers()]
        await send(message)

    return send_with_headers


def counter_for(redis: Redis | None) -> Counter:
    return RedisCounter(redis) if redis is not None else MemoryCounter()
