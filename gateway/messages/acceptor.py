"""Writing accepted messages, group-committed (gateway.lib.group_commit): the sends that arrive
while one transaction is being written are written together in the next.

Accepted means durable: ``accept`` returns only after the transaction holding the messages, their
conversations and their first status events has committed. Bulk sends hand over all their
messages at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import insert, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from gateway import metrics
from gateway.idempotency import KeyedAnswer
from gateway.lib.db import in_chunks
from gateway.lib.group_commit import GroupCommit
from gateway.lib.ids import new_ids
from gateway.messages.failover import NewChain
from gateway.models import Conversation, FailoverChain
from gateway.store import messages as store
from gateway.store.messages import NewMessage

MAX_BATCH = 2000  # messages in one transaction
RECORDS_AT_ONCE = 500  # a bulk send's COPY records made between turns of its conversations' statement
CONVERSATIONS_KEPT = 100_000  # (traffic account, participant) -> conversation id, until deleted
# A constraint a write broke: through SQLAlchemy, or from asyncpg's COPY, which bypasses it.
CONSTRAINT_ERRORS = (IntegrityError, asyncpg.IntegrityConstraintViolationError)


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
        metrics.accepted(messages)

    def forget_conversations(self, account_ids: Sequence[UUID]) -> None:
        """Forget the conversation ids of these traffic accounts (their conversations were deleted)."""
        accounts = set(account_ids)
        for key in [key for key in self._conversations if key[0] in accounts]:
            del self._conversations[key]

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
                await store.insert_with_first_events(connection, messages)
            return
        async with self.engine.begin() as connection:
            if request.chains:
                await connection.execute(insert(FailoverChain.__table__), [chain.row() for chain in request.chains])
            if connection.dialect.name != "postgresql":
                found = await self._fill_conversations(connection, messages)
                await store.insert_accepted(connection, messages)
            elif len(messages) < store.COPY_FROM:
                # Sends: their rows in the one statement here too (an INSERT per table through SQLAlchemy's
                # executemany costs the API more per row).
                found = await self._fill_conversations(connection, messages)
                await store.insert_with_first_events(connection, messages)
            else:
                found = await self._fill_and_copy(connection, messages)
            for answer in request.answers:  # rendered now: the conversation ids are known
                await answer.store(connection)
        # Remembered once committed: a conversation made in a transaction that failed doesn't exist.
        if len(self._conversations) + len(found) > CONVERSATIONS_KEPT:
            self._conversations.clear()
        self._conversations.update(found)

    async def _fill_and_copy(
        self, connection: AsyncConnection, messages: list[NewMessage]
    ) -> dict[tuple[UUID, str], UUID]:
        """A bulk send's rows on Postgres, with COPY: while Postgres makes their conversations, this process
        makes the rows' records (all but the conversation ids), so the two work at once instead of one after
        the other. The conversations not remembered, as _fill_conversations."""
        making = asyncio.ensure_future(self._fill_conversations(connection, messages))
        records = store.AcceptedRecords([], [])
        try:
            for start in range(0, len(messages), RECORDS_AT_ONCE):
                # Between chunks the conversations' task takes its turns: its round trips (BEGIN, the
                # statement) go out while the records are made, and it reads the answer when it comes.
                await asyncio.sleep(0)
                records += store.accepted_records(messages[start : start + RECORDS_AT_ONCE])
        except BaseException:
            making.cancel()
            with contextlib.suppress(BaseException):
                await making
            raise
        found = await making
        await store.copy_accepted(connection, messages, records)
        return found

    def _in_one_statement(self, request: Request) -> bool:
        """The usual batch of sends on Postgres: no failover chain, no Idempotency-Key's answer to store,
        every conversation known, not a bulk send's size (COPY is quicker for those)."""
        return (
            self.engine.dialect.name == "postgresql"
            and not request.chains
            and not request.answers
            and len(request.messages) < store.COPY_FROM
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
            made = await _make_conversations(connection, [first_of[key] for key in missing])
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


# One statement whose rows come as one array per column, on Postgres: SQLAlchemy's executemany renders and
# binds each row in Python, a tenth of the time of a 10,000-recipient bulk send.
_MAKE_CONVERSATIONS = (
    f"INSERT INTO {Conversation.__table__.name}"
    " (id, tenant_id, traffic_account_id, channel, participant, created_at, updated_at)"
    " SELECT id, tenant_id, traffic_account_id, channel, participant, created_at, created_at"
    " FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::timestamptz[])"
    " AS given(id, tenant_id, traffic_account_id, channel, participant, created_at)"
    " ON CONFLICT DO NOTHING RETURNING id"
)


async def _make_conversations(connection: AsyncConnection, firsts: list[NewMessage]) -> Sequence[Any]:
    """The conversations that the messages start, stored; one started concurrently by another message (or an
    inbound one) is kept as it is. The new ones come back as (traffic account id, participant, id)."""
    ids = new_ids(len(firsts))
    if connection.dialect.name == "postgresql":
        columns = (
            [m.tenant_id for m in firsts],
            [m.traffic_account_id for m in firsts],
            [m.channel for m in firsts],
            [m.destination for m in firsts],
            [m.created_at for m in firsts],
        )
        # The ids made, of the rows stored: one column back, not three (a bulk send's 10,000 rows).
        stored = {row[0] for row in (await connection.exec_driver_sql(_MAKE_CONVERSATIONS, (ids, *columns))).all()}
        return [(m.traffic_account_id, m.destination, i) for i, m in zip(ids, firsts, strict=True) if i in stored]
    rows = [
        {
            "id": conversation_id,
            "tenant_id": m.tenant_id,
            "traffic_account_id": m.traffic_account_id,
            "channel": m.channel,
            "participant": m.destination,
            "created_at": m.created_at,
            "updated_at": m.created_at,
        }
        for conversation_id, m in zip(ids, firsts, strict=True)
    ]
    table = Conversation.__table__
    insert = sqlite.insert(table).on_conflict_do_nothing()
    return (
        await connection.execute(insert.returning(table.c.traffic_account_id, table.c.participant, table.c.id), rows)
    ).all()
