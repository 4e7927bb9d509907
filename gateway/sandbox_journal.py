"""The sandbox journal: every HTTP exchange of a sandbox traffic account with its provider, as the
provider saw it. Requests a send makes (``direction`` request: through JournalClient, the dispatcher's
client for sandbox accounts) and callbacks the provider makes (callback: JournalCallbacks, around the
callback routes), each with the answer given, secrets redacted from the URL and the headers
(gateway.logs' redaction), bodies cut at 64 KB. Read by GET /api/v1/sandbox/requests.

Rows are written in batches off the send's and the callback's path (gateway.lib.group_commit): a journal
that can't be written costs a warning, never a send. GATEWAY_SANDBOX_JOURNAL=false turns it off (with the
accounts' behaviour), for load tests."""

from __future__ import annotations

import asyncio
import datetime
import logging
import re
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.lib.clock import now
from gateway.lib.db import in_chunks, stored_text
from gateway.lib.group_commit import GroupCommit
from gateway.lib.lookups import Lookups
from gateway.lib.pagination import Cursor, page_query
from gateway.logs import REDACTED, redact_headers, redact_text
from gateway.models import Message, SandboxExchange, TrafficAccount
from gateway.sandbox_behaviour import Behaviours

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # bytes of a body kept
MAX_PENDING = 10_000  # rows waiting to be written; beyond, new ones are dropped (the database can't keep up)
LINGER = 0.05  # seconds a row waits to be written with others
REQUEST, CALLBACK = "request", "callback"
DIRECTIONS = (REQUEST, CALLBACK)


@dataclass(frozen=True, slots=True)
class SendContext:
    """The send a provider request belongs to (set by the dispatcher around the adapter's call)."""

    tenant_id: UUID
    traffic_account_id: UUID
    channel: str
    message_id: UUID
    destination: str


@dataclass(slots=True)
class CallbackNote:
    """What a callback's handling found out about the message it was about (set by ProviderCallbacks)."""

    message_id: UUID | None = None
    provider_message_id: str | None = None


SENDING: ContextVar[SendContext | None] = ContextVar("sandbox_sending", default=None)
CALLBACK_NOTE: ContextVar[CallbackNote | None] = ContextVar("sandbox_callback_note", default=None)


def note_callback_message(message_id: UUID | None, provider_message_id: str | None) -> None:
    """The callback being handled (if journaled) is about this message: ours, or the provider's id of it."""
    if (note := CALLBACK_NOTE.get()) is not None:
        note.message_id = note.message_id or message_id
        note.provider_message_id = note.provider_message_id or provider_message_id


# Secrets in the URLs a body carries (the per-message callback token an adapter gives the provider): cut out,
# as from the exchange's own URL. Nothing else of a body is touched (not gateway.logs' wider redaction, which
# would also cut a user's "password: ..." out of a message's text), so tests can assert on what was sent.
URL_SECRET = re.compile(r"([?&;](?:amp;)?[\w.-]*(?:token|secret|key|password|signature|auth)[\w.-]*=)[^&\s#\"'\\<]+", re.I)


def body_text(body: bytes) -> str:
    text = stored_text(body, MAX_BODY)
    return URL_SECRET.sub(lambda match: match.group(1) + REDACTED, text) if "=" in text else text


class Journal:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._commits = GroupCommit(self._write, max_batch=500, linger=LINGER)
        self._pending: set[asyncio.Task[None]] = set()
        self._accounts = Lookups(seconds=10.0)  # an account's tenant and sandbox flag never change

    def record(self, row: dict[str, Any]) -> None:
        """Write one exchange (SandboxExchange's columns; ``provider_message_id`` to find its message) soon,
        without waiting for it."""
        if len(self._pending) >= MAX_PENDING:
            log.warning("sandbox journal entry dropped: %d wait to be written already", len(self._pending))
            return
        task = asyncio.create_task(self._submit(row))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def flush(self) -> None:
        """Wait until what was recorded is written (tests; shutdown)."""
        while self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _submit(self, row: dict[str, Any]) -> None:
        try:
            await self._commits.submit(row)
        except Exception as error:  # noqa: BLE001  (the journal is a convenience: the send went on)
            log.warning("a sandbox journal entry could not be written: %s: %s", type(error).__name__, error)

    async def _write(self, submitted: list[dict[str, Any]]) -> list[None]:
        rows = submitted
        async with self.sessions() as session:
            await _find_messages(session, rows)
            # A message a sandbox reset deleted (or an account or tenant deleted) while its exchange waited
            # here: its entry goes too, rather than failing the batch on a foreign key.
            accounts = {r["traffic_account_id"] for r in rows}
            existing = set(await session.scalars(select(TrafficAccount.id).where(TrafficAccount.id.in_(accounts))))
            rows = [r for r in rows if r["traffic_account_id"] in existing]
            if named := {r["message_id"] for r in rows if r.get("message_id")}:
                kept = set(await session.scalars(select(Message.id).where(Message.id.in_(named))))
                rows = [r for r in rows if r.get("message_id") is None or r["message_id"] in kept]
            if rows:
                await session.execute(insert(SandboxExchange), rows)
                await session.commit()
        return [None] * len(submitted)

    async def sandbox_tenant(self, account_id: UUID) -> UUID | None:
        """The tenant of a sandbox traffic account; None for a live account or none."""

        async def load() -> UUID | None:
            async with self.sessions() as session:
                query = select(TrafficAccount.tenant_id).where(
                    TrafficAccount.id == account_id, TrafficAccount.sandbox.is_(True)
                )
                return await session.scalar(query)

        return await self._accounts.remember(account_id, load)


async def _find_messages(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Callbacks' messages, by the provider's id where the callback named only that, and their destinations."""
    by_provider = {(r["traffic_account_id"], r["provider_message_id"]) for r in rows if r.get("provider_message_id")}
    found: dict[tuple[UUID, str], tuple[UUID, str]] = {}
    pair = tuple_(Message.traffic_account_id, Message.provider_message_id)
    query = select(Message.traffic_account_id, Message.provider_message_id, Message.id, Message.destination)
    for chunk in in_chunks(list(by_provider)):
        found.update(((a, p), (m, d)) for a, p, m, d in await session.execute(query.where(pair.in_(chunk))))
    for row in rows:
        provider_id = row.pop("provider_message_id", None)
        if row.get("message_id") is None and (known := found.get((row["traffic_account_id"], provider_id))):
            row["message_id"], row["destination"] = known
    missing = {r["message_id"] for r in rows if r.get("message_id") and r.get("destination") is None}
    if missing:
        query = select(Message.id, Message.destination).where(Message.id.in_(missing))
        destinations = dict((m, d) for m, d in await session.execute(query))
        for row in rows:
            if row.get("message_id") in destinations and row.get("destination") is None:
                row["destination"] = destinations[row["message_id"]]


class JournalClient(httpx.AsyncClient):
    """The client a sandbox account's adapter sends with: each request goes through ``inner`` (the
    dispatcher's client), after the account's behaviour (which may answer in the provider's place), and is
    journaled with its answer. Requests outside a send (no SendContext) pass through unrecorded."""

    def __init__(self, inner: httpx.AsyncClient, journal: Journal, sessions: async_sessionmaker[AsyncSession]):
        super().__init__(timeout=inner.timeout, headers=inner.headers, follow_redirects=inner.follow_redirects)
        self.inner = inner
        self.journal = journal
        self.behaviours = Behaviours(sessions)

    async def send(self, request: httpx.Request, **options: Any) -> httpx.Response:
        if (context := SENDING.get()) is None:
            return await self.inner.send(request, **options)
        at, started = now(), time.perf_counter()
        response, error = None, None
        try:
            await request.aread()
            response = await self.behaviours.provider_answer(context.traffic_account_id, context.channel, request)
            if response is None:
                response = await self.inner.send(request, **options)
            return response
        except BaseException as failure:
            error = f"{type(failure).__name__}: {failure}"[:1000]
            raise
        finally:
            try:
                answer = response.content if response is not None else b""
            except httpx.ResponseNotRead:  # a streamed answer: the adapter reads it
                answer = b""
            self.journal.record(
                {
                    "tenant_id": context.tenant_id,
                    "traffic_account_id": context.traffic_account_id,
                    "channel": context.channel,
                    "direction": REQUEST,
                    "message_id": context.message_id,
                    "destination": context.destination[:256],
                    "method": request.method,
                    "url": redact_text(str(request.url))[:2048],
                    "request_headers": redact_headers(request.headers),
                    "request_body": body_text(request.content),
                    "response_status": response.status_code if response is not None else None,
                    "response_headers": redact_headers(response.headers) if response is not None else {},
                    "response_body": body_text(answer),
                    "error": error,
                    "latency_ms": round((time.perf_counter() - started) * 1000),
                    "occurred_at": at,
                }
            )


class JournalCallbacks:
    """ASGI middleware of the callback routes: a sandbox account's callback is journaled with the gateway's
    answer, and the message it was about when its handling found one (``note_callback_message``)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        journal: Journal | None = scope["app"].state.runtime.journal
        try:
            account_id = UUID(scope["path_params"]["account_id"])
        except (KeyError, ValueError):
            account_id = None
        tenant_id = await journal.sandbox_tenant(account_id) if journal and account_id else None
        if tenant_id is None:
            await self.app(scope, receive, send)
            return
        at, started = now(), time.perf_counter()
        asked, answer, status, headers = bytearray(), bytearray(), None, {}

        async def receiving() -> Any:
            message = await receive()
            if message["type"] == "http.request" and len(asked) < MAX_BODY:
                asked.extend(message.get("body", b""))
            return message

        async def sending(message: Any) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body" and len(answer) < MAX_BODY:
                answer.extend(message.get("body", b""))
            await send(message)

        note = CallbackNote()
        token = CALLBACK_NOTE.set(note)
        try:
            await self.app(scope, receiving, sending)
        finally:
            CALLBACK_NOTE.reset(token)
            request_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            query = scope["query_string"].decode("latin-1")
            host = request_headers.get("host", "")
            url = f"{scope['scheme']}://{host}{scope['path']}" + (f"?{query}" if query else "")
            journal.record(
                {
                    "tenant_id": tenant_id,
                    "traffic_account_id": account_id,
                    "channel": scope["path"].split("/")[2],  # /callbacks/<channel>/<account id>...
                    "direction": CALLBACK,
                    "message_id": note.message_id,
                    "provider_message_id": note.provider_message_id,
                    "destination": None,
                    "method": scope["method"],
                    "url": redact_text(url)[:2048],
                    "request_headers": redact_headers(request_headers),
                    "request_body": body_text(bytes(asked)),
                    "response_status": status,
                    "response_headers": redact_headers(headers),
                    "response_body": body_text(bytes(answer)),
                    "error": None if status is not None else "no answer",
                    "latency_ms": round((time.perf_counter() - started) * 1000),
                    "occurred_at": at,
                }
            )


@dataclass(frozen=True, slots=True)
class JournalFilters:
    traffic_account_id: UUID | None = None
    destination: str | None = None
    message_id: UUID | None = None
    direction: str | None = None
    since: datetime.datetime | None = None  # exchanges at or after this time


async def exchanges(
    session: AsyncSession, tenant_id: UUID, filters: JournalFilters, limit: int, cursor: Cursor | None
) -> tuple[list[SandboxExchange], Cursor | None]:
    """One page of the tenant's journal, oldest first, and the cursor of the next page if there is one."""
    query = select(SandboxExchange).where(SandboxExchange.tenant_id == tenant_id)
    if filters.traffic_account_id is not None:
        query = query.where(SandboxExchange.traffic_account_id == filters.traffic_account_id)
    if filters.destination is not None:
        query = query.where(SandboxExchange.destination == filters.destination)
    if filters.message_id is not None:
        query = query.where(SandboxExchange.message_id == filters.message_id)
    if filters.direction is not None:
        query = query.where(SandboxExchange.direction == filters.direction)
    if filters.since is not None:
        query = query.where(SandboxExchange.occurred_at >= filters.since)
    return await page_query(session, query, SandboxExchange, limit, cursor, at="occurred_at")
