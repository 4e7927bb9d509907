"""How much work waits, read from the tables that are the queues: what `GET /admin/status` shows and
the metrics' queue gauges sample (gateway.metrics). A few index range scans; not for a hot path."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import ACTIVE, FailoverChain, Message, Webhook, WebhookEvent
from gateway.store import statuses
from gateway.store.outbox import PENDING


@dataclass(frozen=True, slots=True)
class Backlog:
    messages_due: int  # Ready, their attempt time passed, no worker holding them
    oldest_due_at: datetime.datetime | None  # the attempt time of the longest-waiting of them
    messages_in_flight: int  # Ready and leased: a worker is sending them
    webhook_events_pending: int  # not yet delivered (due, leased, or waiting for a retry), of enabled webhooks
    oldest_pending_event_at: datetime.datetime | None  # when the oldest of them was written
    failover_timers_pending: int  # active chains, each waiting for its step to time out
    next_failover_due_at: datetime.datetime | None


async def read_backlog(session: AsyncSession, at: datetime.datetime) -> Backlog:
    message, event, chain = Message.__table__.c, WebhookEvent.__table__.c, FailoverChain.__table__.c
    ready = message.status == statuses.READY
    free = (message.lease_until.is_(None)) | (message.lease_until < at)
    due = select(func.count(), func.min(message.next_attempt_at)).where(ready, message.next_attempt_at <= at, free)
    in_flight = select(func.count()).where(ready, message.lease_until >= at)
    # A disabled webhook's events wait for it to be enabled again, not for a worker: not a backlog.
    enabled = select(Webhook.__table__.c.id).where(Webhook.__table__.c.enabled.is_(True))
    pending = select(func.count(), func.min(event.created_at)).where(
        event.status == PENDING, event.webhook_id.in_(enabled.scalar_subquery())
    )
    timers = select(func.count(), func.min(chain.due_at)).where(chain.state == ACTIVE, chain.due_at.is_not(None))
    (due_count, oldest_due) = (await session.execute(due)).one()
    (pending_count, oldest_pending) = (await session.execute(pending)).one()
    (timer_count, next_timer) = (await session.execute(timers)).one()
    return Backlog(
        messages_due=due_count,
        oldest_due_at=_utc(oldest_due),
        messages_in_flight=(await session.execute(in_flight)).scalar_one(),
        webhook_events_pending=pending_count,
        oldest_pending_event_at=_utc(oldest_pending),
        failover_timers_pending=timer_count,
        next_failover_due_at=_utc(next_timer),
    )


def _utc(value: datetime.datetime | None) -> datetime.datetime | None:
    """An aggregate comes back without the column type's conversion (SQLite: naive, or text)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
