"""Races and hostile input on the message pipeline (found in review), on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import sqlalchemy as sa

from channels.base import SendResult, StatusReport
from gateway.lib.db import session_maker
from gateway.messages.dispatcher import Outcome
from gateway.models import Message
from tests.conftest import assert_problem
from tests.integration.conftest import dispatcher_of, send_sms, tenant_on
from tests.integration.conftest import message_row as row


async def test_concurrent_copies_of_one_inbound_message_are_stored_once(server):
    tenant = await tenant_on(server)
    url = await server.app.state.runtime.callbacks.provider_callback_url("sms", uuid.UUID(tenant.accounts["sms"]))
    path = url.removeprefix(str(server.base_url))
    fields = {"sender": "447700900123", "receiver": "x", "content": "hi", "msgid": "dup-1"}
    answers = await asyncio.gather(*[server.post(path, json=fields) for _ in range(8)])
    assert {answer.status_code for answer in answers} == {200}
    inbound = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()["items"]
    assert len(inbound) == 1


async def test_malformed_delivery_reports_are_400s(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send_sms(client, tenant)
    token = client.app.state.runtime.callbacks.tokens.issue(uuid.UUID(message_id))
    url = f"/callbacks/sms/{tenant.accounts['sms']}?token={token}"
    for code in ([1], {}, "x" * 100, "12a"):
        response = await client.post(url, json={"status": "UNDELIVERED", "errorcode": code})
        assert_problem(response, 400, "validation_error", "errorcode")
    assert (await row(client, message_id)).status == "Ready"


async def test_inbound_sms_fields_are_checked(server):
    tenant = await tenant_on(server)
    url = await server.app.state.runtime.callbacks.provider_callback_url("sms", uuid.UUID(tenant.accounts["sms"]))
    path = url.removeprefix(str(server.base_url))
    bad = {"sender": "4" * 300, "content": {"x": 1}, "msgid": "m"}
    assert_problem(await server.post(path, json=bad), 400, "validation_error", "sender", "content")
    named = {"sender": "ACME", "content": "hi", "msgid": "m2"}  # an alphanumeric sender keeps its name
    assert (await server.post(path, json=named)).status_code == 200
    inbound = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()["items"]
    assert [m["destination"] for m in inbound] == ["ACME"]


async def test_times_without_an_offset_are_utc_in_filters(server):
    tenant = await tenant_on(server)
    response = await server.get("/api/v1/Messages?from=2020-01-01T00:00:00&to=2999-01-01T00:00:00", headers=tenant.key)
    assert response.status_code == 200, response.text


async def test_the_blocks_validity_bounds_retries(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send_sms(client, tenant, validity=5)
    stored = await row(client, message_id)
    left = stored.valid_until - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(minutes=4) < left <= datetime.timedelta(minutes=5)


async def test_only_ascii_digits_make_a_phone_number(server):
    tenant = await tenant_on(server)
    payload = {
        "trafficAccountId": tenant.accounts["sms"],
        "destination": "+٤٤٧٧٠٠٩٠٠١٢٣",
        "sms": {"text": "x", "sender": "A"},
    }
    response = await server.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "destination")


async def test_a_worker_that_lost_its_lease_records_nothing(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = uuid.UUID(await send_sms(client, tenant))
    slow, other = (
        dispatcher_of(client, owner="slow"),
        dispatcher_of(
            client, owner="other", clock=lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=2)
        ),
    )
    assert message_id in await slow.claim(1000)  # large limits: earlier tests' messages may be due too
    async with session_maker(client.app.state.runtime.engine)() as session:
        stale = await session.get(Message, message_id)
        session.expunge(stale)
    assert message_id in await other.claim(1000)  # the slow worker's lease expired
    async with session_maker(client.app.state.runtime.engine)() as session:
        fresh = await session.get(Message, message_id)
    await other.outcomes.submit(Outcome(fresh, SendResult(status="Sent", provider_message_id="b")))
    await slow.outcomes.submit(Outcome(stale, SendResult(status="Sent", provider_message_id="a")))
    stored = await row(client, str(message_id))
    assert stored.provider_message_id == "b" and stored.status == "Sent" and stored.attempts == 1
    for worker in (slow, other):
        await worker.http.aclose()


async def test_an_unexpected_error_in_a_send_counts_as_an_attempt(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send_sms(client, tenant)
    async with session_maker(client.app.state.runtime.engine)() as session:  # a block the adapter can't use
        await session.execute(
            sa.update(Message).where(Message.id == uuid.UUID(message_id)).values(content={"text": "x"})
        )
        await session.commit()
    worker = dispatcher_of(client)
    await worker.dispatch_once()
    stored = await row(client, message_id)
    assert stored.status == "Ready" and stored.attempts == 1 and stored.lease_owner is None
    assert stored.next_attempt_at > datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    assert "internal error" in stored.description
    await worker.http.aclose()


async def test_the_sweep_applies_reports_a_dead_worker_left_parked(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = uuid.UUID(await send_sms(client, tenant))
    account_id = uuid.UUID(tenant.accounts["sms"])
    assert await client.app.state.runtime.callbacks.report(
        account_id, StatusReport(status="Delivered", provider_message_id="p-9")
    )
    async with session_maker(client.app.state.runtime.engine)() as session:  # recorded, then the worker died
        await session.execute(
            sa.update(Message)
            .where(Message.id == message_id)
            .values(status="Sent", sequence=2, provider_message_id="p-9")
        )
        await session.commit()
    worker = dispatcher_of(client)
    await worker.sweep()
    assert (await row(client, str(message_id))).status == "Delivered"
    await worker.http.aclose()


def test_callback_urls_with_dot_segments_are_not_ours(server_without_worker):
    pipeline = server_without_worker.app.state.runtime.callbacks
    own = pipeline.callback_url("sms", uuid.uuid4())
    assert pipeline.is_own_callback(own + "?token=x")
    assert not pipeline.is_own_callback(pipeline.callback_prefix + "../admin/tenants")
    assert not pipeline.is_own_callback("http://elsewhere.example/callbacks/sms/x")
