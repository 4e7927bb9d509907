"""Telegram end to end: accepted, dispatched through the real adapter to the sandbox Bot API over HTTP,
and users' Updates back through the webhook with its secret token, on SQLite and on Postgres."""

from __future__ import annotations

import datetime
import uuid

import httpx
import pytest
import sqlalchemy as sa

from channels.telegram import channel, sandbox
from gateway.lib.db import session_maker
from gateway.models import Message
from tests.conftest import ADMIN, assert_problem, create_webhook
from tests.integration.conftest import (
    adapter_account_of,
    attempted,
    message_row,
    send_message,
    tenant_on,
    wait_for_status,
    webhook_events,
)

TEXT = {"silent": True, "text": {"parseMode": "Html", "message": "Hi, <b>how</b> can I help you today?"}}
PHOTO = {"photo": {"url": "https://example.com/uploads/photo.jpg", "caption": "Example media (photo)"}}
LOCATION = {"location": {"latitude": 46.100231, "longitude": 19.664058}}
CHAT = "1861312834"


async def send(client, tenant, destination, block=TEXT):
    return await send_message(client, tenant, "telegram", destination, block)


async def retire(client, *message_ids: str) -> None:
    """End messages the sandbox would keep failing transiently: the test database is shared by the
    session, and later tests' workers would otherwise go on retrying them (a ...0408 holds a worker)."""
    async with session_maker(client.app.state.runtime.engine)() as session:
        await session.execute(
            sa.update(Message)
            .where(Message.id.in_([uuid.UUID(m) for m in message_ids]))
            .values(status="Expired", next_attempt_at=None)
        )
        await session.commit()


async def inbound_messages(client, tenant) -> list[dict]:
    response = await client.get(
        f"/api/v1/Messages?direction=inbound&trafficAccountId={tenant.accounts['telegram']}", headers=tenant.key
    )
    return response.json()["items"]


async def secret_of(client, tenant) -> str:
    return (await adapter_account_of(client, tenant, "telegram")).credentials["webhookSecret"]


async def test_every_content_kind_is_delivered_on_acceptance(server):
    tenant = await tenant_on(server, ("telegram",))
    ids = [await send(server, tenant, destination, block) for destination, block in ((CHAT, TEXT), (CHAT, PHOTO))]
    ids.append(await send(server, tenant, "1861310001", LOCATION))  # ...0001: accepted like any other
    for message_id in ids:
        message = await wait_for_status(server, tenant, message_id, "Delivered", "Failed")
        # No receipts on Telegram: Delivered straight from Ready, never Read.
        assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Delivered"], message
        assert message["errorCode"] is None and message["messageParts"] == 1
    assert (await message_row(server, ids[0])).provider_message_id.startswith(f"{CHAT}:")


@pytest.mark.parametrize(
    ("destination", "code", "description"),
    [
        ("1861310403", "telegram.403", "Forbidden: bot was blocked by the user"),
        ("1861310400", "telegram.400", "Bad Request: chat not found"),
    ],
)
async def test_refusals_fail_with_telegrams_code(server, destination, code, description):
    tenant = await tenant_on(server, ("telegram",))
    await create_webhook(server, tenant, triggers=("Failed",), channel="telegram")
    message_id = await send(server, tenant, destination)
    message = await wait_for_status(server, tenant, message_id, "Failed", "Delivered")
    assert message["deliveryStatus"] == "Failed"
    assert message["errorCode"] == code and message["description"] == description
    events = await webhook_events(server, message_id)
    assert [(e.event, e.payload["errorCode"]) for e in events] == [("Failed", code)]


async def test_provider_errors_and_flood_limits_are_retried(server):
    tenant = await tenant_on(server, ("telegram",))
    error_id = await send(server, tenant, "1861310500")
    before = datetime.datetime.now(datetime.UTC)  # the flood answer comes later
    flood_id = await send(server, tenant, "1861310429")
    try:
        row = await attempted(server, error_id)
        assert row.status == "Ready" and row.next_attempt_at is not None
        assert row.description == "Internal Server Error"
        row = await attempted(server, flood_id)
        assert row.status == "Ready" and row.description == "Too Many Requests: retry after 1"
        # Telegram's parameters.retry_after is honoured: no new attempt sooner than a second after the answer.
        assert row.next_attempt_at - before >= datetime.timedelta(seconds=1)
    finally:
        await retire(server, error_id, flood_id)


async def test_a_timeout_is_retried(server, monkeypatch):
    monkeypatch.setattr(sandbox, "TIMEOUT_SECONDS", 1.0)  # the sandbox hangs this long on ...0408
    dispatcher = server.app.state.runtime.dispatcher
    original = dispatcher.http
    dispatcher.http = httpx.AsyncClient(timeout=0.3)
    tenant = await tenant_on(server, ("telegram",))
    message_id = await send(server, tenant, "1861310408")
    try:
        row = await attempted(server, message_id)
        assert row.status == "Ready" and "Timeout" in row.description
    finally:
        await retire(server, message_id)
        await original.aclose()  # the server's shutdown closes the one in place


async def test_an_inbound_update_reaches_the_messages_and_the_outbox(server):
    tenant = await tenant_on(server, ("telegram",))
    webhook = await create_webhook(server, tenant, triggers=("UserMessage",), channel="telegram")
    await create_webhook(server, tenant, triggers=("Delivered",), channel="telegram")
    sent_id = await send(server, tenant, CHAT)
    await wait_for_status(server, tenant, sent_id, "Delivered")

    user = {"trafficAccountId": tenant.accounts["telegram"], "from": CHAT, "text": "Hello bot"}
    answer = await server.post("/sandbox/telegram/inbound", json=user)
    assert answer.status_code == 200 and answer.json()["gatewayStatus"] == 200, answer.text
    listed = await inbound_messages(server, tenant)
    assert len(listed) == 1 and listed[0]["deliveryStatus"] == "Received" and listed[0]["destination"] == CHAT
    detail = (await server.get(f"/api/v1/Message/{listed[0]['messageId']}", headers=tenant.key)).json()
    assert detail["content"] == {
        "type": "text",
        "text": "Hello bot",
        "telegramMessageId": answer.json()["telegramMessageId"],
    }
    sent = (await server.get(f"/api/v1/Message/{sent_id}", headers=tenant.key)).json()
    assert detail["conversation"]["id"] == sent["conversation"]["id"]  # the reply joins the conversation

    mine = [e for e in await webhook_events(server, listed[0]["messageId"]) if e.event == "UserMessage"]
    assert [str(e.webhook_id) for e in mine] == [webhook["id"]]
    assert mine[0].payload["sender"] == {"messagingAppIdentifier": CHAT}
    assert mine[0].payload["content"]["text"] == "Hello bot" and mine[0].payload["channel"] == "telegram"


async def test_other_update_kinds_from_the_sandbox(server):
    tenant = await tenant_on(server, ("telegram",))
    account = tenant.accounts["telegram"]
    first = (
        await server.post("/sandbox/telegram/inbound", json={"trafficAccountId": account, "from": CHAT, "text": "Helo"})
    ).json()
    for extra in (
        {"text": "Hello", "editOf": first["telegramMessageId"]},
        {"media": "photo", "caption": "look"},
        {"location": {"latitude": 46.1, "longitude": 19.66}},
        {"callbackData": "yes"},
    ):
        answer = await server.post(
            "/sandbox/telegram/inbound", json={"trafficAccountId": account, "from": CHAT, **extra}
        )
        assert answer.json()["gatewayStatus"] == 200, answer.text
    contents = []
    for item in await inbound_messages(server, tenant):
        detail = (await server.get(f"/api/v1/Message/{item['messageId']}", headers=tenant.key)).json()
        contents.append(detail["content"])
    assert [c["type"] for c in contents] == ["text", "text", "photo", "location", "postback"]
    assert contents[1]["edited"] is True and contents[1]["telegramMessageId"] == first["telegramMessageId"]
    assert contents[2]["caption"] == "look" and contents[2]["fileId"]
    assert contents[4]["data"] == "yes"


async def test_a_wrong_secret_is_refused_and_changes_nothing(server):
    tenant = await tenant_on(server, ("telegram",))
    url = f"/callbacks/telegram/{tenant.accounts['telegram']}"
    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1861312834, "type": "private"}, "text": "x"}}
    assert_problem(await server.post(url, json=update), 401, "unauthorized")
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}
    assert_problem(await server.post(url, json=update, headers=wrong), 401, "unauthorized")
    # The secret of another account is no good either.
    other = await tenant_on(server, ("telegram",))
    foreign = {"X-Telegram-Bot-Api-Secret-Token": await secret_of(server, other)}
    assert_problem(await server.post(url, json=update, headers=foreign), 401, "unauthorized")
    assert await inbound_messages(server, tenant) == []
    good = {"X-Telegram-Bot-Api-Secret-Token": await secret_of(server, tenant)}
    assert_problem(await server.post(url, json={"message": {}}, headers=good), 400, "validation_error", "update_id")
    assert await inbound_messages(server, tenant) == []


async def test_a_redelivered_update_is_stored_once(server):
    tenant = await tenant_on(server, ("telegram",))
    url = f"/callbacks/telegram/{tenant.accounts['telegram']}"
    headers = {"X-Telegram-Bot-Api-Secret-Token": await secret_of(server, tenant)}
    update = {
        "update_id": 829824026,
        "message": {"message_id": 17, "chat": {"id": 1861312834, "type": "private"}, "date": 1, "text": "once"},
    }
    for _ in range(2):
        response = await server.post(url, json=update, headers=headers)
        assert response.status_code == 200, response.text
    # And through the sandbox, Telegram's redelivery of an Update that got no 2xx.
    user = {"trafficAccountId": tenant.accounts["telegram"], "from": CHAT, "text": "again", "updateId": 829824027}
    for _ in range(2):
        assert (await server.post("/sandbox/telegram/inbound", json=user)).json()["gatewayStatus"] == 200
    assert len(await inbound_messages(server, tenant)) == 2


async def test_set_webhook_through_the_adapter_decides_where_updates_go(server):
    tenant = await tenant_on(server, ("telegram",))
    account_id = uuid.UUID(tenant.accounts["telegram"])
    pipeline = server.app.state.runtime.callbacks
    account = await pipeline.account(account_id, "telegram")
    callback = pipeline.callback_url("telegram", account_id)
    async with httpx.AsyncClient(timeout=5) as http:
        await channel.register_callbacks(http, account, callback)
        info = (await http.get(f"{account.base_url}/bot{account.credentials['botToken']}/getWebhookInfo")).json()
        assert info["ok"] and info["result"]["url"] == callback
        assert info["result"]["allowed_updates"] == ["message", "edited_message", "callback_query"]
        user = {"trafficAccountId": str(account_id), "from": CHAT, "text": "hi"}
        assert (await server.post("/sandbox/telegram/inbound", json=user)).json()["gatewayStatus"] == 200
        # A webhook set with another secret: Telegram sends that secret, and the gateway refuses it.
        other = {"url": callback, "secret_token": "someone-elses-secret"}
        await http.post(f"{account.base_url}/bot{account.credentials['botToken']}/setWebhook", json=other)
        assert (await server.post("/sandbox/telegram/inbound", json=user)).json()["gatewayStatus"] == 401
    assert len(await inbound_messages(server, tenant)) == 1


async def test_the_sandbox_inbound_api_checks_its_input(server):
    tenant = await tenant_on(server, ("telegram",))
    account = tenant.accounts["telegram"]
    bad = await server.post("/sandbox/telegram/inbound", json={"trafficAccountId": account, "from": "abc", "text": "x"})
    assert_problem(bad, 400, "validation_error", "from")
    unknown = {"trafficAccountId": str(uuid.uuid4()), "from": CHAT, "text": "x"}
    assert_problem(await server.post("/sandbox/telegram/inbound", json=unknown), 404, "not_found")
    sms = await tenant_on(server, ("sms",))
    other_channel = {"trafficAccountId": sms.accounts["sms"], "from": CHAT, "text": "x"}
    assert_problem(await server.post("/sandbox/telegram/inbound", json=other_channel), 404, "not_found")


async def test_the_operator_registers_the_webhook_through_the_admin_api(server):
    tenant = await tenant_on(server, ("telegram", "sms"))
    account_id = tenant.accounts["telegram"]
    base = f"/admin/tenants/{tenant.id}/traffic-accounts"
    registered = await server.post(f"{base}/{account_id}/register-callbacks", headers=ADMIN)
    assert registered.status_code == 200, registered.text
    callback = server.app.state.runtime.callbacks.callback_url("telegram", uuid.UUID(account_id))
    assert registered.json() == {"callbackUrl": callback}
    account = await server.app.state.runtime.callbacks.account(uuid.UUID(account_id), "telegram")
    info = (await server.get(f"/sandbox/telegram/bot{account.credentials['botToken']}/getWebhookInfo")).json()
    assert info["result"]["url"] == callback
    sms = await server.post(f"{base}/{tenant.accounts['sms']}/register-callbacks", headers=ADMIN)
    assert_problem(sms, 400, "no_callback_registration")
    other = await tenant_on(server, ("telegram",))
    foreign = await server.post(f"{base}/{other.accounts['telegram']}/register-callbacks", headers=ADMIN)
    assert_problem(foreign, 404, "not_found")
