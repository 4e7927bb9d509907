"""The loop of a worker over a queue kept in the database: claim due jobs with a lease, run them with
bounded concurrency, stop gracefully. The message dispatcher and the webhook deliverer are both one.

The database is the queue: a job is claimed by setting a lease in one conditional UPDATE (SKIP LOCKED
on Postgres), so several workers share it, and one that dies leaves leases that expire for another to
take. Each job records its own outcome (through a group commit, gateway.lib.group_commit).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Job = TypeVar("Job")
STOP_GRACE = 5.0  # seconds a stopping worker waits for its jobs under way; the rest are dropped, their leases expire
IDLE_AFTER = 1.0  # seconds with nothing claimed or running after which the loop polls at its idle pace


class LeasedQueue(Generic[Job]):
    def __init__(
        self,
        name: str,
        claim: Callable[[int], Awaitable[list[Job]]],
        run: Callable[[Job], Awaitable[None]],
        wake: asyncio.Event,
        *,
        concurrency: int,
        poll_seconds: float,
        idle_poll_seconds: float | None = None,
        refill: int = 1,
        gather: float = 0.0,
    ) -> None:
        self.name = name  # for the log: "messages", "webhook events"
        self.claim = claim  # up to n due jobs, leased to this worker
        self.run_job = run  # never raises: a job's failure is its own to record
        self.wake = wake  # set when work is due (gateway.lib.work_due), or a slot frees that a claim waits for
        self.concurrency = concurrency
        self.poll_seconds = poll_seconds  # the longest a due job waits for a claim without a wake-up
        self.idle_poll_seconds = idle_poll_seconds or poll_seconds  # the same, once the queue was idle a while
        # Claim again only once this many slots are free: claims in batches cost the database far less.
        self.refill = max(1, min(refill, concurrency))
        # Seconds a claim waits after a wake-up, so that jobs made due moments apart (an API's group commits,
        # each waking us) are claimed together: a claim transaction per few jobs otherwise.
        self.gather = gather

    async def run(self, stop: asyncio.Event, every: Callable[[], Awaitable[None]] | None = None) -> None:
        """Until ``stop``: keep up to ``concurrency`` jobs running, claiming more as slots free, so a slow
        job holds only its own slot. ``every``: called before each claim (a periodic sweep)."""
        running: set[asyncio.Task[None]] = set()
        room = asyncio.Event()  # set when enough slots freed for a claim that was short of them
        short_of_room = False

        def ended(task: asyncio.Task[None]) -> None:
            nonlocal short_of_room
            running.discard(task)
            if short_of_room and self.concurrency - len(running) >= self.refill:
                short_of_room = False
                room.set()

        busy_until = 0.0
        polled = False  # the last wait ended at the poll: claim into whatever slots are free
        while not stop.is_set():
            if every is not None:
                await every()
            self.wake.clear()  # before claiming: a wake-up that comes while we claim is not lost
            room.clear()
            claimed: list[Job] = []
            free = self.concurrency - len(running)
            # Fewer free slots than a refill are claimed into at the poll all the same: jobs stuck at a slow
            # provider must not hold back everyone else's for longer than the poll.
            if free >= self.refill or (free and polled):
                try:
                    claimed = await self.claim(free)
                except Exception:  # noqa: BLE001  (the loop must survive a database hiccup)
                    log.exception("claiming %s failed", self.name)
            for job in claimed:
                task = asyncio.create_task(self.run_job(job))
                running.add(task)
                task.add_done_callback(ended)
            if claimed or running:
                busy_until = time.monotonic() + IDLE_AFTER
            # A claim that filled the free slots may have left more due: claim again once there is room.
            # One that didn't took all there was: wait for news (a wake-up, or the poll) rather than claim
            # again whenever a job ends, which would find nothing and cost a transaction.
            short_of_room = free < self.refill or len(claimed) == free
            if short_of_room and self.concurrency - len(running) >= self.refill:
                continue  # the jobs just claimed ended already
            waiters = {asyncio.ensure_future(event.wait()) for event in (self.wake, room, stop)}
            poll = self.poll_seconds if time.monotonic() < busy_until else self.idle_poll_seconds
            done, _ = await asyncio.wait(waiters, timeout=poll, return_when=asyncio.FIRST_COMPLETED)
            polled = not done
            for waiter in waiters:
                waiter.cancel()
            if self.gather and self.wake.is_set():
                await asyncio.sleep(self.gather)
        if running:
            _, unfinished = await asyncio.wait(running, timeout=STOP_GRACE)
            for task in unfinished:
                task.cancel()
            if unfinished:
                log.warning(
                    "%s: %d jobs cut short at stop; their leases expire for another worker", self.name, len(unfinished)
                )
