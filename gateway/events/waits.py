"""Long-polls on the event tail: until a message reaches a status, until the next message arrives.

A wait subscribes first, then reads the database (the message's status, or a message already there), then
waits on the subscription: a change committed between the two is in one or the other, and no database
connection is held while it waits (the caller's reads release theirs).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Collection
from enum import Enum
from uuid import UUID

from gateway.events.tail import Closed, Event, EventTail, Subscription
from gateway.lib.clock import now
from gateway.lib.pagination import Cursor
from gateway.lib.problems import Problem
from gateway.store import statuses


class Outcome(Enum):
    REACHED = "reached"
    UNREACHABLE = "unreachable"  # the message ended (or went past) where none of the statuses can follow
    TIMED_OUT = "timed out"


async def until_status(
    tail: EventTail,
    tenant_id: UUID,
    message_id: UUID,
    wanted: Collection[str],
    current: Callable[[], Awaitable[dict[int, str]]],
    *,
    seconds: float,
) -> Outcome:
    """Wait until the message has taken (or gone past) one of ``wanted``, now or at any time before: the
    answer doesn't depend on when the wait starts. ``current`` reads its status history (each status by its
    sequence; it raises when there is no such message)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    async with tail.subscribe(tenant_id, message_id=message_id) as subscription:
        history = await current()
        while True:
            if statuses.reached(history.values(), wanted):
                return Outcome.REACHED
            if statuses.unreachable(history.values(), history[max(history)], wanted):
                return Outcome.UNREACHABLE
            if (event := await _next(subscription, deadline - loop.time())) is None:
                return Outcome.TIMED_OUT
            history[event.sequence] = event.status  # by sequence: one read may hand out two out of order


async def next_message(
    tail: EventTail,
    tenant_id: UUID,
    after: Cursor | None,
    first_after: Callable[[Cursor], Awaitable[tuple[UUID, Cursor] | None]],
    *,
    seconds: float,
    traffic_account_id: UUID | None = None,
    direction: str | None = None,
) -> tuple[UUID, Cursor] | None:
    """The first message (of the account, in the direction) after ``after`` in creation order, as the Messages
    list orders them, or without ``after`` the first created from now; its place in that order. None when none
    comes within ``seconds``. ``first_after`` reads the first such message there is."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    async with tail.subscribe(tenant_id, traffic_account_id=traffic_account_id) as subscription:
        if after is None:
            after = Cursor(now(), UUID(int=0))
        elif (found := await first_after(after)) is not None:
            return found
        while (event := await _next(subscription, deadline - loop.time())) is not None:
            place = event.message_cursor
            # A message's first event (sequence 1) is its creation.
            if event.sequence == 1 and direction in (None, event.direction) and _later(place, after):
                return event.message_id, place
    return None


async def _next(subscription: Subscription, within: float) -> Event | None:
    try:
        return await subscription.next(within)
    except Closed:
        raise Problem(503, "unavailable", "The server is stopping: wait again.", headers={"Retry-After": "1"}) from None


def _later(place: Cursor, than: Cursor) -> bool:
    return (place.created_at, place.id) > (than.created_at, than.id)
