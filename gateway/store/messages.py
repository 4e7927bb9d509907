"""The message store: every write to messages and their status events, and the webhook events their
changes raise (gateway.store.outbox), in the caller's transaction.

Nothing else in the gateway inserts or updates these tables (tests/unit/test_store_ownership.py fails
otherwise), so a message's life reads in one place: accepted (Ready, or Created for a failover step
that waits), claimed by a worker under a lease, sent, reported on, received (inbound), activated (a
failover step's turn), expired. Every status change, failover activation included, is a conditional
UPDATE (the current status must be one the new status may follow, gateway.store.statuses), so
concurrent callbacks and workers never lose one another's change or move a status backwards, on
Postgres and on SQLite alike; many changes are written with a few statements (group commit).

The store does not act on what follows from a change: it returns it (``Applied``), and the caller
hands a failover chain's step to gateway.messages.failover.follow, and tells the dispatchers that a
message became due.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Column, Integer, Row, Table, Update, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from channels.base import InboundMessage
from channels.registry import all_channels
from gateway import metrics
from gateway.lib.clock import now
from gateway.lib.db import in_chunks, unnested
from gateway.lib.ids import new_id, new_ids
from gateway.models import NAME_MAX, Conversation, Message, MessageEvent, TrafficAccount, Webhook
from gateway.store import outbox, statuses

COPY_FROM = 200  # rows from which Postgres gets them through COPY
# A message's columns as an UPDATE … RETURNING gave them: read like a Message, without the ORM's cost
# of building, tracking and flushing an object per row.
MessageRow = Row[Any]


@dataclass(slots=True)
class NewMessage:
    """An outbound message to store as Ready; ``conversation_id`` is filled in before it is written."""

    tenant_id: UUID
    traffic_account_id: UUID
    channel: str
    destination: str
    content: dict[str, Any]
    message_parts: int
    reference: str | None
    created_at: datetime.datetime
    valid_until: datetime.datetime
    next_attempt_at: datetime.datetime | None
    status: str = statuses.READY  # or Created: a failover step that waits its turn
    id: UUID = None  # type: ignore[assignment]  (set in __post_init__)
    conversation_id: UUID | None = None
    bulk_id: UUID | None = None
    failover_chain_id: UUID | None = None
    failover_step: int | None = None
    notify_webhook_id: UUID | None = None  # sent through a compatible API: where its status reports go
    notify: dict[str, Any] | None = None  # ... and what to report there (gateway.store.outbox.notify_value)

    def __post_init__(self) -> None:
        self.id = self.id or new_id()

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tenant_id": self.tenant_id,
            "traffic_account_id": self.traffic_account_id,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "direction": "outbound",
            "destination": self.destination,
            "status": self.status,
            "sequence": 1,
            "message_parts": self.message_parts,
            "content": self.content,
            "reference": self.reference,
            "attempts": 0,
            "next_attempt_at": self.next_attempt_at,
            "valid_until": self.valid_until,
            "created_at": self.created_at,
            "updated_at": self.created_at,
            "bulk_id": self.bulk_id,
            "failover_chain_id": self.failover_chain_id,
            "failover_step": self.failover_step,
            "notify_webhook_id": self.notify_webhook_id,
            "notify": self.notify,
        }

    def as_message(self) -> Message:
        """A detached Message with the stored values, for building answers."""
        return Message(**self.row())


@dataclass(slots=True)
class StatusChange:
    """A status a message should take. ``values``: further columns set in the same update (provider id,
    lease release...); ``lease_owner``: the change applies only while this worker holds the lease."""

    message_id: UUID
    status: str
    error_code: str | None = None
    description: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    lease_owner: str | None = None


@dataclass(slots=True)
class Applied:
    """What status changes did: per change its message as it is afterwards, or None when the rule (or
    the lease) didn't allow it; and what follows, for the caller to act on."""

    changes: Sequence[StatusChange] = ()
    moved: list[MessageRow | None] = field(default_factory=list)

    def __iadd__(self, other: Applied) -> Applied:
        self.changes = [*self.changes, *other.changes]
        self.moved += other.moved
        return self

    @property
    def failover_steps(self) -> list[tuple[MessageRow, str]]:
        """Steps of failover chains that moved, with their new status: a chain may end or move on."""
        return [
            (message, change.status)
            for change, message in zip(self.changes, self.moved, strict=True)
            if message is not None and message.failover_chain_id is not None
        ]

    @property
    def now_due(self) -> int:
        """How many messages became Ready (a failover step's turn): the dispatchers have work."""
        return sum(
            1
            for change, message in zip(self.changes, self.moved, strict=True)
            if message is not None and change.status == statuses.READY
        )


# Accepting.


async def insert_accepted(connection: AsyncConnection, messages: Sequence[NewMessage]) -> None:
    """Messages (their conversations filled in) and their first status events, in the caller's
    transaction: with Postgres' COPY when there are many."""
    if connection.dialect.name == "postgresql" and len(messages) >= COPY_FROM:
        await copy_accepted(connection, messages, accepted_records(messages))
        return
    events = [
        {"id": new_id(), "message_id": m.id, "sequence": 1, "status": m.status, "occurred_at": m.created_at}
        for m in messages
    ]
    await connection.execute(insert(Message.__table__), [m.row() for m in messages])
    await connection.execute(insert(MessageEvent.__table__), events)


# The columns COPY writes a message's row to (NewMessage.row's keys, in their order), and its first event's.
_MESSAGE_COLUMNS = (
    "id",
    "tenant_id",
    "traffic_account_id",
    "conversation_id",
    "channel",
    "direction",
    "destination",
    "status",
    "sequence",
    "message_parts",
    "content",
    "reference",
    "attempts",
    "next_attempt_at",
    "valid_until",
    "created_at",
    "updated_at",
    "bulk_id",
    "failover_chain_id",
    "failover_step",
    "notify_webhook_id",
    "notify",
)
_CONVERSATION_AT = _MESSAGE_COLUMNS.index("conversation_id")
_EVENT_COLUMNS = ("id", "message_id", "sequence", "status", "occurred_at")


@dataclass(slots=True)
class AcceptedRecords:
    """The COPY records of accepted messages and of their first events (gateway.messages.acceptor makes them
    while Postgres makes the messages' conversations; ``copy_accepted`` fills the conversation ids in)."""

    messages: list[list[Any]]
    events: list[tuple[Any, ...]]

    def __iadd__(self, other: AcceptedRecords) -> AcceptedRecords:
        self.messages += other.messages
        self.events += other.events
        return self


def accepted_records(messages: Sequence[NewMessage]) -> AcceptedRecords:
    """The records of ``messages`` (conversation ids left out) and of their first events, as COPY takes
    them: the values of NewMessage.row (tests/unit/test_accepted_records.py holds them to it), made
    without a dict per row; a JSON value shared by many messages (a bulk send's content) made text once."""
    texts: dict[int, str] = {}  # by id(): the values stay alive (the messages hold them) while they are made

    def text(value: Any) -> str | None:
        if value is None:
            return None
        if (made := texts.get(id(value))) is None:
            made = texts[id(value)] = json.dumps(value)
        return made

    records = [
        [
            m.id,
            m.tenant_id,
            m.traffic_account_id,
            None,
            m.channel,
            "outbound",
            m.destination,
            m.status,
            1,
            m.message_parts,
            text(m.content),
            m.reference,
            0,
            m.next_attempt_at,
            m.valid_until,
            m.created_at,
            m.created_at,
            m.bulk_id,
            m.failover_chain_id,
            m.failover_step,
            m.notify_webhook_id,
            text(m.notify),
        ]
        for m in messages
    ]
    ids = new_ids(len(messages))
    events = [(event_id, m.id, 1, m.status, m.created_at) for event_id, m in zip(ids, messages, strict=True)]
    return AcceptedRecords(records, events)


async def copy_accepted(connection: AsyncConnection, messages: Sequence[NewMessage], records: AcceptedRecords) -> None:
    """The messages' rows (``records`` of them, their conversation ids now filled in) and their first events,
    with Postgres' COPY (a tenth of the time an INSERT of the same rows takes), in the caller's transaction."""
    for record, m in zip(records.messages, messages, strict=True):
        record[_CONVERSATION_AT] = m.conversation_id
    raw = (await connection.get_raw_connection()).driver_connection
    await raw.copy_records_to_table(Message.__table__.name, records=records.messages, columns=_MESSAGE_COLUMNS)
    await raw.copy_records_to_table(MessageEvent.__table__.name, records=records.events, columns=_EVENT_COLUMNS)


async def insert_with_first_events(connection: AsyncConnection, messages: Sequence[NewMessage]) -> None:
    """Messages and their first status events in one statement, on an AUTOCOMMIT connection: one round
    trip instead of four (BEGIN, two INSERTs, COMMIT), each of them a turn of a busy event loop that
    every send waits for. Through SQLAlchemy, not the raw driver: a connection that died (a database
    restart) is then invalidated, not handed out again. Postgres only."""
    rows = [m.row() for m in messages]
    columns = tuple(rows[0])
    json_columns = _json_columns(Message.__table__)
    arrays = [[_json_text(row[c]) if c in json_columns else row[c] for row in rows] for c in columns]
    arrays.append([new_id() for _ in rows])  # the events' ids
    await connection.exec_driver_sql(_insert_with_first_events_sql(columns), tuple(arrays))


@functools.cache
def _json_columns(table: Table) -> frozenset[str]:
    """The columns whose values go to asyncpg as JSON text when they bypass SQLAlchemy's types (COPY, the
    one statement's arrays): asyncpg takes them as Postgres would."""
    return frozenset(column.name for column in table.columns if isinstance(column.type, JSON))


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


@functools.cache
def _insert_with_first_events_sql(columns: tuple[str, ...]) -> str:
    """The rows come as one array per column, so the statement's text is the same for any number of
    rows (asyncpg prepares it once per connection); the events are made from the same rows."""
    table = Message.__table__

    def array_type(column: Column[Any]) -> str:  # VARCHAR(n) and JSON travel as text, cast when stored
        if isinstance(column.type, JSON):
            return "text"
        compiled = column.type.compile(dialect=postgresql.dialect())
        return "text" if compiled.startswith("VARCHAR") else compiled

    arrays = ", ".join(f"${i}::{array_type(table.c[name])}[]" for i, name in enumerate(columns, start=1))
    values = ", ".join(f"{name}::jsonb" if isinstance(table.c[name].type, JSON) else name for name in columns)
    names = ", ".join(columns)
    return (
        f"WITH given AS (SELECT * FROM unnest({arrays}, ${len(columns) + 1}::uuid[]) AS given({names}, event_id)),"
        f" stored AS (INSERT INTO {table.name} ({names}) SELECT {values} FROM given)"
        f" INSERT INTO {MessageEvent.__table__.name} (id, message_id, sequence, status, occurred_at)"
        " SELECT event_id, id, 1, status, created_at FROM given"
    )


# Dispatching.


async def claim(
    session: AsyncSession, owner: str, at: datetime.datetime, until: datetime.datetime, limit: int
) -> list[MessageRow]:
    """Lease up to ``limit`` due messages (Ready, their next attempt passed, nobody's lease running) to
    ``owner`` until ``until``: their whole rows, so sending them needs no further read (as rows: ORM
    objects cost more than the rest of the claim). The caller commits."""
    query = _claim_statement(session.bind.dialect.name == "postgresql")
    result = await session.execute(query, {"c_at": at, "c_owner": owner, "c_until": until, "c_limit": limit})
    return list(result.all())


@functools.cache
def _claim_statement(skip_locked: bool) -> Update:
    """The claim, built once: SQLAlchemy then finds its compiled form without working out the cache key of
    a statement returning every column again (on every claim, a worker's busiest statement)."""
    table = Message.__table__
    at = bindparam("c_at", type_=table.c.lease_until.type)
    free = or_(table.c.lease_until.is_(None), table.c.lease_until < at)
    due = (
        select(table.c.id)
        .where(table.c.status == statuses.READY, table.c.next_attempt_at <= at, free)
        .order_by(table.c.next_attempt_at)
        .limit(bindparam("c_limit", type_=Integer))
    )
    if skip_locked:
        due = due.with_for_update(skip_locked=True)
    return (
        update(table)
        .where(table.c.id.in_(due.scalar_subquery()), free)
        .values(
            lease_owner=bindparam("c_owner", type_=table.c.lease_owner.type),
            lease_until=bindparam("c_until", type_=table.c.lease_until.type),
        )
        .returning(*table.c)
    )


async def set_while_leased(
    session: AsyncSession, owner: str, updates: Sequence[tuple[UUID, dict[str, Any], bool]], at: datetime.datetime
) -> None:
    """Set columns of messages (no status change: a retry's note and time, a lease given back) while
    ``owner`` still holds their lease (a worker that lost it must not undo another's work); with the
    third element only while Ready (a retry note must not overwrite what a callback made of the
    message meanwhile). One statement per shape of update."""
    table = Message.__table__
    shapes: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for message_id, values, still_ready in updates:
        row = {"key_id": message_id, "updated_at": at, **values}
        shapes.setdefault((still_ready, *sorted(row)), []).append(row)
    for (still_ready, *columns), rows in shapes.items():
        query = update(table).where(table.c.id == bindparam("key_id"), table.c.lease_owner == owner)
        if still_ready:
            query = query.where(table.c.status == statuses.READY)
        setting = {column: bindparam(column) for column in columns if column != "key_id"}
        await session.execute(query.values(setting), rows)


# Status changes.


async def change_statuses(session: AsyncSession, changes: Sequence[StatusChange]) -> Applied:
    """Apply many status changes in the caller's transaction, in a few statements whatever their
    number, with their status events and webhook events.

    Each is one conditional UPDATE of the row (its current status must be one the new status may
    follow), so concurrent callbacks and workers never lose one another's change or move a status
    backwards: Postgres re-checks the condition after waiting for a row lock, SQLite writes one at a
    time. A message changed twice in one call takes its changes in order."""
    at = now()
    moved: list[MessageRow | None] = [None] * len(changes)
    rounds: list[list[int]] = []  # the n-th change of a message goes in the n-th round
    seen: dict[UUID, int] = {}
    for index, change in enumerate(changes):
        turn = seen[change.message_id] = seen.get(change.message_id, -1) + 1
        if turn == len(rounds):
            rounds.append([])
        rounds[turn].append(index)
    for indices in rounds:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for index in indices:
            change = changes[index]
            groups.setdefault((change.status, change.lease_owner, *sorted(_columns(change))), []).append(index)
        for group in groups.values():
            updated = await _update_statuses(session, [changes[index] for index in group], at)
            for index in group:
                moved[index] = updated.get(changes[index].message_id)
        # Recorded before the next round changes the same messages again.
        await _add_events(
            session, [(changes[index], moved[index]) for index in indices if moved[index] is not None], at
        )
    metrics.statuses_changed(changes, moved, at)
    return Applied(changes, moved)


async def activate_steps(session: AsyncSession, steps: dict[int, list[UUID]], at: datetime.datetime) -> Applied:
    """Make the given step of each failover chain (step -> chains) Ready to send now, if it is still
    Created (whatever raced, a step is activated once)."""
    ids = []
    for step, chain_ids in steps.items():  # usually one step for the whole batch
        ids += await session.scalars(
            select(Message.id).where(
                Message.failover_chain_id.in_(chain_ids),
                Message.failover_step == step,
                Message.status == statuses.CREATED,
            )
        )
    return await change_statuses(
        session, [StatusChange(i, statuses.READY, values={"next_attempt_at": at}) for i in ids]
    )


async def _add_events(
    session: AsyncSession, done: list[tuple[StatusChange, MessageRow]], at: datetime.datetime
) -> None:
    """The status events of messages that moved, and the webhook events they raise."""
    failing = (statuses.FAILED, statuses.EXPIRED)
    if not done:
        return
    events = [
        {
            "message_id": message.id,
            "sequence": message.sequence,
            "status": change.status,
            "error_code": message.error_code if change.status in failing else None,
            "description": message.description if change.status in failing else None,
            "occurred_at": at,
        }
        for change, message in done
    ]
    await session.execute(insert(MessageEvent.__table__), events)
    await _add_compatible_reports(session, [(message, change.status) for change, message in done], at)
    triggered = [
        (message, trigger) for change, message in done if (trigger := outbox.TRIGGER_OF_STATUS.get(change.status))
    ]
    if triggered:
        webhooks = await outbox.webhooks_of(session, {message.traffic_account_id for message, _ in triggered})
        wanted = [
            (message, trigger)
            for message, trigger in triggered
            if any(trigger in webhook.triggers for webhook in webhooks.get(message.traffic_account_id, []))
        ]  # the others need no payload
        names = await _user_names(session, {message.conversation_id for message, _ in wanted})
        rows = []
        for message, trigger in wanted:
            account = await _account(session, message)
            payload = outbox.status_payload(message, trigger, at, account, names.get(message.conversation_id))
            rows += outbox.event_rows(message, trigger, payload, webhooks[message.traffic_account_id])
        await outbox.insert_events(session, rows)


async def report_interim(session: AsyncSession, reports: Sequence[tuple[UUID, str]]) -> None:
    """Interim reports (StatusReport.interim: the provider still tries) on messages, in the caller's transaction:
    a message sent through a compatible API reports each to the customer while it is Sent (one delivered or ended is
    past it). A repeat is reported again: the provider said it again.

    The message's sequence moves on, its status does not, in one conditional UPDATE as a status change's: the report
    then waits behind the message's earlier reports (its SENT) and a later one behind it, and a message another
    process has just made Delivered is not reported (Postgres re-checks the condition after the row lock)."""
    names = dict(reports)  # one per message: a repeat within one batch says nothing more
    table = Message.__table__
    moved: list[MessageRow] = []
    for chunk in in_chunks(list(names)):
        query = (
            update(table)
            .where(table.c.id.in_(chunk), table.c.status == statuses.SENT, table.c.notify_webhook_id.is_not(None))
            .values(sequence=table.c.sequence + 1)
            .returning(*table.c)
        )
        moved += (await session.execute(query)).all()
    await _add_compatible_reports(session, [(message, names[message.id]) for message in moved], now())


async def _add_compatible_reports(
    session: AsyncSession, done: list[tuple[MessageRow, str]], at: datetime.datetime
) -> None:
    """The reports of messages sent through a channel's compatible API (a new status, or an interim report's
    name), through the webhook of the origin each was sent with: the request the channel makes of it and the
    message's own Notify (its callback format, its full URL), or none."""
    noted = [(message, what) for message, what in done if message.notify is not None]
    if not noted:
        return
    webhook_ids = {message.notify_webhook_id for message, _ in noted}
    webhooks = {
        w.id: w
        for w in await session.scalars(
            select(Webhook).where(Webhook.id.in_(webhook_ids), Webhook.kind == outbox.COMPATIBLE)
        )
    }
    rows = []
    for message, what in noted:
        report = all_channels()[message.channel].compatible_report
        if report is None or (webhook := webhooks.get(message.notify_webhook_id)) is None:
            continue  # the channel no longer has a compatible API (a compatible webhook goes only with its tenant)
        settings = (await _account(session, message)).settings
        if (request := report(message, what, at, outbox.notify_of(message, webhook), settings)) is not None:
            rows.append(outbox.compatible_event_row(message, what, request, webhook.id))
    await outbox.insert_events(session, rows)


def _columns(change: StatusChange) -> dict[str, Any]:
    """What the update sets besides status, sequence and time: error fields only when failing."""
    if change.status in (statuses.FAILED, statuses.EXPIRED):
        return {"error_code": change.error_code, "description": change.description, **change.values}
    return change.values


async def _update_statuses(session: AsyncSession, changes: list[StatusChange], at: datetime.datetime) -> dict:
    """One group of changes (same status, lease and columns) in one UPDATE … RETURNING on Postgres,
    one per change on SQLite (whose UPDATE … FROM can't name the columns of a VALUES list); the moved
    messages by id. Columns with the same value in every change are set as one constant.

    On Postgres the changes come as one array per column, unnested: the same statement whatever the
    number of changes, so it is compiled and prepared once (a VALUES list of the rows was compiled by
    SQLAlchemy, and prepared by Postgres, again for every new batch size)."""
    status, lease_owner = changes[0].status, changes[0].lease_owner
    table = Message.__table__
    columns = [_columns(change) for change in changes]
    shared = {key: value for key, value in columns[0].items() if all(c[key] == value for c in columns)}
    varying = [key for key in columns[0] if key not in shared]
    if session.bind.dialect.name == "postgresql":
        query = _status_update(status, lease_owner is not None, tuple(shared), tuple(varying))
        params = {"s_at": at, **{f"s_{key}": value for key, value in shared.items()}}
        params |= {"w_lease_owner": lease_owner} if lease_owner is not None else {}
        arrays = {f"b_{key}": [c[key] for c in columns] for key in varying}
        moved = await session.execute(query, {**params, "b_id": [change.message_id for change in changes], **arrays})
        return {message.id: message for message in moved}
    allowed = [current for current in statuses.ALL if statuses.can_move(current, status)]
    base = (
        update(table)
        .where(table.c.status.in_(allowed))
        .values(status=status, sequence=table.c.sequence + 1, updated_at=at, **shared)
        .returning(*table.c)
    )
    if lease_owner is not None:
        base = base.where(table.c.lease_owner == lease_owner)
    updated = {}
    for change, own in zip(changes, columns, strict=True):
        query = base.where(table.c.id == change.message_id).values({key: own[key] for key in varying})
        if (message := (await session.execute(query)).first()) is not None:
            updated[message.id] = message
    return updated


@functools.lru_cache(maxsize=256)
def _status_update(status: str, leased: bool, shared: tuple[str, ...], varying: tuple[str, ...]) -> Update:
    """The Postgres UPDATE … RETURNING of a group of changes, built once per shape (the values come as
    parameters, ``s_<column>`` and arrays ``b_<column>``): SQLAlchemy then finds its compiled form without
    working out again the cache key of a statement returning every column (twice per message sent)."""
    table = Message.__table__
    allowed = [current for current in statuses.ALL if statuses.can_move(current, status)]
    constants = {key: bindparam(f"s_{key}", type_=table.c[key].type) for key in shared}
    given = unnested(table, {"id": "b_id"} | {key: f"b_{key}" for key in varying})
    query = (
        update(table)
        .where(table.c.status.in_(allowed), table.c.id == given.c.id)
        .values(
            status=status, sequence=table.c.sequence + 1, updated_at=bindparam("s_at", type_=table.c.updated_at.type)
        )
        .values(constants)
        .values({key: given.c[key] for key in varying})
        .returning(*table.c)
    )
    if leased:
        query = query.where(table.c.lease_owner == bindparam("w_lease_owner", type_=table.c.lease_owner.type))
    return query


async def _user_names(session: AsyncSession, conversation_ids: set[UUID]) -> dict[UUID, str]:
    """The users' latest known names, by conversation (those without one left out)."""
    names: dict[UUID, str] = {}
    query = select(Conversation.id, Conversation.participant_name).where(Conversation.participant_name.is_not(None))
    for chunk in in_chunks(list(conversation_ids)):
        names.update((c, name) for c, name in await session.execute(query.where(Conversation.id.in_(chunk))))
    return names


async def _account(session: AsyncSession, message: Message | MessageRow) -> TrafficAccount:
    account = await session.get(TrafficAccount, message.traffic_account_id)
    assert account is not None  # a message is deleted with its traffic account
    return account


# Inbound messages.


async def receive(
    session: AsyncSession, account: TrafficAccount, conversation: Conversation, sender: str, inbound: InboundMessage
) -> bool:
    """Store a message a user sent (Received) with its event and its UserMessage webhook events, and
    commit; False when the provider repeated one already stored (it is stored once). The user's name, when
    the message gives one, becomes the conversation's; a ``relatesTo`` gets the id of the message it names."""
    at = now()
    name = (inbound.sender_name or "").strip()[:NAME_MAX] or None
    message = Message(
        tenant_id=account.tenant_id,
        traffic_account_id=account.id,
        conversation_id=conversation.id,
        channel=account.channel,
        direction="inbound",
        destination=sender,
        status=statuses.RECEIVED,
        sequence=1,
        content=await _with_related_id(session, account.id, inbound.content),
        provider_message_id=inbound.provider_message_id,
        sender_name=name,
        created_at=at,
        updated_at=at,
    )
    try:
        async with session.begin_nested():
            session.add(message)
    except IntegrityError:  # the same message, repeated concurrently by the provider
        await session.rollback()
        return False
    if name is not None:
        conversation.participant_name = name
    session.add(MessageEvent(message_id=message.id, sequence=1, status=statuses.RECEIVED, occurred_at=at))
    await outbox.add_webhook_events(
        session, message, outbox.USER_MESSAGE, outbox.user_message_payload(message, account, conversation)
    )
    await _forward_compatible(session, account, message, inbound)
    await session.commit()
    return True


async def _forward_compatible(
    session: AsyncSession, account: TrafficAccount, message: Message, inbound: InboundMessage
) -> None:
    """A user's message forwarded in the channel's compatible API's own format, where the account's settings
    say (the SMS API's inboundUrl), through a ``compatible`` webhook."""
    channel = all_channels()[account.channel]
    if channel.compatible_inbound_target is None or channel.compatible_inbound is None:
        return
    if (notify := channel.compatible_inbound_target(account.settings)) is None:
        return
    webhook_id, _ = await outbox.compatible_webhook(session, account.tenant_id, notify.method, notify.url)
    request = channel.compatible_inbound(message, inbound, account.settings, notify)
    await outbox.insert_events(
        session, [outbox.compatible_event_row(message, outbox.USER_MESSAGE, request, webhook_id)]
    )


# Conversion (a channel's compatible API).


async def mark_converted(session: AsyncSession, tenant_id: UUID, account_ids: list[UUID], message_id: UUID) -> bool:
    """Mark the tenant's outbound message of one of these traffic accounts converted (the first time counts; again
    changes nothing), and commit; False when there is no such message."""
    table = Message.__table__
    marked = await session.execute(
        update(table)
        .where(
            table.c.id == message_id,
            table.c.tenant_id == tenant_id,
            table.c.traffic_account_id.in_(account_ids),
            table.c.direction == "outbound",
        )
        .values(converted_at=func.coalesce(table.c.converted_at, now()))
    )
    await session.commit()
    return marked.rowcount == 1


async def _with_related_id(session: AsyncSession, account_id: UUID, content: dict[str, Any]) -> dict[str, Any]:
    """``content`` with ``relatesTo.messageId``: our id of the message (sent or received on this traffic
    account) whose provider id it names, when there is one (one lookup, on ix_message_provider_id)."""
    relates_to = content.get("relatesTo")
    if not isinstance(relates_to, dict) or "messageId" in relates_to or not relates_to.get("providerMessageId"):
        return content
    query = select(Message.id).where(
        Message.traffic_account_id == account_id, Message.provider_message_id == relates_to["providerMessageId"]
    )
    related = await session.scalar(query.limit(1))
    if related is None:
        return content
    return {**content, "relatesTo": {**relates_to, "messageId": str(related)}}


async def purge_untriggered(session: AsyncSession, before: datetime.datetime) -> int:
    """Delete the failover steps never triggered (still Created) made before ``before``; how many. The
    caller commits."""
    purged = await session.execute(
        delete(Message).where(Message.status == statuses.CREATED, Message.created_at < before)
    )
    return purged.rowcount
