"""The event tail: the tenants' message events (status changes and user messages) as they are committed,
fanned out to whoever listens in this process (GET /api/v1/events, the Messages wait long-polls, the inbox).

One per process (``Runtime.event_tail``), running only while someone listens, and reading only the events
of the tenants someone listens to. About every READ_INTERVAL it reads their new ``message_event`` rows with
their message, releasing its connection between reads, and hands each to the subscriptions of its tenant; a
tenant's first read (someone starts to listen to it) only sets its starting point. A process that commits a
status change says so (WorkDue.statuses_changed), so that its own changes are read at once rather than at
the next interval; those of other processes (a worker) wait for the interval.

Transactions commit out of ``occurred_at`` order: ``occurred_at`` is the writer's clock when it made the
change, before it committed. So each read goes back OVERLAP before the previous read began, and skips the
events it has already seen in that window: an event is neither missed nor repeated as long as it is committed
within OVERLAP of its ``occurred_at`` (and the processes' clocks agree within that). Each read is one narrow
query of the window's ids (on ix_message_event_occurred, joined to their message for its tenant), and one
more for the rows of those not seen yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.lib.clock import now
from gateway.lib.db import in_chunks
from gateway.lib.pagination import Cursor
from gateway.lib.work_due import EVENTS, WorkDue
from gateway.models import Conversation, Message, MessageEvent, TrafficAccount
from gateway.store import outbox, statuses

log = logging.getLogger(__name__)

READ_INTERVAL = 0.2  # seconds between reads while someone listens
POKED_GAP = 0.02  # seconds between reads at least, however often the process pokes (a busy one commits often)
OVERLAP = datetime.timedelta(seconds=5)  # how late after its occurred_at an event may commit and still be seen
MAX_QUEUED = 10_000  # events waiting for one subscriber; beyond, it has fallen behind (Lagged)
REPLAY_PAGE = 500


@dataclass(frozen=True)
class Event:
    """One status change of a message (its first status too: Ready, Created or Received), with what its
    subscribers filter on, and its webhook-shaped ``payload``."""

    id: UUID  # the message_event row
    tenant_id: UUID
    message_id: UUID
    traffic_account_id: UUID
    channel: str
    direction: str  # outbound or inbound
    status: str
    sequence: int  # the message's, at this event (1: the message was created)
    occurred_at: datetime.datetime
    created_at: datetime.datetime  # the message's
    row: Any  # the joined row (``_JOINED``), read when the payload is first wanted

    @property
    def kind(self) -> str:
        """The payload's ``event``: UserMessage for a user's message, else the status taken."""
        return outbox.USER_MESSAGE if self.status == statuses.RECEIVED else self.status

    @property
    def cursor(self) -> str:
        """The event's place in the stream (its id there: `Last-Event-ID` resumes after it)."""
        return Cursor(self.occurred_at, self.id).encode()

    @property
    def message_cursor(self) -> Cursor:
        """The message's place in the Messages list (creation order)."""
        return Cursor(self.created_at, self.message_id)

    @cached_property
    def payload(self) -> dict[str, Any]:
        """As the webhooks receive it (gateway.store.outbox builds both): a StatusEvent for every status, a
        UserMessageEvent for a user's message. Built once, for the first subscriber that wants it."""
        row = self.row
        account = TrafficAccount(
            id=row.traffic_account_id, channel=row.channel, name=row.account_name, settings=row.account_settings
        )
        if self.kind == outbox.USER_MESSAGE:
            conversation = Conversation(participant_name=row.participant_name)
            return outbox.user_message_payload(row, account, conversation)  # type: ignore[arg-type]
        return outbox.status_payload(row, self.kind, self.occurred_at, account, row.participant_name)

    @classmethod
    def of(cls, row: Any) -> Event:
        return cls(
            row.event_id,
            row.tenant_id,
            row.id,
            row.traffic_account_id,
            row.channel,
            row.direction,
            row.status,
            row.sequence,
            row.occurred_at,
            row.created_at,
            row,
        )


def _of_user_messages(column: Any) -> Any:
    return case((MessageEvent.status == statuses.RECEIVED, column))


# An event with its message as gateway.store.outbox reads a message: the event's status, sequence and error
# in the message's place (the message may have moved on since), the message's id as ``id``. Only a user's
# message (Received) shows what the message says: the others' events leave its content (and name) unread.
_JOINED: Select[Any] = (
    select(
        MessageEvent.id.label("event_id"),
        MessageEvent.status,
        MessageEvent.sequence,
        MessageEvent.error_code,
        MessageEvent.description,
        MessageEvent.occurred_at,
        Message.id,
        Message.tenant_id,
        Message.traffic_account_id,
        Message.conversation_id,
        Message.channel,
        Message.direction,
        Message.destination,
        Message.reference,
        _of_user_messages(Message.content).label("content"),
        _of_user_messages(Message.sender_name).label("sender_name"),
        Message.created_at,
        Conversation.participant_name,
        TrafficAccount.name.label("account_name"),
        TrafficAccount.settings.label("account_settings"),
    )
    .join(Message, Message.id == MessageEvent.message_id)
    .join(Conversation, Conversation.id == Message.conversation_id)
    .join(TrafficAccount, TrafficAccount.id == Message.traffic_account_id)
)


class Ended(Exception):
    """The subscription hands out nothing more."""


class Lagged(Ended):
    """The subscriber took events more slowly than they came, and MAX_QUEUED of them waited: some were
    dropped. A stream ends (its client resumes with Last-Event-ID, from the database)."""


class Closed(Ended):
    """The process is stopping (EventTail.close)."""


_CLOSED = object()  # queued by Subscription.close: wakes the subscriber


class Subscription:
    """The events of one tenant (of one traffic account, of one message) from when it was made."""

    def __init__(self, tenant_id: UUID, traffic_account_id: UUID | None, message_id: UUID | None) -> None:
        self.tenant_id = tenant_id
        self.traffic_account_id = traffic_account_id
        self.message_id = message_id
        self._queue: asyncio.Queue[Event | object] = asyncio.Queue()
        self.lagged = False

    def wants(self, event: Event) -> bool:
        return (self.traffic_account_id is None or event.traffic_account_id == self.traffic_account_id) and (
            self.message_id is None or event.message_id == self.message_id
        )

    def offer(self, event: Event) -> None:
        if self._queue.qsize() >= MAX_QUEUED:
            self.lagged = True
        elif not self.lagged:
            self._queue.put_nowait(event)

    def close(self) -> None:
        self._queue.put_nowait(_CLOSED)

    async def next(self, within: float | None = None) -> Event | None:
        """The next event; None when ``within`` seconds pass first. Lagged once it fell behind, Closed once
        the process stops."""
        if self._queue.empty() and self.lagged:
            raise Lagged
        try:
            async with asyncio.timeout(within):
                event = await self._queue.get()
        except TimeoutError:
            return None
        if event is _CLOSED:
            self._queue.put_nowait(_CLOSED)  # and for any later call
            raise Closed
        assert isinstance(event, Event)
        return event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        while True:
            event = await self.next()
            assert event is not None
            yield event


class EventTail:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], work_due: WorkDue) -> None:
        self.sessions = sessions
        self._poked = work_due.event(EVENTS)  # this process committed status changes (WorkDue.statuses_changed)
        self._subscriptions: dict[UUID, set[Subscription]] = {}  # by tenant
        # The tenants read, each done once a read set its starting point (its events until then are not handed
        # out: they came before its subscriptions).
        self._ready: dict[UUID, asyncio.Future[None]] = {}
        self._seen: dict[UUID, datetime.datetime] = {}  # the window's events already read: their times
        self._task: asyncio.Task[None] | None = None

    @property
    def subscribers(self) -> int:
        return sum(len(subscriptions) for subscriptions in self._subscriptions.values())

    @contextlib.asynccontextmanager
    async def subscribe(
        self, tenant_id: UUID, *, traffic_account_id: UUID | None = None, message_id: UUID | None = None
    ) -> AsyncIterator[Subscription]:
        """A subscription to the events committed from now on. Once this returns, every event committed
        after it is handed to the subscription, so a subscriber reads the database afterwards (the message's
        status, the events before) and misses nothing in between; it may see an event both ways."""
        subscription = Subscription(tenant_id, traffic_account_id, message_id)
        self._subscriptions.setdefault(tenant_id, set()).add(subscription)
        try:
            if (ready := self._ready.get(tenant_id)) is None:
                ready = self._ready[tenant_id] = asyncio.get_running_loop().create_future()
                self._poked.set()  # its starting point is read at once, not at the next interval
            if self._task is None:
                self._task = asyncio.create_task(self._run(), name="event tail")
            await asyncio.shield(ready)  # that read's failure (the database is down) is the caller's
            yield subscription
        finally:
            tenants = self._subscriptions.get(tenant_id, set())
            tenants.discard(subscription)
            if not tenants:  # nobody listens to it: no more reads of its events
                self._subscriptions.pop(tenant_id, None)
                self._ready.pop(tenant_id, None)

    def close(self) -> None:
        """The process is stopping: every subscription ends now (Closed), so that the streams and long-polls
        don't hold up its graceful shutdown until they are cut."""
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.close()

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        since: datetime.datetime | None = None  # where the next read starts
        try:
            while self._subscriptions:
                began = now()
                tenants = dict(self._ready)  # those subscribing to a new tenant during the read wait for the next
                try:
                    events = await self._read(since or began - OVERLAP, tenants)
                except Exception as error:  # noqa: BLE001  (the database may be back at the next read)
                    log.warning("the event tail could not read the events: %s", error)
                    for tenant_id, ready in tenants.items():  # the subscribers waiting for it learn why it failed
                        if not ready.done():
                            ready.set_exception(error)
                            if self._ready.get(tenant_id) is ready:
                                del self._ready[tenant_id]
                else:
                    self._hand_out(events)
                    since = began - OVERLAP
                    self._seen = {key: at for key, at in self._seen.items() if at >= since}
                    for ready in tenants.values():
                        if not ready.done():
                            ready.set_result(None)
                await self._pause()
        finally:
            self._task, self._seen = None, {}
            for ready in self._ready.values():
                ready.cancel()
            self._ready = {}

    async def _read(self, since: datetime.datetime, tenants: dict[UUID, asyncio.Future[None]]) -> list[Event]:
        """The events of ``tenants`` in the window from ``since`` not seen yet, in order of occurrence, now
        seen. Those of a tenant not ready yet are not loaded: they only set its starting point."""
        async with self.sessions() as session:
            query = (
                select(MessageEvent.id, MessageEvent.occurred_at, Message.tenant_id)
                .join(Message, Message.id == MessageEvent.message_id)
                .where(MessageEvent.occurred_at >= since, Message.tenant_id.in_(list(tenants)))
            )
            found = await session.execute(query)
            new = {event_id: (at, tenant_id) for event_id, at, tenant_id in found if event_id not in self._seen}
            wanted = [event_id for event_id, (_, tenant_id) in new.items() if tenants[tenant_id].done()]
            rows = []
            for chunk in in_chunks(wanted):
                rows += await session.execute(_JOINED.where(MessageEvent.id.in_(chunk)))
        self._seen.update((event_id, at) for event_id, (at, _) in new.items())
        return sorted((Event.of(row) for row in rows), key=lambda event: (event.occurred_at, event.id))

    def _hand_out(self, events: list[Event]) -> None:
        for event in events:
            ready = self._ready.get(event.tenant_id)
            if ready is None or not ready.done():  # its subscribers left during the read; new ones start later
                continue
            for subscription in self._subscriptions.get(event.tenant_id, ()):
                if subscription.wants(event):
                    subscription.offer(event)

    async def _pause(self) -> None:
        await asyncio.sleep(POKED_GAP)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(READ_INTERVAL - POKED_GAP):
                await self._poked.wait()
        self._poked.clear()


async def replay(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: UUID,
    since: datetime.datetime,
    traffic_account_id: UUID | None = None,
) -> AsyncIterator[Event]:
    """The tenant's events from ``since``, in order of occurrence, read a page at a time (each page with a
    connection of its own, released before the page is handed on)."""
    query = _JOINED.where(Message.tenant_id == tenant_id, MessageEvent.occurred_at >= since)
    if traffic_account_id is not None:
        query = query.where(Message.traffic_account_id == traffic_account_id)
    query = query.order_by(MessageEvent.occurred_at, MessageEvent.id).limit(REPLAY_PAGE)
    after: tuple[datetime.datetime, UUID] | None = None
    while True:
        page = query
        if after is not None:
            at, event_id = after
            page = query.where(
                or_(MessageEvent.occurred_at > at, and_(MessageEvent.occurred_at == at, MessageEvent.id > event_id))
            )
        async with sessions() as session:
            rows = list(await session.execute(page))
        for row in rows:
            yield Event.of(row)
        if len(rows) < REPLAY_PAGE:
            return
        after = (rows[-1].occurred_at, rows[-1].event_id)
