"""A tenant's events as server-sent events: GET /api/v1/events, and the inbox's live updates.

Each event is one SSE message: ``event:`` its kind (the status taken, or UserMessage), ``id:`` its place in
the stream, ``data:`` its payload as the webhooks receive it. A client that resumes (``Last-Event-ID``) gets
what happened after that event from the database, then the live events: at least once, as a webhook. Some
events from just before the one named come again (those that could have committed after it; their ids are
the same).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID

import msgspec
from litestar.response import ServerSentEventMessage

from gateway.events.tail import OVERLAP, Ended, Event, EventTail, replay
from gateway.lib.clock import now
from gateway.lib.pagination import Cursor
from gateway.store import outbox, statuses

KEEP_ALIVE_SECONDS = 15.0  # a comment this often when nothing happens: proxies keep the connection open
# How far before the event a resuming client names the stream goes back: an event committed that much
# late (OVERLAP), and read a poll after the named one, may have been handed out after it.
REPLAY_BACK = 2 * OVERLAP
LISTENING = "listening"  # the first comment: from here on every event committed is in the stream
# Every ``event:`` name the stream sends (Event.kind): a script's EventSource listens for each by name.
KINDS = tuple(outbox.USER_MESSAGE if status == statuses.RECEIVED else status for status in statuses.ALL)


def as_message(event: Event) -> ServerSentEventMessage:
    return ServerSentEventMessage(data=msgspec.json.encode(event.payload).decode(), event=event.kind, id=event.cursor)


async def event_stream(
    tail: EventTail,
    tenant_id: UUID,
    *,
    traffic_account_id: UUID | None = None,
    resume: Cursor | None = None,
    listening: ServerSentEventMessage | None = None,
) -> AsyncIterator[ServerSentEventMessage]:
    """The tenant's (or its traffic account's) events from now, or, with ``resume`` (a Last-Event-ID), from
    that event on, until the client goes away (or, having fallen far behind, is told to resume: the stream
    ends; or the server stops). Holds no database connection while it waits. Once subscribed it sends
    ``listening``, by default the comment ``: listening`` (a page's script sees no comment: the inbox's is an
    event)."""
    async with tail.subscribe(tenant_id, traffic_account_id=traffic_account_id) as subscription:
        yield listening or ServerSentEventMessage(comment=LISTENING, data=None)
        listening_since = now()
        replayed: set[UUID] = set()  # those the subscription may hand out again
        if resume is not None:
            async for event in replay(tail.sessions, tenant_id, resume.created_at - REPLAY_BACK, traffic_account_id):
                if event.occurred_at >= listening_since - REPLAY_BACK:
                    replayed.add(event.id)
                yield as_message(event)
        while True:
            try:
                event = await subscription.next(KEEP_ALIVE_SECONDS)
            except Ended:  # fell behind (it resumes), or the server stops
                return
            if event is None:
                yield ServerSentEventMessage(comment="keep-alive", data=None)
            elif event.id not in replayed:
                yield as_message(event)
