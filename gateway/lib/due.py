"""An index of due times (delayed jobs): a Redis sorted set, or a heap in memory in the embedded mode.

It is only an index: the database holds every due time, and a reconciler puts them back after a
Redis flush or restart. ``take`` hands out what is due and pushes it ``hold`` seconds ahead, so a
taker that dies before finishing leaves the job to be taken again (at least once); the job's own
effect is a compare-and-set in the database, so taking it twice changes nothing.
"""

from __future__ import annotations

import heapq
from typing import Protocol

from redis.asyncio import Redis


class DueIndex(Protocol):
    async def schedule(self, due: dict[str, float], keep_existing: bool = False) -> None:
        """Set (or move) each member's due time, in seconds since the epoch; with ``keep_existing``,
        only add the members the index lacks."""
        ...

    async def take(self, now: float, limit: int, hold: float) -> tuple[dict[str, float], float | None]:
        """Up to ``limit`` members due at ``now``, with the time each was due; each is due again at
        ``now + hold`` unless forgotten. Also the earliest due time left (None: nothing), so the taker
        can sleep until then rather than poll."""
        ...

    async def forget(self, members: list[str]) -> None: ...

    async def settle(self, due: dict[str, float], members: list[str]) -> None:
        """``schedule(due)`` and ``forget(members)`` at once (after taking: one round trip, not two)."""
        ...

    async def size(self) -> int: ...


class MemoryDueIndex:
    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []  # may hold stale entries; _due is the truth

    async def schedule(self, due: dict[str, float], keep_existing: bool = False) -> None:
        for member, at in due.items():
            if keep_existing and member in self._due:
                continue
            self._due[member] = at
            heapq.heappush(self._heap, (at, member))

    async def take(self, now: float, limit: int, hold: float) -> tuple[dict[str, float], float | None]:
        taken: dict[str, float] = {}
        while self._heap and self._heap[0][0] <= now and len(taken) < limit:
            at, member = heapq.heappop(self._heap)
            if self._due.get(member) == at:
                taken[member] = at
        await self.schedule({member: now + hold for member in taken})
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:  # stale entries
            heapq.heappop(self._heap)
        return taken, self._heap[0][0] if self._heap else None

    async def forget(self, members: list[str]) -> None:
        for member in members:
            self._due.pop(member, None)
        if len(self._heap) > 4 * len(self._due) + 1000:  # drop stale entries now and then
            self._heap = [(at, member) for member, at in self._due.items()]
            heapq.heapify(self._heap)

    async def settle(self, due: dict[str, float], members: list[str]) -> None:
        await self.schedule(due)
        await self.forget(members)

    async def size(self) -> int:
        return len(self._due)


# KEYS[1]: the sorted set; ARGV: now, limit, hold. Taking and holding in one step, so two takers never
# get the same member at once. Returns member, due time, member, due time..., then the earliest due
# time left (as a string, Lua numbers would be truncated to integers; empty: nothing left).
_TAKE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
local held = tonumber(ARGV[1]) + tonumber(ARGV[3])
for i = 1, #due, 2 do
  redis.call('ZADD', KEYS[1], held, due[i])
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
due[#due + 1] = first[2] or ''
return due
"""


class RedisDueIndex:
    def __init__(self, redis: Redis, key: str) -> None:
        self.redis = redis
        self.key = key
        self._take = redis.register_script(_TAKE)

    async def schedule(self, due: dict[str, float], keep_existing: bool = False) -> None:
        if due:
            await self.redis.zadd(self.key, due, nx=keep_existing)

    async def take(self, now: float, limit: int, hold: float) -> tuple[dict[str, float], float | None]:
        *taken, first = await self._take(keys=[self.key], args=[now, limit, hold])
        return {
            (member.decode() if isinstance(member, bytes) else member): float(due)
            for member, due in zip(taken[::2], taken[1::2], strict=True)
        }, float(first) if first else None

    async def forget(self, members: list[str]) -> None:
        if members:
            await self.redis.zrem(self.key, *members)

    async def settle(self, due: dict[str, float], members: list[str]) -> None:
        if due and members:
            async with self.redis.pipeline(transaction=False) as pipe:
                await pipe.zadd(self.key, due).zrem(self.key, *members).execute()
        else:
            await self.schedule(due)
            await self.forget(members)

    async def size(self) -> int:
        return int(await self.redis.zcard(self.key))
