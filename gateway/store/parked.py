"""Reports that overtake the send answer.

A provider may report on its message id (a wamid, a Viber token) before the worker that sent the
message has recorded that id. Such a report is parked, and applied as soon as the id is recorded.
Both sides look for the other after their own commit, so whichever comes second applies it; applying
twice is harmless (statuses only move forward). A sweep applies what a worker that died between the
two left parked.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from uuid import UUID

import structlog
from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import StatusReport
from gateway.lib.clock import now
from gateway.lib.db import in_chunks
from gateway.models import Message, PendingReport
from gateway.store.messages import Applied, StatusChange, change_statuses

KEEP = datetime.timedelta(days=7)  # a report whose message never shows up is dropped after this
events = structlog.get_logger(__name__)


async def park(session: AsyncSession, account_id: UUID, report: StatusReport) -> None:
    at = now()
    await session.execute(delete(PendingReport).where(PendingReport.received_at < at - KEEP))
    session.add(
        PendingReport(
            traffic_account_id=account_id,
            provider_message_id=report.provider_message_id,
            status=report.status,
            error_code=report.error_code,
            description=report.description,
            received_at=at,
        )
    )
    await session.commit()
    events.info(
        "report parked",
        traffic_account_id=account_id,
        provider_message_id=report.provider_message_id,
        status=report.status,
    )


async def apply_parked(session: AsyncSession, answered: Sequence[tuple[UUID, str]]) -> Applied:
    """Apply (and remove) the parked reports for these (traffic account, provider id) pairs whose message
    is known now, in arrival order, in the caller's transaction: one query finds the few pairs that
    have parked reports."""
    pair = tuple_(PendingReport.traffic_account_id, PendingReport.provider_message_id)
    waiting: set[tuple[UUID, str]] = set()
    query = select(PendingReport.traffic_account_id, PendingReport.provider_message_id)
    for chunk in in_chunks(list(answered)):
        waiting.update(await session.execute(query.where(pair.in_(chunk))))
    applied = Applied()
    for account_id, provider_message_id in waiting:
        applied += await _apply_parked_for(session, account_id, provider_message_id)
    return applied


async def parked_now_known(session: AsyncSession) -> list[tuple[UUID, str]]:
    """The parked reports' pairs whose provider id is known by now: the sweep's work."""
    matched = await session.execute(
        select(PendingReport.traffic_account_id, PendingReport.provider_message_id)
        .join(
            Message,
            (Message.traffic_account_id == PendingReport.traffic_account_id)
            & (Message.provider_message_id == PendingReport.provider_message_id),
        )
        .distinct()
    )
    return [(account_id, provider_id) for account_id, provider_id in matched]


async def _apply_parked_for(session: AsyncSession, account_id: UUID, provider_message_id: str) -> Applied:
    message_id = await session.scalar(
        select(Message.id).where(
            Message.traffic_account_id == account_id, Message.provider_message_id == provider_message_id
        )
    )
    if message_id is None:
        return Applied()
    parked = list(
        await session.scalars(
            select(PendingReport)
            .where(
                PendingReport.traffic_account_id == account_id,
                PendingReport.provider_message_id == provider_message_id,
            )
            .order_by(PendingReport.received_at)
        )
    )
    changes = [StatusChange(message_id, report.status, report.error_code, report.description) for report in parked]
    for report in parked:
        await session.delete(report)
    events.info(
        "parked report applied",
        message_id=message_id,
        traffic_account_id=account_id,
        provider_message_id=provider_message_id,
        statuses=[report.status for report in parked],
    )
    return await change_statuses(session, changes)
