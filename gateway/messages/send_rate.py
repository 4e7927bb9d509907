"""Per-traffic-account send rates that every worker respects together.

GCRA (the generic cell rate algorithm, a token bucket in one number): each account has a
"theoretical arrival time"; a send is allowed now when that time is at most ``burst`` intervals
ahead, and pushes it one interval further. With Redis the state lives in Redis and is updated by a
Lua script, atomically across processes; without Redis (the embedded mode) it lives in memory.
"""

from __future__ import annotations

import time
from typing import Protocol

from redis.asyncio import Redis

from gateway.lib.redis_scripts import BatchedScript

BURST = 1.0  # seconds of sending that may go out at once after a quiet period


class SendRate(Protocol):
    async def reserve(self, key: str, per_second: float) -> float:
        """Seconds to wait before the next send of ``key``; 0 means send now (and it is counted)."""
        ...


class MemorySendRate:
    def __init__(self, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.clock = clock
        self.arrival: dict[str, float] = {}

    async def reserve(self, key: str, per_second: float) -> float:
        now, interval = self.clock(), 1.0 / per_second
        arrival = max(self.arrival.get(key, now), now)
        if arrival - now > BURST:
            return arrival - now - BURST
        self.arrival[key] = arrival + interval
        return 0.0


# KEYS[1]: the account's key; ARGV: interval, burst, expiry (all seconds). Redis' own clock, so the
# workers' clocks don't have to agree. Returns the wait in microseconds (0: counted, send now).
_GCRA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local arrival = tonumber(redis.call('GET', KEYS[1]) or now)
if arrival < now then arrival = now end
if arrival - now > burst then
  return math.floor((arrival - now - burst) * 1000000)
end
redis.call('SET', KEYS[1], tostring(arrival + interval), 'EX', tonumber(ARGV[3]))
return 0
"""


class RedisSendRate:
    def __init__(self, redis: Redis, prefix: str = "gateway:send-rate:") -> None:
        self.prefix = prefix
        self.gcra = BatchedScript(redis, _GCRA)  # a reservation per send: concurrent ones share round trips

    async def reserve(self, key: str, per_second: float) -> float:
        interval = 1.0 / per_second
        waited = await self.gcra(self.prefix + key, interval, BURST, int(BURST + interval) + 60)
        return int(waited) / 1_000_000
