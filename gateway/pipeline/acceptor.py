"""Writing accepted messages, group-committed (gateway.pipeline.group_commit): the sends that arrive
while one transaction is being written are written together in the next.

Accepted means durable: ``accept`` returns only after the transaction holding the messages, their
conversations and their first status events has committed. Bulk sends hand over all their
messages at once.
"""

from __future__ import annotations

import datetime
import functools
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import JSON, Column, Table, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway.db import in_chunks
from gateway.idempotency import KeyedAnswer
from gateway.ids import new_id
from gateway.models import Conversation, FailoverChain, Message, MessageEvent
from gateway.pipeline import statuses
from gateway.pipeline.failover import NewChain
from gateway.pipeline.group_commit import GroupCommit

MAX_BATCH = 2000  # messages in one transaction
COPY_FROM = 200  # rows from which Postgres gets them through COPY
CONVERSATIONS_KEPT = 100_000  # (traffic account, participant) -> conversation id, until deleted
# A constraint a write broke: through SQLAlchemy, or from asyncpg's COPY, which bypasses it.
CONSTRAINT_ERRORS = (IntegrityError, asyncpg.IntegrityConstraintViolationError)


@dataclass(slots=True)
class NewMessage:
    """An outbound message to store as Ready; ``conversation_id`` is filled in when it is written."""

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
        }

    def as_message(self) -> Message:
        """A detached Message with the stored values, for building answers."""
        return Message(**self.row())


@dataclass(slots=True)
class Request:
    """What one caller hands over: written together, or not at all."""

    messages: list[NewMessage]
    chains: list[NewChain] = field(default_factory=list)
    answers: list[KeyedAnswer] = field(default_factory=list)  # an Idempotency-Key's answer, stored alike

    @staticmethod
    def joined(requests: list[Request]) -> Request:
        return Request(
            [m for r in requests for m in r.messages],
            [c for r in requests for c in r.chains],
            [a for r in requests for a in r.answers],
        )


Committed = Callable[[Sequence[NewMessage], Sequence[NewChain]], Awaitable[Any]]


class Acceptor:
    def __init__(self, engine: AsyncEngine, on_committed: Committed | None = None) -> None:
        self.engine = engine
        self.on_committed = on_committed  # wakes the dispatchers, sets the failover timers
        self._group = GroupCommit(
            self._write_all, max_batch=MAX_BATCH, size=lambda request: len(request.messages), committed=self._committed
        )
        self._conversations: dict[tuple[UUID, str], UUID] = {}

    async def accept(
        self, messages: list[NewMessage], chains: Sequence[NewChain] = (), answer: KeyedAnswer | None = None
    ) -> None:
        """Store the messages (status Ready, or Created for a failover step), their failover chains and
        their conversations, and the request's answer with its Idempotency-Key; returns once committed.
        Raises what the database raised if they could not be stored."""
        await self._group.submit(Request(messages, list(chains), [answer] if answer else []))

    async def _write_all(self, requests: list[Request]) -> list[None]:
        await self._write(Request.joined(requests))
        return [None] * len(requests)

    async def _committed(self, requests: list[Request]) -> None:
        if self.on_committed is not None:
            joined = Request.joined(requests)
            await self.on_committed(joined.messages, joined.chains)

    async def _write(self, request: Request) -> None:
        try:
            await self._write_once(request)
        except CONSTRAINT_ERRORS:
            keys = {(m.traffic_account_id, m.destination) for m in request.messages}
            if not keys & self._conversations.keys():
                raise
            # A conversation remembered here may be gone: deleted with its tenant or traffic account, by any
            # process (and `gateway demo` makes the demo's traffic accounts again with the same ids). Look
            # the batch's conversations up again; a write that still fails had another fault.
            for key in keys:
                self._conversations.pop(key, None)
            await self._write_once(request)

    async def _write_once(self, request: Request) -> None:
        messages = request.messages
        if self._in_one_statement(request):
            async with self.engine.connect() as connection:
                await connection.execution_options(isolation_level="AUTOCOMMIT")  # one statement commits alone
                await self._fill_conversations(connection, messages)  # all known: their ids, no query
                await insert_with_first_events(connection, messages)
            return
        async with self.engine.begin() as connection:
            if request.chains:
                await connection.execute(insert(FailoverChain.__table__), [chain.row() for chain in request.chains])
            found = await self._fill_conversations(connection, messages)
            events = [
                {"id": new_id(), "message_id": m.id, "sequence": 1, "status": m.status, "occurred_at": m.created_at}
                for m in messages
            ]
            await insert_rows(connection, Message.__table__, [m.row() for m in messages])
            await insert_rows(connection, MessageEvent.__table__, events)
            for answer in request.answers:  # rendered now: the conversation ids are known
                await answer.store(connection)
        # Remembered once committed: a conversation made in a transaction that failed doesn't exist.
        if len(self._conversations) + len(found) > CONVERSATIONS_KEPT:
            self._conversations.clear()
        self._conversations.update(found)

    def _in_one_statement(self, request: Request) -> bool:
        """The usual batch of sends on Postgres: no failover chain, no Idempotency-Key's answer to store,
        every conversation known, not a bulk send's size (COPY is quicker for those)."""
        return (
            self.engine.dialect.name == "postgresql"
            and not request.chains
            and not request.answers
            and len(request.messages) < COPY_FROM
            and all((m.traffic_account_id, m.destination) in self._conversations for m in request.messages)
        )

    async def _fill_conversations(
        self, connection: AsyncConnection, messages: list[NewMessage]
    ) -> dict[tuple[UUID, str], UUID]:
        """Set each message's conversation id: remembered, found, or made (in the caller's transaction).
        The ones not remembered, for the caller to remember once committed."""
        first_of = {(m.traffic_account_id, m.destination): m for m in messages}
        missing = [key for key in first_of if key not in self._conversations]
        found: dict[tuple[UUID, str], UUID] = {}
        if missing:
            dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
            rows = [
                {
                    "id": new_id(),
                    "tenant_id": m.tenant_id,
                    "traffic_account_id": m.traffic_account_id,
                    "channel": m.channel,
                    "participant": m.destination,
                    "created_at": m.created_at,
                    "updated_at": m.created_at,
                }
                for m in (first_of[key] for key in missing)
            ]
            # Started concurrently by another message (or an inbound one): keep theirs. The new ones come
            # back with their ids; only those that existed are looked up.
            table = Conversation.__table__
            insert = dialect.insert(table).on_conflict_do_nothing()
            key = (table.c.traffic_account_id, table.c.participant, table.c.id)
            made = (await connection.execute(insert.returning(*key), rows)).all()
            found = {(account_id, participant): conversation_id for account_id, participant, conversation_id in made}
            # Per traffic account, participant IN (...): the unique index's own shape.
            by_account: dict[UUID, list[str]] = {}
            for account_id, participant in missing:
                if (account_id, participant) not in found:
                    by_account.setdefault(account_id, []).append(participant)
            for account_id, participants in by_account.items():
                for chunk in in_chunks(participants):
                    query = select(Conversation.traffic_account_id, Conversation.participant, Conversation.id).where(
                        Conversation.traffic_account_id == account_id, Conversation.participant.in_(chunk)
                    )
                    found.update(((a, p), c) for a, p, c in (await connection.execute(query)).all())
        for m in messages:
            pair = (m.traffic_account_id, m.destination)
            m.conversation_id = found[pair] if pair in found else self._conversations[pair]
        return found


async def insert_rows(connection: AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows: with Postgres' COPY when there are many (a tenth of the time an INSERT of the
    same rows takes, which matters for a 10,000-recipient bulk send), else one INSERT."""
    if connection.dialect.name != "postgresql" or len(rows) < COPY_FROM:
        await connection.execute(insert(table), rows)
        return
    # The columns not given keep their defaults.
    columns = list(rows[0])
    json_columns = _json_columns(table)
    records = [tuple(_json_text(row[c]) if c in json_columns else row[c] for c in columns) for row in rows]
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(table.name, records=records, columns=columns)


async def insert_with_first_events(connection: AsyncConnection, messages: list[NewMessage]) -> None:
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
