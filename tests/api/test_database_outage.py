"""A database that restarts or can't be reached: stale pooled connections are replaced before use, and
requests that can't reach it get a 503 problem with Retry-After (the request did not happen), never a
500, on the customer API and on the providers' callback routes alike. Postgres only: an outage of an
SQLite file is not a thing."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update
from sqlalchemy.engine import make_url

from gateway.app import create_app
from gateway.lib.db import check_schema, create_engine, session_maker
from gateway.messages.dispatcher import Dispatcher
from gateway.models import IdempotencyKey
from tests.conftest import (
    POSTGRES_ADMIN_URL,
    assert_problem,
    eventually,
    in_app_loop,
    make_settings,
    message_ids,
    new_tenant,
)

SMS = {"text": "hello", "sender": "Acme"}


class CuttableProxy:
    """A TCP forwarder to Postgres that the test can cut: every connection through it drops, and new ones
    are refused, as while a database restarts; then it is restored on the same port. It runs on an event
    loop of its own: the test client blocks the test's loop while the app starts up."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, daemon=True).start()

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(work, self._loop).result(10)

    def start(self) -> None:
        self._run(self._start())

    def cut(self) -> None:
        self._run(self._cut())

    def close(self) -> None:
        self.cut()
        self._loop.call_soon_threadsafe(self._loop.stop)

    async def _start(self) -> None:
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers |= {writer, up_writer}

        async def pipe(source: asyncio.StreamReader, target: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    target.write(data)
                    await target.drain()
            target.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[CuttableProxy]:
    forwarder = CuttableProxy(make_url(postgres_url).port or 5432)
    forwarder.start()
    yield forwarder
    forwarder.close()


@pytest.fixture
async def proxied(postgres_url: str, proxy: CuttableProxy) -> AsyncIterator[AsyncTestClient]:
    url = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
    # No worker loops in the server: the tests dispatch themselves, and a loop's failed claim would
    # invalidate the pool before the requests find its closed connections.
    async with AsyncTestClient(app=create_app(make_settings(url, worker_in_server=False))) as client:
        yield client


def assert_unavailable(response) -> None:  # noqa: ANN001
    assert_problem(response, 503, "unavailable")
    assert int(response.headers["retry-after"]) >= 1
    assert "ratelimit" in response.headers  # an answer like any other


async def test_an_outage_is_a_503_on_the_api_and_the_callbacks_and_nothing_happens(proxied, proxy):
    tenant = await new_tenant(proxied, channels=("sms",))
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "sms": SMS}
    sent = await proxied.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert sent.status_code == 200, sent.text
    message_id = sent.json()["messageId"]
    token = proxied.app.state.runtime.callbacks.tokens.issue(uuid.UUID(message_id))

    proxy.cut()
    assert_unavailable(await proxied.post("/api/v1/Message/send", json=payload, headers=tenant.key))
    assert_unavailable(
        await proxied.post("/api/v1/Message/send", json=payload, headers={**tenant.key, "Idempotency-Key": "k-1"})
    )
    assert_unavailable(await proxied.get(f"/api/v1/Message/{message_id}", headers=tenant.bearer))
    login = {"email": tenant.email, "password": tenant.password}
    assert_unavailable(await proxied.post("/api/v1/Customer/login", json=login))
    report = {"messageId": "abc", "status": "DELIVERED", "errorcode": "0"}
    callback = f"/callbacks/sms/{tenant.accounts['sms']}?token={token}"
    assert_unavailable(await proxied.post(callback, json=report))
    health = await proxied.get("/health")
    assert health.status_code == 503

    proxy.start()  # the database is back: the same requests go through, and nothing was done twice
    assert (await proxied.post(callback, json=report)).status_code == 200
    keyed = await proxied.post("/api/v1/Message/send", json=payload, headers={**tenant.key, "Idempotency-Key": "k-1"})
    assert keyed.status_code == 200, keyed.text
    assert "idempotent-replay" not in keyed.headers  # the attempt during the outage stored nothing
    assert len(await message_ids(proxied, tenant)) == 2
    message = await proxied.get(f"/api/v1/Message/{message_id}", headers=tenant.key)
    assert message.json()["deliveryStatus"] == "Delivered"


async def test_pooled_connections_the_server_closed_are_replaced_before_use(postgres_url):
    # No worker loops in the server: a failed claim of theirs would invalidate the pool before the requests.
    async with AsyncTestClient(app=create_app(make_settings(postgres_url, worker_in_server=False))) as client:
        tenant = await new_tenant(client, channels=("sms",))
        # Fill the pool with connections used concurrently.
        answers = await asyncio.gather(*(client.get("/api/v1/trafficAccounts", headers=tenant.key) for _ in range(8)))
        assert {answer.status_code for answer in answers} == {200}
        # The database restarts: the server ends every backend (as a restart or pg_terminate_backend does).
        admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                make_url(postgres_url).database,
            )
        finally:
            await admin.close()
        assert ended >= 1
        # A fixed sleep, not a poll: the backends are gone before the requests, whose first try must succeed.
        await asyncio.sleep(0.2)
        answers = await asyncio.gather(*(client.get("/api/v1/trafficAccounts", headers=tenant.key) for _ in range(8)))
        assert [answer.status_code for answer in answers] == [200] * 8, [answer.text for answer in answers]


async def test_a_key_whose_send_was_committed_replays_its_answer_whatever_failed_after(proxied, proxy):
    """The database goes away right after the messages' commit: the key's answer was stored in that commit, so
    a retry (even after the in-flight timeout) replays it and sends nothing twice."""
    tenant = await new_tenant(proxied, channels=("sms",))
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "sms": SMS}
    acceptor = proxied.app.state.runtime.acceptor
    committed = acceptor.on_committed

    async def cut_after_commit(*args: Any) -> None:
        proxy.cut()
        await committed(*args)

    acceptor.on_committed = cut_after_commit
    first = await proxied.post("/api/v1/Message/send", json=payload, headers={**tenant.key, "Idempotency-Key": "k-2"})
    assert first.status_code == 200, first.text
    acceptor.on_committed = committed
    proxy.start()

    async def claimed_long_ago() -> None:  # as if IN_FLIGHT_TIMEOUT had passed
        async with proxied.app.state.runtime.engine.begin() as connection:
            await connection.execute(update(IdempotencyKey).values(claimed_at=datetime.now(UTC) - timedelta(hours=1)))

    in_app_loop(proxied, claimed_long_ago)
    again = await proxied.post("/api/v1/Message/send", json=payload, headers={**tenant.key, "Idempotency-Key": "k-2"})
    assert again.status_code == 200 and again.headers["idempotent-replay"] == "true"
    assert again.content == first.content
    assert len(await message_ids(proxied, tenant)) == 1


async def test_a_key_whose_send_failed_in_an_outage_is_free_again_soon_after(proxied, proxy):
    """The claim of a send that got a 503 is released once the database is back, not held for the in-flight
    timeout (60 s): the client's retry goes through."""
    tenant = await new_tenant(proxied, channels=("sms",))
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "sms": SMS}
    headers = {**tenant.key, "Idempotency-Key": "k-3"}
    acceptor = proxied.app.state.runtime.acceptor
    write = acceptor._group.write

    async def cut_then_write(requests: list[Any]) -> list[None]:  # the database goes as the messages are written
        proxy.cut()
        return await write(requests)

    acceptor._group.write = cut_then_write
    assert_unavailable(await proxied.post("/api/v1/Message/send", json=payload, headers=headers))
    acceptor._group.write = write
    proxy.start()

    async def released() -> httpx.Response:  # the client retries while the key is claimed (409)
        retry = await proxied.post("/api/v1/Message/send", json=payload, headers=headers)
        assert retry.status_code != 409, "the claim was not released"
        return retry

    retry = await eventually(released, interval=0.2)
    assert retry.status_code == 200 and "idempotent-replay" not in retry.headers, retry.text
    assert len(await message_ids(proxied, tenant)) == 1


async def test_a_send_the_provider_took_is_recorded_after_an_outage_not_sent_again(proxied, proxy):
    """The database goes away while a worker's send is at the provider: the worker writes the outcome once
    the database is back (it still holds the lease), rather than leave the message to be sent again."""
    tenant = await new_tenant(proxied, channels=("sms",))
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900777", "sms": SMS}
    sent = await proxied.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    message_id = sent.json()["messageId"]
    provider_calls = []  # of this message (earlier tests' messages in the database may be due too)

    def provider(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content)["to"] == "447700900777":
            provider_calls.append(request)
            proxy.cut()  # the database restarts while the provider answers
            threading.Timer(1.0, proxy.start).start()
        return httpx.Response(200, json={"id": uuid.uuid4().hex, "responseCode": 0, "responseText": "SMS sent"})

    async def dispatch() -> None:
        state = proxied.app.state
        http = httpx.AsyncClient(transport=httpx.MockTransport(provider))
        dispatcher = Dispatcher(
            session_maker(state.runtime.engine), "http://127.0.0.1:1", state.runtime.callbacks.tokens, http=http
        )
        assert await dispatcher.dispatch_once(limit=1000) >= 1
        await http.aclose()

    in_app_loop(proxied, dispatch)

    async def recorded() -> None:  # once the database is back
        answer = await proxied.get(f"/api/v1/Message/{message_id}", headers=tenant.key)
        assert answer.status_code == 200 and answer.json()["deliveryStatus"] == "Sent", answer.text

    await eventually(recorded)
    assert len(provider_calls) == 1, provider_calls


async def test_a_process_starting_while_the_database_is_away_waits_for_it(postgres_url, proxy):
    """A worker process replaced during an outage must not fail as it starts: uvicorn's supervisor stops
    every process when one fails at startup."""
    url = make_url(postgres_url).set(port=proxy.port).render_as_string(hide_password=False)
    engine = create_engine(make_settings(url).database_url)
    proxy.cut()
    threading.Timer(1.5, proxy.start).start()
    started = asyncio.get_running_loop().time()
    try:
        await asyncio.wait_for(check_schema(engine, wait=True), 20)
        assert asyncio.get_running_loop().time() - started >= 1.0
        await engine.dispose()
        proxy.cut()
        with pytest.raises(OSError):  # without waiting: a clear failure at once (the CLI's commands)
            await check_schema(engine)
    finally:
        await engine.dispose()
