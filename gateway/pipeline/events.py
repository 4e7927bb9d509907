"""Status changes of a message and the webhook events they cause, written in one transaction.

A change is a conditional UPDATE (the current status must be one the new one may follow), so
concurrent callbacks and workers never lose one another's change or move a status backwards, on
Postgres and on SQLite alike; many changes are written with a few statements (group commit).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import Message, MessageEvent, TrafficAccount, Webhook, WebhookEvent, WebhookTrafficAccount
from gateway.pipeline import statuses
from gateway.pipeline.failover import follow_status
from gateway.pipeline.views import conversation_view, participant_view
from gateway.schemas import format_timestamp

PAYLOAD_VERSION = 1
# The webhook trigger each status raises.
TRIGGER_OF_STATUS = {statuses.DELIVERED: "Delivered", statuses.FAILED: "Failed", statuses.READ: "Read"}
USER_MESSAGE = "UserMessage"
# A message's columns as an UPDATE … RETURNING gave them: read like a Message, without the ORM's cost
# of building, tracking and flushing an object per row.
MessageRow = Row[Any]


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclass(slots=True)
class StatusChange:
    """A status a message should take. ``values``: further columns set in the same update (provider id,
    lease release...); ``lease_owner``: the change applies only while this worker holds the lease."""

    message_id: UUID
    status: str
    error_code: str | None = None
    description: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    lease_owner: str | None = None


async def change_status(
    session: AsyncSession,
    message_id: UUID,
    status: str,
    *,
    error_code: str | None = None,
    description: str | None = None,
) -> MessageRow | None:
    """Move one message to ``status`` if the rule allows it; None when it doesn't (or it is gone).
    The caller commits."""
    change = StatusChange(message_id, status, error_code, description)
    return (await change_statuses(session, [change]))[0]


async def change_statuses(session: AsyncSession, changes: Sequence[StatusChange]) -> list[MessageRow | None]:
    """Apply many status changes in the caller's transaction, in a few statements whatever their
    number: per change its message as it is afterwards, or None when the rule (or the lease) didn't
    allow the change.

    Each is one conditional UPDATE of the row (its current status must be one the new status may
    follow), so concurrent callbacks and workers never lose one another's change or move a status
    backwards: Postgres re-checks the condition after waiting for a row lock, SQLite writes one at a
    time. A message changed twice in one call takes its changes in order."""
    at = now()
    moved: list[MessageRow | None] = [None] * len(changes)
    rounds: list[list[int]] = []  # the n-th change of a message goes in the n-th round
    seen: dict[UUID, int] = {}
    for index, change in enumerate(changes):
        turn = seen[change.message_id] = seen.get(change.message_id, -1) + 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append(index)
    for indices in rounds:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index in indices:
            change = changes[index]
            groups.setdefault((change.status, change.lease_owner, *sorted(_columns(change))), []).append(index)
        for group in groups.values():
            updated = await _update_statuses(session, [changes[index] for index in group], at)
            for index in group:
                moved[index] = updated.get(changes[index].message_id)
        # Recorded before the next round changes the same messages again.
        await _record(session, [(changes[index], moved[index]) for index in indices if moved[index] is not None], at)
    return moved


async def _record(session: AsyncSession, done: list[tuple[StatusChange, MessageRow]], at: datetime.datetime) -> None:
    """What follows from messages that moved: failover chains, status events, webhook events."""
    for change, message in done:
        await follow_status(session, message, change.status, at)  # a failover chain ends or moves on
    failing = (statuses.FAILED, statuses.EXPIRED)
    if done:
        events = [
            {
                "message_id": message.id,
                "sequence": message.sequence,
                "status": change.status,
                "error_code": message.error_code if change.status in failing else None,
                "description": message.description if change.status in failing else None,
                "occurred_at": at,
            }
            for change, message in done
        ]
        await session.execute(insert(MessageEvent.__table__), events)
    triggered = [(message, trigger) for change, message in done if (trigger := TRIGGER_OF_STATUS.get(change.status))]
    if triggered:
        webhooks = await _webhooks_of(session, {message.traffic_account_id for message, _ in triggered})
        for message, trigger in triggered:
            linked = webhooks.get(message.traffic_account_id, [])
            if any(trigger in webhook.triggers for webhook in linked):  # else no payload to build
                payload = status_payload(message, trigger, at, await _account(session, message))
                _add_events(session, message, trigger, payload, linked)


def _columns(change: StatusChange) -> dict[str, Any]:
    """What the update sets besides status, sequence and time: error fields only when failing."""
    if change.status in (statuses.FAILED, statuses.EXPIRED):
        return {"error_code": change.error_code, "description": change.description, **change.values}
    return change.values


async def _update_statuses(session: AsyncSession, changes: list[StatusChange], at: datetime.datetime) -> dict:
    """One group of changes (same status, lease and columns) in one UPDATE … RETURNING on Postgres,
    one per change on SQLite (whose UPDATE … FROM can't name the columns of a VALUES list); the moved
    messages by id. Columns with the same value in every change are set as one constant.

    On Postgres the changes come as one array per column, unnested: the same statement whatever the
    number of changes, so it is compiled and prepared once (a VALUES list of the rows was compiled by
    SQLAlchemy, and prepared by Postgres, again for every new batch size)."""
    status, lease_owner = changes[0].status, changes[0].lease_owner
    table = Message.__table__
    allowed = [current for current in statuses.ALL if statuses.can_move(current, status)]
    columns = [_columns(change) for change in changes]
    shared = {key: value for key, value in columns[0].items() if all(c[key] == value for c in columns)}
    base = (
        update(table)
        .where(table.c.status.in_(allowed))
        .values(status=status, sequence=table.c.sequence + 1, updated_at=at, **shared)
        .returning(*table.c)
    )
    if lease_owner is not None:
        base = base.where(table.c.lease_owner == lease_owner)
    varying = [key for key in columns[0] if key not in shared]
    if session.bind.dialect.name == "postgresql":
        unnested = [func.unnest(bindparam(f"b_{key}", type_=ARRAY(table.c[key].type))).label(key) for key in varying]
        rows = select(func.unnest(bindparam("b_id", type_=ARRAY(table.c.id.type))).label("id"), *unnested)
        given = rows.subquery("change")
        query = base.where(table.c.id == given.c.id).values({key: given.c[key] for key in varying})
        arrays = {f"b_{key}": [c[key] for c in columns] for key in varying}
        moved = await session.execute(query, {"b_id": [change.message_id for change in changes], **arrays})
        return {message.id: message for message in moved}
    updated = {}
    for change, own in zip(changes, columns, strict=True):
        query = base.where(table.c.id == change.message_id).values({key: own[key] for key in varying})
        if (message := (await session.execute(query)).first()) is not None:
            updated[message.id] = message
    return updated


async def _webhooks_of(session: AsyncSession, account_ids: set[UUID]) -> dict[UUID, list[Webhook]]:
    """The enabled webhooks linked to each traffic account."""
    found = await session.execute(
        select(WebhookTrafficAccount.traffic_account_id, Webhook)
        .join(Webhook, WebhookTrafficAccount.webhook_id == Webhook.id)
        .where(WebhookTrafficAccount.traffic_account_id.in_(account_ids), Webhook.enabled.is_(True))
    )
    webhooks: dict[UUID, list[Webhook]] = {}
    for account_id, webhook in found:
        webhooks.setdefault(account_id, []).append(webhook)
    return webhooks


async def add_webhook_events(session: AsyncSession, message: Message, trigger: str, payload: dict[str, Any]) -> int:
    """One outbox row per enabled webhook linked to the message's traffic account that wants ``trigger``."""
    webhooks = await _webhooks_of(session, {message.traffic_account_id})
    return _add_events(session, message, trigger, payload, webhooks.get(message.traffic_account_id, []))


def _add_events(
    session: AsyncSession, message: Message, trigger: str, payload: dict[str, Any], webhooks: list[Webhook]
) -> int:
    count = 0
    for webhook in webhooks:
        # Links are tenant-checked when made; belt and braces.
        if trigger in webhook.triggers and webhook.tenant_id == message.tenant_id:
            session.add(
                WebhookEvent(
                    tenant_id=message.tenant_id,
                    webhook_id=webhook.id,
                    message_id=message.id,
                    event=trigger,
                    sequence=message.sequence,
                    payload=payload,
                    next_attempt_at=now(),
                )
            )
            count += 1
    return count


def status_payload(message: Message, trigger: str, at: datetime.datetime, account: TrafficAccount) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "event": trigger,
        "messageId": str(message.id),
        "trafficAccountId": str(message.traffic_account_id),
        "channel": message.channel,
        "destination": message.destination,
        "deliveryStatus": message.status,
        "reference": message.reference,
        "conversation": conversation_view(message, account),
        "occurredAt": format_timestamp(at),
        "sequence": message.sequence,
    }
    if message.status == statuses.FAILED:
        payload |= {"errorCode": message.error_code, "description": message.description}
    return payload


def user_message_payload(message: Message, account: TrafficAccount) -> dict[str, Any]:
    return {
        "version": PAYLOAD_VERSION,
        "event": USER_MESSAGE,
        "messageId": str(message.id),
        "trafficAccountId": str(message.traffic_account_id),
        "channel": message.channel,
        "sender": participant_view(message.channel, message.destination),
        "conversation": conversation_view(message, account),
        "content": message.content,
        **content_fields(message.content),
        "createdAt": format_timestamp(message.created_at),
        "sequence": message.sequence,
    }


# Inbound content types that are not media, though they may carry a URL.
_NOT_MEDIA = {"text", "location", "postback", "contact", "url", "reaction", "unsupported"}


def content_fields(content: dict[str, Any]) -> dict[str, Any]:
    """What a user sent as one of ``text``, ``media``, ``location`` or ``postback``, beside the channel's
    ``content`` (which keeps everything the channel gave, e.g. ``telegramMessageId``)."""
    kind = content.get("type")
    rest = {key: value for key, value in content.items() if key != "type"}
    if kind == "text":
        return {"text": content.get("text")}
    if kind in ("location", "postback"):
        return {kind: rest}
    if kind not in _NOT_MEDIA and any(key in content for key in ("url", "mediaId", "fileId")):
        return {"media": content}
    return {}


async def _account(session: AsyncSession, message: Message) -> TrafficAccount:
    account = await session.get(TrafficAccount, message.traffic_account_id)
    assert account is not None  # a message is deleted with its traffic account
    return account
