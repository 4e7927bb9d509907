"""The Redis client of a process (GATEWAY_REDIS_URL), or None in the embedded mode.

With timeouts: redis-py waits for ever by default, so a Redis that accepts connections and stops
answering would hang every request that counts a rate limit and every worker loop. With them a call
fails after a few seconds, and each user of Redis does what it does when Redis is down (rate limits
count in memory, the workers' loops log and retry, the database stays the record of truth).
"""

from __future__ import annotations

from redis.asyncio import Redis

CONNECT_SECONDS = 2.0
ANSWER_SECONDS = 5.0  # far above any command of ours (the biggest: 5,000 timers in one ZADD)


def redis_client(url: str | None) -> Redis | None:
    if not url:
        return None
    return Redis.from_url(url, socket_connect_timeout=CONNECT_SECONDS, socket_timeout=ANSWER_SECONDS)
