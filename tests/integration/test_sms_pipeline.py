"""SMS end to end: accepted, dispatched through the real adapter to the sandbox provider over HTTP,
reported back through the delivery-report callback, on SQLite and on Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit

import httpx
import sqlalchemy as sa

from gateway.lib.db import session_maker
from gateway.models import WebhookEvent
from tests.conftest import ADMIN, assert_problem, create_webhook, eventually
from tests.integration.conftest import (
    assert_history,
    attempted,
    dispatcher_of,
    message_row,
    send_message,
    tenant_on,
    wait_for_status,
    webhook_events,
)

TEXT = {"text": "Your code is 1234", "sender": "MITTO SMS"}


async def send(client, tenant, destination, block=TEXT):
    return await send_message(client, tenant, "sms", destination, block)


async def test_delivered_through_the_sandbox(server):
    tenant = await tenant_on(server)
    message_id = await send(server, tenant, "+447700900123")
    message = await wait_for_status(server, tenant, message_id, "Delivered")
    assert_history(message, "Ready", "Sent", "Delivered")


async def test_the_seed_001_answer_with_ids_is_sent_and_its_report_applies(server_without_worker):
    """Seed 001 documents the send answer with ``ids`` (not ``id``): the message is Sent with the first of
    them as the provider's id, and the provider's DELIVERED report then applies."""
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send(client, tenant, "+447700900123")
    callbacks = []

    def provider(request: httpx.Request) -> httpx.Response:
        callbacks.append(json.loads(request.content)["callback"])
        answer = {"ids": ["715118ef01aa4480bbd67324a0459b0b"], "timestamp": "2019-04-13T12:07:57.8625574Z"}
        return httpx.Response(200, json=answer | {"responseCode": 0, "responseText": "SMS sent successfully."})

    worker = dispatcher_of(client, http=httpx.AsyncClient(transport=httpx.MockTransport(provider)))
    assert await worker.dispatch_once(limit=1000) >= 1
    await worker.http.aclose()
    await wait_for_status(client, tenant, message_id, "Sent")
    assert (await message_row(client, message_id)).provider_message_id == "715118ef01aa4480bbd67324a0459b0b"
    callback = urlsplit(callbacks[0])
    report = {"messageId": "715118ef01aa4480bbd67324a0459b0b", "status": "DELIVERED", "errorcode": "0"}
    assert (await client.post(f"{callback.path}?{callback.query}", json=report)).status_code == 200
    message = await wait_for_status(client, tenant, message_id, "Delivered")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]


BINARY = {
    "text": "AB" * 134,  # 134 octets beside a 7-octet header: 2 parts of at most 128 (140 - 7 - 5)
    "sender": "MITTO SMS",
    "type": "binary",  # issue 16: any case; seed 004 writes Binary as Byte
    "udh": "06050415811581",
    "pid": 0,
    "flash": True,
}


async def test_a_binary_sms_with_udh_pid_and_flash_is_delivered_through_the_sandbox(server):
    tenant = await tenant_on(server)
    message_id = await send(server, tenant, "+447700900123", BINARY)
    message = await wait_for_status(server, tenant, message_id, "Delivered")
    assert_history(message, "Ready", "Sent", "Delivered")
    assert message["messageParts"] == 2


async def test_binary_udh_pid_and_flash_go_upstream_as_seed_004_names_them(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    binary_id = await send(client, tenant, "+447700900123", BINARY)
    unicode_id = await send(client, tenant, "+447700900124", {**TEXT, "type": "UNICODE", "flash": False})
    sent = {}

    def provider(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        sent[body["to"]] = body
        return httpx.Response(200, json={"id": "715118ef01aa4480bbd67324a0459b0b", "responseCode": 0})

    worker = dispatcher_of(client, http=httpx.AsyncClient(transport=httpx.MockTransport(provider)))
    assert await worker.dispatch_once(limit=1000) >= 2
    await worker.http.aclose()
    for message_id in (binary_id, unicode_id):
        await wait_for_status(client, tenant, message_id, "Sent")
    binary = sent["447700900123"]
    assert (binary["type"], binary["text"], binary["udh"], binary["pid"], binary["flash"]) == (
        "Byte",
        "AB" * 134,
        "06050415811581",
        0,
        True,
    )
    assert (sent["447700900124"]["type"], sent["447700900124"]["flash"]) == ("Unicode", False)
    assert "udh" not in sent["447700900124"] and "pid" not in sent["447700900124"]


async def test_binary_that_is_no_hex_is_refused_with_its_path(server):
    tenant = await tenant_on(server)
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123"}
    response = await server.post(
        "/api/v1/Message/send", json=payload | {"sms": {**BINARY, "text": "Hello"}}, headers=tenant.key
    )
    assert_problem(response, 400, "validation_error", "sms.text")


async def test_undelivered_with_the_providers_error_code(server):
    tenant = await tenant_on(server)
    message_id = await send(server, tenant, "+447700901027")  # ...1NNN: DLR error code NNN
    message = await wait_for_status(server, tenant, message_id, "Failed")
    assert message["errorCode"] == "sms.dlr.27" and message["description"] == "Absent subscriber"


async def test_provider_errors_are_retried_not_failed(server):
    tenant = await tenant_on(server)
    message_id = await send(server, tenant, "+447700900500")  # the sandbox answers 500
    row = await attempted(server, message_id)
    assert row.status == "Ready" and row.next_attempt_at is not None and "500" in row.description


async def test_a_report_with_a_bad_token_changes_nothing(server):
    tenant = await tenant_on(server)
    message_id = await send(server, tenant, "+447700900001")  # accepted, never reported
    await wait_for_status(server, tenant, message_id, "Sent")
    url = f"/callbacks/sms/{tenant.accounts['sms']}"
    report = {"messageId": "x", "status": "DELIVERED", "errorcode": "0"}
    assert_problem(await server.post(url, json=report), 401, "unauthorized")
    assert_problem(await server.post(f"{url}?token=forged.token.value", json=report), 401, "unauthorized")
    other_key = server.app.state.runtime.callbacks.tokens.__class__(("another-key-0123456789abcdefghijklmn",), 60)
    forged = other_key.issue(uuid.UUID(message_id))
    assert_problem(await server.post(f"{url}?token={forged}", json=report), 401, "unauthorized")
    expired = server.app.state.runtime.callbacks.tokens.__class__(
        server.app.state.runtime.callbacks.tokens.keys, -10
    ).issue(uuid.UUID(message_id))
    assert_problem(await server.post(f"{url}?token={expired}", json=report), 401, "unauthorized")
    message = (await server.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()
    assert message["deliveryStatus"] == "Sent"


async def test_reports_out_of_order_never_move_the_status_back(server):
    tenant = await tenant_on(server)
    message_id = await send(server, tenant, "+447700900001")
    await wait_for_status(server, tenant, message_id, "Sent")
    token = server.app.state.runtime.callbacks.tokens.issue(uuid.UUID(message_id))
    url = f"/callbacks/sms/{tenant.accounts['sms']}?token={token}"
    assert (await server.post(url, json={"messageId": "p", "status": "DELIVERED", "errorcode": "0"})).status_code == 200
    # A late SENT and a repeated DELIVERED (GET form) change nothing.
    assert (await server.post(url, json={"messageId": "p", "status": "SENT"})).status_code == 200
    assert (await server.get(f"{url}&messageId=p&status=DELIVERED&errorcode=0")).status_code == 200
    message = (await server.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()
    assert [c["status"] for c in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]
    bad = await server.post(url, json={"messageId": "p", "status": "LOST"})
    assert_problem(bad, 400, "validation_error", "status")


async def test_a_token_for_another_traffic_account_is_a_404(server):
    tenant = await tenant_on(server)
    message_id = await send(server, tenant, "+447700900001")
    token = server.app.state.runtime.callbacks.tokens.issue(uuid.UUID(message_id))
    response = await server.post(f"/callbacks/sms/{uuid.uuid4()}?token={token}", json={"status": "DELIVERED"})
    assert_problem(response, 404, "not_found")


async def test_delivery_writes_webhook_events_for_linked_webhooks(server):
    tenant = await tenant_on(server)
    webhook = await create_webhook(server, tenant, triggers=("Delivered",))
    await create_webhook(server, tenant, triggers=("Failed",))
    message_id = await send(server, tenant, "+447700900123")
    await wait_for_status(server, tenant, message_id, "Delivered")
    events = await webhook_events(server, message_id)
    assert [(str(e.webhook_id), e.event) for e in events] == [(webhook["id"], "Delivered")]
    payload = events[0].payload
    assert payload["messageId"] == message_id and payload["deliveryStatus"] == "Delivered" and payload["version"] == 1
    assert payload["sequence"] == 3 and payload["destination"] == "+447700900123" and payload["channel"] == "sms"


async def test_two_way_sms_reaches_the_conversation_and_the_outbox_once(server):
    tenant = await tenant_on(server)
    webhook = await create_webhook(server, tenant, triggers=("UserMessage",))
    sent_id = await send(server, tenant, "+447700900123")
    user = {"trafficAccountId": tenant.accounts["sms"], "from": "447700900123", "text": "STOP please", "msgid": "in-1"}
    for _ in range(2):  # the provider repeats the callback: stored once
        answer = await server.post("/sandbox/sms/inbound", json=user)
        assert answer.json()["gatewayStatus"] == 200, answer.text
    inbound = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()["items"]
    assert len(inbound) == 1 and inbound[0]["deliveryStatus"] == "Received"
    detail = (await server.get(f"/api/v1/Message/{inbound[0]['messageId']}", headers=tenant.key)).json()
    assert detail["content"]["text"] == "STOP please" and detail["requestInfo"] is None
    sent = (await server.get(f"/api/v1/Message/{sent_id}", headers=tenant.key)).json()
    assert detail["conversation"]["id"] == sent["conversation"]["id"]  # the reply joins the conversation
    async with session_maker(server.app.state.runtime.engine)() as session:
        events = list(
            await session.scalars(
                sa.select(WebhookEvent).where(
                    WebhookEvent.event == "UserMessage", WebhookEvent.webhook_id == uuid.UUID(webhook["id"])
                )
            )
        )
    assert len(events) == 1 and events[0].payload["content"]["text"] == "STOP please"
    assert events[0].payload["sender"] == {"phoneNumber": "+447700900123"}


async def test_inbound_sms_needs_the_accounts_token(server):
    tenant = await tenant_on(server)
    other = await tenant_on(server)
    url = await server.app.state.runtime.callbacks.provider_callback_url("sms", uuid.UUID(other.accounts["sms"]))
    token = url.split("token=")[1]
    fields = {"sender": "447700900123", "receiver": "x", "content": "hi", "msgid": "m1"}
    response = await server.post(f"/callbacks/sms/{tenant.accounts['sms']}/inbound?token={token}", json=fields)
    assert_problem(response, 401, "unauthorized")
    assert_problem(
        await server.post(f"/callbacks/sms/{tenant.accounts['sms']}/inbound", json=fields), 401, "unauthorized"
    )
    good = await server.app.state.runtime.callbacks.provider_callback_url("sms", uuid.UUID(tenant.accounts["sms"]))
    missing = await server.post(
        good.replace("http://", "http://", 1).split(str(server.base_url))[-1], json={"sender": "1"}
    )
    assert_problem(missing, 400, "validation_error", "content", "msgid")
    listed = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()["items"]
    assert listed == []


async def test_the_sandbox_cannot_simulate_users_of_a_live_account(server):
    tenant = await tenant_on(server)
    live = await server.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": "live", "channel": "sms", "sandbox": False, "settings": {"apiKey": "real-key"}},
        headers=ADMIN,
    )
    user = {"trafficAccountId": live.json()["id"], "from": "447700900123", "text": "injected"}
    assert (await server.post("/sandbox/sms/inbound", json=user)).status_code == 404
    assert (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()["items"] == []


async def test_a_slow_provider_holds_only_its_own_message(server):
    tenant = await tenant_on(server)
    slow = await send(server, tenant, "+447700900408")  # the sandbox takes 30 s to answer this one

    async def being_sent() -> None:
        assert (await message_row(server, slow)).lease_owner is not None

    await eventually(being_sent)
    quick = await send(server, tenant, "+447700900123")
    started = asyncio.get_running_loop().time()
    await wait_for_status(server, tenant, quick, "Delivered", seconds=5)
    assert asyncio.get_running_loop().time() - started < 5
