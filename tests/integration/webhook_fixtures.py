"""A customer's webhook receiver on loopback, a controllable clock, and outbox rows to deliver.

The receiver answers each path as the test tells it (``answer``), by default 200 "ok", and keeps every
request it got. Paths under ``/hang`` don't answer until ``release_hanging`` is set (a dead endpoint that accepts
connections).
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from gateway.lib.clock import now
from gateway.lib.db import session_maker
from gateway.models import Conversation, Message, TrafficAccount, Webhook, WebhookAttempt, WebhookEvent
from gateway.store import statuses
from gateway.store.outbox import add_webhook_events, status_payload
from gateway.webhooks.deliverer import WebhookDeliverer
from tests.conftest import TenantFixture
from tests.conftest import create_webhook as create_webhook  # the tests' webhooks, as wf.create_webhook
from tests.integration.conftest import free_port, running, tenant_on


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    method: str = "POST"
    query: str = ""

    @property
    def event_id(self) -> str:
        return self.headers["webhook-id"]


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.received: list[Received] = []
        self.answers: dict[str, list[Answer]] = {}  # path -> answers to give in turn; the last one repeats
        self.in_flight: dict[str, int] = {}
        self.most_in_flight: dict[str, int] = {}
        self.arrived = asyncio.Event()
        self.release_hanging = asyncio.Event()  # set: requests under /hang get their answer
        self.hang_once: set[str] = set()  # paths whose next request never gets an answer

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, path: str, *answers: Answer) -> None:
        self.answers[path] = list(answers)

    def at(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    async def wait_for(self, count: int, path: str | None = None, seconds: float = 10) -> list[Received]:
        deadline = time.monotonic() + seconds
        while len(got := [r for r in self.received if path is None or r.path == path]) < count:
            assert time.monotonic() < deadline, f"{len(got)} requests, not {count}"
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), 0.05)
            except TimeoutError:
                pass
        return got

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path = scope["path"]
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        query = scope.get("query_string", b"").decode()
        self.received.append(Received(path, headers, body, time.monotonic(), scope["method"], query))
        self.arrived.set()
        self.in_flight[path] = self.in_flight.get(path, 0) + 1
        self.most_in_flight[path] = max(self.most_in_flight.get(path, 0), self.in_flight[path])
        try:
            if path.startswith("/hang"):
                await self.release_hanging.wait()
            if path in self.hang_once:
                self.hang_once.discard(path)
                await asyncio.sleep(3600)
            queue = self.answers.get(path) or [Answer()]
            answer = queue.pop(0) if len(queue) > 1 else queue[0]
        finally:
            self.in_flight[path] -= 1
        headers_out = [(b"content-type", b"text/plain")] + [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers_out})
        await send({"type": "http.response.body", "body": answer.body})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    app = Receiver()
    config = uvicorn.Config(app, host="127.0.0.1", port=app.port, log_level="warning", lifespan="off")
    async with running(uvicorn.Server(config)) as server:
        yield app
        app.release_hanging.set()
        server.force_exit = True  # a request left hanging by hang_once


class Clock:
    """A clock the test moves. It starts a little after the real time, so the events the test writes next
    are due, and near enough for receivers to accept the signatures' timestamps."""

    def __init__(self) -> None:
        self.now = now() + datetime.timedelta(seconds=5)

    def __call__(self) -> datetime.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)

    def to(self, moment: datetime.datetime) -> None:
        self.now = max(self.now, moment)


def deliverer(client: httpx.AsyncClient, *webhooks: dict[str, Any], **options: Any) -> WebhookDeliverer:
    """A delivery worker on the test server's database, for these webhooks only."""
    options.setdefault("allow_private_urls", True)
    return WebhookDeliverer(
        session_maker(client.app.state.runtime.engine), only={uuid.UUID(w["id"]) for w in webhooks}, **options
    )


async def new_message(client: httpx.AsyncClient, tenant: TenantFixture, reference: str | None = None) -> uuid.UUID:
    """An outbound SMS, stored as sent (no dispatch), to raise status events on."""
    account_id = uuid.UUID(tenant.accounts["sms"])
    async with session_maker(client.app.state.runtime.engine)() as session:
        destination = f"+4477{uuid.uuid4().int % 10**8:08d}"  # a new conversation: 1 in 10^8 to repeat one
        conversation = Conversation(
            tenant_id=uuid.UUID(tenant.id), traffic_account_id=account_id, channel="sms", participant=destination
        )
        session.add(conversation)
        await session.flush()
        message = Message(
            tenant_id=uuid.UUID(tenant.id),
            traffic_account_id=account_id,
            conversation_id=conversation.id,
            channel="sms",
            direction="outbound",
            destination=destination,
            status=statuses.SENT,
            sequence=2,
            content={"text": "hello"},
            reference=reference,
        )
        session.add(message)
        await session.commit()
        return message.id


async def raise_status(client: httpx.AsyncClient, message_id: uuid.UUID, status: str) -> list[uuid.UUID]:
    """Write the outbox rows of a status change as the pipeline does (its payload, its sequence); their ids."""
    async with session_maker(client.app.state.runtime.engine)() as session:
        message = await session.get(Message, message_id)
        account = await session.get(TrafficAccount, message.traffic_account_id)
        message.status, message.sequence = status, message.sequence + 1
        if status == statuses.FAILED:
            message.error_code, message.description = "sms.dlr.27", "Absent subscriber"
        trigger = {statuses.DELIVERED: "Delivered", statuses.READ: "Read", statuses.FAILED: "Failed"}[status]
        await add_webhook_events(session, message, trigger, status_payload(message, trigger, now(), account))
        await session.flush()
        ids = list(
            await session.scalars(
                select(WebhookEvent.id).where(
                    WebhookEvent.message_id == message_id, WebhookEvent.sequence == message.sequence
                )
            )
        )
        await session.commit()
        return ids


async def event_row(client: httpx.AsyncClient, event_id: uuid.UUID) -> WebhookEvent:
    async with session_maker(client.app.state.runtime.engine)() as session:
        return await session.get(WebhookEvent, event_id, populate_existing=True)


async def attempt_rows(client: httpx.AsyncClient, event_id: uuid.UUID) -> list[WebhookAttempt]:
    async with session_maker(client.app.state.runtime.engine)() as session:
        return list(
            await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.webhook_event_id == event_id)
                .order_by(WebhookAttempt.attempted_at)
            )
        )


async def event_ids_of(client: httpx.AsyncClient, webhook: dict[str, Any]) -> list[uuid.UUID]:
    async with session_maker(client.app.state.runtime.engine)() as session:
        query = select(WebhookEvent.id).where(WebhookEvent.webhook_id == uuid.UUID(webhook["id"]))
        return list(await session.scalars(query))


async def webhook_row(client: httpx.AsyncClient, webhook_id: str) -> Webhook:
    async with session_maker(client.app.state.runtime.engine)() as session:
        return await session.get(Webhook, uuid.UUID(webhook_id), populate_existing=True)


async def setup(client: httpx.AsyncClient) -> TenantFixture:
    return await tenant_on(client, ("sms",))
