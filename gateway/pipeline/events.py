"""Status changes of a message and the webhook events they cause, written in one transaction.

A change is a compare-and-set on the message's ``sequence``, so concurrent callbacks and workers
never lose one another's change or move a status backwards, on Postgres and on SQLite alike.
"""

from __future__ import annotations

import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import select, update
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


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def change_status(
    session: AsyncSession,
    message_id: UUID,
    status: str,
    *,
    error_code: str | None = None,
    description: str | None = None,
    values: dict[str, Any] | None = None,
    condition: Any = None,
) -> Message | None:
    """Move the message to ``status`` if the rule allows it; None when it doesn't (or it is gone).
    ``values`` are further columns to set in the same update (provider id, lease release...);
    ``condition`` a further requirement of the update (the worker's lease). The caller commits."""
    while True:
        message = await session.get(Message, message_id, populate_existing=True)
        if message is None or not statuses.can_move(message.status, status):
            return None
        at = now()
        changes = {
            "status": status,
            "sequence": message.sequence + 1,
            "updated_at": at,
            "error_code": error_code if status in (statuses.FAILED, statuses.EXPIRED) else message.error_code,
            "description": description if status in (statuses.FAILED, statuses.EXPIRED) else message.description,
            **(values or {}),
        }
        query = update(Message).where(Message.id == message_id, Message.sequence == message.sequence)
        if condition is not None:
            query = query.where(condition)
        result = await session.execute(query.values(**changes).execution_options(synchronize_session=False))
        if result.rowcount == 1:
            break
        if condition is not None and not await session.scalar(
            select(Message.id).where(Message.id == message_id, condition)
        ):
            return None  # the condition no longer holds (the lease went to another worker)
        # Another change won the race: read the message again and decide again.
    for key, value in changes.items():
        setattr(message, key, value)
    await follow_status(session, message, status, at)  # a failover chain ends or moves on
    session.add(
        MessageEvent(
            message_id=message.id,
            sequence=message.sequence,
            status=status,
            error_code=message.error_code if status in (statuses.FAILED, statuses.EXPIRED) else None,
            description=message.description if status in (statuses.FAILED, statuses.EXPIRED) else None,
            occurred_at=at,
        )
    )
    if trigger := TRIGGER_OF_STATUS.get(status):
        await add_webhook_events(
            session, message, trigger, status_payload(message, trigger, at, await _account(session, message))
        )
    return message


async def add_webhook_events(session: AsyncSession, message: Message, trigger: str, payload: dict[str, Any]) -> int:
    """One outbox row per enabled webhook linked to the message's traffic account that wants ``trigger``."""
    webhooks = await session.scalars(
        select(Webhook)
        .join(WebhookTrafficAccount, WebhookTrafficAccount.webhook_id == Webhook.id)
        .where(
            WebhookTrafficAccount.traffic_account_id == message.traffic_account_id,
            Webhook.tenant_id == message.tenant_id,  # links are tenant-checked already; belt and braces
            Webhook.enabled.is_(True),
        )
    )
    count = 0
    for webhook in webhooks:
        if trigger in webhook.triggers:
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
