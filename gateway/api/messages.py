"""Sending and reading messages and conversations (seed 000 and 002)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK

from channels.base import FieldError
from gateway.api.deps import Caller, DbSession
from gateway.models import Conversation, Message, MessageEvent, TrafficAccount
from gateway.pagination import MAX_LIMIT, Cursor
from gateway.pipeline import statuses
from gateway.pipeline.views import conversation_view, participant_view, sender_view
from gateway.schemas import Out, Page, Schema
from gateway.services.messages import MessageFilters, MessageService, block_errors

Block = Annotated[Any, msgspec.Meta(description="The channel's message, as in the channel guide (seed 002)")]


class SendIn(Schema):
    traffic_account_id: UUID
    destination: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    sms: Block = None
    whatsapp: Block = None
    whats_app: Annotated[Block, msgspec.Meta(description="The same as whatsapp")] = msgspec.field(
        default=None, name="whatsApp"
    )
    viber: Block = None
    telegram: Block = None
    gbm: Block = None

    @classmethod
    def rule_errors(cls, raw: dict[str, Any]) -> list[FieldError]:
        return block_errors(cls.blocks_of(raw))

    @staticmethod
    def blocks_of(raw: dict[str, Any]) -> dict[str, Any]:
        channel_keys = ("sms", "whatsapp", "whatsApp", "viber", "telegram", "gbm")
        return {key: value for key, value in raw.items() if key in channel_keys and value is not None}


class MessageOut(Out):
    """The message as version 1 answers a send (seed 002)."""

    message_id: UUID
    id: UUID
    sender: dict[str, Any]
    conversation: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime
    traffic_account_id: UUID
    delivery_status: str

    @classmethod
    def of(cls, message: Message, account: TrafficAccount) -> MessageOut:
        return cls(
            message.id,
            message.id,
            sender_view(account),
            conversation_view(message, account),
            message.created_at,
            message.updated_at,
            message.traffic_account_id,
            message.status,
        )


class SentMessage(Out):
    message_id: UUID
    traffic_account_id: UUID


class SentMessages(Out):
    """Version 1.1's answer to a send."""

    messages: list[SentMessage]


class StatusChange(Out):
    status: str
    occurred_at: datetime.datetime
    error_code: str | None
    description: str | None

    @classmethod
    def of(cls, event: MessageEvent) -> StatusChange:
        return cls(event.status, event.occurred_at, event.error_code, event.description)


class MessageDetail(Out):
    message_id: UUID
    id: UUID
    traffic_account_id: UUID
    channel: str
    direction: str
    destination: str
    sender: dict[str, Any]
    conversation: dict[str, Any]
    delivery_status: str
    error_code: str | None
    description: str | None
    message_parts: int
    request_info: dict[str, Any] | None  # the channel block as sent (outbound)
    content: dict[str, Any] | None  # what the user sent (inbound)
    reference: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    status_history: list[StatusChange]

    @classmethod
    def of(cls, message: Message, account: TrafficAccount, history: list[MessageEvent]) -> MessageDetail:
        outbound = message.direction == "outbound"
        return cls(
            message.id,
            message.id,
            message.traffic_account_id,
            message.channel,
            message.direction,
            message.destination,
            sender_view(account),
            conversation_view(message, account),
            message.status,
            message.error_code,
            message.description,
            message.message_parts,
            message.content if outbound else None,
            None if outbound else message.content,
            message.reference,
            message.created_at,
            message.updated_at,
            [StatusChange.of(event) for event in history],
        )


class MessageSummary(Out):
    message_id: UUID
    traffic_account_id: UUID
    conversation_id: UUID
    channel: str
    direction: str
    destination: str
    delivery_status: str
    error_code: str | None
    message_parts: int
    reference: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, m: Message) -> MessageSummary:
        return cls(
            m.id,
            m.traffic_account_id,
            m.conversation_id,
            m.channel,
            m.direction,
            m.destination,
            m.status,
            m.error_code,
            m.message_parts,
            m.reference,
            m.created_at,
            m.updated_at,
        )


class ConversationOut(Out):
    id: UUID
    traffic_account_id: UUID
    channel: str
    participant: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, c: Conversation) -> ConversationOut:
        return cls(
            c.id,
            c.traffic_account_id,
            c.channel,
            participant_view(c.channel, c.participant),
            c.created_at,
            c.updated_at,
        )


def as_utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """A time without an offset is taken as UTC, the only zone the API writes."""
    return moment.replace(tzinfo=datetime.UTC) if moment is not None and moment.tzinfo is None else moment


Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=MAX_LIMIT)]
CursorParam = Annotated[str | None, QueryParameter(name="cursor", description="nextCursor of the previous page")]


def _service(request: Request, db_session: Any) -> MessageService:
    state = request.app.state
    return MessageService(db_session, state.acceptor, state.lookups)


class MessageController(Controller):
    path = "/Message"
    tags = ["messages"]

    @post(
        "/send",
        status_code=HTTP_200_OK,
        summary="Send a message; answers once it is stored (status Ready)",
        opt={"idempotent": True},
    )
    async def send(
        self, request: Request, db_session: DbSession, principal: Caller, version: FromPath[str], data: JSONBody[SendIn]
    ) -> MessageOut | SentMessages:
        accepted = await _service(request, db_session).send(
            principal.tenant_id, data.traffic_account_id, data.destination, SendIn.blocks_of(msgspec.to_builtins(data))
        )
        if version.lower() == "v1.1":
            return SentMessages([SentMessage(accepted.message.id, accepted.account.id)])
        return MessageOut.of(accepted.message, accepted.account)

    @get("/{message_id:str}", summary="A message with its status history")
    async def get_message(
        self, request: Request, db_session: DbSession, principal: Caller, message_id: FromPath[UUID]
    ) -> MessageDetail:
        return MessageDetail.of(*await _service(request, db_session).get(principal.tenant_id, message_id))

    @get("/", summary="Messages, newest last, filtered")
    async def list_messages(
        self,
        request: Request,
        db_session: DbSession,
        principal: Caller,
        traffic_account_id: Annotated[UUID | None, QueryParameter(name="trafficAccountId")] = None,
        destination: Annotated[str | None, QueryParameter(name="destination")] = None,
        direction: Annotated[Literal["outbound", "inbound"] | None, QueryParameter(name="direction")] = None,
        status: Annotated[Literal[statuses.ALL] | None, QueryParameter(name="status")] = None,  # type: ignore[valid-type]
        created_from: Annotated[datetime.datetime | None, QueryParameter(name="from")] = None,
        created_to: Annotated[datetime.datetime | None, QueryParameter(name="to")] = None,
        limit: Limit = 100,
        cursor: CursorParam = None,
    ) -> Page[MessageSummary]:
        created_from, created_to = (as_utc(t) for t in (created_from, created_to))
        filters = MessageFilters(traffic_account_id, None, destination, direction, status, created_from, created_to)
        rows, next_cursor = await _service(request, db_session).page(
            principal.tenant_id, filters, limit, Cursor.decode(cursor)
        )
        return Page([MessageSummary.of(m) for m in rows], next_cursor.encode() if next_cursor else None)


class ConversationController(Controller):
    path = "/Conversations"
    tags = ["messages"]

    @get("/", summary="Conversations, in creation order")
    async def list_conversations(
        self, request: Request, db_session: DbSession, principal: Caller, limit: Limit = 100, cursor: CursorParam = None
    ) -> Page[ConversationOut]:
        rows, next_cursor = await _service(request, db_session).conversations(
            principal.tenant_id, limit, Cursor.decode(cursor)
        )
        return Page([ConversationOut.of(c) for c in rows], next_cursor.encode() if next_cursor else None)

    @get("/{conversation_id:str}/Messages", summary="The messages of a conversation, oldest first")
    async def conversation_messages(
        self,
        request: Request,
        db_session: DbSession,
        principal: Caller,
        conversation_id: FromPath[UUID],
        limit: Limit = 100,
        cursor: CursorParam = None,
    ) -> Page[MessageSummary]:
        service = _service(request, db_session)
        conversation = await service.conversation(principal.tenant_id, conversation_id)
        rows, next_cursor = await service.page(
            principal.tenant_id, MessageFilters(conversation_id=conversation.id), limit, Cursor.decode(cursor)
        )
        return Page([MessageSummary.of(m) for m in rows], next_cursor.encode() if next_cursor else None)
