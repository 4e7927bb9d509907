"""Viber end to end, on SQLite and on Postgres: bot messages (session, regular) to a Viber user id, accepted,
dispatched through the real adapter to the sandbox provider over HTTP (set_webhook on webhookNotSet,
get_account_info, send_message) and reported back through signed callbacks; a simulated user's message and
the reply to their id; business messages (promotional, transactional) to a phone number through the
sandbox's Infobip Viber Business Messages API and its delivery and seen reports; a destination of the wrong
kind refused at request time."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest

from channels.base import Account
from channels.viber import adapter, sandbox
from channels.viber.callbacks import SIGNATURE_HEADER, signature
from tests.conftest import CLOSED_PORT, assert_problem, create_webhook
from tests.integration.conftest import (
    IMPATIENT,
    adapter_account_of,
    assert_history_stays,
    attempted,
    history,
    send_message,
    tenant_on,
    wait_for_status,
    webhook_events,
)
from tests.integration.conftest import (
    message_row as row_of,
)

TEXT = {"type": "session", "text": "Your code is 1234"}
USER = "01234567890A="  # a Viber user id (the REST bot API's example); the sandbox delivers it
BUSINESS = {"type": "promotional", "ttl": 90, "text": "Hi, how can I help you today?"}


async def send(client, tenant, destination, block=TEXT):
    return await send_message(client, tenant, "viber", destination, block)


async def callback(client, tenant, event, token=None, **headers):
    """POSTs a Viber callback signed with ``token`` (the account's own token unless given)."""
    body = json.dumps(event).encode()
    token = token or (await adapter_account_of(client, tenant, "viber")).credentials["authToken"]
    headers = {SIGNATURE_HEADER: signature(token, body), **headers}
    return await client.post(f"/callbacks/viber/{tenant.accounts['viber']}", content=body, headers=headers)


async def test_delivered_through_the_sandbox_after_setting_the_webhook(server):
    tenant = await tenant_on(server, ("viber",))
    message_id = await send(server, tenant, USER)
    message = await wait_for_status(server, tenant, message_id, "Delivered")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]
    assert message["requestInfo"] == TEXT
    # The first send met webhookNotSet: the adapter set the account's webhook at the sandbox.
    account = await adapter_account_of(server, tenant, "viber")
    webhook = server.app.state[sandbox._STATE_KEY][account.credentials["authToken"]]
    assert webhook.url == server.app.state.runtime.callbacks.callback_url("viber", account.id)
    assert set(webhook.event_types) == set(adapter.EVENT_TYPES)
    row = await row_of(server, message_id)
    assert row.provider_message_id.isdigit() and row.attempts == 1


async def test_delivered_and_seen_is_read(server):
    tenant = await tenant_on(server, ("viber",))
    message_id = await send(server, tenant, "sandboxUser0002")
    message = await wait_for_status(server, tenant, message_id, "Read")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered", "Read"]


async def test_failed_callback_and_refused_sends_fail_with_vibers_code(server):
    tenant = await tenant_on(server, ("viber",))
    failed = await send(server, tenant, "sandboxUser0003")  # accepted, then a failed callback
    not_registered = await send(server, tenant, "sandboxUser1005")  # send_message answers status 5
    not_subscribed = await send(server, tenant, "sandboxUser1006")
    message = await wait_for_status(server, tenant, failed, "Failed")
    assert message["errorCode"] == "viber.failed" and message["description"] == sandbox.FAILED_DESC
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Failed"]
    message = await wait_for_status(server, tenant, not_registered, "Failed")
    assert message["errorCode"] == "viber.5"
    assert message["description"] == "receiverNotRegistered: The receiver is not registered to Viber"
    message = await wait_for_status(server, tenant, not_subscribed, "Failed")
    assert message["errorCode"] == "viber.6" and message["description"].startswith("receiverNotSubscribed")


async def test_content_kinds_reach_the_sandbox_as_viber_takes_them(server):
    tenant = await tenant_on(server, ("viber",))
    picture = {
        "type": "regular",
        "mediaUrl": "https://www.gstatic.com/webp/gallery3/1.png",
        "text": "Hi, how can I help you today?",
        "button": {"caption": "QR Scan", "action": "viber://other/scan"},
    }
    file = {"type": "session", "file": {"mediaUrl": "https://example.com/files/report.pdf", "size": 150000}}
    video = {"type": "regular", "video": {"mediaUrl": "https://example.com/clip.mp4", "size": 1048576}}
    keyboard = {"type": "regular", "keyboard": {"Buttons": [{"Text": "Yes", "ActionBody": "yes"}]}}
    sent = [await send(server, tenant, USER, block) for block in (picture, file, video, keyboard)]
    for message_id in sent:
        await wait_for_status(server, tenant, message_id, "Delivered")
    # Viber requires a file's size: seed 002's block without one is refused by the provider (missingData).
    no_size = await send(server, tenant, USER, {"type": "session", "file": {"mediaUrl": file["file"]["mediaUrl"]}})
    message = await wait_for_status(server, tenant, no_size, "Failed")
    assert message["errorCode"] == "viber.4" and message["description"].startswith("missingData")


async def test_the_never_delivered_receiver_stays_sent(server):
    tenant = await tenant_on(server, ("viber",))
    message_id = await send(server, tenant, "sandboxUser0001")
    await wait_for_status(server, tenant, message_id, "Sent")
    await assert_history_stays(server, tenant, message_id, "Ready", "Sent")


@pytest.mark.parametrize(("destination", "expected"), [("sandboxUser0500", "500"), ("sandboxUser0429", "429")])
async def test_provider_errors_and_rate_limits_are_retried_not_failed(server, destination, expected):
    tenant = await tenant_on(server, ("viber",))
    message_id = await send(server, tenant, destination)
    row = await attempted(server, message_id)
    assert row.status == "Ready" and row.next_attempt_at is not None and expected in row.description
    if expected == "429":  # Retry-After: 1 is honoured
        assert (row.next_attempt_at - row.updated_at).total_seconds() >= 0.9


async def test_the_timeout_receiver_keeps_the_request_waiting(server, monkeypatch):
    monkeypatch.setattr(sandbox, "SLOW_SECONDS", 1.0)
    tenant = await tenant_on(server, ("viber",))
    account = await adapter_account_of(server, tenant, "viber")
    callback_url = server.app.state.runtime.callbacks.callback_url("viber", account.id)
    # Only the probe of the slow receiver has a short timeout: set_webhook makes a signed round trip to
    # the gateway, which may take longer than that on a loaded machine.
    async with httpx.AsyncClient(timeout=10) as http, httpx.AsyncClient(timeout=IMPATIENT) as impatient:
        await adapter.register_callbacks(http, account, callback_url)
        body = {"receiver": "447700900408", "sender": {"name": "Bot"}, "type": "text", "text": "hi"}
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(
                adapter.method_url(account, "send_message"), json=body, headers=adapter.auth_headers(account)
            )
        # set_webhook refuses URLs that aren't this gateway's callbacks, and tokens the callback refuses.
        with pytest.raises(ValueError, match="invalidUrl"):
            await adapter.register_callbacks(http, account, f"http://127.0.0.1:{CLOSED_PORT}/elsewhere")
        forged = Account(account.id, account.base_url, {}, {"authToken": "not-the-token"}, True)
        with pytest.raises(ValueError, match="invalidUrl"):
            await adapter.register_callbacks(http, forged, callback_url)
    await asyncio.sleep(1.0)  # let the slow answer finish before the server stops


async def test_a_callback_without_the_right_signature_changes_nothing(server):
    tenant = await tenant_on(server, ("viber",))
    message_id = await send(server, tenant, "sandboxUser0001")  # accepted, never reported
    await wait_for_status(server, tenant, message_id, "Sent")
    token = int((await row_of(server, message_id)).provider_message_id)
    event = {"event": "delivered", "timestamp": 1457764197627, "message_token": token, "user_id": "447700900001"}
    url = f"/callbacks/viber/{tenant.accounts['viber']}"
    body = json.dumps(event).encode()
    assert_problem(await server.post(url, content=body), 401, "unauthorized")
    assert_problem(await server.post(url, content=body, headers={SIGNATURE_HEADER: "0" * 64}), 401, "unauthorized")
    assert_problem(await callback(server, tenant, event, token="another-bot-token"), 401, "unauthorized")
    token = (await adapter_account_of(server, tenant, "viber")).credentials["authToken"]
    tampered = {SIGNATURE_HEADER: signature(token, body + b" ")}
    assert_problem(await server.post(url, content=body, headers=tampered), 401, "unauthorized")
    other_account = f"/callbacks/viber/{uuid.uuid4()}"
    assert_problem(await server.post(other_account, content=body, headers=tampered), 401, "unauthorized")
    assert await history(server, tenant, message_id) == ["Ready", "Sent"]
    # The same report, signed with the account's token, is taken.
    assert (await callback(server, tenant, event)).status_code == 200
    assert await history(server, tenant, message_id) == ["Ready", "Sent", "Delivered"]


async def test_repeated_and_late_callbacks_are_processed_once(server):
    tenant = await tenant_on(server, ("viber",))
    message_id = await send(server, tenant, "sandboxUser0001")
    await wait_for_status(server, tenant, message_id, "Sent")
    token = int((await row_of(server, message_id)).provider_message_id)
    seen = {"event": "seen", "timestamp": 1, "message_token": token, "user_id": "u"}
    delivered = {**seen, "event": "delivered"}
    for event in (seen, delivered, seen, delivered):  # out of order and repeated
        response = await callback(server, tenant, event)
        assert response.status_code == 200, response.text
    failed = {**seen, "event": "failed", "desc": "too late"}
    assert (await callback(server, tenant, failed)).status_code == 200
    message = (await server.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()
    assert [c["status"] for c in message["statusHistory"]] == ["Ready", "Sent", "Read"]
    assert message["deliveryStatus"] == "Read" and message["errorCode"] is None
    # Events that change nothing are acknowledged; unknown tokens and malformed bodies are not.
    for event in (
        {"event": "subscribed", "timestamp": 1, "user": {"id": "u", "name": "n"}, "message_token": 5},
        {"event": "conversation_started", "timestamp": 1, "message_token": 6, "type": "open", "user": {"id": "u"}},
        {"event": "webhook", "timestamp": 1, "message_token": 7},
        {"event": "unsubscribed", "timestamp": 1, "user_id": "u", "message_token": 8},
    ):
        response = await callback(server, tenant, event)
        assert response.status_code == 200 and response.content == b"", response.text
    # A token no message has yet is kept for when the send answer is recorded (it may have overtaken it).
    assert (await callback(server, tenant, {**delivered, "message_token": 42})).status_code == 200
    assert_problem(
        await callback(server, tenant, {**delivered, "message_token": None}), 400, "validation_error", "message_token"
    )
    assert_problem(await callback(server, tenant, {"timestamp": 1}), 400, "validation_error", "event")
    assert await history(server, tenant, message_id) == ["Ready", "Sent", "Read"]


async def test_inbound_message_is_stored_once_with_user_message_events(server):
    tenant = await tenant_on(server, ("viber",))
    webhook = await create_webhook(server, tenant, triggers=("UserMessage",), channel="viber")
    await create_webhook(server, tenant, triggers=("Delivered",), channel="viber")
    user = {"trafficAccountId": tenant.accounts["viber"], "from": USER, "name": "Jane", "text": "Hello there"}
    first = (await server.post("/sandbox/viber/inbound", json=user)).json()
    assert first["gatewayStatus"] == 200 and first["messageId"], first
    repeat = await server.post("/sandbox/viber/inbound", json={**user, "messageToken": first["providerMessageId"]})
    assert repeat.json()["gatewayStatus"] == 200 and repeat.json()["messageId"] == first["messageId"], repeat.text
    location = {"type": "location", "location": {"lat": 45.8, "lon": 15.97}}
    assert (await server.post("/sandbox/viber/inbound", json={**user, "message": location})).json()[
        "gatewayStatus"
    ] == 200

    page = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()
    assert len(page["items"]) == 2
    text_id = page["items"][0]["messageId"]
    message = (await server.get(f"/api/v1/Message/{text_id}", headers=tenant.key)).json()
    assert message["content"] == {"type": "text", "text": "Hello there"}
    second = (await server.get(f"/api/v1/Message/{page['items'][1]['messageId']}", headers=tenant.key)).json()
    assert second["content"] == {"type": "location", "latitude": 45.8, "longitude": 15.97}
    events = await webhook_events(server, text_id)
    assert [(str(e.webhook_id), e.event) for e in events] == [(webhook["id"], "UserMessage")]
    assert events[0].payload["content"] == {"type": "text", "text": "Hello there"}
    # The sandbox signs only for sandbox accounts, and says what is missing.
    assert_problem(
        await server.post("/sandbox/viber/inbound", json={**user, "trafficAccountId": str(uuid.uuid4())}),
        404,
        "not_found",
    )
    assert_problem(
        await server.post("/sandbox/viber/inbound", json={"from": "x"}),
        400,
        "validation_error",
        "trafficAccountId",
        "text",
    )


async def test_a_user_writes_to_the_bot_and_the_reply_to_their_id_is_delivered(server):
    tenant = await tenant_on(server, ("viber",))
    user = {"trafficAccountId": tenant.accounts["viber"], "from": USER, "name": "Jane Doe", "text": "Do you deliver?"}
    assert (await server.post("/sandbox/viber/inbound", json=user)).json()["gatewayStatus"] == 200
    # viber-bot-python sends a location's coordinates as the caller gave them: strings are taken.
    location = {"type": "location", "location": {"lat": "45.8150", "lon": "15.9819"}}
    assert (await server.post("/sandbox/viber/inbound", json={**user, "message": location})).json()[
        "gatewayStatus"
    ] == 200
    page = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()
    rows = {row.content["type"]: row for row in [await row_of(server, i["messageId"]) for i in page["items"]]}
    asked, located = rows["text"], rows["location"]
    assert asked.destination == USER and asked.content == {"type": "text", "text": "Do you deliver?"}
    assert located.content == {"type": "location", "latitude": 45.815, "longitude": 15.9819}
    # The gateway answers the user at their id (a session message through the bot API).
    reply = await send(server, tenant, USER, {"type": "session", "text": "We do!"})
    await wait_for_status(server, tenant, reply, "Delivered")
    replied = await row_of(server, reply)
    assert replied.destination == USER and replied.conversation_id == asked.conversation_id


async def test_a_promotional_message_to_a_phone_number_goes_through_the_business_api(server):
    tenant = await tenant_on(server, ("viber",))
    message_id = await send(server, tenant, "+44 7700 900123", BUSINESS)
    message = await wait_for_status(server, tenant, message_id, "Delivered")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]
    assert message["requestInfo"] == BUSINESS
    row = await row_of(server, message_id)
    # Infobip echoes the messageId the adapter gave: ours; the bot's webhook was never needed.
    assert row.destination == "+447700900123" and row.provider_message_id == message_id
    account = await adapter_account_of(server, tenant, "viber")
    assert account.credentials["authToken"] not in server.app.state.get(sandbox._STATE_KEY, {})


async def test_business_reports_are_read_failed_and_expired(server):
    tenant = await tenant_on(server, ("viber",))
    transactional = {"type": "transactional", "text": "Your code is 1234"}
    seen = await send(server, tenant, "+447700900002", transactional)
    failed = await send(server, tenant, "+447700900003", BUSINESS)
    expired = await send(server, tenant, "+447700900004", BUSINESS)
    refused = await send(server, tenant, "+447700901403", BUSINESS)
    silent = await send(server, tenant, "+447700900001", BUSINESS)
    message = await wait_for_status(server, tenant, seen, "Read")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered", "Read"]
    message = await wait_for_status(server, tenant, failed, "Failed")
    assert message["errorCode"] == "viber.EC_UNKNOWN_SUBSCRIBER"
    message = await wait_for_status(server, tenant, expired, "Expired")
    assert message["errorCode"] == "viber.EXPIRED_EXPIRED"
    message = await wait_for_status(server, tenant, refused, "Failed")
    assert message["errorCode"] == "viber.E403" and [c["status"] for c in message["statusHistory"]] == [
        "Ready",
        "Failed",
    ]
    await wait_for_status(server, tenant, silent, "Sent")
    await assert_history_stays(server, tenant, silent, "Ready", "Sent")


async def test_a_batch_of_business_reports_with_a_bad_entry_keeps_the_good_ones(server):
    tenant = await tenant_on(server, ("viber",))
    first = await send(server, tenant, "+447700900001", BUSINESS)  # accepted, never reported
    second = await send(server, tenant, "+447700910001", BUSINESS)
    for message_id in (first, second):
        await wait_for_status(server, tenant, message_id, "Sent")
    account = tenant.accounts["viber"]
    callback = await server.app.state.runtime.callbacks.provider_callback_url("viber", uuid.UUID(account))
    token = callback.split("token=")[1]
    delivered = {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}
    results = [{"messageId": first, "status": delivered}, {"messageId": second}, {"messageId": second, "seenAt": "x"}]
    url = f"/callbacks/viber/{account}/business"
    response = await server.post(url, params={"token": token}, json={"results": results})
    assert response.status_code == 200 and response.json()["accepted"] == 2, response.text
    assert [r["key"] for r in response.json()["refused"]] == ["results[1].status"]
    assert await history(server, tenant, first) == ["Ready", "Sent", "Delivered"]
    assert await history(server, tenant, second) == ["Ready", "Sent", "Read"]
    assert_problem(await server.post(url, params={"token": "forged"}, json={"results": results}), 401, "unauthorized")
    assert_problem(await server.post(url, json={"results": results}), 401, "unauthorized")


@pytest.mark.parametrize(
    ("destination", "block"),
    [
        ("+385911234567", {"type": "session", "text": "hi"}),  # a phone number for a bot message
        ("+385911234567", {"type": "Regular", "text": "hi"}),
        ("01234567890A=", BUSINESS),  # a Viber user id for a business message
        ("01234567890A=", {"type": "transactional", "text": "hi"}),
        ("not an id!", {"type": "session", "text": "hi"}),
    ],
)
async def test_a_destination_of_the_wrong_kind_is_refused_naming_destination(server, destination, block):
    tenant = await tenant_on(server, ("viber",))
    payload = {"trafficAccountId": tenant.accounts["viber"], "destination": destination, "viber": block}
    response = await server.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "destination")
