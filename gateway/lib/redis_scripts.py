"""Lua scripts that many concurrent callers run on Redis (rate-limit counts, send-rate reservations):
the calls that arrive while one round trip is under way go together in the next, as one pipeline.
On this kind of VM a round trip's system calls cost more than the script; a round trip per call was
a tenth of a busy API's CPU.
"""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisError

from gateway.lib.group_commit import GroupCommit


class BatchedScript:
    def __init__(self, redis: Redis, source: str) -> None:
        self.redis = redis
        self.source = source
        self.sha = redis.register_script(source).sha
        self._batches = GroupCommit(self._run_all, max_batch=500)

    async def __call__(self, key: str, *args: Any) -> Any:
        """The script's answer for one key; raises RedisError when Redis fails."""
        return await self._batches.submit((key, args))

    async def _run_all(self, calls: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        """Per call the answer, or the RedisError its caller raises (returned, not raised: a failing
        Redis fails every call of the batch at once, not each again alone)."""
        try:
            answers = await self._pipeline(calls)
            if any(isinstance(answer, NoScriptError) for answer in answers):  # Redis restarted or flushed
                await self.redis.script_load(self.source)
                answers = await self._pipeline(calls)
        except RedisError as error:
            return [error] * len(calls)
        return [
            RedisError(str(a)) if isinstance(a, Exception) and not isinstance(a, RedisError) else a for a in answers
        ]

    async def _pipeline(self, calls: list[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, args in calls:
                pipe.evalsha(self.sha, 1, key, *args)
            return await pipe.execute(raise_on_error=False)
