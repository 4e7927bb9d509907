"""Idempotent sends: the ``Idempotency-Key`` header of the IETF draft, as Stripe does it.

A POST whose handler is marked ``opt={"idempotent": True}`` (the sends) may carry ``Idempotency-Key``:
1 to 255 printable ASCII characters, bare (as Stripe writes it) or as a structured-field string in
quotes (as the draft writes it); both name the same key. Keys belong to the tenant and are kept
GATEWAY_IDEMPOTENCY_TTL seconds (24 h) from their first use.

- The first request claims the key: an INSERT that does nothing on conflict with the unique
  (tenant_id, key), so of any number of concurrent requests exactly one proceeds.
- Its answer is stored with the key **in the transaction that stores its messages** (the acceptor
  writes it, see ``KeyedAnswer``): the key's answer and the messages exist together or not at all, and
  a claim taken over meanwhile makes that transaction fail rather than create the messages twice.
  The same key with the same request (method, path and body bytes, compared by SHA-256; and Accept where
  the handler's opt says ``fingerprint_accept``) gets that answer again, status, body and content type,
  with ``Idempotent-Replay: true``, and creates nothing.
- The same key with another request: 422 ``idempotency_key_reused``. While the first is in flight:
  409 ``idempotency_key_in_flight`` with ``Retry-After``.
- An answer of 400 or more (validation, a missing traffic account, a database outage) releases the
  claim, unless an answer is stored (a commit whose acknowledgement was lost): the key can be used again.
  A release the database refuses is tried again in the background until it succeeds.
- A claim left by a process that died is taken over once it is IN_FLIGHT_TIMEOUT seconds old: that
  process stored nothing, since an answer is stored only with the messages.

So a retry after any failure either replays the first answer or finds that nothing was created.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID, uuid4

from litestar import Request
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql.dml import Delete

from gateway.lib.problems import Problem, invalid
from gateway.models import IdempotencyKey
from wire.errors import FieldError

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
IDEMPOTENT_OPT = "idempotent"  # opt={"idempotent": True} on every handler that sends
# ... and {"fingerprint_accept": True} on those whose answer's format follows the Accept header (the SMS API's
# JSON or XML): a retry asking for the other format is another request (422), not the first answer's bytes.
FINGERPRINT_ACCEPT_OPT = "fingerprint_accept"
MAX_KEY_LENGTH = 255
# Seconds after which a claim without an answer is taken over by a retry: longer than sends take under
# load, short enough for a client whose request died with its process. Taking over early is safe: the
# first request's transaction, should it still come, then fails (KeyedAnswer.store) and creates nothing.
IN_FLIGHT_TIMEOUT = 10
RETRY_IN_FLIGHT_AFTER = 1  # seconds; a send is answered in milliseconds
PURGE_EVERY = 600  # seconds between deletions of expired keys


def parse_key(value: str) -> str:
    """The key a header value names; a 400 naming the header when it is not one."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if not 1 <= len(value) <= MAX_KEY_LENGTH or not all(" " <= char <= "~" for char in value):
        raise invalid(
            [FieldError(HEADER, f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")],
            f"The {HEADER} header is not valid.",
        )
    return value


def fingerprint(method: str, path: str, body: bytes, accept: str | None = None) -> str:
    """What makes two requests the same: method, path (fixed segments as routed, the version lower-cased)
    and the body's bytes; and the Accept header, for a handler that answers in the format it asks for."""
    line = f"{method} {path.lower()}" if accept is None else f"{method} {path.lower()} accept={accept}"
    return hashlib.sha256(f"{line}\n".encode() + body).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """The right to process a request with this key; ``token`` tells our claim from a later takeover."""

    id: UUID
    token: str


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    content_type: str | None
    body: bytes


@dataclass(slots=True)
class KeyedAnswer:
    """A handler's answer to store with its key, in the transaction that stores what the request created.
    ``render`` is called inside that transaction, once the messages' generated values (conversation ids)
    are known; ``body`` is then what was stored, and what the handler must answer."""

    claim: Claim
    render: Callable[[], bytes]
    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""

    async def store(self, connection: AsyncConnection) -> None:
        """Store the answer with its key, in the caller's transaction. When the claim is no longer ours (taken
        over by a retry after IN_FLIGHT_TIMEOUT) the transaction must fail, so that nothing is created twice:
        a 409 in flight, as the retry that took it over is now being processed."""
        self.body = self.render()
        stored = await connection.execute(
            update(IdempotencyKey)
            .where(
                IdempotencyKey.id == self.claim.id,
                IdempotencyKey.claim == self.claim.token,
                IdempotencyKey.response_status.is_(None),
            )
            .values(response_status=self.status, response_content_type=self.content_type, response_body=self.body)
        )
        if stored.rowcount != 1:
            log.warning("idempotency key %s was taken over before its answer was stored", self.claim.id)
            raise _in_flight()


CLAIM_STATE = "idempotency_claim"  # where the middleware leaves the request's claim, in scope["state"]


def claim_of(request: Request) -> Claim | None:
    """The Idempotency-Key claim this request holds, if it came with a key."""
    return request.scope.get("state", {}).get(CLAIM_STATE)


def _reused() -> Problem:
    return Problem(
        422,
        "idempotency_key_reused",
        f"This {HEADER} was used with a different request; use a new key for a new request.",
        errors=[FieldError(HEADER, "was used with a different request")],
    )


def _in_flight() -> Problem:
    return Problem(
        409,
        "idempotency_key_in_flight",
        f"A request with this {HEADER} is still being processed; retry shortly to get its answer.",
        headers={"Retry-After": str(RETRY_IN_FLIGHT_AFTER)},
    )


class IdempotencyKeys:
    """The keys in the database. Each claim and answer is committed at once, in a transaction of its own, so
    other processes see it. They are written on the request's own session (which holds nothing uncommitted
    at those points): a request never holds two pooled connections at a time, or 100 concurrent requests
    on a pool of 20 could all hold one and wait for a second."""

    def __init__(self, engine: AsyncEngine, ttl_seconds: int, in_flight_timeout: float = IN_FLIGHT_TIMEOUT) -> None:
        self.engine = engine
        self.ttl = datetime.timedelta(seconds=ttl_seconds)
        self.in_flight_timeout = datetime.timedelta(seconds=in_flight_timeout)
        self._releasing: set[asyncio.Task[None]] = set()

    async def claim(
        self, session: AsyncSession, tenant_id: UUID, key: str, request_fingerprint: str
    ) -> Claim | StoredAnswer:
        """Claim the key for this request, or the answer stored for it; raises 422 or 409 problems."""
        table = IdempotencyKey.__table__
        dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
        for _ in range(3):  # a claim released or taken over between our statements: look again
            now, token = datetime.datetime.now(datetime.UTC), uuid4().hex
            fresh = {
                "fingerprint": request_fingerprint,
                "claim": token,
                "claimed_at": now,
                "expires_at": now + self.ttl,
                "response_status": None,
                "response_content_type": None,
                "response_body": None,
            }
            async with _transaction(session) as db:
                row_id = uuid4()
                inserted = await db.execute(
                    dialect.insert(table)
                    .values(id=row_id, tenant_id=tenant_id, key=key, **fresh)
                    .on_conflict_do_nothing(index_elements=["tenant_id", "key"])
                )
                if inserted.rowcount == 1:
                    return Claim(row_id, token)
                row = (
                    await db.execute(select(table).where(table.c.tenant_id == tenant_id, table.c.key == key))
                ).one_or_none()
                if row is None:
                    continue
                expired = row.expires_at <= now
                if not expired and row.fingerprint != request_fingerprint:
                    raise _reused()
                if not expired and row.response_status is not None:
                    return StoredAnswer(row.response_status, row.response_content_type, row.response_body or b"")
                if not expired and row.claimed_at > now - self.in_flight_timeout:
                    raise _in_flight()
                # Expired, or claimed by a process that died: take it over, unless another request just did, or
                # (in flight) the claim's transaction stored its answer since we read the row: look again.
                takeover = update(table).where(table.c.id == row.id, table.c.claim == row.claim)
                if not expired:
                    takeover = takeover.where(table.c.response_status.is_(None))
                taken = await db.execute(takeover.values(**fresh))
                if taken.rowcount == 1:
                    return Claim(row.id, token)
        raise _in_flight()

    async def release(self, session: AsyncSession, claim: Claim) -> None:
        """Let the key be used again: the request created nothing. Not when an answer is stored with it (the
        messages were committed though the acknowledgement was lost): a retry then gets that answer. When
        the database can't be reached, tried again in the background until it succeeds or the claim lapses."""
        try:
            async with _transaction(session) as db:
                await db.execute(_release(claim))
        except Exception:  # noqa: BLE001  (the answer that caused the release goes out regardless)
            log.warning("releasing idempotency key %s failed; retrying in the background", claim.id, exc_info=True)
            task = asyncio.create_task(self._release_when_possible(claim))
            self._releasing.add(task)
            task.add_done_callback(self._releasing.discard)

    async def _release_when_possible(self, claim: Claim) -> None:
        loop = asyncio.get_running_loop()
        deadline, delay = loop.time() + self.in_flight_timeout.total_seconds(), RETRY_IN_FLIGHT_AFTER / 2
        while loop.time() < deadline:
            await asyncio.sleep(delay)
            try:
                async with self.engine.begin() as connection:
                    await connection.execute(_release(claim))
                return
            except Exception:  # noqa: BLE001  (still unreachable: try again)
                delay = min(delay * 2, 5.0)
        log.warning("idempotency key %s stays claimed until it lapses", claim.id)

    async def purge(self, now: datetime.datetime | None = None) -> int:
        """Delete the expired keys; the number deleted."""
        now = now or datetime.datetime.now(datetime.UTC)
        async with self.engine.begin() as connection:
            deleted = await connection.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
        return deleted.rowcount

    async def run_purger(self, stop: asyncio.Event) -> None:
        """Delete expired keys every PURGE_EVERY seconds until ``stop`` is set. (An expired key is also
        taken over as it is used again, so a late purge changes nothing but the table's size.)"""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), PURGE_EVERY)
            except TimeoutError:
                try:
                    await self.purge()
                except Exception:  # noqa: BLE001  (the next round tries again)
                    log.exception("purging expired idempotency keys failed")


def _release(claim: Claim) -> Delete:
    return delete(IdempotencyKey).where(
        IdempotencyKey.id == claim.id, IdempotencyKey.claim == claim.token, IdempotencyKey.response_status.is_(None)
    )


@asynccontextmanager
async def _transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    """A transaction of its own on the request's session: whatever the session had open is rolled back
    first (reads only; a handler's uncommitted writes would be rolled back as the session closes anyway)."""
    await session.rollback()
    try:
        yield session
        await session.commit()
    except BaseException:
        await session.rollback()
        raise


class _Captured:
    """A response held back until the claim is settled: an error's claim is released before the client
    can retry with the same key."""

    def __init__(self) -> None:
        self.start: Message | None = None
        self.body = bytearray()

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    @property
    def status(self) -> int:
        return self.start["status"] if self.start else 500

    @property
    def content_type(self) -> str | None:
        headers = self.start.get("headers", ()) if self.start else ()
        return next((value.decode("latin-1") for name, value in headers if name.lower() == b"content-type"), None)

    async def forward(self, send: Send) -> None:
        if self.start is not None:
            await send(self.start)
            await send({"type": "http.response.body", "body": bytes(self.body), "more_body": False})


async def _replay(answer: StoredAnswer, send: Send) -> None:
    headers = [(b"content-length", str(len(answer.body)).encode()), (b"idempotent-replay", b"true")]
    if answer.content_type:
        headers.append((b"content-type", answer.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body, "more_body": False})


class IdempotencyMiddleware:
    """Customer API middleware, after authentication: idempotency keys on the handlers that send."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or not scope["route_handler"].opt.get(IDEMPOTENT_OPT):
            await self.app(scope, receive, send)
            return
        request: Request = Request(scope, receive)
        if (header := request.headers.get(HEADER)) is None:
            await self.app(scope, receive, send)
            return
        key = parse_key(header)
        state = scope["app"].state
        keys: IdempotencyKeys = state.runtime.idempotency_keys
        session: AsyncSession = state.runtime.db_config.provide_session(state, scope)  # the handler's session too
        # The body is read once: the handler gets the same bytes from the request's cache.
        accept = request.headers.get("accept", "") if scope["route_handler"].opt.get(FINGERPRINT_ACCEPT_OPT) else None
        outcome = await keys.claim(
            session,
            scope["user"].tenant_id,
            key,
            fingerprint(scope["method"], scope["path"], await request.body(), accept),
        )
        if isinstance(outcome, StoredAnswer):
            await _replay(outcome, send)
            return
        scope.setdefault("state", {})[CLAIM_STATE] = outcome  # the handler stores its answer with its messages
        response = _Captured()
        try:
            await self.app(scope, receive, response.send)
        except BaseException:
            await keys.release(session, outcome)
            raise
        if response.status >= 400:
            await keys.release(session, outcome)
        await response.forward(send)
