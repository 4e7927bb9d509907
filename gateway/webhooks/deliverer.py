"""The delivery loop: claim due webhook events with a lease, POST them signed, record every attempt.

A ``compatible`` webhook's event (a channel's compatible API's callback, gateway.store.outbox) is delivered by
making the request its payload holds ({method, url, body}: GET without a body, POST with the JSON body), unsigned,
on the same schedule, past the same private-address guard, with its attempts recorded alike; such a webhook is the
gateway's own, so a run of failures never disables it (its events give up one by one, per the schedule).

The database is the record of truth, as for the dispatcher (gateway.messages.dispatcher): an event is
due when it is pending and its ``next_attempt_at`` has passed, and it is claimed by setting a lease
(SKIP LOCKED on Postgres). A worker that dies mid-attempt leaves a lease that expires; another worker
then delivers the event again, with the same ``webhook-id``, so the receiver can tell a repeat.

- Order: an event waits while an earlier event (lower ``sequence``) of the same message for the same
  webhook is pending, in flight included; it goes once that one succeeded or was given up. A waiting
  event is put back until the earlier one's next attempt, and pulled forward when that one ends.
- Isolation: each webhook has at most ``endpoint_concurrency`` attempts in flight per worker, and a
  failing one is backed off (gateway.webhooks.schedule), so a dead or slow endpoint holds only its own
  slots. Events of a disabled webhook are put back an hour at a time, and pulled forward when it is
  enabled again (gateway.webhooks.service).
- Outcomes are written in batches (one transaction for the attempts that finished meanwhile): the
  database, not the receivers, would otherwise cap the throughput.
"""

from __future__ import annotations

import asyncio
import datetime
import functools
import json
import logging
import os
import random
import socket
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import msgspec
import structlog
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels import kit
from gateway import metrics
from gateway.lib.clock import now
from gateway.lib.db import among, stored_text
from gateway.lib.group_commit import GroupCommit
from gateway.lib.leased_queue import LeasedQueue
from gateway.lib.netguard import checked_url
from gateway.lib.work_due import WEBHOOKS, WorkDue
from gateway.models import Webhook, WebhookAttempt, WebhookEvent
from gateway.settings import Settings
from gateway.store import outbox
from gateway.store.outbox import FAILED, PENDING, SUCCEEDED, lease_free
from gateway.webhooks.catchers import catchers_at, is_catcher_url
from gateway.webhooks.schedule import MAX_RETRY_AFTER, retry_delay
from gateway.webhooks.signing import signature, signing_secrets
from wire.http import CONNECT_TO, KeepAliveTransport, Proxies

log = logging.getLogger(__name__)
events = structlog.get_logger(__name__)

LEASE = datetime.timedelta(seconds=60)
POLL_SECONDS = 0.05  # while there is work: new events wait at most this long for a claim
IDLE_POLL_SECONDS = 0.25  # after a second with nothing to do (each empty claim costs the database too)
WAIT_RECHECK = datetime.timedelta(seconds=1)  # an event behind one in flight looks again this much later
DISABLED_RECHECK = datetime.timedelta(hours=1)
BODY_KEPT = 1024  # bytes of the receiver's answer kept with the attempt
RECORD_BATCH = 500
# Seconds an attempt's outcome waits to be written with others (group commit), as the dispatcher's: a few ms
# more of its slot, fewer and larger transactions (their statements, not their rows, cost the worker's CPU).
RECORD_LINGER = 0.005
USER_AGENT = "omnichannel-gateway-webhooks/1"


def _ahead() -> Any:
    """The next attempt of the earliest pending event of the same message, for the same webhook, that an event
    waits behind (NULL: none), as a column of the claim's query (built once: an alias costs much to make)."""
    event = WebhookEvent.__table__.c
    earlier = WebhookEvent.__table__.alias("earlier").c
    return (
        select(func.min(earlier.next_attempt_at))
        .where(
            earlier.message_id == event.message_id,
            earlier.webhook_id == event.webhook_id,
            earlier.status == PENDING,
            earlier.sequence < event.sequence,
        )
        .scalar_subquery()
        .label("ahead")
    )


_AHEAD = _ahead()


@dataclass(frozen=True, slots=True)
class Claimed:
    """An event this worker holds the lease of, with what its delivery needs."""

    id: UUID
    tenant_id: UUID
    webhook_id: UUID
    message_id: UUID
    sequence: int
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class Target:
    """A webhook as one delivery sees it (read when its events are claimed)."""

    url: str
    headers: dict[str, str]
    secrets: list[str]
    compatible: bool = False  # a compatible API's callbacks: each event's payload is the request to make


@dataclass(frozen=True, slots=True)
class Outcome:
    event: Claimed
    attempted_at: datetime.datetime
    latency_ms: int
    response_status: int | None = None
    response_body: str = ""
    error: str | None = None
    retry_after: float | None = None
    compatible: bool = False  # of a compatible webhook: never disabled

    @property
    def succeeded(self) -> bool:
        return self.response_status is not None and kit.classify(self.response_status) == kit.SUCCESS


class WebhookDeliverer:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        *,
        allow_private_urls: bool = False,
        timeout_seconds: float = 15.0,
        disable_after: datetime.timedelta = datetime.timedelta(days=5),
        concurrency: int = 400,
        endpoint_concurrency: int = 20,
        owner: str | None = None,
        clock: Callable[[], datetime.datetime] = now,
        rng: random.Random | None = None,
        lease: datetime.timedelta | None = None,
        only: Collection[UUID] | None = None,
        work_due: WorkDue | None = None,
        proxies: Proxies | None = None,
        catchers_at: str | None = None,
    ) -> None:
        self.session_maker = session_maker
        self.allow_private_urls = allow_private_urls
        self.catchers_at = catchers_at  # the gateway's own address: its webhook catchers are no private target
        self.timeout_seconds = timeout_seconds
        self.disable_after = disable_after
        self.concurrency = concurrency
        self.endpoint_concurrency = endpoint_concurrency
        self.http = KeepAliveTransport(concurrency, proxies)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.clock = clock
        self.rng = rng or random.Random()
        # Longer than an attempt can take, or a live worker would lose its lease to another mid-attempt.
        self.lease = lease or max(LEASE, datetime.timedelta(seconds=2 * timeout_seconds))
        self.only = only  # deliver to these webhooks only (tests and the benchmark share a database)
        self.in_flight: Counter[UUID] = Counter()  # attempts under way per webhook
        self.work_due = work_due or WorkDue()  # events to deliver (a replay, a webhook enabled again)
        self._wake = self.work_due.event(WEBHOOKS)
        self.outcomes = GroupCommit(self.write, max_batch=RECORD_BATCH, linger=RECORD_LINGER)

    @classmethod
    def from_settings(
        cls, session_maker: async_sessionmaker[AsyncSession], settings: Settings, work_due: WorkDue | None = None
    ) -> WebhookDeliverer:
        return cls(
            session_maker,
            work_due=work_due,
            allow_private_urls=settings.allow_private_webhook_urls,
            timeout_seconds=settings.webhook_timeout_seconds,
            disable_after=datetime.timedelta(seconds=settings.webhook_disable_after_seconds),
            concurrency=settings.webhook_concurrency,
            endpoint_concurrency=settings.webhook_endpoint_concurrency,
            lease=max(
                datetime.timedelta(seconds=settings.lease_seconds),
                datetime.timedelta(seconds=2 * settings.webhook_timeout_seconds),
            ),
            proxies=Proxies(settings.egress_proxy or None),
            catchers_at=catchers_at(settings),
        )

    @property
    def in_flight_total(self) -> int:
        return sum(self.in_flight.values())

    async def run(self, stop: asyncio.Event, poll_seconds: float = POLL_SECONDS) -> None:
        """Deliver due events until ``stop`` (gateway.lib.leased_queue). The poll also finds the events that
        waited for an earlier one of their message."""
        queue = LeasedQueue(
            "webhook events",
            self.claim,
            self._deliver_logged,
            self._wake,
            concurrency=self.concurrency,
            poll_seconds=poll_seconds,
            idle_poll_seconds=max(poll_seconds, IDLE_POLL_SECONDS),
            refill=self.concurrency // 4,
        )
        await asyncio.gather(queue.run(stop), self.work_due.listen(stop))

    async def deliver_once(self, limit: int = 100) -> int:
        """Claim what is due and deliver it; the number of events attempted (for tests and tools)."""
        claimed = await self.claim(min(limit, self.concurrency))
        await asyncio.gather(*(self._deliver_logged(job) for job in claimed))
        return len(claimed)

    async def claim(self, limit: int) -> list[tuple[Claimed, Target]]:
        """Lease up to ``limit`` due events. Due ones are read in order with no join, so the read stops
        at the limit; those that must wait (an earlier event of their message is pending, or their
        webhook is disabled) are put back for later rather than read again on every claim."""
        at = self.clock()
        async with self.session_maker() as session:
            candidates = await self._due(session, at, limit * 2)  # room for the ones that must wait
            if not candidates:
                await session.rollback()
                return []
            webhook_ids = {row.webhook_id for row in candidates}
            by_id = select(Webhook).where(among(session, Webhook.id, webhook_ids))
            webhooks = {w.id: w for w in await session.scalars(by_id)}
            picked, later = [], []
            planned = Counter(self.in_flight)
            for row in candidates:
                if row.ahead is not None:  # not before the earlier event's next attempt; pulled forward when it ends
                    later.append((row.id, max(at + WAIT_RECHECK, row.ahead)))
                elif not webhooks[row.webhook_id].enabled:  # pulled forward when it is enabled again
                    later.append((row.id, at + DISABLED_RECHECK))
                elif planned[row.webhook_id] < self.endpoint_concurrency and len(picked) < limit:
                    planned[row.webhook_id] += 1
                    picked.append(row.id)
            await outbox.put_back(session, later, at)
            leased = await outbox.lease(session, picked, self.owner, at, at + self.lease) if picked else []
            claimed = [Claimed(*row) for row in leased]
            targets = {
                w.id: Target(w.url, json.loads(w.headers), signing_secrets(w, at), w.kind == outbox.COMPATIBLE)
                for w in map(webhooks.get, {event.webhook_id for event in claimed})
            }
            await session.commit()
        for event in claimed:
            self.in_flight[event.webhook_id] += 1
        return [(event, targets[event.webhook_id]) for event in claimed]

    async def _due(self, session: AsyncSession, at: datetime.datetime, limit: int) -> list[Any]:
        """Due events (id, webhook_id), each with the next attempt of the earliest pending event of its message
        (for its webhook) it waits behind, if any."""
        # The table's columns, not the mapped class's: Core statements skip the ORM's work at each execution.
        table = WebhookEvent.__table__
        event = table.c
        # Webhooks with all their slots busy are left out: their events wait in the database.
        full = [webhook_id for webhook_id, count in self.in_flight.items() if count >= self.endpoint_concurrency]
        due = (
            select(event.id, event.webhook_id, _AHEAD)
            .where(event.status == PENDING, event.next_attempt_at <= at, lease_free(event, at))
            .where(event.webhook_id.not_in(full))
            .order_by(event.next_attempt_at)
            .limit(limit)
        )
        if self.only is not None:
            due = due.where(event.webhook_id.in_(self.only))
        if session.bind.dialect.name == "postgresql":
            due = due.with_for_update(of=table, skip_locked=True)
        return list((await session.execute(due)).all())

    async def _deliver_logged(self, job: tuple[Claimed, Target]) -> None:
        event, target = job
        try:
            try:
                outcome = await self.attempt(event, target)
                metrics.webhook_attempted(outcome)
            finally:
                if self.in_flight[event.webhook_id] >= self.endpoint_concurrency:
                    self._wake.set()  # a busy webhook has room again: claim its next events now
                self.in_flight[event.webhook_id] -= 1
                if self.in_flight[event.webhook_id] <= 0:
                    del self.in_flight[event.webhook_id]
            # Waited for until committed, which keeps the slot busy meanwhile: a slow database slows the
            # claiming down rather than piling outcomes up.
            await self.outcomes.submit(outcome)
        except Exception:  # noqa: BLE001  (one event's failure must not end the loop; its lease expires)
            log.exception("delivering webhook event %s failed", event.id)

    async def attempt(self, event: Claimed, target: Target) -> Outcome:
        """One POST of the event (a compatible webhook's: the request its payload holds); whatever happens becomes
        an Outcome, nothing is raised."""
        at = self.clock()
        started = time.monotonic()

        def outcome(**values: Any) -> Outcome:
            return Outcome(
                event, at, round((time.monotonic() - started) * 1000), compatible=target.compatible, **values
            )

        method, url, body, headers = "POST", target.url, msgspec.json.encode(event.payload), {}
        if target.compatible:
            method, url = event.payload.get("method", "POST"), event.payload.get("url", "")
            body = b"" if method == "GET" else msgspec.json.encode(event.payload.get("body"))
            headers = {"user-agent": USER_AGENT} | ({} if method == "GET" else {"content-type": "application/json"})
        else:
            headers = {
                **target.headers,
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                "webhook-id": str(event.id),
                "webhook-timestamp": str(int(at.timestamp())),
                "webhook-signature": signature(target.secrets, str(event.id), at, body),
            }
        # Resolved again at send time: a name that now points inside the network is refused, and the
        # connection (or a proxy's tunnel) goes to the addresses checked, not to the name resolved again.
        own = is_catcher_url(url, self.catchers_at)
        problem, addresses = await checked_url(url, allow_private=self.allow_private_urls or own)
        if problem:
            return outcome(error=f"refused: the URL {problem}")
        try:
            async with asyncio.timeout(self.timeout_seconds):  # the whole exchange, not each read
                response, kept = await post_keeping(
                    self.http, url, body, headers, BODY_KEPT, self.timeout_seconds, addresses, method
                )
        except TimeoutError:
            return outcome(error=f"no answer within {self.timeout_seconds:g} s")
        except Exception as error:  # noqa: BLE001  (refused, reset, bad header value...: a failed attempt)
            return outcome(error=f"{type(error).__name__}: {error}"[:1000])
        text = stored_text(kept, BODY_KEPT)
        retry_after = None
        if response.status_code in (429, 503):
            retry_after = kit.retry_after(response.headers.get("retry-after"), at, cap=MAX_RETRY_AFTER)
        error = None
        if response.is_redirect:
            error = f"redirected to {response.headers.get('location', '?')[:500]}; redirects are not followed"
        return outcome(response_status=response.status_code, response_body=text, error=error, retry_after=retry_after)

    async def write(self, outcomes: list[Outcome]) -> list[None]:
        """Record the attempts and what follows from them, in one transaction (group commit: the database,
        not the receivers, would otherwise cap the throughput)."""
        at = self.clock()
        changes, successes, failures, gone = [], set(), set(), set()
        for outcome in outcomes:
            event = outcome.event
            attempts = event.attempts + 1
            status, next_attempt_at = SUCCEEDED, None
            # A compatible webhook is the gateway's own, made for the customer's callbacks: never disabled.
            tracked = not outcome.compatible
            if outcome.succeeded:
                successes.add(event.webhook_id)
            elif outcome.response_status == 410:  # Gone: the receiver asks for no more deliveries
                status = FAILED
                if tracked:
                    gone.add(event.webhook_id)
            else:
                if tracked:
                    failures.add(event.webhook_id)
                delay = retry_delay(attempts, outcome.retry_after, self.rng)
                status = FAILED if delay is None else PENDING
                if delay is not None:
                    next_attempt_at = outcome.attempted_at + datetime.timedelta(seconds=delay)
            changes.append({"b_id": event.id, "b_status": status, "b_attempts": attempts, "b_next": next_attempt_at})
            events.log(
                logging.INFO if outcome.succeeded else logging.WARNING,
                "webhook attempt",
                webhook_id=event.webhook_id,
                event_id=event.id,
                tenant_id=event.tenant_id,
                message_id=event.message_id,
                attempt=attempts,
                status=outcome.response_status,
                error=outcome.error,
                latency_ms=outcome.latency_ms,
                next_attempt_at=next_attempt_at,
            )
        async with self.session_maker() as session:
            # The webhooks' rows before the events', in the order a webhook's deletion locks them: the two
            # can't deadlock.
            # Every success, not only those of webhooks this worker saw failing: another worker's failure may
            # have committed after this one's claim, and a run left open would disable a healthy webhook later.
            await self._track_failures(session, successes, failures - successes, gone, at)
            await outbox.record_attempts(session, self.owner, changes, at)
            kept = await self._still_there(session, [outcome.event.id for outcome in outcomes])
            for outcome in outcomes:
                if outcome.event.id not in kept:
                    log.info("webhook event %s was deleted during its attempt (with its webhook)", outcome.event.id)
            if attempt_rows := [
                {
                    "id": uuid4(),
                    "tenant_id": o.event.tenant_id,
                    "webhook_event_id": o.event.id,
                    "attempted_at": o.attempted_at,
                    "response_status": o.response_status,
                    "latency_ms": o.latency_ms,
                    "response_body": o.response_body,
                    "error": o.error,
                }
                for o in outcomes
                if o.event.id in kept
            ]:
                await session.execute(insert(WebhookAttempt.__table__), attempt_rows)
            ended = [
                (o.event.message_id, o.event.webhook_id, o.event.sequence)
                for o, change in zip(outcomes, changes, strict=True)
                if change["b_status"] != PENDING and o.event.id in kept
            ]
            await outbox.release_followers(session, ended, at)
            await session.commit()
        return [None] * len(outcomes)

    @staticmethod
    async def _still_there(session: AsyncSession, event_ids: list[UUID]) -> set[UUID]:
        """Of these events, those not deleted (with their webhook or tenant, e.g. by forceDelete while
        their attempt was under way), locked until the commit so that a deletion waits for it. SQLite
        writes one transaction at a time: the caller's update holds the database already."""
        event = WebhookEvent.__table__.c
        query = select(event.id).where(among(session, event.id, event_ids))
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(key_share=True)
        return set(await session.scalars(query))

    async def _track_failures(
        self, session: AsyncSession, successes: set[UUID], failures: set[UUID], gone: set[UUID], at: datetime.datetime
    ) -> None:
        """A success ends a webhook's run of failures; a run as long as ``disable_after`` disables it, and
        so does a 410 at once."""
        if successes:
            await session.execute(
                update(Webhook)
                .where(Webhook.id.in_(successes), Webhook.failing_since.is_not(None))
                .values(failing_since=None)
            )
        if failures:
            await session.execute(
                update(Webhook)
                .where(Webhook.id.in_(failures), Webhook.failing_since.is_(None))
                .values(failing_since=at)
            )
            why = f"every attempt failed for {self.disable_after}"
            await self._disable(session, failures, why, at, Webhook.failing_since <= at - self.disable_after)
        if gone:
            await self._disable(session, gone, "the receiver answered 410 Gone", at)

    async def _disable(
        self, session: AsyncSession, webhook_ids: set[UUID], why: str, at: datetime.datetime, *condition: Any
    ) -> None:
        disabled = await session.execute(
            update(Webhook)
            .where(Webhook.id.in_(webhook_ids), Webhook.enabled.is_(True), *condition)
            .values(enabled=False, updated_at=at)
            .returning(Webhook.id, Webhook.tenant_id)
        )
        for webhook_id, tenant_id in disabled:
            events.warning("webhook disabled", webhook_id=webhook_id, tenant_id=tenant_id, why=why)


async def post_keeping(
    transport: KeepAliveTransport,
    url: str,
    body: bytes,
    headers: dict[str, str],
    keep: int,
    io_seconds: float,
    addresses: tuple[str, ...] | None = None,
    method: str = "POST",
) -> tuple[httpx.Response, bytes]:
    """POST ``body`` (or make a GET without one); the answer and (at least) its first ``keep`` bytes, never the rest of a huge body.
    Each connect, read and write takes at most ``io_seconds`` (the caller bounds the whole exchange). A
    new connection goes to ``addresses`` when given, the first that answers (the URL's host still names the
    server).

    Straight to the transport, so nothing follows a redirect: a 3xx is a failed attempt, as a redirect
    could lead past the address check."""
    extensions: dict[str, Any] = {"timeout": _timeouts(io_seconds)}
    if addresses is not None:
        extensions[CONNECT_TO] = addresses
    request = _request(method, _parsed(url), body if method != "GET" else b"", headers, extensions)
    response = await transport.handle_async_request(request)
    kept = bytearray()
    try:
        async for chunk in response.aiter_bytes():
            kept += chunk
            if len(kept) >= keep:
                break
    finally:
        await response.aclose()
    return response, bytes(kept)


def _request(
    method: str, url: httpx.URL, body: bytes, headers: dict[str, str], extensions: dict[str, Any]
) -> httpx.Request:
    """The request ``httpx.Request(method, url, content=body or None, headers=headers)`` makes, the same headers
    in the same order, with them encoded once: httpx encodes them, looks up Host and Content-Length one by one,
    then encodes them all again with those two added (a fifth of an attempt's own CPU)."""
    raw = [(b"Host", url.netloc)]
    given = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
    if body:
        raw += [*given, (b"Content-Length", b"%d" % len(body))]
    elif method in ("POST", "PUT", "PATCH"):
        raw += [(b"Content-Length", b"0"), *given]
    else:
        raw += given
    return httpx.Request(method, url, headers=raw, stream=httpx.ByteStream(body), extensions=extensions)


@functools.lru_cache(maxsize=16)
def _timeouts(seconds: float) -> dict[str, float | None]:
    return httpx.Timeout(seconds).as_dict()


@functools.lru_cache(maxsize=4096)
def _parsed(url: str) -> httpx.URL:
    """The URL parsed once, not at every attempt."""
    return httpx.URL(url)
