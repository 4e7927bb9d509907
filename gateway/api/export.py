"""Export (seed 003): every message with its status history, every webhook delivery with its attempts, as
NDJSON or CSV, streamed in constant memory.

Records are read in keyset-paged chunks of CHUNK, each chunk in a short session of its own (the request's
session is closed once the answer starts, and a long export holds no transaction): the memory an export
holds is one chunk's, whatever its size. A record is what the API answers elsewhere: a message as
GET /Message/{id}, a delivery as GET /Webhook/{id}/deliveries with its ``webhookId``. A CSV row has the
record's fields as columns, in the same order; a nested value (an object or a list) is its JSON text.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, get
from litestar.openapi import ResponseSpec
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import QueryParameter
from litestar.response import Stream
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.openapi import problem
from gateway.api.deps import Caller, DbSession, Engine
from gateway.api.messages import FailoverOut, MessageDetail, as_utc
from gateway.api.webhooks import DeliveryOut
from gateway.lib.db import session_maker
from gateway.lib.pagination import Cursor, page_query
from gateway.lib.problems import invalid, not_found
from gateway.messages.service import MessageFilters
from gateway.models import Conversation, FailoverChain, Message, MessageEvent, TrafficAccount, Webhook, WebhookEvent
from gateway.schemas import Out, format_timestamp
from gateway.webhooks.service import with_attempts
from wire.errors import FieldError

CHUNK = 500  # records per query
Format = Literal["ndjson", "csv"]
MEDIA_TYPES = {"ndjson": "application/x-ndjson", "csv": "text/csv"}  # Litestar adds the charset to text/*
FormatParam = Annotated[Format, QueryParameter(name="format", description="ndjson (one JSON record a line) or csv")]
From = Annotated[datetime.datetime | None, QueryParameter(name="from", description="Created at or after")]
To = Annotated[datetime.datetime | None, QueryParameter(name="to", description="Created before")]


def with_csv(**fields: Any) -> Operation:
    """An ``operation_class``: the 200 answer is text/csv too (format=csv), one row a record."""
    operation = Operation(**fields)
    answer = (operation.responses or {}).get("200")
    if isinstance(answer, OpenAPIResponse) and answer.content is not None:
        answer.content["text/csv"] = OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING))
    return operation


def streamed(record: type[Out]) -> ResponseSpec:
    """The 200 answer: NDJSON lines of ``record`` (or CSV, format=csv)."""
    description = (
        f"One {record.__name__} a line (application/x-ndjson), or CSV rows (text/csv) with format=csv; "
        'Content-Disposition: attachment; filename="<export>-<time>Z.<format>"'
    )
    return ResponseSpec(
        data_container=record, media_type="application/x-ndjson", description=description, generate_examples=False
    )


class DeliveryRecord(DeliveryOut):
    """A delivery of any of the tenant's webhooks: the event, its attempts, and which webhook."""

    webhook_id: UUID
    webhook_kind: Annotated[
        str,
        msgspec.Meta(
            description="chat: a webhook of the webhook API; compatible: where a channel's compatible API sends "
            "its own callbacks (the payload is the request made: method, url, body)"
        ),
    ]


Chunks = AsyncIterator[list[Out]]


def window(created_from: datetime.datetime | None, created_to: datetime.datetime | None) -> tuple[Any, Any]:
    created_from, created_to = as_utc(created_from), as_utc(created_to)
    if created_from and created_to and created_from >= created_to:
        raise invalid([FieldError("to", "must be after from")])
    return created_from, created_to


def export(name: str, form: Format, record: type[Out], chunks: Chunks) -> Stream:
    stamp = format_timestamp(datetime.datetime.now(datetime.UTC))[:19].replace(":", "")
    return Stream(
        encoded(chunks, form, record),
        media_type=MEDIA_TYPES[form],
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}Z.{form}"'},
    )


async def encoded(chunks: Chunks, form: Format, record: type[Out]) -> AsyncIterator[bytes]:
    encoder = msgspec.json.Encoder()
    if form == "ndjson":
        async for chunk in chunks:
            yield encoder.encode_lines(chunk)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(field.encode_name for field in msgspec.structs.fields(record))
    async for chunk in chunks:
        for row in msgspec.to_builtins(chunk):
            writer.writerow(cell(value, encoder) for value in row.values())
        yield buffer.getvalue().encode()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():  # the header of an empty export
        yield buffer.getvalue().encode()


def cell(value: Any, encoder: msgspec.json.Encoder) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list | bool):
        return encoder.encode(value).decode()
    return str(value)


async def keyset_chunks(
    sessions: async_sessionmaker[AsyncSession],
    query: Any,
    model: Any,
    records: Callable[[AsyncSession, list[Any]], Awaitable[list[Out]]],
) -> Chunks:
    cursor: Cursor | None = None
    while True:
        async with sessions() as session:
            rows, cursor = await page_query(session, query, model, CHUNK, cursor)
            chunk = await records(session, rows)
        if chunk:
            yield chunk
        if cursor is None:
            return


async def message_details(session: AsyncSession, messages: list[Message]) -> list[Out]:
    """The messages as GET /Message/{id} answers each, with five queries for the lot."""
    ids = [m.id for m in messages]
    accounts = {
        a.id: a
        for a in await session.scalars(
            select(TrafficAccount).where(TrafficAccount.id.in_({m.traffic_account_id for m in messages}))
        )
    }
    names = dict(
        (
            await session.execute(
                select(Conversation.id, Conversation.participant_name).where(
                    Conversation.id.in_({m.conversation_id for m in messages})
                )
            )
        ).all()
    )
    histories: dict[UUID, list[MessageEvent]] = {id_: [] for id_ in ids}
    for event in await session.scalars(
        select(MessageEvent).where(MessageEvent.message_id.in_(ids)).order_by(MessageEvent.sequence)
    ):
        histories[event.message_id].append(event)
    chain_ids = {m.failover_chain_id for m in messages if m.failover_chain_id}
    chains = {c.id: c for c in await session.scalars(select(FailoverChain).where(FailoverChain.id.in_(chain_ids)))}
    steps: dict[UUID, list[Message]] = {id_: [] for id_ in chains}
    for step in await session.scalars(
        select(Message).where(Message.failover_chain_id.in_(chains)).order_by(Message.failover_step)
    ):
        steps[step.failover_chain_id].append(step)  # type: ignore[index]
    details = []
    for m in messages:
        detail = MessageDetail.of(m, accounts[m.traffic_account_id], histories[m.id], names.get(m.conversation_id))
        if (chain := chains.get(m.failover_chain_id)) is not None:  # type: ignore[arg-type]
            detail.failover = FailoverOut.of(chain, steps[chain.id])
        details.append(detail)
    return details


async def delivery_records(session: AsyncSession, events: list[WebhookEvent]) -> list[Out]:
    webhook_ids = {e.webhook_id for e in events}
    kinds = dict((await session.execute(select(Webhook.id, Webhook.kind).where(Webhook.id.in_(webhook_ids)))).all())
    return [
        DeliveryRecord(
            **msgspec.structs.asdict(DeliveryOut.of(d)),
            webhook_id=d.event.webhook_id,
            webhook_kind=kinds[d.event.webhook_id],
        )
        for d in await with_attempts(session, events)
    ]


async def owned(session: AsyncSession, model: Any, tenant_id: UUID, id_: UUID | None, what: str, field: str) -> None:
    """A 404 naming ``field`` unless the row ``id_`` (when given) is the tenant's."""
    if (
        id_ is not None
        and await session.scalar(select(model.id).where(model.id == id_, model.tenant_id == tenant_id)) is None
    ):
        raise not_found(what, field)


class ExportController(Controller):
    path = "/export"
    tags = ["export"]

    @get(
        "/messages",
        summary="Every matching message with its status history, streamed as NDJSON or CSV",
        description=(
            "One record per message, oldest first (creation time, then id): the fields of GET /Message/{id}, "
            "`statusHistory` included. CSV: one column per field in that order; nested values (`sender`, "
            "`conversation`, `requestInfo`, `content`, `statusHistory`, `failover`) are JSON text. Live and "
            "sandbox traffic accounts alike."
        ),
        operation_class=with_csv,
        responses={
            200: streamed(MessageDetail),
            404: problem("`not_found`: no traffic account with this id (trafficAccountId)"),
        },
    )
    async def export_messages(
        self,
        engine: Engine,
        db_session: DbSession,
        principal: Caller,
        created_from: From = None,
        created_to: To = None,
        traffic_account_id: Annotated[UUID | None, QueryParameter(name="trafficAccountId")] = None,
        direction: Annotated[Literal["outbound", "inbound"] | None, QueryParameter(name="direction")] = None,
        form: FormatParam = "ndjson",
    ) -> Stream:
        created_from, created_to = window(created_from, created_to)
        tenant_id = principal.tenant_id
        await owned(db_session, TrafficAccount, tenant_id, traffic_account_id, "traffic account", "trafficAccountId")
        filters = MessageFilters(
            traffic_account_id, direction=direction, created_from=created_from, created_to=created_to
        )
        chunks = keyset_chunks(session_maker(engine), filters.query(tenant_id), Message, message_details)
        return export("messages", form, MessageDetail, chunks)

    @get(
        "/webhookDeliveries",
        summary="Every matching webhook delivery (event) with its attempts, streamed as NDJSON or CSV",
        description=(
            "One record per webhook event, oldest first: the fields of GET /Webhook/{id}/deliveries' items and "
            "`webhookId`. CSV: one column per field in that order; `payload` and `attempts` are JSON text."
        ),
        operation_class=with_csv,
        responses={200: streamed(DeliveryRecord), 404: problem("`not_found`: no webhook with this id (webhookId)")},
    )
    async def export_deliveries(
        self,
        engine: Engine,
        db_session: DbSession,
        principal: Caller,
        created_from: From = None,
        created_to: To = None,
        webhook_id: Annotated[UUID | None, QueryParameter(name="webhookId")] = None,
        form: FormatParam = "ndjson",
    ) -> Stream:
        created_from, created_to = window(created_from, created_to)
        tenant_id = principal.tenant_id
        await owned(db_session, Webhook, tenant_id, webhook_id, "webhook", "webhookId")
        query = select(WebhookEvent).where(WebhookEvent.tenant_id == tenant_id)
        if webhook_id:
            query = query.where(WebhookEvent.webhook_id == webhook_id)
        if created_from:
            query = query.where(WebhookEvent.created_at >= created_from)
        if created_to:
            query = query.where(WebhookEvent.created_at < created_to)
        chunks = keyset_chunks(session_maker(engine), query, WebhookEvent, delivery_records)
        return export("webhookDeliveries", form, DeliveryRecord, chunks)
