"""The dispatch loop: claim due messages with a lease, send them through their channel adapter,
record the outcome.

The database is the record of truth: a message is due when it is Ready and its ``next_attempt_at``
has passed, and it is claimed by setting a lease in one conditional UPDATE (with SKIP LOCKED on
Postgres). A worker that dies mid-send leaves a lease that expires; another worker then sends the
message. Several workers (``gateway worker``) can run against one database; in the embedded mode
the same loop runs inside the server process.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import os
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from redis.asyncio import Redis
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.base import Outbound, SendResult
from channels.registry import all_channels
from channels.transport import DirectClient
from gateway.db import database_unavailable
from gateway.lookups import Lookups
from gateway.models import Message, TrafficAccount
from gateway.pipeline import statuses
from gateway.pipeline.accounts import adapter_account
from gateway.pipeline.callbacks import CallbackTokens
from gateway.pipeline.events import MessageRow, StatusChange, change_statuses, now
from gateway.pipeline.group_commit import GroupCommit
from gateway.pipeline.pending import apply_all_parked, apply_parked_for
from gateway.pipeline.send_rate import MemorySendRate, SendRate

log = logging.getLogger(__name__)

LEASE = datetime.timedelta(seconds=60)
MAX_BACKOFF = 300.0  # seconds between two attempts at most
BATCH = 50
# Connections a worker keeps to provider hosts; more sends wait for one.
PROVIDER_CONNECTIONS = 32
SWEEP_SECONDS = 10.0  # how often parked reports are matched against recorded provider ids
STOP_GRACE = 5.0  # seconds a stopping worker waits for its sends under way
WAKE_CHANNEL = "gateway:dispatch:wake"
RECORD_LINGER = 0.005  # seconds a send's outcome waits to be written with others (group commit)
RECORD_RETRY_SECONDS = 0.25  # first wait before writing again an outcome the database refused (doubling)
LEASE_MARGIN = datetime.timedelta(seconds=5)  # an outcome is written again only this long before the lease ends


@dataclass(slots=True)
class Outcome:
    """What became of one claimed message: a send's ``result`` (``expired``: not sent, out of time), or
    none when the send rate held it back for ``later`` seconds."""

    message: Message | MessageRow
    result: SendResult | None = None
    expired: bool = False
    later: float = 0.0

    @property
    def provider_id(self) -> str | None:
        return ((self.result.provider_message_id if self.result else None) or "")[:256] or None


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until the next attempt: exponential with full jitter, at least what the provider asked."""
    delay = random.uniform(0, min(MAX_BACKOFF, 2.0 ** min(attempts, 16)))
    return max(delay, retry_after or 0.0)


class Dispatcher:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        public_url: str,
        tokens: CallbackTokens,
        http: httpx.AsyncClient | None = None,
        owner: str | None = None,
        clock: Callable[[], datetime.datetime] = now,
        send_rate: SendRate | None = None,
        redis: Redis | None = None,
        callback_url: str | None = None,
    ) -> None:
        self.session_maker = session_maker
        self.public_url = public_url.rstrip("/")  # the sandbox providers' base
        self.callback_url = (callback_url or public_url).rstrip("/")  # where providers report back
        self.tokens = tokens
        self.http = http or DirectClient(PROVIDER_CONNECTIONS, httpx.Timeout(15.0, connect=5.0))
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.clock = clock
        self.send_rate = send_rate or MemorySendRate()
        self.redis = redis  # tells the workers of other processes about new messages
        self._claimed: dict[UUID, MessageRow] = {}  # claimed rows, until sent
        self._accounts = Lookups()
        self._wake = asyncio.Event()
        self.outcomes = GroupCommit(self._record, max_batch=BATCH, linger=RECORD_LINGER)

    async def accepted(self, _messages: Sequence[Any] = (), _chains: Sequence[Any] = ()) -> None:
        """Messages were accepted: look for work now rather than at the next poll, here and (through
        Redis) in every worker. A lost wake-up only costs a poll interval: the database is the queue."""
        self._wake.set()
        if self.redis is not None:
            await self.redis.publish(WAKE_CHANNEL, b"")

    async def listen_for_wake_ups(self, stop: asyncio.Event) -> None:
        """Wake on messages accepted by other processes (Redis pub/sub); reconnects after a Redis outage."""
        assert self.redis is not None
        while not stop.is_set():
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(WAKE_CHANNEL)
                    while not stop.is_set():
                        if await pubsub.get_message(timeout=1.0) is not None:
                            self._wake.set()
            except Exception:  # noqa: BLE001  (polling goes on meanwhile)
                log.warning("listening for dispatch wake-ups failed; retrying in 1 s", exc_info=True)
                await asyncio.sleep(1)

    async def run(self, stop: asyncio.Event, poll_seconds: float = 0.5, concurrency: int = BATCH) -> None:
        """Keep up to ``concurrency`` sends in flight, claiming more as each one finishes: a slow
        provider holds only its own slots, never the other messages."""
        in_flight: set[asyncio.Task[None]] = set()
        listener = asyncio.create_task(self.listen_for_wake_ups(stop)) if self.redis is not None else None
        next_sweep = 0.0
        while not stop.is_set():
            if (moment := asyncio.get_running_loop().time()) >= next_sweep:
                next_sweep = moment + SWEEP_SECONDS
                await self.sweep()
            claimed: list[UUID] = []
            self._wake.clear()  # before claiming: a wake that comes while we claim is not lost
            if free := concurrency - len(in_flight):
                try:
                    claimed = await self.claim(free)
                except Exception:  # noqa: BLE001  (the loop must survive a database hiccup)
                    log.exception("claiming messages failed")
            for message_id in claimed:
                task = asyncio.create_task(self._deliver_logged(message_id))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if not free or len(claimed) < free:
                # Nothing more is due (a claim that didn't fill the free slots took all there was), or no
                # slot is free: wait for news rather than claim again at once, or whenever a send ends,
                # which finds nothing and costs a transaction. A send that ends matters only to a full loop.
                waiters = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
                finishing = set(in_flight) if not free else set()
                await asyncio.wait(waiters | finishing, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED)
                for waiter in waiters:
                    waiter.cancel()
        if in_flight:  # sends under way get a moment to finish; the rest are dropped and their leases expire
            _, unfinished = await asyncio.wait(in_flight, timeout=STOP_GRACE)
            for task in unfinished:
                task.cancel()
        if listener is not None:
            await listener

    async def sweep(self) -> None:
        try:
            async with self.session_maker() as session:
                await apply_all_parked(session)
        except Exception:  # noqa: BLE001  (tried again at the next sweep)
            log.exception("applying parked reports failed")

    async def _deliver_logged(self, message_id: UUID) -> None:
        try:
            await self.deliver(message_id)
        except Exception as error:  # noqa: BLE001  (one message's failure must not end the loop)
            log.exception("delivering message %s failed", message_id)
            # Counted and backed off like a transient failure, rather than retried on every lease expiry.
            try:
                async with self.session_maker() as session:
                    message = await session.get(Message, message_id)
                    session.expunge_all()
                if message is not None and message.lease_owner == self.owner:
                    failure = SendResult(description=f"internal error: {type(error).__name__}")
                    await self.outcomes.submit(Outcome(message, failure))
            except Exception:  # noqa: BLE001  (the lease expires and the message is tried again)
                log.exception("recording the failure of message %s failed", message_id)

    async def dispatch_once(self, limit: int = BATCH) -> int:
        claimed = await self.claim(limit)
        await asyncio.gather(*(self._deliver_logged(message_id) for message_id in claimed))
        return len(claimed)

    async def claim(self, limit: int) -> list[UUID]:
        at = self.clock()
        table = Message.__table__
        free = or_(table.c.lease_until.is_(None), table.c.lease_until < at)
        async with self.session_maker() as session:
            due = (
                select(table.c.id)
                .where(table.c.status == statuses.READY, table.c.next_attempt_at <= at, free)
                .order_by(table.c.next_attempt_at)
                .limit(limit)
            )
            if session.bind.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            # The claimed rows come back whole (as rows: ORM objects cost more than the rest of the claim),
            # so sending them needs no further read.
            result = await session.execute(
                update(table)
                .where(table.c.id.in_(due.scalar_subquery()), free)
                .values(lease_owner=self.owner, lease_until=at + LEASE)
                .returning(*table.c)
            )
            messages = result.all()
            await session.commit()
        self._claimed.update((message.id, message) for message in messages)
        return [message.id for message in messages]

    async def _account(self, account_id: UUID) -> TrafficAccount | None:
        """The traffic account, briefly remembered (its settings, like sendRate, apply within seconds)."""

        async def load() -> TrafficAccount | None:
            async with self.session_maker() as session:
                account = await session.get(TrafficAccount, account_id)
                session.expunge_all()
            return account

        return await self._accounts.remember(account_id, load)

    async def deliver(self, message_id: UUID) -> None:
        # What the send needs was read when it was claimed; no transaction stays open while the provider
        # takes its time (slow providers would otherwise hold the pool's connections).
        message = self._claimed.pop(message_id, None)
        if message is None:
            async with self.session_maker() as session:
                message = await session.get(Message, message_id)
                session.expunge_all()
        if message is None or message.lease_owner != self.owner or message.status != statuses.READY:
            return
        account = await self._account(message.traffic_account_id)
        if account is None:
            return  # deleted with its messages meanwhile
        channel = all_channels()[message.channel]
        if message.valid_until and self.clock() >= message.valid_until:
            result, expired = SendResult(), True
        elif channel.send is None:
            result, expired = SendResult(retry_after=MAX_BACKOFF, description=f"no {message.channel} adapter"), False
        else:
            per_second = account.settings.get("sendRate") or channel.default_send_rate
            if wait := await self.send_rate.reserve(str(account.id), per_second):
                # Over the account's send rate: back in the queue for when there is room, not an attempt.
                await self.outcomes.submit(Outcome(message, later=wait))
                return
            result, expired = await self._send(channel.send, account, message), False
        await self._record_while_leased(Outcome(message, result, expired))

    async def _record_while_leased(self, outcome: Outcome) -> None:
        """Record a send's outcome, trying again while the database can't be reached (a restart) and this
        worker still holds the lease: a send the provider took must not be sent again because an outage
        hid its answer. Past the lease another worker may have claimed the message: it is left to it."""
        lease_until = outcome.message.lease_until
        delay = RECORD_RETRY_SECONDS
        while True:
            try:
                await self.outcomes.submit(outcome)
                return
            except Exception as error:
                if not database_unavailable(error) or lease_until is None or self.clock() + LEASE_MARGIN >= lease_until:
                    raise
                log.warning("recording the send of message %s waits for the database: %s", outcome.message.id, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _send(self, send: Any, account: TrafficAccount, message: Message | MessageRow) -> SendResult:
        outbound = Outbound(
            message_id=message.id,
            destination=message.destination,
            block=message.content,
            valid_until=message.valid_until or self.clock() + LEASE,
            callback_url=f"{self.callback_url}/callbacks/{message.channel}/{account.id}?token={self.tokens.issue(message.id)}",  # noqa: E501
        )
        target = adapter_account(account, self.public_url, self.tokens.keys[0])
        try:
            return await send(self.http, target, outbound)
        except httpx.HTTPError as error:  # connection refused, timeout, protocol error: try again later
            return SendResult(description=f"{type(error).__name__}: {error}"[:1000])

    async def _record(self, outcomes: list[Outcome]) -> list[None]:
        """Record many send outcomes in one transaction (group commit: one worker sends many messages
        at once, and a transaction each would cost more than the sends)."""
        changes: list[tuple[Outcome, StatusChange]] = []
        plain: list[tuple[UUID, dict[str, Any], bool]] = []  # (message, columns, only while still Ready)
        now = self.clock()  # the answers' moment, which the retry times count from
        for outcome in outcomes:
            message, result = outcome.message, outcome.result
            if result is None:  # held back by the send rate: not an attempt
                later = now + datetime.timedelta(seconds=outcome.later)
                plain.append((message.id, {"lease_owner": None, "lease_until": None, "next_attempt_at": later}, False))
                continue
            release = {"lease_owner": None, "lease_until": None, "attempts": message.attempts + 1}
            retry_at = now + datetime.timedelta(seconds=backoff(message.attempts + 1, result.retry_after))
            out_of_time = message.valid_until is not None and retry_at >= message.valid_until
            if outcome.expired or (not result.accepted and not result.permanent and out_of_time):
                description = result.description or "the message's validity ended before it could be sent"
                change = StatusChange(message.id, statuses.EXPIRED, "expired", description, release, self.owner)
            elif result.accepted:
                values = {**release, "provider_message_id": outcome.provider_id, "next_attempt_at": None}
                change = StatusChange(message.id, result.status, values=values, lease_owner=self.owner)
            elif result.permanent:
                error_code = (result.error_code or "")[:64] or None
                values = {**release, "next_attempt_at": None}
                change = StatusChange(message.id, statuses.FAILED, error_code, result.description, values, self.owner)
            else:
                note = (result.description or "")[:1000] or None
                plain.append((message.id, {**release, "next_attempt_at": retry_at, "description": note}, True))
                continue
            changes.append((outcome, change))
        async with self.session_maker() as session:
            moved = await change_statuses(session, [change for _, change in changes])
            for (outcome, change), message in zip(changes, moved, strict=True):
                if message is None and outcome.result is not None and outcome.result.accepted:
                    # A callback moved it further already (a report before the send answer): keep that status.
                    plain.append((change.message_id, change.values, False))
            await self._update(session, plain)
            await session.commit()
            # Reports that overtook these answers (on channels whose reports can name only the provider's id).
            answered = [
                (o.message.traffic_account_id, o.provider_id)
                for o in outcomes
                if o.provider_id and all_channels()[o.message.channel].reports_by_provider_id
            ]
            await apply_parked_for(session, answered)
        return [None] * len(outcomes)

    async def _update(self, session: AsyncSession, updates: list[tuple[UUID, dict[str, Any], bool]]) -> None:
        """Set columns of messages while this worker still holds their lease (a worker that lost it must
        not undo another's work); with ``still_ready`` only while Ready (a retry note must not overwrite
        what a callback made of the message meanwhile). One statement per shape of update."""
        table = Message.__table__
        at = self.clock()  # read at the write, not at the batch's start: a callback may have updated it since
        shapes: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for message_id, values, still_ready in updates:
            row = {"key_id": message_id, "updated_at": at, **values}
            shapes.setdefault((still_ready, *sorted(row)), []).append(row)
        for (still_ready, *columns), rows in shapes.items():
            query = update(table).where(table.c.id == bindparam("key_id"), table.c.lease_owner == self.owner)
            if still_ready:
                query = query.where(table.c.status == statuses.READY)
            setting = {column: bindparam(column) for column in columns if column != "key_id"}
            await session.execute(query.values(setting), rows)
