"""Timeout failover (seed 002): a chain of messages, one per traffic account, sent one after another
until one reaches the required status (Delivered or Read).

The first step is sent at once; the others wait as ``Created``. When the active step fails, or has
not reached the status when its timer fires, the chain moves to the next step with one
compare-and-set on ``active_step``, which also makes the next message ``Ready``: a timer that fires
twice, two workers, or a report arriving at the same moment can't send two next messages. Reaching
the status ends the chain (its timer then finds nothing to do).

Timers live in a due-time index (Redis, or memory in the embedded mode) fed when a chain is
accepted or moves on; the database holds every due time, and ``FailoverTimers`` puts back what the
index lost (a Redis flush, a step moved on by a callback in another process).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from uuid import UUID

import structlog
from sqlalchemy import bindparam, case, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway import metrics
from gateway.lib.clock import now
from gateway.lib.due import DueIndex
from gateway.models import ACTIVE, DONE, EXHAUSTED, FailoverChain
from gateway.store import statuses
from gateway.store.messages import Applied, activate_steps, purge_untriggered

log = logging.getLogger(__name__)
events = structlog.get_logger(__name__)

REQUIRED_STATUSES = (statuses.DELIVERED, statuses.READ)
# The statuses that satisfy a required status: a Read message was delivered too.
SATISFIES = {statuses.DELIVERED: (statuses.DELIVERED, statuses.READ), statuses.READ: (statuses.READ,)}
FAILOVER_INDEX_KEY = "gateway:failover:due"
HOLD = 30.0  # seconds before a timer taken by a worker that died is taken again
BATCH = 500
# Timers read from the database at once when putting them back: a page's rows cost the event loop a few
# ms, and the firing loop runs between pages (5,000 at once held it up 50-100 ms: the lateness spikes).
PAGE = 1000
PAGE_PAUSE = 0.01  # seconds between the pages of the full reconcile (100k timers: one more second)
SWEEP_SECONDS = 1.0  # how often overdue chains missing from the index are put back
RECONCILE_SECONDS = 60.0  # how often every pending timer is put back
# The least time between two takes when the next timer is due sooner: timers due within it go in one
# batch (a transaction each would cost more than the milliseconds they wait).
GATHER_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class NewChain:
    id: UUID
    tenant_id: UUID
    required_status: str
    timeout_seconds: int
    steps: int
    due_at: datetime.datetime  # when the first step times out
    created_at: datetime.datetime

    def row(self) -> dict[str, object]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "required_status": self.required_status,
            "timeout_seconds": self.timeout_seconds,
            "steps": self.steps,
            "active_step": 0,
            "state": ACTIVE,
            "due_at": self.due_at,
            "created_at": self.created_at,
            "updated_at": self.created_at,
        }


async def follow(session: AsyncSession, applied: Applied) -> Applied:
    """What status changes of failover steps mean for their chains (in the caller's transaction): a step
    that reached the required status ends its chain, one that failed or expired moves it on. The next
    steps made Ready (the dispatchers have work then)."""
    at = now()
    activated = Applied()
    for message, status in applied.failover_steps:
        chain_id, step = message.failover_chain_id, message.failover_step
        if step is None:
            continue
        if status in (statuses.FAILED, statuses.EXPIRED):
            activated += (await move_on(session, [chain_id], at, from_step=step, why=f"step {step} {status}"))[1]
        elif reached := [required for required, enough in SATISFIES.items() if status in enough]:
            await session.execute(
                update(FailoverChain)
                .where(
                    FailoverChain.id == chain_id,
                    FailoverChain.state == ACTIVE,
                    FailoverChain.required_status.in_(reached),
                )
                .values(state=DONE, due_at=None, updated_at=at)
                .execution_options(synchronize_session=False)
            )
    return activated


async def move_on(
    session: AsyncSession,
    chain_ids: Sequence[UUID],
    at: datetime.datetime,
    *,
    from_step: int | None = None,
    why: str = "timeout",
) -> tuple[dict[UUID, datetime.datetime | None], Applied]:
    """Move each chain on by one step and make its next message Ready, in the caller's transaction:
    the chains whose active step is ``from_step``, or (timers) those due at ``at``. The chains moved,
    each with its new due time (None: no step left, the chain is exhausted), and the steps activated;
    ``why``, for the log line of each.

    One UPDATE decides which chains move (a compare-and-set: concurrent callers wait for each other's
    row locks and then find the condition gone), so a chain moves once however many try at once."""
    table = FailoverChain.__table__
    last = table.c.active_step + 1 >= table.c.steps
    condition = table.c.due_at <= at if from_step is None else table.c.active_step == from_step
    # The next step's due time, set in the same statement where the database can add the chain's own
    # timeout (Postgres); SQLite's stored text has no such arithmetic: a second statement there.
    postgres = session.bind.dialect.name == "postgresql"
    timeout = table.c.timeout_seconds * literal(datetime.timedelta(seconds=1))
    next_due = case((last, None), else_=literal(at, table.c.due_at.type) + timeout) if postgres else None
    moved_rows = (
        await session.execute(
            update(table)
            .where(table.c.id.in_(chain_ids), table.c.state == ACTIVE, condition)
            .values(
                active_step=case((last, table.c.active_step), else_=table.c.active_step + 1),
                state=case((last, EXHAUSTED), else_=ACTIVE),
                due_at=next_due,
                updated_at=at,
            )
            .returning(table.c.id, table.c.active_step, table.c.state, table.c.timeout_seconds, table.c.tenant_id)
        )
    ).all()
    moved: dict[UUID, datetime.datetime | None] = {}
    next_steps: dict[int, list[UUID]] = defaultdict(list)
    for chain_id, step, state, timeout, tenant_id in moved_rows:
        moved[chain_id] = at + datetime.timedelta(seconds=timeout) if state == ACTIVE else None
        events.info("failover moved on", chain_id=chain_id, tenant_id=tenant_id, step=step, state=state, why=why)
        if state == ACTIVE:
            next_steps[step].append(chain_id)
    if not postgres and (timed := [{"chain_id": i, "due_at": due} for i, due in moved.items() if due is not None]):
        await session.execute(update(table).where(table.c.id == bindparam("chain_id")), timed)
    return moved, await activate_steps(session, next_steps, at)


async def schedule(index: DueIndex, chains: Sequence[NewChain]) -> None:
    """Set the timers of chains just accepted (their first step's timeout)."""
    if chains:
        await index.schedule({str(chain.id): chain.due_at.timestamp() for chain in chains})


class FailoverTimers:
    """Fires due failover timers (in `gateway worker`, or the server in the embedded mode)."""

    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        index: DueIndex,
        clock: Callable[[], datetime.datetime] = now,
        on_activated: Callable[[], Awaitable[object]] | None = None,
        retention: datetime.timedelta = datetime.timedelta(days=60),
    ) -> None:
        self.session_maker = session_maker
        self.index = index
        self.clock = clock
        self.on_activated = on_activated  # wakes the dispatcher: a next step is Ready
        self.retention = retention  # how long steps never triggered (Created) are kept
        self.next_due: float | None = None  # the earliest due time in the index at the last take

    async def fire_due(self) -> int:
        """Fire the timers due now, a batch in one transaction; how many chains moved on. ``next_due``:
        the earliest due time the index holds now."""
        at = self.clock()
        taken, self.next_due = await self.index.take(at.timestamp(), BATCH, HOLD)
        if not taken:
            return 0
        async with self.session_maker() as session:
            moved, activated = await move_on(session, [UUID(member) for member in taken], at)
            await session.commit()
            # Late by the time the index held (a timer taken again after a taker died: late since then).
            metrics.timers_fired(at.timestamp() - due for member, due in taken.items() if UUID(member) in moved)
            # The rest: not due yet (moved on meanwhile, so due later) or ended.
            rest = [UUID(member) for member in taken if UUID(member) not in moved]
            pending = (
                (
                    await session.execute(
                        select(FailoverChain.id, FailoverChain.state, FailoverChain.due_at).where(
                            FailoverChain.id.in_(rest)
                        )
                    )
                ).all()
                if rest
                else []
            )
        again = {str(i): due.timestamp() for i, due in moved.items() if due is not None}
        again |= {str(i): due.timestamp() for i, state, due in pending if state == ACTIVE and due is not None}
        await self.index.settle(again, [member for member in taken if member not in again])
        if activated.now_due and self.on_activated is not None:
            await self.on_activated()
        return len(moved)

    async def put_back(self, overdue_only: bool) -> int:
        """Add to the index the database's pending timers it lacks (after a Redis flush or restart, or a
        step moved on by a callback elsewhere): all of them, or those overdue by more than a moment,
        which it would have fired otherwise (the oldest first, a bounded number per call); how many
        were looked at."""
        query = select(FailoverChain.id, FailoverChain.due_at).where(
            FailoverChain.state == ACTIVE, FailoverChain.due_at.is_not(None)
        )
        if overdue_only:
            late = self.clock() - datetime.timedelta(seconds=SWEEP_SECONDS)
            query = query.where(FailoverChain.due_at <= late).order_by(FailoverChain.due_at).limit(PAGE)
            async with self.session_maker() as session:
                rows = (await session.execute(query)).all()
            await self.index.schedule({str(i): due.timestamp() for i, due in rows}, keep_existing=True)
            return len(rows)
        # Page by page, each read in a short transaction of its own and the firing loop running between
        # them: at 100k timers the whole takes seconds, and firing must not wait for it.
        count, after = 0, None
        while True:
            page = query.order_by(FailoverChain.id).limit(PAGE)
            if after is not None:
                page = page.where(FailoverChain.id > after)
            async with self.session_maker() as session:
                rows = (await session.execute(page)).all()
            if not rows:
                return count
            await self.index.schedule({str(i): due.timestamp() for i, due in rows}, keep_existing=True)
            count, after = count + len(rows), rows[-1][0]
            await asyncio.sleep(PAGE_PAUSE)

    async def purge_untriggered(self) -> int:
        """Delete the steps that were never triggered (still Created) once the retention has passed
        (seed 002: 60 days); how many."""
        async with self.session_maker() as session:
            purged = await purge_untriggered(session, self.clock() - self.retention)
            await session.commit()
            return purged

    async def run(self, stop: asyncio.Event, poll_seconds: float = 0.05) -> None:
        """Fire timers until ``stop``; the sweep of overdue timers, and the full reconcile and the purge, run
        beside it in tasks of their own, since reading every pending timer takes seconds at 100k and firing
        must not wait for it (all safe concurrently: the index is filled with NX and moving on is a
        compare-and-set)."""
        await asyncio.gather(self.fire_until(stop, poll_seconds), self.sweep_until(stop), self.reconcile_until(stop))

    async def fire_until(self, stop: asyncio.Event, poll_seconds: float) -> None:
        """Take what is due, then sleep until the next timer is due (``GATHER_SECONDS`` at least), or
        ``poll_seconds`` at most: another process may add a timer due sooner."""
        while not stop.is_set():
            wait = poll_seconds
            try:
                await self.fire_due()
                if self.next_due is not None:
                    if (left := self.next_due - self.clock().timestamp()) <= 0:
                        continue  # due already (more than a batch, or while this one was written)
                    wait = min(poll_seconds, max(GATHER_SECONDS, left))
            except Exception:  # noqa: BLE001  (the loop must survive a database or Redis hiccup)
                log.exception("firing failover timers failed")
            await wait_or_stop(stop, wait)

    async def sweep_until(self, stop: asyncio.Event) -> None:
        """Put back the overdue timers the index lacks, every ``SWEEP_SECONDS``: beside the firing loop, not in
        it, which under a backlog read a page of overdue timers (in the index already) before every take."""
        while not stop.is_set():
            await wait_or_stop(stop, SWEEP_SECONDS)
            try:
                await self.put_back(overdue_only=True)
            except Exception:  # noqa: BLE001  (the loop must survive a database or Redis hiccup)
                log.exception("putting back overdue failover timers failed")

    async def reconcile_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.put_back(overdue_only=False)
                await self.purge_untriggered()
            except Exception:  # noqa: BLE001  (the loop must survive a database or Redis hiccup)
                log.exception("reconciling failover timers failed")
            await wait_or_stop(stop, RECONCILE_SECONDS)


async def wait_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
