"""Idempotency keys on sends: replay, mismatch, concurrency, in-flight, failures, scoping and expiry."""

from __future__ import annotations

import asyncio
import collections
import datetime
import json
import threading
import uuid
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event, select, update

from gateway.idempotency import IN_FLIGHT_TIMEOUT, Claim, IdempotencyKeys, KeyedAnswer, StoredAnswer, fingerprint
from gateway.lib.db import create_engine, session_maker
from gateway.lib.problems import Problem
from gateway.messages.requests import shapes
from gateway.messages.service import MessageService
from gateway.messages.validation import SendRequest
from gateway.models import IdempotencyKey
from tests.conftest import TenantFixture, assert_problem, in_app_loop, make_settings, message_ids, new_tenant

SEND = "/api/v1/Message/send"


def body_of(tenant: TenantFixture, **changes: Any) -> bytes:
    payload = {
        "trafficAccountId": tenant.accounts["sms"],
        "destination": "+447700900123",
        "sms": {"text": "Your code is 1234", "sender": "Acme"},
    }
    return json.dumps(payload | changes).encode()


async def send(
    client: AsyncTestClient, tenant: TenantFixture, key: str | bytes | None, body: bytes, path: str = SEND
) -> httpx.Response:
    headers = tenant.key | {"content-type": "application/json"}
    return await client.post(path, content=body, headers=headers if key is None else headers | {"Idempotency-Key": key})


def in_app(client: AsyncTestClient, work: Any) -> Any:
    """``work(http)`` on the app's own loop with an HTTP client that really runs requests concurrently
    (the test client answers one request at a time)."""

    async def run() -> Any:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
            return await work(http)

    return in_app_loop(client, run)


def kind(answer: httpx.Response) -> str:
    if answer.status_code != 200:
        return str(answer.status_code)
    return "replay" if "idempotent-replay" in answer.headers else "first"


def set_key_times(client: AsyncTestClient, tenant: TenantFixture, key: str, **times: datetime.datetime) -> None:
    async def work() -> None:
        async with client.app.state.runtime.engine.begin() as connection:
            await connection.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.tenant_id == uuid.UUID(tenant.id), IdempotencyKey.key == key)
                .values(**times)
            )

    in_app_loop(client, work)


def ago(seconds: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)


async def test_the_same_request_again_gets_the_first_answer_and_creates_nothing(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    first = await send(client, tenant, "order-42", body_of(tenant))
    again = await send(client, tenant, "order-42", body_of(tenant))
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["content-type"] == first.headers["content-type"]
    assert again.headers["idempotent-replay"] == "true" and "idempotent-replay" not in first.headers
    assert "ratelimit" in again.headers  # a replay is a response like any other
    assert await message_ids(client, tenant) == [first.json()["messageId"]]


async def test_the_path_is_compared_as_routed_and_the_key_bare_or_quoted(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    first = await send(client, tenant, "k-1", body_of(tenant), "/api/v1.1/Messages/send")
    again = await send(client, tenant, '"k-1"', body_of(tenant), "/api/V1.1/message/SEND")
    assert again.headers.get("idempotent-replay") == "true" and again.json() == first.json()
    assert len(first.json()["messages"]) == 1 and len(await message_ids(client, tenant)) == 1


async def test_the_same_key_with_another_request_is_a_422(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    assert (await send(client, tenant, "k", body_of(tenant))).status_code == 200
    other_body = await send(client, tenant, "k", body_of(tenant, destination="+447700900124"))
    body = assert_problem(other_body, 422, "idempotency_key_reused", "Idempotency-Key")
    assert "different request" in body["detail"]
    other_version = await send(client, tenant, "k", body_of(tenant), "/api/v1.1/Messages/send")
    assert_problem(other_version, 422, "idempotency_key_reused")
    assert len(await message_ids(client, tenant)) == 1


async def test_100_concurrent_identical_requests_make_exactly_one_message(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = body_of(tenant)

    async def hundred(http: httpx.AsyncClient) -> list[httpx.Response]:
        headers = tenant.key | {"content-type": "application/json", "Idempotency-Key": "once"}
        return await asyncio.gather(*(http.post(SEND, content=body, headers=headers) for _ in range(100)))

    answers = in_app(client, hundred)
    kinds = collections.Counter(kind(a) for a in answers)
    assert kinds["first"] == 1 and kinds["first"] + kinds["replay"] + kinds["409"] == 100, kinds
    [first] = [a for a in answers if kind(a) == "first"]
    assert all(a.content == first.content for a in answers if a.status_code == 200)
    assert all(a.headers["retry-after"] == "1" for a in answers if a.status_code == 409)
    assert await message_ids(client, tenant) == [first.json()["messageId"]]


async def test_a_request_while_the_first_is_in_flight_is_a_409_with_retry_after(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    acceptor = client.app.state.runtime.acceptor
    body = body_of(tenant)
    headers = tenant.key | {"content-type": "application/json", "Idempotency-Key": "slow"}

    async def held_first_request(http: httpx.AsyncClient) -> tuple[httpx.Response, ...]:
        writing, go_on = asyncio.Event(), asyncio.Event()
        accept = acceptor.accept

        async def held(*args: Any, **kwargs: Any) -> None:
            writing.set()
            await go_on.wait()
            await accept(*args, **kwargs)

        acceptor.accept = held
        try:
            first = asyncio.create_task(http.post(SEND, content=body, headers=headers))
            await asyncio.wait_for(writing.wait(), 10)  # a first request that fails instead must not hang the test
            during = await http.post(SEND, content=body, headers=headers)
            go_on.set()
            return during, await first, await http.post(SEND, content=body, headers=headers)
        finally:
            del acceptor.accept

    during, first, after = in_app(client, held_first_request)
    assert_problem(during, 409, "idempotency_key_in_flight")
    assert during.headers["retry-after"] == "1" and "ratelimit" in during.headers
    assert first.status_code == 200 and after.headers["idempotent-replay"] == "true" and after.json() == first.json()
    assert len(await message_ids(client, tenant)) == 1


async def test_a_claim_left_by_a_dead_process_is_taken_over(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = body_of(tenant)
    keys: IdempotencyKeys = client.app.state.runtime.idempotency_keys

    async def claim() -> Claim:
        async with session_maker(client.app.state.runtime.engine)() as session:
            claimed = await keys.claim(session, uuid.UUID(tenant.id), "orphan", fingerprint("POST", SEND, body))
        assert isinstance(claimed, Claim)
        return claimed

    orphan = in_app_loop(client, claim)  # a process claimed the key, then died
    assert_problem(await send(client, tenant, "orphan", body), 409, "idempotency_key_in_flight")
    set_key_times(client, tenant, "orphan", claimed_at=ago(IN_FLIGHT_TIMEOUT + 1))  # the claim's process died
    taken_over = await send(client, tenant, "orphan", body)
    assert taken_over.status_code == 200 and "idempotent-replay" not in taken_over.headers

    async def late_write() -> None:  # the first request, had it lived, can't store its messages now
        state = client.app.state
        async with session_maker(state.runtime.engine)() as session:
            service = MessageService(lambda: session, state.runtime.acceptor, state.runtime.lookups)
            request = SendRequest.read(json.loads(body), shapes().send)
            plan = await service.plan(uuid.UUID(tenant.id), request)
            with pytest.raises(Problem) as refused:
                await service.accept(plan, KeyedAnswer(orphan, lambda: b"{}"))
        assert refused.value.status_code == 409

    in_app_loop(client, late_write)
    assert (await send(client, tenant, "orphan", body)).json() == taken_over.json()
    assert len(await message_ids(client, tenant)) == 1


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # concurrent writers to one row
async def test_a_takeover_racing_the_first_requests_commit_gets_its_answer(
    client: AsyncTestClient, database_url
) -> None:
    """A retry reads the key as claimed long ago, without an answer; before its takeover, the first request's
    transaction stores its answer and commits. The retry must then replay that answer, not take the key over
    (which would wipe the answer and send again)."""
    tenant = await new_tenant(client, ("sms",))
    keys: IdempotencyKeys = client.app.state.runtime.idempotency_keys
    engine = client.app.state.runtime.engine
    tenant_id, request = uuid.UUID(tenant.id), fingerprint("POST", SEND, body_of(tenant))
    first_loop = asyncio.new_event_loop()  # the first request's process: a loop and a connection of its own
    threading.Thread(target=first_loop.run_forever, daemon=True).start()

    async def first_request_commits(claim: Claim) -> None:
        other = create_engine(make_settings(database_url).database_url)
        async with other.begin() as connection:
            await KeyedAnswer(claim, lambda: b'{"first": true}').store(connection)
        await other.dispose()

    def before_takeover(_connection, _cursor, statement, parameters, _context, _many) -> None:  # noqa: ANN001
        if statement.startswith("UPDATE idempotency_key SET fingerprint") and not raced:
            raced.append(statement)  # the retry has read the row: the first request commits now
            asyncio.run_coroutine_threadsafe(first_request_commits(first[0]), first_loop).result(10)

    async def race() -> Claim | StoredAnswer:
        async with session_maker(engine)() as session:
            claimed = await keys.claim(session, tenant_id, "racing", request)
        async with engine.begin() as connection:  # as if the first request's process were slow
            await connection.execute(update(IdempotencyKey).values(claimed_at=ago(IN_FLIGHT_TIMEOUT + 1)))
        first.append(claimed)
        event.listen(engine.sync_engine, "before_cursor_execute", before_takeover)
        try:
            async with session_maker(engine)() as session:
                return await keys.claim(session, tenant_id, "racing", request)
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", before_takeover)

    first: list[Claim] = []
    raced: list[str] = []
    try:
        outcome = in_app_loop(client, race)
    finally:
        first_loop.call_soon_threadsafe(first_loop.stop)
    assert raced, "the retry never tried to take the key over"
    assert outcome == StoredAnswer(200, "application/json", b'{"first": true}')


async def test_a_request_that_fails_stores_nothing(client: AsyncTestClient, other_tenant: TenantFixture) -> None:
    tenant = await new_tenant(client, ("sms",))
    invalid = await send(client, tenant, "retry-me", body_of(tenant, sms={"text": ""}))
    assert_problem(invalid, 400, "validation_error", "sms.text")
    not_json = await send(client, tenant, "retry-me", b"{nope")
    assert_problem(not_json, 400, "validation_error", "body")
    not_theirs = await send(client, tenant, "retry-me", body_of(tenant, trafficAccountId=other_tenant.accounts["sms"]))
    assert_problem(not_theirs, 404, "not_found", "trafficAccountId")
    fixed = await send(client, tenant, "retry-me", body_of(tenant))  # the key is free: neither 422 nor a replay
    assert fixed.status_code == 200 and "idempotent-replay" not in fixed.headers
    assert len(await message_ids(client, tenant)) == 1


async def test_bad_keys_are_a_400_naming_the_header(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    for key in ["", "x" * 256, "ключ".encode(), "tab\there", '""']:
        answer = await send(client, tenant, key, body_of(tenant))
        assert_problem(answer, 400, "validation_error", "Idempotency-Key")
    assert (await send(client, tenant, "x" * 255, body_of(tenant))).status_code == 200
    assert len(await message_ids(client, tenant)) == 1


async def test_keys_belong_to_their_tenant(client: AsyncTestClient, other_tenant: TenantFixture) -> None:
    tenant = await new_tenant(client, ("sms",))
    mine = await send(client, tenant, "shared-key", body_of(tenant))
    theirs = await send(client, other_tenant, "shared-key", body_of(other_tenant))
    assert mine.status_code == theirs.status_code == 200 and "idempotent-replay" not in theirs.headers
    assert await message_ids(client, tenant) == [mine.json()["messageId"]]
    assert await message_ids(client, other_tenant) == [theirs.json()["messageId"]]


async def test_without_a_key_every_send_is_a_new_message(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    for _ in range(2):
        assert (await send(client, tenant, None, body_of(tenant))).status_code == 200
    assert len(await message_ids(client, tenant)) == 2


async def test_other_posts_ignore_the_header(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ())
    headers = tenant.bearer | {"Idempotency-Key": "same"}
    for new_password in ("first new password", "second new password"):  # another body, no 422
        answer = await client.post(
            "/api/v1/Customer/password",
            json={"oldPassword": "wrong password", "newPassword": new_password},
            headers=headers,
        )
        assert_problem(answer, 400, "validation_error", "oldPassword")


async def test_an_expired_key_is_new_again_and_purged(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    first = await send(client, tenant, "yesterday", body_of(tenant))
    kept = await send(client, tenant, "today", body_of(tenant, destination="+447700900125"))
    set_key_times(client, tenant, "yesterday", expires_at=ago(1))  # 24 h (GATEWAY_IDEMPOTENCY_TTL) have passed
    again = await send(client, tenant, "yesterday", body_of(tenant, destination="+447700900124"))  # any request
    assert again.status_code == 200 and "idempotent-replay" not in again.headers
    assert again.json()["messageId"] != first.json()["messageId"]
    assert (
        await send(client, tenant, "yesterday", body_of(tenant, destination="+447700900124"))
    ).json() == again.json()
    set_key_times(client, tenant, "yesterday", expires_at=ago(1))

    async def purge() -> tuple[int, list[str]]:
        purged = await client.app.state.runtime.idempotency_keys.purge()
        async with client.app.state.runtime.engine.connect() as connection:
            left = await connection.scalars(
                select(IdempotencyKey.key).where(IdempotencyKey.tenant_id == uuid.UUID(tenant.id))
            )
            return purged, list(left)

    purged, left = in_app_loop(client, purge)
    assert purged >= 1 and left == ["today"]
    assert (await send(client, tenant, "today", body_of(tenant, destination="+447700900125"))).json() == kept.json()
    assert len(await message_ids(client, tenant)) == 3


async def test_bulk_sends_take_keys_too(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    sms = {"text": "Sale today", "sender": "Acme"}
    bulk = {"destinations": ["+447700900101", "+447700900102"], "trafficAccountId": tenant.accounts["sms"], "sms": sms}
    many = {"messages": [{"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900103", "sms": sms}]}
    for path, body in (("/api/v1.1/Messages/sendbulk", bulk), ("/api/v1.1/Messages/sendmessagesbulk", many)):
        first = await send(client, tenant, f"bulk {path}", json.dumps(body).encode(), path)
        again = await send(client, tenant, f"bulk {path}", json.dumps(body).encode(), path)
        assert first.status_code == 200, first.text
        assert again.headers["idempotent-replay"] == "true" and again.json() == first.json()
        other = await send(client, tenant, f"bulk {path}", json.dumps(body | {"x": 1}).encode(), path)
        assert_problem(other, 422, "idempotency_key_reused")
    assert len(await message_ids(client, tenant)) == 3
