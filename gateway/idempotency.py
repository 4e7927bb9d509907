"""Idempotent sends: the ``Idempotency-Key`` header of the IETF draft, as Stripe does it.

A POST whose handler is marked ``opt={"idempotent": True}`` (the sends) may carry ``Idempotency-Key``:
1 to 255 printable ASCII characters, bare (as Stripe writes it) or as a structured-field string in
quotes (as the draft writes it); both name the same key. Keys belong to the tenant and are kept
GATEWAY_IDEMPOTENCY_TTL seconds (24 h) from their first use.

- The first request claims the key: an INSERT that does nothing on conflict with the unique
  (tenant_id, key), so of any number of concurrent requests exactly one proceeds.
- Its answer, if below 400, is stored with the key; the same key with the same request (method, path
  and body bytes, compared by SHA-256) gets that answer again, status, body and content type, with
  ``Idempotent-Replay: true``, and creates nothing.
- The same key with another request: 422 ``idempotency_key_reused``. While the first is in flight:
  409 ``idempotency_key_in_flight`` with ``Retry-After``.
- An answer of 400 or more (validation, a missing traffic account, an error) stores nothing: the claim
  is released and the key can be used again.
- A claim left by a process that died is taken over once it is IN_FLIGHT_TIMEOUT seconds old.

The window: the message is committed by the acceptor (on its own connection, in a group commit), and
the answer is stored with the key in a second, separate write after the handler returns. A process
that dies between the two leaves the key claimed but without an answer; a retry after
IN_FLIGHT_TIMEOUT takes it over and sends again. The answer is stored *before* it is sent, so a client
that has seen an answer always gets that answer replayed.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID, uuid4

from litestar import Request
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from channels.base import FieldError
from gateway.models import IdempotencyKey
from gateway.problems import Problem, invalid

log = logging.getLogger(__name__)

HEADER = "Idempotency-Key"
IDEMPOTENT_OPT = "idempotent"  # opt={"idempotent": True} on every handler that sends
MAX_KEY_LENGTH = 255
IN_FLIGHT_TIMEOUT = 60  # seconds; far longer than any send takes to answer
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


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests the same: method, path (fixed segments as routed, the version lower-cased)
    and the body's bytes."""
    return hashlib.sha256(f"{method} {path.lower()}\n".encode() + body).hexdigest()


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
                # Expired, or claimed by a process that died: take it over, unless another request just did.
                taken = await db.execute(
                    update(table).where(table.c.id == row.id, table.c.claim == row.claim).values(**fresh)
                )
                if taken.rowcount == 1:
                    return Claim(row.id, token)
        raise _in_flight()

    async def store(
        self, session: AsyncSession, claim: Claim, status: int, content_type: str | None, body: bytes
    ) -> None:
        async with _transaction(session) as db:
            stored = await db.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.id == claim.id, IdempotencyKey.claim == claim.token)
                .values(response_status=status, response_content_type=content_type, response_body=body)
            )
        if stored.rowcount != 1:  # taken over after IN_FLIGHT_TIMEOUT: the other request's answer wins
            log.warning("idempotency key %s was taken over before its answer was stored", claim.id)

    async def release(self, session: AsyncSession, claim: Claim) -> None:
        async with _transaction(session) as db:
            await db.execute(
                delete(IdempotencyKey).where(IdempotencyKey.id == claim.id, IdempotencyKey.claim == claim.token)
            )

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
    """A response held back until its answer is stored with the key."""

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
        keys: IdempotencyKeys = state.idempotency_keys
        session: AsyncSession = state.db_config.provide_session(state, scope)  # the handler's session too
        # The body is read once: the handler gets the same bytes from the request's cache.
        outcome = await keys.claim(
            session, scope["user"].tenant_id, key, fingerprint(scope["method"], scope["path"], await request.body())
        )
        if isinstance(outcome, StoredAnswer):
            await _replay(outcome, send)
            return
        response = _Captured()
        try:
            await self.app(scope, receive, response.send)
        except BaseException:
            await _quietly(keys.release(session, outcome))
            raise
        if response.status < 400:
            await _quietly(keys.store(session, outcome, response.status, response.content_type, bytes(response.body)))
        else:
            await _quietly(keys.release(session, outcome))
        await response.forward(send)


async def _quietly(write: Awaitable[None]) -> None:
    """A key's answer not stored (or its claim not released) must not hide the answer itself: the message
    may be accepted already. The claim then lapses after IN_FLIGHT_TIMEOUT."""
    try:
        await write
    except Exception:  # noqa: BLE001
        log.exception("storing or releasing an idempotency key failed")
