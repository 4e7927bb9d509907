"""The webhook outbox: the events a message's life raises for the customers' webhooks, and every change
of their delivery state (claimed, attempted, waiting behind an earlier event, replayed).

Events are written in the transaction of the change that raised them (gateway.store.messages), so a
status change and its webhook event are committed together or not at all; gateway.webhooks.deliverer
delivers them.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import Notify
from gateway.lib.clock import now
from gateway.lib.crypto import new_webhook_secret
from gateway.lib.db import among, unnested
from gateway.lib.ids import new_id
from gateway.models import Conversation, Message, TrafficAccount, Webhook, WebhookEvent, WebhookTrafficAccount
from gateway.schemas import format_timestamp
from gateway.store import statuses
from gateway.store.views import conversation_view, participant_view, user_name

PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"  # an event's delivery
PAYLOAD_VERSION = 1
# The webhook trigger each status raises.
TRIGGER_OF_STATUS = {statuses.DELIVERED: "Delivered", statuses.FAILED: "Failed", statuses.READ: "Read"}
USER_MESSAGE = "UserMessage"
CHAT, COMPATIBLE = "chat", "compatible"  # a webhook's kind (gateway.models.Webhook)


async def webhooks_of(session: AsyncSession, account_ids: set[UUID]) -> dict[UUID, list[Webhook]]:
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


async def compatible_webhook(session: AsyncSession, tenant_id: UUID, method: str, url: str) -> tuple[UUID, bool]:
    """The tenant's ``compatible`` webhook for requests of ``method`` to ``url``'s origin, made if there is none yet
    (in the caller's transaction), and whether it was made now. One per origin, as a webhook of the webhook API is
    one endpoint: the full URL (a template the channel fills in) is each message's own (Message.notify), so
    per-message callback URLs make no row each; two first requests at once make one (the unique index)."""
    origin = origin_of(url)
    table = Webhook.__table__
    same = (table.c.tenant_id == tenant_id, table.c.kind == COMPATIBLE, table.c.method == method, table.c.url == origin)
    if (found := await session.scalar(select(table.c.id).where(*same))) is not None:
        return found, False
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    made = await session.execute(
        dialect.insert(table)
        .values(
            id=new_id(),
            tenant_id=tenant_id,
            url=origin,
            description="",
            triggers=[],  # what to report is each message's (Message.notify)
            headers="{}",
            secret=new_webhook_secret(),  # never signs: a compatible API's callbacks carry no signature
            enabled=True,
            kind=COMPATIBLE,
            method=method,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "method", "url"], index_where=table.c.kind == COMPATIBLE)
        .returning(table.c.id)
    )
    if (webhook_id := made.scalar()) is not None:
        return webhook_id, True
    return await session.scalar(select(table.c.id).where(*same)), False  # made meanwhile by another request


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of an http(s) URL: where its requests go, whatever its path and query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme.lower()}://{host}{port}"


def notify_value(notify: Notify) -> dict[str, Any]:
    """What a message keeps of its Notify (Message.notify): the URL template and the statuses, sorted and
    deduplicated (the order they were asked in means nothing)."""
    return {"url": notify.url, "statuses": sorted(set(notify.statuses))}


def notify_of(message: Message | Any, webhook: Webhook) -> Notify:
    """The Notify a message was sent with, its webhook's method."""
    return Notify(message.notify["url"], webhook.method, tuple(message.notify["statuses"]))


async def add_webhook_events(
    session: AsyncSession, message: Message, trigger: str, payload: dict[str, Any]
) -> list[UUID]:
    """One outbox row per enabled webhook linked to the message's traffic account that wants ``trigger``;
    their ids."""
    webhooks = await webhooks_of(session, {message.traffic_account_id})
    rows = event_rows(message, trigger, payload, webhooks.get(message.traffic_account_id, []))
    await insert_events(session, rows)
    return [row["id"] for row in rows]


def event_rows(
    message: Message | Any, trigger: str, payload: dict[str, Any], webhooks: list[Webhook]
) -> list[dict[str, Any]]:
    """The outbox rows of one event of a message: one per webhook that wants ``trigger``."""
    at = now()
    return [
        {
            "id": new_id(),
            "tenant_id": message.tenant_id,
            "webhook_id": webhook.id,
            "message_id": message.id,
            "event": trigger,
            "sequence": message.sequence,
            "payload": payload,
            "next_attempt_at": at,
        }
        for webhook in webhooks
        # Links are tenant-checked when made; belt and braces.
        if trigger in webhook.triggers and webhook.tenant_id == message.tenant_id
    ]


def compatible_event_row(message: Message | Any, event: str, request: dict[str, Any], webhook_id: UUID) -> dict:
    """The outbox row of a ``compatible`` webhook's event: its payload is the request to make."""
    return {
        "id": new_id(),
        "tenant_id": message.tenant_id,
        "webhook_id": webhook_id,
        "message_id": message.id,
        "event": event,
        "sequence": message.sequence,
        "payload": request,
        "next_attempt_at": now(),
    }


async def insert_events(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Written now, with one statement, rather than at the caller's flush."""
    if rows:
        await session.execute(insert(WebhookEvent.__table__), rows)


def status_payload(
    message: Message, trigger: str, at: datetime.datetime, account: TrafficAccount, name: str | None = None
) -> dict[str, Any]:
    """``name``: the user's latest known name (the conversation's)."""
    payload: dict[str, Any] = {
        "version": PAYLOAD_VERSION,
        "event": trigger,
        "messageId": str(message.id),
        "trafficAccountId": str(message.traffic_account_id),
        "channel": message.channel,
        "destination": message.destination,
        "deliveryStatus": message.status,
        "reference": message.reference,
        "conversation": conversation_view(message, account, name),
        "occurredAt": format_timestamp(at),
        "sequence": message.sequence,
    }
    if message.status in (statuses.FAILED, statuses.EXPIRED):  # Expired: the event stream's only (no trigger)
        payload |= {"errorCode": message.error_code, "description": message.description}
    return payload


def user_message_payload(message: Message, account: TrafficAccount, conversation: Conversation) -> dict[str, Any]:
    name = user_name(message, conversation.participant_name)
    return {
        "version": PAYLOAD_VERSION,
        "event": USER_MESSAGE,
        "messageId": str(message.id),
        "trafficAccountId": str(message.traffic_account_id),
        "channel": message.channel,
        "sender": participant_view(message.channel, message.destination, name),
        "conversation": conversation_view(message, account, name),
        "content": message.content,
        **content_fields(message.content),
        "createdAt": format_timestamp(message.created_at),
        "sequence": message.sequence,
    }


# The kinds of channels.inbound's contents shown as ``media`` (the others have no file).
MEDIA = frozenset({"image", "video", "audio", "voice", "document", "sticker"})


def content_fields(content: dict[str, Any]) -> dict[str, Any]:
    """What a user sent as one of ``text``, ``media``, ``location`` or ``postback``, beside ``content``
    (channels.inbound's content: every kind, with all it carries)."""
    kind = content.get("type")
    if kind == "text":
        return {"text": content.get("text")}
    if kind in ("location", "postback"):
        return {kind: {key: value for key, value in content.items() if key != "type"}}
    if kind in MEDIA:
        return {"media": content}
    return {}


def lease_free(columns: Any, at: datetime.datetime) -> Any:
    """No worker holds the event (or its lease has run out)."""
    return or_(columns.lease_until.is_(None), columns.lease_until < at)


async def put_back(
    session: AsyncSession, later: Sequence[tuple[UUID, datetime.datetime]], at: datetime.datetime
) -> None:
    """Move events not free to go yet (behind an earlier one, or of a disabled webhook) to a later attempt."""
    if later:
        table = WebhookEvent.__table__
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"), lease_free(table.c, at))
            .values(next_attempt_at=bindparam("b_next")),
            [{"b_id": event_id, "b_next": next_at} for event_id, next_at in later],
        )


async def lease(
    session: AsyncSession, event_ids: list[UUID], owner: str, at: datetime.datetime, until: datetime.datetime
) -> list[Any]:
    """Lease these events to ``owner`` (those still pending and free); their rows as a delivery needs them."""
    event = WebhookEvent.__table__.c  # a Core statement: the ORM's bulk update costs more than the rows
    result = await session.execute(
        update(WebhookEvent.__table__)
        # Pending and free checked again: SQLite has no row locks.
        .where(among(session, event.id, event_ids), event.status == PENDING, lease_free(event, at))
        .values(lease_owner=owner, lease_until=until)
        .returning(
            event.id,
            event.tenant_id,
            event.webhook_id,
            event.message_id,
            event.sequence,
            event.payload,
            event.attempts,
        )
    )
    return list(result.all())


async def record_attempts(
    session: AsyncSession, owner: str, changes: list[dict[str, Any]], at: datetime.datetime
) -> None:
    """The events' state after an attempt (``b_id``, ``b_status``, ``b_attempts``, ``b_next``), only while
    ``owner`` holds the lease: a worker that lost it must not undo another's work."""
    table = WebhookEvent.__table__
    done = update(table).where(table.c.lease_owner == owner).values(lease_owner=None, lease_until=None, updated_at=at)
    columns = {"id": "b_id", "status": "b_status", "attempts": "b_attempts", "next_attempt_at": "b_next"}
    if session.bind.dialect.name == "postgresql":
        given = unnested(table, columns)
        await session.execute(
            done.where(table.c.id == given.c.id).values(
                status=given.c.status, attempts=given.c.attempts, next_attempt_at=given.c.next_attempt_at
            ),
            {name: [change[name] for change in changes] for name in columns.values()},
        )
        return
    await session.execute(
        done.where(table.c.id == bindparam("b_id")).values(
            status=bindparam("b_status"), attempts=bindparam("b_attempts"), next_attempt_at=bindparam("b_next")
        ),
        changes,
    )


async def release_followers(session: AsyncSession, ended: list[tuple[UUID, UUID, int]], at: datetime.datetime) -> None:
    """The events put back to wait behind these (message, webhook, sequence), whose delivery ended, are
    due now."""
    if not ended:
        return
    table = WebhookEvent.__table__
    waiting = update(table).where(table.c.status == PENDING, table.c.next_attempt_at > at).values(next_attempt_at=at)
    columns = {"message_id": "b_message", "webhook_id": "b_webhook", "sequence": "b_sequence"}
    if session.bind.dialect.name == "postgresql":
        given = unnested(table, columns)
        behind = (table.c.message_id == given.c.message_id, table.c.webhook_id == given.c.webhook_id)
        await session.execute(
            waiting.where(*behind, table.c.sequence > given.c.sequence),
            {name: [row[index] for row in ended] for index, name in enumerate(columns.values())},
        )
        return
    await session.execute(
        waiting.where(
            table.c.message_id == bindparam("b_message"),
            table.c.webhook_id == bindparam("b_webhook"),
            table.c.sequence > bindparam("b_sequence"),
        ),
        [{"b_message": m, "b_webhook": w, "b_sequence": s} for m, w, s in ended],
    )


async def redeliver(session: AsyncSession, *where: Any, at: datetime.datetime) -> int:
    """Deliver the events ``where`` selects again, now, with a fresh retry schedule (and their same
    ``webhook-id``); those under an attempt are left alone. How many."""
    result = await session.execute(
        update(WebhookEvent)
        .where(*where, lease_free(WebhookEvent, at))
        .values(status=PENDING, attempts=0, next_attempt_at=at, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


async def pull_forward(session: AsyncSession, webhook_id: UUID, at: datetime.datetime) -> None:
    """The webhook's pending events are due now (it was enabled again), not at the end of a long backoff."""
    await session.execute(
        update(WebhookEvent)
        .where(WebhookEvent.webhook_id == webhook_id, WebhookEvent.status == PENDING, WebhookEvent.next_attempt_at > at)
        .values(next_attempt_at=at)
        .execution_options(synchronize_session=False)
    )
