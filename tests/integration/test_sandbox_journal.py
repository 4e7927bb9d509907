"""The sandbox journal and provider behaviour end to end: sends through the real adapters to the sandbox
providers over HTTP, behaviour set through the API and applied in the provider's place, every exchange (and
the providers' callbacks) read back from GET /api/v1/sandbox/requests; on SQLite and on Postgres."""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import uuid

import httpx
import pytest
import sqlalchemy as sa

from gateway.lib.db import create_engine, session_maker
from gateway.messages.requests import examples
from gateway.models import SandboxExchange
from gateway.sandbox_behaviour import Behaviours
from gateway.sandbox_journal import Journal
from gateway.settings import normalise_database_url
from tests.conftest import TenantFixture, eventually
from tests.integration.conftest import (
    adapter_account_of,
    attempted,
    dispatcher_of,
    send_message,
    serve,
    tenant_on,
    wait_for_status,
)

# A message type of each channel that its sandbox delivers, sent to its README example's destination.
PLAIN = {
    "sms": "SmsMessage",
    "telegram": "TelegramText",
    "whatsapp": "WhatsAppText",
    "viber": "ViberRegular",
    "gbm": "GbmText",
}
# What a "rejected" behaviour ends a message with: the channel's own code for its provider's refusal.
REJECTED_CODES = {
    "sms": "sms.8",
    "telegram": "telegram.403",
    "whatsapp": "whatsapp.131026",
    "viber": "viber.6",
    "gbm": "gbm.PERMISSION_DENIED",
}


def later(hours: int = 1):
    """A clock ``hours`` ahead, past any backoff: a dispatcher on it sends a retried message at once."""
    return lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=hours)


async def send_plain(client: httpx.AsyncClient, tenant: TenantFixture, channel: str) -> str:
    example = next(e for e in examples() if e.channel == channel and e.message_type == PLAIN[channel])
    key = next(k for k in example.request if k not in ("destination", "trafficAccountId"))
    return await send_message(client, tenant, channel, example.request["destination"], example.request[key])


async def put_behaviour(client: httpx.AsyncClient, tenant: TenantFixture, channel: str, **behaviour: object) -> None:
    url = f"/api/v1/sandbox/trafficAccounts/{tenant.accounts[channel]}/behaviour"
    response = await client.put(url, json=behaviour, headers=tenant.key)
    assert response.status_code == 200, response.text


async def journal(client: httpx.AsyncClient, tenant: TenantFixture, **filters: str) -> list[dict]:
    await client.app.state.runtime.journal.flush()  # type: ignore[attr-defined]
    response = await client.get("/api/v1/sandbox/requests", params=filters, headers=tenant.key)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def worker(client: httpx.AsyncClient, clock=None):
    return dispatcher_of(client, clock=clock or later(), journal=client.app.state.runtime.journal)  # type: ignore[attr-defined]


async def test_fail_next_transient_is_retried_then_delivered_with_every_request_journaled(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    await put_behaviour(client, tenant, "sms", failNext={"count": 2, "with": "transient"})
    message_id = await send_plain(client, tenant, "sms")
    for attempt in range(3):
        # At least this message (another test's leftovers in the shared database may be due too); the
        # journal below shows its three attempts.
        assert await worker(client, later(attempt + 1)).dispatch_once() >= 1
    await wait_for_status(client, tenant, message_id, "Delivered")
    requests = await journal(client, tenant, messageId=message_id, direction="request")
    assert [r["responseStatus"] for r in requests] == [500, 500, 200]
    assert json.loads(requests[0]["responseBody"]) == {"responseCode": 1, "responseText": "Internal error"}
    assert all(r["method"] == "POST" and r["url"].endswith("/sandbox/sms/sms") for r in requests)
    assert json.loads(requests[2]["requestBody"])["text"] == "Hi, this is test msg."
    assert requests[2]["destination"] == "+447700900123" and requests[2]["trafficAccountId"] == tenant.accounts["sms"]
    # The delivery report the sandbox then sent, with the gateway's answer, about that message.
    report = await eventually(lambda: callbacks_of(client, tenant, message_id))
    assert report["responseStatus"] == 200 and json.loads(report["requestBody"])["status"] == "DELIVERED"
    assert "token=[redacted]" in report["url"] and report["destination"] == "+447700900123"
    behaviour = await client.get(
        f"/api/v1/sandbox/trafficAccounts/{tenant.accounts['sms']}/behaviour", headers=tenant.key
    )
    assert behaviour.json()["failNext"] is None  # counted down to nothing


async def callbacks_of(client: httpx.AsyncClient, tenant: TenantFixture, message_id: str) -> dict:
    found = await journal(client, tenant, messageId=message_id, direction="callback")
    assert found, "no callback journaled yet"
    return found[0]


@pytest.mark.parametrize("channel", list(REJECTED_CODES))
async def test_rejected_fails_the_message_with_the_channels_code(server_without_worker, channel):
    client = server_without_worker
    tenant = await tenant_on(client, (channel,))
    await put_behaviour(client, tenant, channel, failNext={"count": 1, "with": "rejected"})
    message_id = await send_plain(client, tenant, channel)
    await worker(client).dispatch_once()
    message = await wait_for_status(client, tenant, message_id, "Failed")
    assert message["errorCode"] == REJECTED_CODES[channel]
    sends = [r for r in await journal(client, tenant, messageId=message_id) if r["direction"] == "request"]
    assert sends[-1]["responseStatus"] == all_failures(channel).rejected.status


def all_failures(channel: str):
    from channels.registry import all_channels

    return all_channels()[channel].sandbox_failures


async def test_throttled_and_timeout_are_retried_as_the_provider_would_make_them(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client, ("whatsapp",))
    await put_behaviour(client, tenant, "whatsapp", failNext={"count": 1, "with": "throttled"})
    throttled = await send_plain(client, tenant, "whatsapp")
    await worker(client, clock=lambda: datetime.datetime.now(datetime.UTC)).dispatch_once()
    row = await attempted(client, throttled)
    assert row.status == "Ready" and row.next_attempt_at is not None
    (entry,) = await journal(client, tenant, messageId=throttled)
    assert entry["responseStatus"] == 429 and entry["responseHeaders"]["retry-after"] == "1"
    assert json.loads(entry["responseBody"])["error"]["code"] == 130429

    await put_behaviour(client, tenant, "whatsapp", failNext={"count": 1, "with": "timeout"})
    timed_out = await send_plain(client, tenant, "whatsapp")
    await worker(client, clock=lambda: datetime.datetime.now(datetime.UTC)).dispatch_once()
    row = await attempted(client, timed_out)
    assert row.status == "Ready" and "ReadTimeout" in row.description
    (entry,) = await journal(client, tenant, messageId=timed_out)
    assert entry["responseStatus"] is None and entry["error"].startswith("ReadTimeout")


async def test_latency_is_waited_and_shows_in_the_journal(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    await put_behaviour(client, tenant, "sms", latencyMs=100)
    fixed = await send_plain(client, tenant, "sms")
    await worker(client).dispatch_once()
    await put_behaviour(client, tenant, "sms", latencyMs={"min": 700, "max": 750})
    ranged = await send_plain(client, tenant, "sms")
    await worker(client).dispatch_once()
    (first,) = await journal(client, tenant, messageId=fixed, direction="request")
    (second,) = await journal(client, tenant, messageId=ranged, direction="request")
    # Lower bounds only: a loaded machine adds to a latency (552 ms for a 100-150 ms range once, in a parallel
    # run), never takes from it. The range far above the fixed value shows the new behaviour was applied.
    assert first["latencyMs"] >= 100 and first["responseStatus"] == 200
    assert second["latencyMs"] >= 700


async def test_an_error_rate_of_one_fails_every_send_transiently(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client, ("telegram",))
    await put_behaviour(client, tenant, "telegram", errorRate=1.0)
    ids = [await send_plain(client, tenant, "telegram") for _ in range(3)]
    await worker(client).dispatch_once()
    for message_id in ids:
        assert (await attempted(client, message_id)).status == "Ready"
    entries = await journal(client, tenant, direction="request")
    assert sorted(e["messageId"] for e in entries) == sorted(ids)
    assert {e["responseStatus"] for e in entries} == {500}
    assert json.loads(entries[0]["responseBody"])["description"] == "Internal Server Error"
    # Cleared: the next send is the provider's own.
    url = f"/api/v1/sandbox/trafficAccounts/{tenant.accounts['telegram']}/behaviour"
    assert (await client.delete(url, headers=tenant.key)).status_code == 204
    await worker(client, later(2)).dispatch_once()
    for message_id in ids:
        await wait_for_status(client, tenant, message_id, "Delivered")


async def test_secrets_are_never_stored(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client, ("telegram", "sms", "whatsapp"))
    ids = [await send_plain(client, tenant, channel) for channel in ("telegram", "sms", "whatsapp")]
    await worker(client).dispatch_once()
    for message_id in ids:
        await wait_for_status(client, tenant, message_id, "Delivered", "Sent", "Read")
    secrets = [
        value
        for channel in ("telegram", "sms", "whatsapp")
        for value in (await adapter_account_of(client, tenant, channel)).credentials.values()
    ]
    assert len(secrets) >= 3
    entries = await journal(client, tenant)
    by_channel = {e["channel"]: e for e in entries if e["direction"] == "request"}
    assert "/bot[redacted]/sendMessage" in by_channel["telegram"]["url"]
    assert by_channel["sms"]["requestHeaders"]["x-mitto-api-key"] == "[redacted]"
    assert by_channel["whatsapp"]["requestHeaders"]["authorization"] == "[redacted]"
    async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
        query = sa.select(SandboxExchange).where(SandboxExchange.tenant_id == uuid.UUID(tenant.id))
        stored = [
            json.dumps([r.url, r.request_headers, r.response_headers, r.request_body, r.response_body])
            for r in await session.scalars(query)
        ]
    assert len(stored) >= 3
    for secret in secrets:
        assert not any(secret in row for row in stored), "a credential was stored in the journal"


async def test_callbacks_are_journaled_with_their_message(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client, ("whatsapp", "sms"))
    # WhatsApp's status webhooks name the message by the provider's id only (a wamid).
    message_id = await send_plain(client, tenant, "whatsapp")
    await worker(client).dispatch_once()
    await wait_for_status(client, tenant, message_id, "Delivered", "Read")
    report = await eventually(lambda: callbacks_of(client, tenant, message_id))
    assert report["channel"] == "whatsapp" and report["responseStatus"] == 200
    assert report["requestHeaders"]["x-hub-signature-256"].startswith("sha256=")
    # A user's message: the callback names the inbound message stored.
    simulated = {"trafficAccountId": tenant.accounts["sms"], "from": "447700900777", "text": "hi there"}
    assert (await client.post("/sandbox/sms/inbound", json=simulated)).status_code == 200
    (inbound,) = await journal(client, tenant, trafficAccountId=tenant.accounts["sms"], direction="callback")
    assert inbound["messageId"] is not None and "hi there" in inbound["requestBody"]
    stored = await client.get(f"/api/v1/Message/{inbound['messageId']}", headers=tenant.key)
    assert stored.status_code == 200 and stored.json()["text"] == "hi there"


async def test_fail_next_is_counted_down_once_per_send_across_workers(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    await put_behaviour(client, tenant, "sms", failNext={"count": 3, "with": "transient"})
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    account = await adapter_account_of(client, tenant, "sms")
    request = httpx.Request("POST", f"{account.base_url}/sms")
    # Two workers' processes, as far as the database can tell: each reads and counts down on its own.
    workers = [Behaviours(runtime.sessions), Behaviours(runtime.sessions)]
    answers = await asyncio.gather(*(workers[n % 2].provider_answer(account.id, "sms", request) for n in range(12)))
    assert sum(answer is not None for answer in answers) == 3
    assert all(answer.status_code == 500 for answer in answers if answer is not None)
    # A request that isn't a send (e.g. an OAuth token's) is left alone.
    await put_behaviour(client, tenant, "sms", errorRate=1)
    other = httpx.Request("GET", f"{account.base_url}/balance")
    assert await workers[0].provider_answer(account.id, "sms", other) is None


async def test_the_journal_and_behaviour_can_be_turned_off(database_url):
    async with serve(database_url, worker_in_server=False, sandbox_journal=False) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert runtime.journal is None
        tenant = await tenant_on(client)
        await put_behaviour(client, tenant, "sms", failNext={"count": 1, "with": "rejected"})
        message_id = await send_plain(client, tenant, "sms")
        await dispatcher_of(client, clock=later(), journal=runtime.journal).dispatch_once()
        await wait_for_status(client, tenant, message_id, "Delivered")  # the behaviour wasn't applied
        await asyncio.sleep(0.3)  # the delivery report's callback
        response = await client.get("/api/v1/sandbox/requests", headers=tenant.key)
        assert response.status_code == 200 and response.json()["items"] == []


async def test_a_journal_that_cant_be_written_costs_a_warning_not_a_send(server_without_worker, tmp_path, caplog):
    client = server_without_worker
    tenant = await tenant_on(client)
    # A database without the journal's table: every write of this journal fails.
    broken = Journal(session_maker(create_engine(normalise_database_url(f"sqlite:///{tmp_path}/empty.db"))))
    message_id = await send_plain(client, tenant, "sms")
    with caplog.at_level(logging.WARNING, logger="gateway.sandbox_journal"):
        await dispatcher_of(client, clock=later(), journal=broken).dispatch_once()
        await wait_for_status(client, tenant, message_id, "Delivered")
        await broken.flush()
    assert any("could not be written" in r.getMessage() for r in caplog.records)


async def test_a_refused_callback_is_journaled_with_the_refusal(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    url = f"/callbacks/sms/{tenant.accounts['sms']}?token=forged.token.value"
    report = {"messageId": "x", "status": "DELIVERED", "errorcode": "0"}
    assert (await client.post(url, json=report)).status_code == 401
    (entry,) = await journal(client, tenant, direction="callback")
    assert entry["responseStatus"] == 401 and entry["messageId"] is None and entry["error"] is None
    assert entry["url"].endswith("?token=[redacted]") and json.loads(entry["requestBody"]) == report
    assert json.loads(entry["responseBody"])["code"] == "unauthorized"
