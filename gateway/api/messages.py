"""Sending and reading messages and conversations (seed 000 and 002)."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, JSONBody, QueryParameter, SkipValidation
from litestar.status_codes import HTTP_200_OK

from channels.inbound import InboundContent
from channels.openapi import REQUEST_EXAMPLES
from channels.registry import all_channels
from gateway.api.deps import Caller, Messages, bulk_only_on_v11, runtime_of
from gateway.idempotency import KeyedAnswer, claim_of
from gateway.lib.pagination import MAX_LIMIT, Cursor
from gateway.lib.problems import Problem, invalid
from gateway.messages.planning import BulkResult, Plan
from gateway.messages.requests import examples, shapes
from gateway.messages.service import MessageFilters, MessageService
from gateway.messages.validation import SendRequest, raise_if
from gateway.models import Conversation, FailoverChain, Message, MessageEvent, TrafficAccount
from gateway.schemas import Out, Page
from gateway.store import statuses
from gateway.store.views import conversation_view, participant_view, sender_view, user_name
from wire.errors import FieldError
from wire.shapes import decode

# The request bodies, assembled from the registered channels when this module is imported. Litestar reads
# them for the OpenAPI document only (SkipValidation): wire.shapes decodes them, naming every problem and
# tolerating what the real service's JSON binding tolerates (gateway.messages.requests).
SendMessage = shapes().send
SendBulk = shapes().bulk
SendMessagesBulk = shapes().messages_bulk
# The OpenAPI document's examples of a send: one per channel and message type (gateway.openapi).
SEND_EXAMPLES = {f"{e.channel}: {e.message_type}": e.request for e in examples()}
IGNORED_FIELDS = "Gateway-Ignored-Fields"
IGNORED_FIELDS_SHOWN = 50  # a header is no place for thousands of paths; the first ones show the typo


class MessagesOf(msgspec.Struct):
    """The top of a sendmessagesbulk body; each message is read on its own, named by its index."""

    messages: Annotated[list[Any], msgspec.Meta(min_length=1)]


class BulkMessage(Out):
    destination: str  # the message's address as the request wrote it (a failover step's own, where it has one)
    traffic_account_id: UUID
    message_id: UUID
    duplicate: bool  # the destination was given before in this request: this is that message


class BulkOut(Out):
    bulk_id: UUID
    messages: list[BulkMessage]

    @classmethod
    def of(cls, result: BulkResult) -> BulkOut:
        return cls(
            result.bulk_id,
            [
                BulkMessage(destination, m.traffic_account_id, m.id, duplicate)
                for given, plan, duplicate in result.plans
                for destination, m in zip(given, plan.messages, strict=True)
            ],
        )


class BulkSummary(Out):
    bulk_id: UUID
    total: int
    statuses: dict[str, int]


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
    # Who sent it: the traffic account (outbound) or the user (inbound), as the UserMessage webhook shows them.
    sender: dict[str, Any]
    conversation: dict[str, Any]
    delivery_status: str
    error_code: str | None
    description: str | None
    message_parts: int
    text: str | None  # a text message's text, either way
    request_info: dict[str, Any] | None  # the channel block as sent (outbound)
    content: InboundContent | None  # what the user sent (inbound)
    reference: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    status_history: list[StatusChange]
    converted: bool  # the customer told it converted (a compatible API's conversion tracking)
    failover: FailoverOut | None = None  # the chain this message is a step of

    @classmethod
    def of(
        cls, message: Message, account: TrafficAccount, history: list[MessageEvent], name: str | None
    ) -> MessageDetail:
        """``name``: the user's latest known name (the conversation's)."""
        outbound = message.direction == "outbound"
        name = user_name(message, name)
        sender = sender_view(account) if outbound else participant_view(message.channel, message.destination, name)
        return cls(
            message.id,
            message.id,
            message.traffic_account_id,
            message.channel,
            message.direction,
            message.destination,
            sender,
            conversation_view(message, account, name),
            message.status,
            message.error_code,
            message.description,
            message.message_parts,
            message_text(message),
            message.content if outbound else None,
            user_content(message),
            message.reference,
            message.created_at,
            message.updated_at,
            [StatusChange.of(event) for event in history],
            message.converted_at is not None,
        )


class FailoverStep(Out):
    message_id: UUID
    traffic_account_id: UUID
    channel: str
    destination: str  # each step's own: a chain may reach the user at another address on each channel
    delivery_status: str
    active: bool


class FailoverOut(Out):
    """A Timeout failover chain: its steps in order, which one is active, and how it ended."""

    type: str
    chain_id: UUID
    status: str  # the status a step must reach
    timeout_in_seconds: int
    state: str  # active, done (a step reached the status) or exhausted (every step had its turn)
    active_step: int
    steps: list[FailoverStep]

    @classmethod
    def of(cls, chain: FailoverChain, steps: list[Message]) -> FailoverOut:
        return cls(
            "Timeout",
            chain.id,
            chain.required_status,
            chain.timeout_seconds,
            chain.state,
            chain.active_step,
            [
                FailoverStep(
                    m.id, m.traffic_account_id, m.channel, m.destination, m.status, m.failover_step == chain.active_step
                )
                for m in steps
            ],
        )


async def message_detail(service: MessageService, tenant_id: UUID, message_id: UUID) -> MessageDetail:
    """The tenant's message as GET /api/v1/Message/{id} shows it (a 404 if it has none of this id)."""
    message, account, history, name = await service.get(tenant_id, message_id)
    detail = MessageDetail.of(message, account, history, name)
    if chain := await service.chain_of(message):
        detail.failover = FailoverOut.of(*chain)
    return detail


def message_text(message: Message) -> str | None:
    """A text message's text, either way: the block's (outbound), the user's (inbound)."""
    if message.direction == "outbound":
        return all_channels()[message.channel].text_of(message.content)
    return message.content.get("text") if message.content.get("type") == "text" else None


def user_content(message: Message) -> InboundContent | None:
    """What the user sent (inbound): the stored dict, encoded as it is; typed for the OpenAPI document."""
    return None if message.direction == "outbound" else message.content  # type: ignore[return-value]


class MessageSummary(Out):
    """A message in a list: a conversation's (so it reads as one) or the tenant's."""

    message_id: UUID
    traffic_account_id: UUID
    conversation_id: UUID
    channel: str
    direction: str
    destination: str
    delivery_status: str
    error_code: str | None
    message_parts: int
    text: str | None  # a text message's text, either way
    content: InboundContent | None  # what the user sent (inbound)
    reference: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    converted: bool  # the customer told it converted (a compatible API's conversion tracking)

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
            message_text(m),
            user_content(m),
            m.reference,
            m.created_at,
            m.updated_at,
            m.converted_at is not None,
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
            participant_view(c.channel, c.participant, c.participant_name),
            c.created_at,
            c.updated_at,
        )


def as_utc(moment: datetime.datetime | None) -> datetime.datetime | None:
    """A time without an offset is taken as UTC, the only zone the API writes."""
    return moment.replace(tzinfo=datetime.UTC) if moment is not None and moment.tzinfo is None else moment


Limit = Annotated[int, QueryParameter(name="limit", ge=1, le=MAX_LIMIT)]
CursorParam = Annotated[str | None, QueryParameter(name="cursor", description="nextCursor of the previous page")]


def limit_bulk(request: Request, field: str, items: Any) -> None:
    limit = runtime_of(request).settings.bulk_max_messages
    if isinstance(items, list) and len(items) > limit:
        raise invalid(
            [FieldError(field, f"holds {len(items)}; at most {limit} per request (GATEWAY_BULK_MAX_MESSAGES)")]
        )


def ignored_header(ignored: list[str]) -> dict[str, str]:
    """The ``Gateway-Ignored-Fields`` header naming the fields a request gave that the gateway doesn't know."""
    if not ignored:
        return {}
    # A field's name may be any JSON string; a header carries ASCII: escaped as JSON escapes it.
    shown = [json.dumps(path)[1:-1] for path in ignored[:IGNORED_FIELDS_SHOWN]]
    more = len(ignored) - len(shown)
    return {IGNORED_FIELDS: ", ".join(shown) + (f", and {more} more" if more else "")}


@contextlib.contextmanager
def naming_ignored(ignored: list[str]) -> Iterator[None]:
    """A refusal names the ignored fields too: a misspelt field is often why a required one is missing."""
    try:
        yield
    except Problem as problem:
        problem.headers = {**(problem.headers or {}), **ignored_header(ignored)}
        raise


async def accepted(
    request: Request,
    service: MessageService,
    planned: Plan | BulkResult,
    answer: Callable[[], Any],
    ignored: list[str],
) -> Response[Any]:
    """Store what a send planned, and answer it. With an Idempotency-Key the answer is rendered and stored
    with the key in the transaction that stores the messages, and exactly those bytes are sent."""
    headers = ignored_header(ignored)
    if (claim := claim_of(request)) is None:
        await service.accept(planned)
        return Response(answer(), headers=headers)
    keyed = KeyedAnswer(claim, lambda: msgspec.json.encode(answer()))
    await service.accept(planned, keyed)
    return Response(keyed.body, media_type=keyed.content_type, headers=headers)


class MessageController(Controller):
    path = "/Message"
    tags = ["messages"]

    @post(
        "/send",
        status_code=HTTP_200_OK,
        summary="Send a message; answers once it is stored (status Ready)",
        opt={"idempotent": True, REQUEST_EXAMPLES: SEND_EXAMPLES},
    )
    async def send(
        self,
        message_service: Messages,
        request: Request,
        principal: Caller,
        version: FromPath[str],
        data: JSONBody[SkipValidation[SendMessage]],
    ) -> Response[MessageOut | SentMessages | list[UUID]]:
        send = SendRequest.read(data, SendMessage)
        with naming_ignored(send.ignored):
            plan = await message_service.plan(principal.tenant_id, send)

        def answer() -> MessageOut | SentMessages | list[UUID]:
            if version.lower() == "v1.1":
                return SentMessages([SentMessage(m.id, m.traffic_account_id) for m in plan.messages])
            if plan.chain is not None:  # seed 002: a failover answers the ids of its chain, in order
                return [m.id for m in plan.messages]
            return MessageOut.of(plan.messages[0].as_message(), plan.accounts[0])

        return await accepted(request, message_service, plan, answer, send.ignored)

    @post(
        "/sendbulk",
        status_code=HTTP_200_OK,
        guards=[bulk_only_on_v11],
        summary="Send one message to many destinations (version 1.1); validated as a whole first",
        opt={"idempotent": True},
    )
    async def send_bulk(
        self,
        message_service: Messages,
        request: Request,
        principal: Caller,
        version: FromPath[str],
        data: JSONBody[SkipValidation[SendBulk]],
    ) -> Response[BulkOut]:
        bulk = SendRequest.read(data, SendBulk)
        limit_bulk(request, "destinations", bulk.member("destinations"))
        with naming_ignored(bulk.ignored):
            result = await message_service.plan_bulk(principal.tenant_id, bulk)
        return await accepted(request, message_service, result, lambda: BulkOut.of(result), bulk.ignored)

    @post(
        "/sendmessagesbulk",
        status_code=HTTP_200_OK,
        guards=[bulk_only_on_v11],
        summary="Send many messages of their own in one request (version 1.1); validated as a whole first",
        opt={"idempotent": True},
    )
    async def send_messages_bulk(
        self,
        message_service: Messages,
        request: Request,
        principal: Caller,
        version: FromPath[str],
        data: JSONBody[SkipValidation[SendMessagesBulk]],
    ) -> Response[BulkOut]:
        top = decode(data, MessagesOf)
        raise_if([FieldError(e.field or "body", e.message) for e in top.errors], "The request is not valid.")
        limit_bulk(request, "messages", top.value.messages)
        sends = [
            SendRequest.read(raw, SendMessage, f"messages[{index}]") for index, raw in enumerate(top.value.messages)
        ]
        ignored = top.ignored + [path for send in sends for path in send.ignored]
        with naming_ignored(ignored):
            result = await message_service.plan_messages_bulk(principal.tenant_id, sends)
        return await accepted(request, message_service, result, lambda: BulkOut.of(result), ignored)

    @get(
        "/bulk/{bulk_id:str}",
        summary="How the messages of a bulk send are doing: counts by status",
        guards=[bulk_only_on_v11],
    )
    async def bulk_summary(
        self,
        message_service: Messages,
        principal: Caller,
        version: FromPath[str],
        bulk_id: FromPath[UUID],
    ) -> BulkSummary:
        counts = await message_service.bulk_summary(principal.tenant_id, bulk_id)
        return BulkSummary(bulk_id, sum(counts.values()), counts)

    @get("/{message_id:str}", summary="A message with its status history")
    async def get_message(
        self, message_service: Messages, principal: Caller, message_id: FromPath[UUID]
    ) -> MessageDetail:
        return await message_detail(message_service, principal.tenant_id, message_id)

    @get("/", summary="Messages, newest last, filtered")
    async def list_messages(
        self,
        message_service: Messages,
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
        rows, next_cursor = await message_service.page(principal.tenant_id, filters, limit, Cursor.decode(cursor))
        return Page([MessageSummary.of(m) for m in rows], next_cursor.encode() if next_cursor else None)


class ConversationController(Controller):
    path = "/Conversations"
    tags = ["messages"]

    @get("/", summary="Conversations, in creation order")
    async def list_conversations(
        self, message_service: Messages, principal: Caller, limit: Limit = 100, cursor: CursorParam = None
    ) -> Page[ConversationOut]:
        rows, next_cursor = await message_service.conversations(principal.tenant_id, limit, Cursor.decode(cursor))
        return Page([ConversationOut.of(c) for c in rows], next_cursor.encode() if next_cursor else None)

    @get("/{conversation_id:str}/Messages", summary="The messages of a conversation, oldest first")
    async def conversation_messages(
        self,
        message_service: Messages,
        principal: Caller,
        conversation_id: FromPath[UUID],
        limit: Limit = 100,
        cursor: CursorParam = None,
    ) -> Page[MessageSummary]:
        conversation = await message_service.conversation(principal.tenant_id, conversation_id)
        rows, next_cursor = await message_service.page(
            principal.tenant_id, MessageFilters(conversation_id=conversation.id), limit, Cursor.decode(cursor)
        )
        return Page([MessageSummary.of(m) for m in rows], next_cursor.encode() if next_cursor else None)
