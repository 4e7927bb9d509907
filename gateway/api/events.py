"""The tenant's message events as they happen: the server-sent event stream, and the long-polls that wait
for a message's status or for the next message (the local mock's test-control API; any account may use them).

None of them holds a database connection while it waits: they wait on the event tail's subscriptions
(gateway.events). Each is one request for the rate limits, however long it waits (README: Rate limits).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from litestar import Controller, get
from litestar.openapi.spec import OpenAPIResponse, OpenAPIType, Operation, Schema
from litestar.params import FromPath, HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent

from channels.openapi import problem
from gateway.api.deps import Caller, DbSession, Messages, Tail
from gateway.api.messages import MessageDetail, message_detail
from gateway.events.stream import KEEP_ALIVE_SECONDS, event_stream
from gateway.events.waits import Outcome, next_message, until_status
from gateway.lib.pagination import Cursor
from gateway.lib.problems import Problem, invalid
from gateway.messages.service import MessageFilters
from gateway.schemas import Out
from gateway.store import statuses
from wire.errors import FieldError

MAX_WAIT_SECONDS = 120
Seconds = Annotated[
    float,
    QueryParameter(
        name="timeout", ge=0, le=MAX_WAIT_SECONDS, description="Seconds to wait at most (0: answer at once)"
    ),
]
AccountFilter = Annotated[UUID | None, QueryParameter(name="trafficAccountId", description="Only this account's")]
_STATUS_NAMES = {name.lower(): name for name in statuses.ALL}
STREAM_DESCRIPTION = f"""\
A server-sent event stream (`text/event-stream`) of the tenant's message events: every status a message takes
(`Created`, `Ready`, `Sent`, `Delivered`, `Read`, `Failed`, `Expired`) and every message a user sends
(`UserMessage`). Each event is `event: <that name>`, `id: <its place in the stream>` and `data: <its payload>`,
the payload as the webhooks receive it (the `webhooks` section: a status event, or a user message; `Expired`
carries `errorCode` and `description` as `Failed` does).

The stream starts with the comment `: listening` (every event committed from then on is in it), and sends the
comment `: keep-alive` every {KEEP_ALIVE_SECONDS:.0f} s when nothing happens. It ends only when the client goes
away (or, a client that reads far more slowly than events come, to let it resume).

**Resuming.** `Last-Event-ID` (sent by EventSource when it reconnects) or `?lastEventId=` replays what happened
after that event, then goes on live. Delivery is at least once: around a resume, events of the few seconds
before the one named come again, with the same `id`: drop those you have seen."""


def _stream_operation(**fields: Any) -> Operation:
    """The 200's body is text: lines of `event:`, `id:`, `data:` (a webhook payload) and `:` comments."""
    operation = Operation(**fields)
    for response in (operation.responses or {}).values():
        if isinstance(response, OpenAPIResponse) and "text/event-stream" in (response.content or {}):
            response.content["text/event-stream"].schema = Schema(  # type: ignore[index]
                type=OpenAPIType.STRING,
                description="Server-sent events (`event:`, `id:`, `data:` lines); `data:` is a webhook payload",
            )
    return operation


class WaitedMessage(Out):
    """The message a wait found, and the cursor to wait from for the one after it (`after=`)."""

    message: MessageDetail
    next_cursor: str


class EventController(Controller):
    path = "/events"
    tags = ["events"]

    @get(
        "/",
        summary="The tenant's message events as they happen (server-sent events), resumable",
        description=STREAM_DESCRIPTION,
        media_type="text/event-stream",
        response_description="The events, until the client goes away",
        operation_class=_stream_operation,
    )
    async def events(
        self,
        principal: Caller,
        message_service: Messages,
        event_tail: Tail,
        traffic_account_id: AccountFilter = None,
        last_event_id: Annotated[
            str | None, HeaderParameter(name="Last-Event-ID", description="Resume after this event (its `id`)")
        ] = None,
        last_event_id_query: Annotated[
            str | None, QueryParameter(name="lastEventId", description="The same, for clients that can't set headers")
        ] = None,
    ) -> ServerSentEvent:
        resume = Cursor.decode(last_event_id, "Last-Event-ID") or Cursor.decode(last_event_id_query, "lastEventId")
        if traffic_account_id is not None:
            await message_service.account(principal.tenant_id, traffic_account_id)  # a 404 naming it
        # The request's session (authentication used it) is closed as the answer starts: the stream reads with
        # connections of its own, a page at a time.
        stream = event_stream(event_tail, principal.tenant_id, traffic_account_id=traffic_account_id, resume=resume)
        return ServerSentEvent(stream)


class WaitController(Controller):
    path = "/Message"
    tags = ["messages"]

    @get(
        "/{message_id:str}/wait",
        summary="Wait until a message has one of the given statuses (long-poll)",
        description=(
            "Answers as soon as the message has taken one of `status` or gone past it (a `Read` message was "
            "`Delivered`), at once if it already has (its status history counts: a `Sent` message that then "
            "`Failed` was `Sent`), with the message as `GET /Message/{id}` shows it."
        ),
        responses={
            408: problem("`wait_timeout`: the timeout passed first; `deliveryStatus` is the message's status now"),
            409: problem(
                "`wait_unreachable`: the message took none of the statuses, and none can follow its status any "
                "more (it `Failed`, or was `Delivered` while you wait for `Failed`); `deliveryStatus` names it"
            ),
        },
    )
    async def wait_for_status(
        self,
        message_service: Messages,
        db_session: DbSession,
        principal: Caller,
        event_tail: Tail,
        message_id: FromPath[UUID],
        status: Annotated[
            str | None,
            QueryParameter(name="status", description="One or more statuses, comma-separated: `Delivered,Read`"),
        ] = None,  # required: checked below, so that its absence is named as any other fault of it
        seconds: Seconds = 30,
    ) -> MessageDetail:
        wanted = _statuses(status)

        async def current() -> dict[int, str]:
            _, _, history, _ = await message_service.get(principal.tenant_id, message_id)
            await db_session.close()  # no connection held while waiting
            return {event.sequence: event.status for event in history}

        outcome = await until_status(event_tail, principal.tenant_id, message_id, wanted, current, seconds=seconds)
        detail = await message_detail(message_service, principal.tenant_id, message_id)
        if outcome is Outcome.REACHED:
            return detail
        status_now = {"deliveryStatus": detail.delivery_status}
        if outcome is Outcome.UNREACHABLE:
            raise Problem(
                409,
                "wait_unreachable",
                f"The message is {detail.delivery_status}: {' or '.join(wanted)} can't follow any more.",
                members=status_now,
            )
        raise Problem(
            408,
            "wait_timeout",
            f"The message is still {detail.delivery_status} after {seconds:g} s.",
            members=status_now,
        )

    @get(
        "/wait",
        summary="Wait for the next message (long-poll)",
        description=(
            "The first message (of `trafficAccountId`, in `direction`) after `after` in the order of `GET /Messages` "
            "(the `nextCursor` of a list, or of an earlier wait), or without `after` the first created from now; "
            "with the cursor to wait from for the one after it."
        ),
        responses={408: problem("`wait_timeout`: no such message came within the timeout")},
    )
    async def wait_for_message(
        self,
        message_service: Messages,
        db_session: DbSession,
        principal: Caller,
        event_tail: Tail,
        traffic_account_id: AccountFilter = None,
        direction: Annotated[Literal["outbound", "inbound"] | None, QueryParameter(name="direction")] = None,
        after: Annotated[
            str | None, QueryParameter(name="after", description="Wait for a message after this cursor")
        ] = None,
        seconds: Seconds = 30,
    ) -> WaitedMessage:
        cursor = Cursor.decode(after, "after")
        tenant_id = principal.tenant_id
        if traffic_account_id is not None:
            await message_service.account(tenant_id, traffic_account_id)  # a 404 naming it
        filters = MessageFilters(traffic_account_id, direction=direction)

        async def first_after(cursor: Cursor) -> tuple[UUID, Cursor] | None:
            rows, _ = await message_service.page(tenant_id, filters, 1, cursor)
            await db_session.close()  # no connection held while waiting
            return (rows[0].id, Cursor(rows[0].created_at, rows[0].id)) if rows else None

        await db_session.close()
        found = await next_message(
            event_tail,
            tenant_id,
            cursor,
            first_after,
            seconds=seconds,
            traffic_account_id=traffic_account_id,
            direction=direction,
        )
        if found is None:
            raise Problem(408, "wait_timeout", f"No message came within {seconds:g} s.")
        message_id, place = found
        return WaitedMessage(await message_detail(message_service, tenant_id, message_id), place.encode())


def _statuses(text: str | None) -> list[str]:
    """``Delivered,Read`` as the statuses' names (in any case); a 400 naming ``status`` otherwise."""
    names = [name.strip() for name in (text or "").split(",") if name.strip()]
    unknown = [name for name in names if name.lower() not in _STATUS_NAMES]
    if unknown or not names:
        given = f"{', '.join(unknown)} is not a status; " if unknown else ""
        raise invalid([FieldError("status", f"{given}give one or more of {', '.join(statuses.ALL)}")])
    return [_STATUS_NAMES[name.lower()] for name in names]
