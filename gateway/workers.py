"""Worker heartbeats: every process running the worker's loops (`gateway worker`, or `gateway serve` in the
embedded mode) records every few seconds that it lives and how much it has under way, so that
`GET /admin/status` can show each worker, and one that died (its row no longer beats) stands out."""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import socket
from collections.abc import Callable

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.lib.clock import now
from gateway.models import WorkerHeartbeat

log = logging.getLogger(__name__)

BEAT_SECONDS = 5.0
ALIVE_SECONDS = 3 * BEAT_SECONDS  # a worker not heard from for longer is shown as not alive
FORGET_AFTER = datetime.timedelta(days=1)  # a dead worker's row is removed (by any live one) after this


class Heartbeat:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        owner: str,
        *,
        embedded: bool,
        in_flight: Callable[[], tuple[int, int]],
        clock: Callable[[], datetime.datetime] = now,
    ) -> None:
        self.session_maker = session_maker
        self.owner = owner
        self.embedded = embedded
        self.in_flight = in_flight  # (sends, webhook deliveries) under way now
        self.clock = clock
        self.started_at = clock()

    async def run(self, stop: asyncio.Event, every: float = BEAT_SECONDS) -> None:
        """Beat until ``stop``, then remove the row: a worker that stopped is gone, not dead."""
        while not stop.is_set():
            try:
                await self.beat()
            except Exception:  # noqa: BLE001  (a database hiccup: the next beat tries again)
                log.warning("recording the heartbeat of worker %s failed", self.owner, exc_info=True)
            try:
                await asyncio.wait_for(stop.wait(), every)
            except TimeoutError:
                pass
        try:
            async with self.session_maker() as session, session.begin():
                await session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.owner == self.owner))
        except Exception:  # noqa: BLE001  (it will show as not alive, and be forgotten after FORGET_AFTER)
            log.warning("removing the heartbeat of worker %s failed", self.owner, exc_info=True)

    async def beat(self) -> None:
        at = self.clock()
        sends, deliveries = self.in_flight()
        values = {"beat_at": at, "in_flight_sends": sends, "in_flight_deliveries": deliveries}
        table = WorkerHeartbeat.__table__
        async with self.session_maker() as session, session.begin():
            await session.execute(delete(table).where(table.c.beat_at < at - FORGET_AFTER))  # the long dead
            updated = await session.execute(update(table).where(table.c.owner == self.owner).values(values))
            if updated.rowcount == 0:  # the first beat (or the row was forgotten while this worker hung)
                session.add(
                    WorkerHeartbeat(
                        owner=self.owner,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        embedded=self.embedded,
                        started_at=self.started_at,
                        **values,
                    )
                )


async def read_workers(session: AsyncSession) -> list[WorkerHeartbeat]:
    return list(await session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.started_at)))
