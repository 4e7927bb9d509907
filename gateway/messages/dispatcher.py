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
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels import kit
from channels.base import Outbound, SendResult
from channels.registry import all_channels
from gateway import metrics
from gateway.channel_routes import callback_path
from gateway.lib.clock import now
from gateway.lib.db import database_unavailable
from gateway.lib.group_commit import GroupCommit
from gateway.lib.leased_queue import LeasedQueue
from gateway.lib.lookups import Lookups
from gateway.lib.work_due import MESSAGES, WorkDue
from gateway.messages.accounts import adapter_account
from gateway.messages.callbacks import CallbackTokens
from gateway.messages.failover import follow
from gateway.messages.send_rate import MemorySendRate, SendRate
from gateway.models import Message, TrafficAccount
from gateway.sandbox_journal import SENDING, Journal, JournalClient, SendContext
from gateway.store import messages as store
from gateway.store import statuses
from gateway.store.messages import Applied, MessageRow, StatusChange
from gateway.store.parked import apply_parked, parked_now_known
from wire.http import DirectClient

log = logging.getLogger(__name__)
events = structlog.get_logger(__name__)  # the lines an operator reads: a send's outcome, a retry, an expiry

LEASE = datetime.timedelta(seconds=60)  # the default of GATEWAY_LEASE_SECONDS
MAX_BACKOFF = 300.0  # seconds between two attempts at most
BATCH = 100  # messages a worker sends at once, and outcomes it records in one transaction at most
# A claim waits for this many free slots and this long after a wake-up: claims of a few messages each (a
# transaction, and its round trips, per wake-up of the API's group commits) cost more than the sends.
CLAIM_REFILL = BATCH // 4
CLAIM_GATHER = 0.01
# Connections a worker keeps to provider hosts; more sends wait for one.
PROVIDER_CONNECTIONS = 32
SWEEP_SECONDS = 10.0  # how often parked reports are matched against recorded provider ids
RECORD_LINGER = 0.02  # seconds a send's outcome waits to be written with others (group commit)
RECORD_RETRY_SECONDS = 0.25  # first wait before writing again an outcome the database refused (doubling)
LEASE_MARGIN = datetime.timedelta(seconds=5)  # an outcome is written again only this long before the lease ends
LOST_LEASE = "the outcome was not recorded: another worker holds the message's lease now, or a report moved it on"


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


def ids(message: Message | MessageRow) -> dict[str, Any]:
    """A message's ids, as its log lines carry them."""
    return {
        "message_id": message.id,
        "tenant_id": message.tenant_id,
        "traffic_account_id": message.traffic_account_id,
        "channel": message.channel,
        "chain_id": message.failover_chain_id,
    }


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds until the next attempt: exponential with full jitter, at least what the provider asked."""
    delay = random.uniform(0, min(MAX_BACKOFF, 2.0 ** min(attempts, 16)))
    return max(delay, kit.retry_after(retry_after) or 0.0)  # a channel's own figure, bounded again


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
        work_due: WorkDue | None = None,
        callback_url: str | None = None,
        lease: datetime.timedelta = LEASE,
        journal: Journal | None = None,
    ) -> None:
        self.session_maker = session_maker
        self.public_url = public_url.rstrip("/")  # the sandbox providers' base
        self.callback_url = (callback_url or public_url).rstrip("/")  # where providers report back
        self.tokens = tokens
        self.http = http or DirectClient(PROVIDER_CONNECTIONS, httpx.Timeout(15.0, connect=5.0))
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.clock = clock
        self.send_rate = send_rate or MemorySendRate()
        self.work_due = work_due or WorkDue()  # new messages to send, from this process or (Redis) others
        self.lease = lease  # a worker that dies leaves its claimed messages to others after this
        self._claimed: dict[UUID, MessageRow] = {}  # claimed rows, until sent
        self._accounts = Lookups()
        self.outcomes = GroupCommit(self.write, max_batch=BATCH, linger=RECORD_LINGER)
        self.journal = journal
        self._sandbox_http: JournalClient | None = None

    @property
    def in_flight(self) -> int:
        """Messages claimed and not yet sent."""
        return len(self._claimed)

    async def run(self, stop: asyncio.Event, poll_seconds: float = 0.5, concurrency: int = BATCH) -> None:
        """Send due messages until ``stop``, up to ``concurrency`` at once (gateway.lib.leased_queue)."""
        queue = LeasedQueue(
            "messages",
            self.claim,
            self._deliver_logged,
            self.work_due.event(MESSAGES),
            concurrency=concurrency,
            poll_seconds=poll_seconds,
            refill=CLAIM_REFILL,
            gather=CLAIM_GATHER,
        )
        next_sweep = 0.0

        async def sweep_now_and_then() -> None:
            nonlocal next_sweep
            if (moment := asyncio.get_running_loop().time()) >= next_sweep:
                next_sweep = moment + SWEEP_SECONDS
                await self.sweep()

        await asyncio.gather(queue.run(stop, every=sweep_now_and_then), self.work_due.listen(stop))

    async def sweep(self) -> None:
        try:
            async with self.session_maker() as session:
                if known := await parked_now_known(session):
                    if (await self._apply_parked(session, known)).now_due:
                        await self.work_due.messages()
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
                    failure = SendResult.transient(f"internal error: {type(error).__name__}")
                    await self.outcomes.submit(Outcome(message, failure))
            except Exception:  # noqa: BLE001  (the lease expires and the message is tried again)
                log.exception("recording the failure of message %s failed", message_id)

    async def dispatch_once(self, limit: int = BATCH) -> int:
        claimed = await self.claim(limit)
        await asyncio.gather(*(self._deliver_logged(message_id) for message_id in claimed))
        return len(claimed)

    async def claim(self, limit: int) -> list[UUID]:
        at = self.clock()
        async with self.session_maker() as session:
            messages = await store.claim(session, self.owner, at, at + self.lease, limit)
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
        else:
            per_second = account.settings.get("sendRate") or channel.default_send_rate
            if wait := await self.send_rate.reserve(str(account.id), per_second):
                # Over the account's send rate: back in the queue for when there is room, not an attempt.
                await self.outcomes.submit(Outcome(message, later=wait))
                return
            started = time.perf_counter()
            result, expired = await self._send(channel.send, account, message), False
            seconds = time.perf_counter() - started
            metrics.sent(message, result, seconds)
            events.log(
                logging.INFO if result.accepted else logging.WARNING,
                "send",
                **ids(message),
                attempt=message.attempts + 1,
                status=result.status or ("Failed" if result.permanent else "not sent"),
                provider_code=result.error_code,
                description=None if result.accepted else result.description,
                latency_ms=round(seconds * 1000, 1),
            )
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
                if not database_unavailable(error) or lease_until is None:
                    raise
                if self.clock() + LEASE_MARGIN >= lease_until:
                    events.warning(
                        "lease lost", **ids(outcome.message), why="the database was away until the lease ended"
                    )
                    raise
                log.warning("recording the send of message %s waits for the database: %s", outcome.message.id, error)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    @property
    def sandbox_http(self) -> httpx.AsyncClient:
        """What sandbox accounts send with: ``http``, their provider exchanges journaled and their behaviour
        applied (gateway.sandbox_journal), unless GATEWAY_SANDBOX_JOURNAL is off."""
        if self.journal is None:
            return self.http
        if self._sandbox_http is None or self._sandbox_http.inner is not self.http:  # ``http`` was replaced
            self._sandbox_http = JournalClient(self.http, self.journal, self.session_maker)
        return self._sandbox_http

    async def _send(self, send: Any, account: TrafficAccount, message: Message | MessageRow) -> SendResult:
        outbound = Outbound(
            message_id=message.id,
            destination=message.destination,
            block=message.content,
            valid_until=message.valid_until or self.clock() + self.lease,
            callback_url=f"{self.callback_url}{callback_path(message.channel, account.id)}?token={self.tokens.issue(message.id)}",
        )
        target = adapter_account(account, self.public_url, self.tokens.keys[0])
        http = self.sandbox_http if account.sandbox else self.http
        sending = SENDING.set(
            SendContext(message.tenant_id, account.id, message.channel, message.id, message.destination)
        )
        try:
            return await send(http, target, outbound)
        except httpx.HTTPError as error:  # connection refused, timeout, protocol error: try again later
            return SendResult.transient(f"{type(error).__name__}: {error}")
        finally:
            SENDING.reset(sending)

    async def write(self, outcomes: list[Outcome]) -> list[None]:
        """Record many send outcomes in one transaction (group commit: one worker sends many messages
        at once, and a transaction each would cost more than the sends)."""
        changes: list[tuple[Outcome, StatusChange]] = []
        plain: list[tuple[UUID, dict[str, Any], bool]] = []  # (message, columns, only while still Ready)
        lines: list[tuple[int, str, dict[str, Any]]] = []  # logged once committed: a write tried again logs once
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
                expiry = {"attempts": message.attempts + (not outcome.expired), "why": description}
                lines.append((logging.WARNING, "message expired", {**ids(message), **expiry}))
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
                retry = {"attempt": message.attempts + 1, "why": note, "at": retry_at}
                lines.append((logging.INFO, "retry scheduled", {**ids(message), **retry}))
                continue
            changes.append((outcome, change))
        async with self.session_maker() as session:
            applied = await store.change_statuses(session, [change for _, change in changes])
            for (outcome, change), message in zip(changes, applied.moved, strict=True):
                if message is None and outcome.result is not None and outcome.result.accepted:
                    # A callback moved it further already (a report before the send answer): keep that status.
                    plain.append((change.message_id, change.values, False))
                elif message is None:
                    lost = {"status": change.status, "why": LOST_LEASE}
                    lines.append((logging.WARNING, "lease lost", {**ids(outcome.message), **lost}))
            activated = await follow(session, applied)
            # Read at the write, not at the batch's start: a callback may have updated it since.
            await store.set_while_leased(session, self.owner, plain, self.clock())
            await session.commit()
            for level, event, fields in lines:
                events.log(level, event, **fields)
            # Reports that overtook these answers (on channels whose reports can name only the provider's id).
            answered = [
                (o.message.traffic_account_id, o.provider_id)
                for o in outcomes
                if o.provider_id and all_channels()[o.message.channel].reports_by_provider_id
            ]
            if answered:
                activated += await self._apply_parked(session, answered)
        self.work_due.statuses_changed()
        if activated.now_due:
            await self.work_due.messages()
        return [None] * len(outcomes)

    async def _apply_parked(self, session: AsyncSession, answered: list[tuple[UUID, str]]) -> Applied:
        applied = await apply_parked(session, answered)
        applied += await follow(session, applied)
        await session.commit()
        return applied
