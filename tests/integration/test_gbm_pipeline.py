"""Google Business Messages end to end: accepted, dispatched through the real adapter to the sandbox
provider over HTTP (conversations.messages.create with the account's bearer token), reported back
through signed receipts, and a simulated user's messages, on SQLite and on Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import msgspec
import pytest

from channels.gbm import adapter, sandbox
from channels.gbm.callbacks import SIGNATURE_HEADER, signature
from gateway.webhooks.payloads import UserMessageEvent
from tests.conftest import assert_problem, create_webhook
from tests.integration.conftest import (
    IMPATIENT,
    adapter_account_of,
    assert_history,
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

CONVERSATION = "bb8ceef0-90b4-4876-9467-c8c9ecc1c4e0"
TEXT = {"text": {"message": "Hi, this is **test** message.", "containsRichText": True}}


def conversation(ending: str) -> str:
    return CONVERSATION[:-4] + ending


async def send(client, tenant, destination=CONVERSATION, block=TEXT):
    return await send_message(client, tenant, "gbm", destination, block)


async def callback(client, tenant, payload, key=None, **headers):
    """POSTs a webhook payload signed with ``key`` (the account's own clientToken unless given)."""
    body = json.dumps(payload).encode()
    key = key or (await adapter_account_of(client, tenant, "gbm")).credentials["clientToken"]
    headers = {SIGNATURE_HEADER: signature(key, body), **headers}
    return await client.post(f"/callbacks/gbm/{tenant.accounts['gbm']}", content=body, headers=headers)


def receipt(message_id: str, receipt_type: str) -> dict:
    name = f"conversations/{CONVERSATION}/messages/{message_id}"
    return {
        "agent": "brands/sandbox/agents/a",
        "conversationId": CONVERSATION,
        "requestId": str(uuid.uuid4()),
        "receipts": {
            "receipts": [{"message": name, "receiptType": receipt_type}],
            "createTime": "2024-01-01T00:00:00Z",
        },
        "sendTime": "2024-01-01T00:00:00Z",
    }


async def test_delivered_and_read_through_the_sandbox(server):
    tenant = await tenant_on(server, ("gbm",))
    delivered = await send(server, tenant)
    read = await send(server, tenant, conversation("0002"))
    message = await wait_for_status(server, tenant, delivered, "Delivered")
    assert_history(message, "Ready", "Sent", "Delivered")
    assert message["requestInfo"] == TEXT
    row = await row_of(server, delivered)
    assert row.provider_message_id == delivered and row.attempts == 1  # the messageId sent is ours
    message = await wait_for_status(server, tenant, read, "Read")
    assert_history(message, "Ready", "Sent", "Delivered", "Read")


async def test_every_content_kind_is_taken_by_the_sandbox(server):
    tenant = await tenant_on(server, ("gbm",))
    media = {"height": "MEDIUM", "contentInfo": {"fileUrl": "https://picsum.photos/1920/1080", "altText": "a"}}
    reply = {"reply": {"text": "Hello", "postbackData": "hello"}}
    blocks = [
        {"image": {"fileUrl": "https://picsum.photos/200", "forceRefresh": True}, "fallback": "an image"},
        {
            "standaloneCard": {
                "title": "card 1",
                "description": "This is a card",
                "media": media,
                "suggestions": [reply],
            }
        },
        {"carouselCard": {"cardWidth": "MEDIUM", "cardContents": [{"title": "a", "media": media}, {"title": "b"}]}},
        {
            "text": {"message": "Pick one"},
            "suggestions": [reply, {"action": {"text": "Call", "dialAction": {"phoneNumber": "+15556767888"}}}],
            "representative": {"representativeType": "HUMAN", "displayName": "Mark Marcus"},
        },
    ]
    for message_id in [await send(server, tenant, CONVERSATION, block) for block in blocks]:
        message = await wait_for_status(server, tenant, message_id, "Delivered")
        assert message["errorCode"] is None


async def test_refusals_fail_with_googles_status(server):
    tenant = await tenant_on(server, ("gbm",))
    precondition = await send(server, tenant, conversation("0400"))  # no fallback for a plain-text-only device
    with_fallback = await send(
        server, tenant, conversation("0400"), {**TEXT, "fallback": "plain", "forceFallback": True}
    )
    not_found = await send(server, tenant, conversation("0404"))
    denied = await send(server, tenant, conversation("0403"))
    message = await wait_for_status(server, tenant, precondition, "Failed")
    assert message["errorCode"] == "gbm.FAILED_PRECONDITION" and "fallback" in message["description"]
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Failed"]
    await wait_for_status(server, tenant, with_fallback, "Delivered")
    message = await wait_for_status(server, tenant, not_found, "Failed")
    assert message["errorCode"] == "gbm.NOT_FOUND" and "not found" in message["description"]
    message = await wait_for_status(server, tenant, denied, "Failed")
    assert message["errorCode"] == "gbm.PERMISSION_DENIED"


async def test_the_never_delivered_conversation_stays_sent(server):
    tenant = await tenant_on(server, ("gbm",))
    message_id = await send(server, tenant, conversation("0001"))
    await wait_for_status(server, tenant, message_id, "Sent")
    await assert_history_stays(server, tenant, message_id, "Ready", "Sent")


@pytest.mark.parametrize(("ending", "expected"), [("0500", "500 INTERNAL"), ("0429", "429 RESOURCE_EXHAUSTED")])
async def test_provider_errors_and_rate_limits_are_retried_not_failed(server, ending, expected):
    tenant = await tenant_on(server, ("gbm",))
    message_id = await send(server, tenant, conversation(ending))
    row = await attempted(server, message_id)
    assert row.status == "Ready" and row.next_attempt_at is not None and expected in row.description
    if ending == "0429":  # Retry-After: 1 is honoured
        assert (row.next_attempt_at - row.updated_at).total_seconds() >= 0.9


async def test_the_sandbox_speaks_the_api(server, monkeypatch):
    """Straight over HTTP: the timeout conversation, an unknown bearer token, a repeated messageId."""
    monkeypatch.setattr(sandbox, "SLOW_SECONDS", 1.0)
    tenant = await tenant_on(server, ("gbm",))
    account = await adapter_account_of(server, tenant, "gbm")
    headers = {"Authorization": f"Bearer {adapter.sandbox_bearer(account.credentials['serviceAccountKey'])}"}
    body = {"messageId": str(uuid.uuid4()), "representative": {"representativeType": "BOT"}, "text": "hi"}
    # Only the probe of the slow case is impatient: the other calls may be slow on a loaded machine.
    async with httpx.AsyncClient(timeout=10) as http, httpx.AsyncClient(timeout=IMPATIENT) as impatient:
        slow = adapter.messages_url(account, conversation("0408"))
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(slow, json=body, headers=headers)
        # The slow answer's message was taken: sending it again meets ALREADY_EXISTS at once.
        repeat = await http.post(slow, json=body, headers=headers)
        assert repeat.status_code == 409 and repeat.json()["error"]["status"] == "ALREADY_EXISTS"
        body["messageId"] = str(uuid.uuid4())
        answer = await http.post(adapter.messages_url(account, CONVERSATION), json=body, headers=headers)
        assert answer.status_code == 200
        assert answer.json()["name"] == f"conversations/{CONVERSATION}/messages/{body['messageId']}"
        again = await http.post(adapter.messages_url(account, CONVERSATION), json=body, headers=headers)
        assert again.status_code == 409 and again.json()["error"]["status"] == "ALREADY_EXISTS"
        for bad in ({"Authorization": "Bearer not-a-sandbox-token"}, {}):
            refused = await http.post(adapter.messages_url(account, CONVERSATION), json=body, headers=bad)
            assert refused.status_code == 401 and refused.json()["error"]["status"] == "UNAUTHENTICATED"
        invalid = await http.post(adapter.messages_url(account, CONVERSATION), json={"text": "hi"}, headers=headers)
        assert invalid.status_code == 400 and invalid.json()["error"]["status"] == "INVALID_ARGUMENT"
    await asyncio.sleep(1.0)  # let the slow answer finish before the server stops


async def test_a_callback_without_the_right_signature_changes_nothing(server):
    tenant = await tenant_on(server, ("gbm",))
    message_id = await send(server, tenant, conversation("0001"))  # accepted, never reported
    await wait_for_status(server, tenant, message_id, "Sent")
    payload = receipt(message_id, "DELIVERED")
    body = json.dumps(payload).encode()
    url = f"/callbacks/gbm/{tenant.accounts['gbm']}"
    key = (await adapter_account_of(server, tenant, "gbm")).credentials["clientToken"]
    assert_problem(await server.post(url, content=body), 401, "unauthorized")
    assert_problem(await server.post(url, content=body, headers={SIGNATURE_HEADER: "AAAA"}), 401, "unauthorized")
    assert_problem(await callback(server, tenant, payload, key="another-key"), 401, "unauthorized")
    tampered = {SIGNATURE_HEADER: signature(key, body + b" ")}
    assert_problem(await server.post(url, content=body, headers=tampered), 401, "unauthorized")
    signed = {SIGNATURE_HEADER: signature(key, body)}
    assert_problem(
        await server.post(f"/callbacks/gbm/{uuid.uuid4()}", content=body, headers=signed), 401, "unauthorized"
    )
    assert_problem(await server.post(url, content=b"not json"), 401, "unauthorized")  # unsigned: 401 before 400
    assert await history(server, tenant, message_id) == ["Ready", "Sent"]
    # The same receipt, signed with the account's key, is taken.
    assert (await callback(server, tenant, payload)).status_code == 200
    assert await history(server, tenant, message_id) == ["Ready", "Sent", "Delivered"]


async def test_repeated_and_late_receipts_are_processed_once(server):
    tenant = await tenant_on(server, ("gbm",))
    message_id = await send(server, tenant, conversation("0001"))
    await wait_for_status(server, tenant, message_id, "Sent")
    read, delivered = receipt(message_id, "READ"), receipt(message_id, "DELIVERED")
    for payload in (read, delivered, read, delivered):  # out of order and repeated
        response = await callback(server, tenant, payload)
        assert response.status_code == 200 and response.content == b"", response.text
    message = (await server.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()
    assert [c["status"] for c in message["statusHistory"]] == ["Ready", "Sent", "Read"]
    # Payloads that change nothing are acknowledged; unknown messages and malformed bodies are not.
    for payload in (
        {"conversationId": CONVERSATION, "requestId": "r", "userStatus": {"isTyping": True, "createTime": "x"}},
        {"conversationId": CONVERSATION, "requestId": "r", "surveyResponse": {"survey": "s"}},
        receipt(message_id, "RECEIPT_TYPE_UNSPECIFIED"),
    ):
        response = await callback(server, tenant, payload)
        assert response.status_code == 200 and response.content == b"", response.text
    assert_problem(await callback(server, tenant, receipt(str(uuid.uuid4()), "READ")), 404, "not_found")
    broken = {**read, "receipts": {"receipts": [{"message": 5, "receiptType": "READ"}]}}
    assert_problem(await callback(server, tenant, broken), 400, "validation_error", "receipts.receipts[0].message")
    assert_problem(await callback(server, tenant, [1]), 400, "validation_error", "body")
    assert await history(server, tenant, message_id) == ["Ready", "Sent", "Read"]


async def test_the_webhook_verification_answers_the_secret(server):
    tenant = await tenant_on(server, ("gbm",))
    url = f"/callbacks/gbm/{tenant.accounts['gbm']}"
    key = (await adapter_account_of(server, tenant, "gbm")).credentials["clientToken"]
    answer = await server.post(url, json={"secret": "1234567890", "clientToken": key})
    assert answer.status_code == 200 and answer.text == "1234567890"
    assert answer.headers["content-type"].startswith("text/plain")
    # A client token that isn't the account's is answered only with a valid signature.
    wrong = {"secret": "1234567890", "clientToken": "SJENCPGJESMGUFPY"}
    assert_problem(await server.post(url, json=wrong), 401, "unauthorized")
    assert (await callback(server, tenant, wrong)).text == "1234567890"


async def test_inbound_messages_are_stored_once_with_user_message_events(server):
    tenant = await tenant_on(server, ("gbm",))
    webhook = await create_webhook(server, tenant, triggers=("UserMessage",), channel="gbm")
    await create_webhook(server, tenant, triggers=("Delivered",), channel="gbm")
    user = {"trafficAccountId": tenant.accounts["gbm"], "from": CONVERSATION, "text": "Hello there"}
    first = (await server.post("/sandbox/gbm/inbound", json=user)).json()
    assert first["gatewayStatus"] == 200 and first["messageId"], first
    repeat = await server.post("/sandbox/gbm/inbound", json={**user, "messageId": first["providerMessageId"]})
    assert repeat.json()["gatewayStatus"] == 200 and repeat.json()["messageId"] == first["messageId"], repeat.text
    tapped = {**user, "suggestionResponse": {"postbackData": "hello-reply-1", "text": "Reply one"}}
    tap = (await server.post("/sandbox/gbm/inbound", json=tapped)).json()
    assert tap["gatewayStatus"] == 200 and tap["providerMessageId"].startswith("request:"), tap
    again = await server.post("/sandbox/gbm/inbound", json={**tapped, "requestId": tap["providerMessageId"]})
    assert again.json()["gatewayStatus"] == 200 and again.json()["messageId"] == tap["messageId"], again.text

    page = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()
    assert len(page["items"]) == 2
    assert {first["messageId"], tap["messageId"]} == {item["messageId"] for item in page["items"]}
    text_id = page["items"][0]["messageId"]
    message = (await server.get(f"/api/v1/Message/{text_id}", headers=tenant.key)).json()
    assert message["content"] == {"type": "text", "text": "Hello there"} and message["destination"] == CONVERSATION
    postback = (await server.get(f"/api/v1/Message/{page['items'][1]['messageId']}", headers=tenant.key)).json()
    assert postback["content"] == {
        "type": "postback",
        "data": "hello-reply-1",
        "title": "Reply one",
        "source": "suggestion",
    }
    assert (await row_of(server, text_id)).provider_message_id == first["providerMessageId"] and text_id == first[
        "messageId"
    ]
    events = await webhook_events(server, text_id)
    assert [(str(e.webhook_id), e.event) for e in events] == [(webhook["id"], "UserMessage")]
    assert events[0].payload["content"] == {"type": "text", "text": "Hello there"}
    # The sandbox signs only for sandbox accounts, and says what is missing.
    assert_problem(
        await server.post("/sandbox/gbm/inbound", json={**user, "trafficAccountId": str(uuid.uuid4())}),
        404,
        "not_found",
    )
    assert_problem(
        await server.post("/sandbox/gbm/inbound", json={"from": "x"}),
        400,
        "validation_error",
        "trafficAccountId",
        "text",
    )


async def test_a_user_s_name_and_the_message_a_tapped_suggestion_answers(server):
    """The user's displayName shows in the message, the conversation and the payload; a suggestion tapped on a
    message we sent names it (relatesTo.messageId, from the provider id in suggestionResponse.message)."""
    tenant = await tenant_on(server, ("gbm",))
    await create_webhook(server, tenant, triggers=("UserMessage",), channel="gbm")
    sent = await send(server, tenant)
    await wait_for_status(server, tenant, sent, "Sent")
    user = {"trafficAccountId": tenant.accounts["gbm"], "from": CONVERSATION, "name": "Jane Doe"}
    tapped = {"postbackData": "yes", "text": "Yes", "message": f"conversations/{CONVERSATION}/messages/{sent}"}
    assert (await server.post("/sandbox/gbm/inbound", json={**user, "suggestionResponse": tapped})).json()[
        "gatewayStatus"
    ] == 200
    [item] = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()["items"]
    message = (await server.get(f"/api/v1/Message/{item['messageId']}", headers=tenant.key)).json()
    assert message["content"]["relatesTo"] == {"providerMessageId": sent, "messageId": sent}
    assert message["sender"] == {"messagingAppIdentifier": CONVERSATION, "name": "Jane Doe"}
    assert message["conversation"]["participants"][1] == message["sender"] and message["text"] is None
    [payload] = [e.payload for e in await webhook_events(server, item["messageId"])]
    assert payload["sender"] == message["sender"] and payload["postback"]["relatesTo"]["messageId"] == sent
    msgspec.convert(payload, UserMessageEvent)  # as documented (content: InboundContent)
    [conversation_of] = (await server.get("/api/v1/Conversations", headers=tenant.key)).json()["items"]
    assert conversation_of["participant"] == {"messagingAppIdentifier": CONVERSATION, "name": "Jane Doe"}
    # The message we sent shows the account as its sender, the user by the latest name known, and its text.
    outbound = (await server.get(f"/api/v1/Message/{sent}", headers=tenant.key)).json()
    assert outbound["sender"] == {"id": tenant.accounts["gbm"], "name": outbound["sender"]["name"]}
    assert outbound["conversation"]["participants"][1] == {"messagingAppIdentifier": CONVERSATION, "name": "Jane Doe"}
    assert outbound["text"] == TEXT["text"]["message"]
    # A tap on a message the gateway doesn't know keeps the provider's id only.
    other = {**tapped, "message": f"conversations/{CONVERSATION}/messages/not-ours"}
    await server.post("/sandbox/gbm/inbound", json={**user, "suggestionResponse": other})
    items = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()["items"]
    unknown = (await server.get(f"/api/v1/Message/{items[1]['messageId']}", headers=tenant.key)).json()
    assert unknown["content"]["relatesTo"] == {"providerMessageId": "not-ours"}
