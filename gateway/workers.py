"""The worker's loops, built once for `gateway worker` and for the server's embedded mode: the
message dispatcher, the webhook deliverer and the failover timers, sharing the engine and Redis."""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Sequence
from dataclasses import dataclass

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.db import session_maker
from gateway.delivery.worker import WebhookDeliverer
from gateway.pipeline.callbacks import CallbackTokens
from gateway.pipeline.dispatcher import Dispatcher
from gateway.pipeline.due import MemoryDueIndex, RedisDueIndex
from gateway.pipeline.failover import FAILOVER_INDEX_KEY, FailoverTimers, NewChain
from gateway.pipeline.send_rate import MemorySendRate, RedisSendRate
from gateway.settings import Settings
from gateway.store.messages import NewMessage
from gateway.work_due import WorkDue


@dataclass(frozen=True, slots=True)
class Workers:
    dispatcher: Dispatcher
    deliverer: WebhookDeliverer
    timers: FailoverTimers
    work_due: WorkDue

    @classmethod
    def build(cls, settings: Settings, engine: AsyncEngine, tokens: CallbackTokens, redis: Redis | None) -> Workers:
        """Redis-backed (send rates, wake-ups, the timer index) when there is Redis, in memory otherwise."""
        sessions = session_maker(engine)
        work_due = WorkDue(redis)
        send_rate = RedisSendRate(redis) if redis else MemorySendRate()
        dispatcher = Dispatcher(
            sessions,
            settings.public_base_url,
            tokens,
            send_rate=send_rate,
            work_due=work_due,
            callback_url=settings.callback_base_url,
            lease=datetime.timedelta(seconds=settings.lease_seconds),
        )
        timers = FailoverTimers(
            sessions,
            RedisDueIndex(redis, FAILOVER_INDEX_KEY) if redis else MemoryDueIndex(),
            on_activated=work_due.messages,
            retention=datetime.timedelta(days=settings.created_retention_days),
        )
        return cls(dispatcher, WebhookDeliverer.from_settings(sessions, settings, work_due), timers, work_due)

    async def accepted(self, _messages: Sequence[NewMessage], chains: Sequence[NewChain]) -> None:
        """New messages were committed (the acceptor's hook): wake the dispatchers, set the timers."""
        await self.work_due.messages()
        await self.timers.accepted(chains)

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(self.dispatcher.run(stop), self.deliverer.run(stop), self.timers.run(stop))

    async def aclose(self) -> None:
        await self.dispatcher.http.aclose()
        await self.deliverer.http.aclose()
