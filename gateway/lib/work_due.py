"""The one "work is due" signal: whoever makes a message due to send (accepting it, a failover step's
turn from a report or a timer) or a webhook event due to deliver (a replay, a webhook enabled again)
says so here, and the loops waiting for that work look for it now rather than at their next poll.

In this process through an asyncio event per kind of work; across processes (the API and the
workers) through Redis pub/sub. A lost signal costs only a poll interval: the database is the queue.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis

from gateway import metrics

log = logging.getLogger(__name__)

MESSAGES = "gateway:dispatch:wake"  # messages to send
WEBHOOKS = "gateway:webhooks:wake"  # webhook events to deliver
# Status changes committed (gateway.events.tail reads them): this process only. Other processes' changes wait
# for the tail's next read (0.2 s); a Redis message for each would cost the busiest paths a round trip.
EVENTS = "events"


class WorkDue:
    def __init__(self, redis: Redis | None = None) -> None:
        self.redis = redis
        self._events = {MESSAGES: asyncio.Event(), WEBHOOKS: asyncio.Event()}
        self._changed = asyncio.Event()  # EVENTS
        self._listening = False

    async def messages(self) -> None:
        await self.notify(MESSAGES)

    async def webhooks(self) -> None:
        await self.notify(WEBHOOKS)

    async def notify(self, kind: str) -> None:
        self._events[kind].set()
        if self.redis is not None:
            try:
                await self.redis.publish(kind, b"")
            except Exception:  # noqa: BLE001  (the other processes find the work at their next poll)
                metrics.redis_fallback("work_due_publish")
                log.warning("telling other processes that %s work is due failed", kind, exc_info=True)

    def statuses_changed(self) -> None:
        """Status changes (or user messages) were committed by this process."""
        self._changed.set()

    def event(self, kind: str) -> asyncio.Event:
        """Set when work of ``kind`` is due; the waiting loop clears it before it looks for work, so a
        signal that comes while it looks is not lost."""
        return self._changed if kind == EVENTS else self._events[kind]

    async def listen(self, stop: asyncio.Event) -> None:
        """Pass on the signals of other processes (Redis pub/sub) until ``stop``; reconnects after a
        Redis outage. Every loop that waits for work calls it: the first one listens for all."""
        if self.redis is None or self._listening:
            return
        self._listening = True
        try:
            await self._listen(stop)
        finally:
            self._listening = False

    async def _listen(self, stop: asyncio.Event) -> None:
        assert self.redis is not None
        while not stop.is_set():
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(*self._events)
                    while not stop.is_set():
                        if (message := await pubsub.get_message(timeout=1.0)) is not None:
                            channel = message["channel"]
                            self._events[channel.decode() if isinstance(channel, bytes) else channel].set()
            except Exception:  # noqa: BLE001  (polling goes on meanwhile)
                metrics.redis_fallback("work_due_listen")
                log.warning("listening for work-due signals failed; retrying in 1 s", exc_info=True)
                await asyncio.sleep(1)
