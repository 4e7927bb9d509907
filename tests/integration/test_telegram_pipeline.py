"""Telegram end to end: accepted, dispatched through the real adapter to the sandbox Bot API over HTTP,
and users' Updates back through the webhook (on the account's callbackUrl token, or with its secret token),
on SQLite and on Postgres; the webhook registered by the operator or the customer."""

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
    assert detail["content"] == {"type": "text", "text": "Hello bot"}
    assert (await message_row(server, listed[0]["messageId"])).provider_message_id == (
        f"{CHAT}:{answer.json()['telegramMessageId']}"
    )
    assert answer.json()["messageId"] == listed[0]["messageId"]  # the simulators' one answer
    assert answer.json()["providerMessageId"] == f"{CHAT}:{answer.json()['telegramMessageId']}"
    sent = (await server.get(f"/api/v1/Message/{sent_id}", headers=tenant.key)).json()
    assert detail["conversation"]["id"] == sent["conversation"]["id"]  # the reply joins the conversation

    mine = [e for e in await webhook_events(server, listed[0]["messageId"]) if e.event == "UserMessage"]
    assert [str(e.webhook_id) for e in mine] == [webhook["id"]]
    assert mine[0].payload["sender"]["messagingAppIdentifier"] == CHAT
    assert mine[0].payload["content"]["text"] == "Hello bot" and mine[0].payload["channel"] == "telegram"


async def test_other_update_kinds_from_the_sandbox(server):
    tenant = await tenant_on(server, ("telegram",))
    account = tenant.accounts["telegram"]
    first = (
        await server.post("/sandbox/telegram/inbound", json={"trafficAccountId": account, "from": CHAT, "text": "Helo"})
    ).json()
    answers = [first]
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
        answers.append(answer.json())
    # Every answer names its stored message: an edit and a pressed button by their Update's id.
    assert [a["messageId"] for a in answers] == [item["messageId"] for item in await inbound_messages(server, tenant)]
    assert answers[1]["providerMessageId"] == f"update:{answers[1]['updateId']}"
    contents = []
    for item in await inbound_messages(server, tenant):
        detail = (await server.get(f"/api/v1/Message/{item['messageId']}", headers=tenant.key)).json()
        contents.append(detail["content"])
    assert [c["type"] for c in contents] == ["text", "edit", "image", "location", "postback"]
    # The edit names the message it edits by the provider id that message was stored under.
    assert contents[1]["content"] == {"type": "text", "text": "Hello"}
    assert contents[1]["relatesTo"]["providerMessageId"] == f"{CHAT}:{first['telegramMessageId']}"
    assert contents[2]["caption"] == "look" and contents[2]["fileId"]
    assert contents[4]["data"] == "yes" and contents[4]["source"] == "callback_query"


async def test_what_users_send_is_kept_with_its_content(server):
    tenant = await tenant_on(server, ("telegram",))
    account = tenant.accounts["telegram"]
    sent_id = await send(server, tenant, CHAT)
    await wait_for_status(server, tenant, sent_id, "Delivered")
    sent_provider_id = (await message_row(server, sent_id)).provider_message_id
    for extra in (
        {"media": "audio", "caption": "my song"},
        {"media": "sticker"},
        {"contact": {"phoneNumber": "+385911234567", "firstName": "Ana"}},
        {"venue": {"latitude": 46.1, "longitude": 19.66, "title": "Mitto Office", "address": "Subotica"}},
        {"pollAnswer": {"pollId": "5440184466123456789", "optionIds": [1]}},
        {"text": "Yes", "replyTo": int(sent_provider_id.split(":")[1])},
    ):
        answer = await server.post(
            "/sandbox/telegram/inbound", json={"trafficAccountId": account, "from": CHAT, **extra}
        )
        assert answer.json()["gatewayStatus"] == 200, answer.text
    contents = []
    for item in await inbound_messages(server, tenant):
        contents.append(
            (await server.get(f"/api/v1/Message/{item['messageId']}", headers=tenant.key)).json()["content"]
        )
    assert [c["type"] for c in contents] == ["audio", "sticker", "contacts", "location", "pollAnswer", "text"]
    assert contents[0]["caption"] == "my song" and contents[0]["mimeType"] == "audio/mpeg"
    assert contents[1]["emoji"] == "👍" and contents[1]["animated"] is False
    assert contents[2]["contacts"][0]["phones"][0]["phoneNumber"] == "+385911234567"
    assert (contents[3]["name"], contents[3]["address"]) == ("Mitto Office", "Subotica")
    assert contents[4]["optionIds"] == [1]
    # A reply names the bot's message by the provider id its send recorded.
    assert contents[5]["relatesTo"]["providerMessageId"] == sent_provider_id


async def callback_url_of(client, tenant) -> str:
    """The account's callbackUrl, as the customer API shows it."""
    account = await client.get(f"/api/v1/trafficAccounts/{tenant.accounts['telegram']}", headers=tenant.key)
    assert account.status_code == 200, account.text
    return account.json()["callbackUrl"]


async def test_a_customer_set_webhook_without_a_secret_receives_updates(server):
    """Seed 002: the customer gives setWebhook the account's callbackUrl themselves, with no secret_token."""
    tenant = await tenant_on(server, ("telegram",))
    account = await adapter_account_of(server, tenant, "telegram")
    assert "webhookSecret" not in account.credentials  # optional, and a sandbox account's is unset too
    callback = await callback_url_of(server, tenant)
    assert callback.startswith(f"{server.base_url}/callbacks/telegram/{tenant.accounts['telegram']}?token=")
    bot = f"{account.base_url}/bot{account.credentials['botToken']}"
    assert (await server.post(f"{bot}/setWebhook", json={"url": callback})).json()["ok"] is True
    user = {"trafficAccountId": tenant.accounts["telegram"], "from": CHAT, "text": "Hi"}
    answer = await server.post("/sandbox/telegram/inbound", json=user)
    assert answer.json()["gatewayStatus"] == 200 and answer.json()["callbackUrl"] == callback, answer.text
    [stored] = await inbound_messages(server, tenant)
    detail = (await server.get(f"/api/v1/Message/{stored['messageId']}", headers=tenant.key)).json()
    assert detail["content"] == {"type": "text", "text": "Hi"}


async def test_without_a_secret_only_the_accounts_own_token_will_do(server):
    tenant = await tenant_on(server, ("telegram",))
    other = await tenant_on(server, ("telegram",))
    url = f"/callbacks/telegram/{tenant.accounts['telegram']}"
    update = {"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1861312834, "type": "private"}, "text": "x"}}
    assert_problem(await server.post(url, json=update), 401, "unauthorized")
    secret = {"X-Telegram-Bot-Api-Secret-Token": "anything"}  # no webhookSecret: no header does in its place
    assert_problem(await server.post(url, json=update, headers=secret), 401, "unauthorized")
    assert_problem(await server.post(url, json=update, params={"token": "forged"}), 401, "unauthorized")
    # Another account's callbackUrl token is no good here.
    foreign = (await callback_url_of(server, other)).split("?token=")[1]
    assert_problem(await server.post(url, json=update, params={"token": foreign}), 401, "unauthorized")
    assert await inbound_messages(server, tenant) == []
    callback = await callback_url_of(server, tenant)
    assert_problem(await server.post(callback, json={"message": {}}), 400, "validation_error", "update_id")
    assert await inbound_messages(server, tenant) == []


async def test_with_a_webhook_secret_the_header_is_required(server):
    tenant = await tenant_on(server, ("telegram",))
    patched = await server.patch(
        f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts['telegram']}",
        json={"settings": {"webhookSecret": "s3cr3t_Token-0123456789"}},
        headers=ADMIN,
    )
    assert patched.status_code == 200, patched.text
    callback = await callback_url_of(server, tenant)
    update = {"update_id": 2, "message": {"message_id": 2, "chat": {"id": 1861312834, "type": "private"}, "text": "x"}}
    assert_problem(await server.post(callback, json=update), 401, "unauthorized")  # the token alone: no
    wrong = {"X-Telegram-Bot-Api-Secret-Token": "not-the-secret"}
    assert_problem(await server.post(callback, json=update, headers=wrong), 401, "unauthorized")
    good = {"X-Telegram-Bot-Api-Secret-Token": "s3cr3t_Token-0123456789"}
    assert (await server.post(callback, json=update, headers=good)).status_code == 200
    # The sandbox sends the account's secret with its Updates, as setWebhook's secret_token would.
    user = {"trafficAccountId": tenant.accounts["telegram"], "from": CHAT, "text": "hi"}
    assert (await server.post("/sandbox/telegram/inbound", json=user)).json()["gatewayStatus"] == 200
    assert len(await inbound_messages(server, tenant)) == 2


async def test_a_redelivered_update_is_stored_once(server):
    tenant = await tenant_on(server, ("telegram",))
    callback = await callback_url_of(server, tenant)
    update = {
        "update_id": 829824026,
        "message": {"message_id": 17, "chat": {"id": 1861312834, "type": "private"}, "date": 1, "text": "once"},
    }
    for _ in range(2):
        response = await server.post(callback, json=update)
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
    callback = await pipeline.provider_callback_url("telegram", account_id)
    async with httpx.AsyncClient(timeout=5) as http:
        await channel.register_callbacks(http, account, callback)
        info = (await http.get(f"{account.base_url}/bot{account.credentials['botToken']}/getWebhookInfo")).json()
        assert info["ok"] and info["result"]["url"] == callback
        assert info["result"]["allowed_updates"] == ["message", "edited_message", "callback_query", "poll_answer"]
        user = {"trafficAccountId": str(account_id), "from": CHAT, "text": "hi"}
        assert (await server.post("/sandbox/telegram/inbound", json=user)).json()["gatewayStatus"] == 200
        # A webhook set without the account's token (and no secret): Telegram's Updates are refused.
        bare = pipeline.callback_url("telegram", account_id)
        await http.post(f"{account.base_url}/bot{account.credentials['botToken']}/setWebhook", json={"url": bare})
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
    callback = (await server.get(f"{base}/{account_id}", headers=ADMIN)).json()["callbackUrl"]
    assert registered.json() == {"callbackUrl": callback} and callback == await callback_url_of(server, tenant)
    account = await server.app.state.runtime.callbacks.account(uuid.UUID(account_id), "telegram")
    info = (await server.get(f"/sandbox/telegram/bot{account.credentials['botToken']}/getWebhookInfo")).json()
    assert info["result"]["url"] == callback
    sms = await server.post(f"{base}/{tenant.accounts['sms']}/register-callbacks", headers=ADMIN)
    assert_problem(sms, 400, "no_callback_registration")
    other = await tenant_on(server, ("telegram",))
    foreign = await server.post(f"{base}/{other.accounts['telegram']}/register-callbacks", headers=ADMIN)
    assert_problem(foreign, 404, "not_found")


async def test_the_customer_registers_the_webhook(server):
    tenant = await tenant_on(server, ("telegram", "sms"))
    account_id = tenant.accounts["telegram"]
    registered = await server.post(f"/api/v1/trafficAccounts/{account_id}/registerCallbacks", headers=tenant.key)
    assert registered.status_code == 200, registered.text
    callback = await callback_url_of(server, tenant)
    assert registered.json() == {"callbackUrl": callback}
    account = await adapter_account_of(server, tenant, "telegram")
    info = (await server.get(f"/sandbox/telegram/bot{account.credentials['botToken']}/getWebhookInfo")).json()
    assert info["result"]["url"] == callback  # the sandbox Bot API recorded setWebhook
    user = {"trafficAccountId": account_id, "from": CHAT, "text": "hi"}
    assert (await server.post("/sandbox/telegram/inbound", json=user)).json()["gatewayStatus"] == 200
    assert len(await inbound_messages(server, tenant)) == 1

    sms = await server.post(f"/api/v1/trafficAccounts/{tenant.accounts['sms']}/registerCallbacks", headers=tenant.key)
    assert_problem(sms, 400, "no_callback_registration")
    other = await tenant_on(server, ("telegram",))
    foreign = await server.post(
        f"/api/v1/trafficAccounts/{other.accounts['telegram']}/registerCallbacks", headers=tenant.key
    )
    assert_problem(foreign, 404, "not_found")
    assert_problem(await server.post(f"/api/v1/trafficAccounts/{account_id}/registerCallbacks"), 401, "unauthorized")


async def test_a_provider_refusal_is_a_502_naming_its_answer(server):
    tenant = await tenant_on(server, ())
    live = await server.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        # A Bot API that answers setWebhook like Telegram refusing it: the sandbox's, for a bot path it lacks.
        json={
            "name": "live",
            "channel": "telegram",
            "settings": {"botToken": "110201543:AAH", "baseUrl": f"{server.base_url}/sandbox/telegram/x"},
        },
        headers=ADMIN,
    )
    assert live.status_code == 201, live.text
    refused = await server.post(f"/api/v1/trafficAccounts/{live.json()['id']}/registerCallbacks", headers=tenant.key)
    problem = assert_problem(refused, 502, "provider_refused")
    assert "Telegram refused setWebhook" in problem["detail"], problem


async def test_rotating_the_callback_token_retires_the_old_url(server):
    tenant = await tenant_on(server, ("telegram",))
    other = await tenant_on(server, ("telegram",))
    account_id = tenant.accounts["telegram"]
    old = await callback_url_of(server, tenant)
    others = await callback_url_of(server, other)
    assert (await server.post(f"/api/v1/trafficAccounts/{account_id}/registerCallbacks", headers=tenant.key)).is_success
    rotated = await server.post(f"/api/v1/trafficAccounts/{account_id}/rotateCallbackToken", headers=tenant.key)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["callbackUrl"]
    assert new != old and new == await callback_url_of(server, tenant)
    update = {"update_id": 3, "message": {"message_id": 3, "chat": {"id": 1861312834, "type": "private"}, "text": "x"}}
    assert_problem(await server.post(old, json=update), 401, "unauthorized")
    # Telegram still has the old URL: its Updates are refused until the new one is registered.
    user = {"trafficAccountId": account_id, "from": CHAT, "text": "hi"}
    assert (await server.post("/sandbox/telegram/inbound", json=user)).json()["gatewayStatus"] == 401
    assert (await server.post(f"/api/v1/trafficAccounts/{account_id}/registerCallbacks", headers=tenant.key)).is_success
    assert (await server.post("/sandbox/telegram/inbound", json=user)).json()["gatewayStatus"] == 200
    assert (await server.post(new, json=update)).status_code == 200
    # Other accounts' URLs are untouched; the operator rotates through the admin API too.
    assert others == await callback_url_of(server, other)
    admin = await server.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts/{account_id}/rotate-callback-token", headers=ADMIN
    )
    assert admin.status_code == 200 and admin.json()["callbackUrl"] not in (old, new), admin.text
    assert_problem(await server.post(new, json=update), 401, "unauthorized")
    foreign = await server.post(
        f"/api/v1/trafficAccounts/{other.accounts['telegram']}/rotateCallbackToken", headers=tenant.key
    )
    assert_problem(foreign, 404, "not_found")
    assert len(await inbound_messages(server, tenant)) == 2
