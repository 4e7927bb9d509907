"""What the inbox pages show, read for one tenant (every query filters on ``tenant_id``)."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import String, and_, cast, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.api.messages import message_text
from gateway.lib.problems import not_found
from gateway.messages.service import MessageService
from gateway.models import (
    Conversation,
    FailoverChain,
    Message,
    MessageEvent,
    SandboxExchange,
    TrafficAccount,
)

CONVERSATIONS_SHOWN = 200  # the newest; the filters find older ones


@dataclass(frozen=True, slots=True)
class ConversationFilters:
    traffic_account_id: UUID | None = None
    channel: str | None = None
    destination: str | None = None  # a part of the user's address
    status: str | None = None  # a message of the conversation has it
    text: str | None = None  # in a message, or the user's address or name


@dataclass(slots=True)
class ConversationRow:
    conversation: Conversation
    account: TrafficAccount
    last_activity: datetime.datetime
    messages: int
    last: Message


@dataclass(slots=True)
class MessageTimeline:
    message: Message
    history: list[MessageEvent]
    requests: list[SandboxExchange]  # what the adapter sent the provider, with the answer
    reports: list[SandboxExchange]  # the provider's callbacks about it (delivery reports)
    chain: tuple[FailoverChain, list[Message]] | None = None


@dataclass(slots=True)
class ConversationPage:
    conversation: Conversation
    account: TrafficAccount
    timeline: list[MessageTimeline]
    other_exchanges: list[SandboxExchange] = field(default_factory=list)  # the user's, not tied to a message


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def accounts(session: AsyncSession, tenant_id: UUID) -> list[TrafficAccount]:
    return list(
        await session.scalars(
            select(TrafficAccount).where(TrafficAccount.tenant_id == tenant_id).order_by(TrafficAccount.name)
        )
    )


async def conversations(session: AsyncSession, tenant_id: UUID, filters: ConversationFilters) -> list[ConversationRow]:
    """The tenant's conversations, newest activity (a message sent, received or changing status) first."""
    last_activity = func.max(Message.updated_at).label("last_activity")
    # The newest first, limited in the aggregate itself: a join on the whole aggregate was planned as a nested
    # loop over every conversation (seconds for 10,000 of them) while the table's statistics were stale.
    query = (
        select(Message.conversation_id, last_activity, func.count().label("messages"))
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.tenant_id == tenant_id)
        .group_by(Message.conversation_id)
        .order_by(last_activity.desc())
        .limit(CONVERSATIONS_SHOWN)
    )
    other = aliased(Message)  # a message of the conversation, any of them (not the one aggregated)
    of_conversation = other.conversation_id == Conversation.id
    if filters.traffic_account_id:
        query = query.where(Conversation.traffic_account_id == filters.traffic_account_id)
    if filters.channel:
        query = query.where(Conversation.channel == filters.channel)
    if filters.destination:
        query = query.where(Conversation.participant.ilike(_like(filters.destination), escape="\\"))
    if filters.status:
        query = query.where(exists().where(of_conversation, other.status == filters.status))
    if filters.text:
        like = _like(filters.text)
        query = query.where(
            or_(
                Conversation.participant.ilike(like, escape="\\"),
                Conversation.participant_name.ilike(like, escape="\\"),
                exists().where(of_conversation, cast(other.content, String).ilike(like, escape="\\")),
            )
        )
    found = (await session.execute(query)).all()
    ids = [conversation_id for conversation_id, _at, _count in found]
    shown = {
        c.id: (c, account)
        for c, account in await session.execute(
            select(Conversation, TrafficAccount)
            .join(TrafficAccount, TrafficAccount.id == Conversation.traffic_account_id)
            .where(Conversation.id.in_(ids))
        )
    }
    last = await _last_messages(session, ids)
    return [ConversationRow(*shown[i], at, count, last[i]) for i, at, count in found if i in shown and i in last]


async def _last_messages(session: AsyncSession, conversation_ids: list[UUID]) -> dict[UUID, Message]:
    if not conversation_ids:
        return {}
    ranked = (
        select(
            Message.id,
            func.row_number()
            .over(partition_by=Message.conversation_id, order_by=(Message.created_at.desc(), Message.id.desc()))
            .label("rank"),
        )
        .where(Message.conversation_id.in_(conversation_ids))
        .subquery()
    )
    rows = await session.scalars(select(Message).join(ranked, and_(ranked.c.id == Message.id, ranked.c.rank == 1)))
    return {m.conversation_id: m for m in rows}


async def conversation_page(session: AsyncSession, tenant_id: UUID, conversation_id: UUID) -> ConversationPage:
    """A conversation's messages in order, each with its status history, its failover chain and the sandbox
    provider's exchanges about it; another tenant's conversation is not found."""
    conversation = await MessageService(lambda: session, None, None).conversation(tenant_id, conversation_id)  # type: ignore[arg-type]
    account = await session.get(TrafficAccount, conversation.traffic_account_id)
    if account is None:
        raise not_found("conversation")
    messages = list(
        await session.scalars(
            select(Message)
            .where(Message.tenant_id == tenant_id, Message.conversation_id == conversation.id)
            .order_by(Message.created_at, Message.id)
        )
    )
    ids = [m.id for m in messages]
    history: dict[UUID, list[MessageEvent]] = {i: [] for i in ids}
    for event in await session.scalars(
        select(MessageEvent).where(MessageEvent.message_id.in_(ids)).order_by(MessageEvent.sequence)
    ):
        history[event.message_id].append(event)
    exchanges: dict[UUID | None, list[SandboxExchange]] = {}
    for exchange in await session.scalars(
        select(SandboxExchange)
        .where(
            SandboxExchange.tenant_id == tenant_id,
            SandboxExchange.traffic_account_id == account.id,
            or_(
                SandboxExchange.message_id.in_(ids),
                and_(SandboxExchange.message_id.is_(None), SandboxExchange.destination == conversation.participant),
            ),
        )
        .order_by(SandboxExchange.occurred_at, SandboxExchange.id)
    ):
        exchanges.setdefault(exchange.message_id, []).append(exchange)
    timeline = []
    service = MessageService(lambda: session, None, None)  # type: ignore[arg-type]
    for message in messages:
        own = exchanges.get(message.id, [])
        timeline.append(
            MessageTimeline(
                message,
                history[message.id],
                [e for e in own if e.direction == "request"],
                [e for e in own if e.direction != "request"],
                await service.chain_of(message) if message.failover_chain_id else None,
            )
        )
    return ConversationPage(conversation, account, timeline, exchanges.get(None, []))


def pretty_body(body: str) -> str:
    """A JSON body indented for reading; anything else as it came."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body


def summary_of(message: Message) -> str:
    """One line for a message in a list: its text, else its kind with what tells it apart (a caption, a
    button's title or data, a place)."""
    if text := message_text(message):
        return text
    content: dict[str, Any] = message.content or {}
    kind = content.get("type") or next((key for key in content if isinstance(content[key], dict)), None)
    if kind == "location" and "latitude" in content:
        detail = content.get("name") or f"{content['latitude']}, {content.get('longitude')}"
    else:
        detail = next((content[key] for key in ("caption", "title", "text", "data") if content.get(key)), "")
    return f"[{kind or 'message'}] {detail}".strip()
