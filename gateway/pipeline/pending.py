"""Reports that overtake the send answer.

A provider may report on its message id (a wamid, a Viber token) before the worker that sent the
message has recorded that id. Such a report is parked, and applied as soon as the id is recorded.
Both sides look for the other after their own commit, so whichever comes second applies it; applying
twice is harmless (statuses only move forward).
"""

from __future__ import annotations

import datetime
from uuid import UUID

from sqlalchemy import delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import StatusReport
from gateway.db import in_chunks
from gateway.models import Message, PendingReport
from gateway.pipeline.events import change_status, now

KEEP = datetime.timedelta(days=7)  # a report whose message never shows up is dropped after this


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


async def apply_parked(session: AsyncSession, account_id: UUID, provider_message_id: str) -> int:
    """Apply (and remove) the parked reports for this provider id, if its message is known now."""
    message_id = await session.scalar(
        select(Message.id).where(
            Message.traffic_account_id == account_id, Message.provider_message_id == provider_message_id
        )
    )
    if message_id is None:
        return 0
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
    for report in parked:
        await change_status(
            session, message_id, report.status, error_code=report.error_code, description=report.description
        )
        await session.delete(report)
    await session.commit()
    return len(parked)


async def apply_parked_for(session: AsyncSession, answered: list[tuple[UUID, str]]) -> int:
    """``apply_parked`` for many (traffic account, provider id) pairs just recorded: one query finds the
    few that have parked reports."""
    pair = tuple_(PendingReport.traffic_account_id, PendingReport.provider_message_id)
    waiting: set[tuple[UUID, str]] = set()
    query = select(PendingReport.traffic_account_id, PendingReport.provider_message_id)
    for chunk in in_chunks(answered):
        waiting.update(await session.execute(query.where(pair.in_(chunk))))
    return sum([await apply_parked(session, account_id, provider_id) for account_id, provider_id in waiting])


async def apply_all_parked(session: AsyncSession) -> int:
    """Apply every parked report whose provider id is known by now: the safety net for a worker that
    died between recording a send answer and applying what had overtaken it."""
    matched = await session.execute(
        select(PendingReport.traffic_account_id, PendingReport.provider_message_id)
        .join(
            Message,
            (Message.traffic_account_id == PendingReport.traffic_account_id)
            & (Message.provider_message_id == PendingReport.provider_message_id),
        )
        .distinct()
    )
    applied = 0
    for account_id, provider_message_id in list(matched):
        applied += await apply_parked(session, account_id, provider_message_id)
    return applied
