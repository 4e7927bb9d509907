"""WhatsApp end to end: accepted, dispatched through the real Cloud API adapter to the sandbox provider
over HTTP, reported back through signed status webhooks, the verification handshake, and a simulated
user's messages, on SQLite and on Postgres."""

from __future__ import annotations

import asyncio
import json
import uuid
from urllib.parse import urlsplit

import httpx
import pytest

from channels.whatsapp import adapter, sandbox
from channels.whatsapp.callbacks import SIGNATURE_HEADER, signature
from channels.whatsapp.errors import REENGAGEMENT_HINT
from tests.conftest import ADMIN, assert_problem, create_webhook
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

TEXT = {"type": "regular", "regular": {"type": "text", "text": "Your code is 1234"}}


async def send(client, tenant, destination, block=TEXT):
    return await send_message(client, tenant, "whatsapp", destination, block)


def change(tenant, number: str | None = None, **fields) -> dict:
    """A ``messages`` change for the tenant's sandbox account (whose phone number id is its own id) or
    ``number``."""
    metadata = {"display_phone_number": "15550001234", "phone_number_id": number or tenant.accounts["whatsapp"]}
    return {"value": {"messaging_product": "whatsapp", "metadata": metadata, **fields}, "field": "messages"}


def notification(*entries) -> dict:
    return {"object": "whatsapp_business_account", "entry": list(entries)}


def statuses(tenant, *items: dict) -> dict:
    return notification({"id": "1", "changes": [change(tenant, statuses=list(items))]})


def status(wamid: str, state: str) -> dict:
    return {"id": wamid, "status": state, "timestamp": "1750857384", "recipient_id": "447700900001"}


async def webhook(client, tenant, payload, app_secret=None, **headers):
    """POSTs a notification signed with ``app_secret`` (the account's own unless given)."""
    body = json.dumps(payload).encode()
    app_secret = app_secret or (await adapter_account_of(client, tenant, "whatsapp")).credentials["appSecret"]
    headers = {SIGNATURE_HEADER: signature(app_secret, body), **headers}
    return await client.post(f"/callbacks/whatsapp/{tenant.accounts['whatsapp']}", content=body, headers=headers)


async def test_delivered_through_the_sandbox(server):
    tenant = await tenant_on(server, ("whatsapp",))
    message_id = await send(server, tenant, "+447700900123")
    message = await wait_for_status(server, tenant, message_id, "Delivered")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]
    assert message["requestInfo"] == TEXT
    row = await row_of(server, message_id)
    assert row.provider_message_id.startswith("wamid.") and row.attempts == 1


async def test_delivered_then_read(server):
    tenant = await tenant_on(server, ("whatsapp",))
    message_id = await send(server, tenant, "+447700900002")
    message = await wait_for_status(server, tenant, message_id, "Read")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered", "Read"]


async def test_failed_webhooks_and_refused_sends_fail_with_the_cloud_api_code(server):
    tenant = await tenant_on(server, ("whatsapp",))
    failed = await send(server, tenant, "+447700900003")  # sent, then a failed status webhook
    re_engagement = await send(server, tenant, "+447700901047")  # refused at send: 131047
    undeliverable = await send(server, tenant, "+447700901026")
    message = await wait_for_status(server, tenant, failed, "Failed")
    assert message["errorCode"] == "whatsapp.131026" and message["description"].startswith("Message undeliverable")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Failed"]
    message = await wait_for_status(server, tenant, re_engagement, "Failed")
    assert message["errorCode"] == "whatsapp.131047" and REENGAGEMENT_HINT in message["description"]
    assert "24 hours" in message["description"] and "template" in message["description"]
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Failed"]
    message = await wait_for_status(server, tenant, undeliverable, "Failed")
    assert message["errorCode"] == "whatsapp.131026"


async def test_content_kinds_and_templates_reach_the_sandbox(server):
    tenant = await tenant_on(server, ("whatsapp",))
    account = tenant.accounts["whatsapp"]
    template = {
        "language": {"code": "en_US"},
        "category": "UTILITY",
        "components": [
            {"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.", "example": {"body_text": [["A", "B"]]}}
        ],
    }
    created = await server.post(
        f"/api/v1/trafficAccounts/{account}/WhatsAppTemplates/order_shipped", json=template, headers=tenant.key
    )
    assert created.status_code == 201 and created.json()["status"] == "APPROVED", created.text
    body = {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-1"}]}
    blocks = [
        {
            "type": "template",
            "template": {"name": "order_shipped", "language": {"code": "en_US"}, "components": [body]},
        },
        {
            "type": "regular",
            "regular": {"type": "image", "image": {"link": "https://example.com/a.png", "caption": "Hi"}},
        },
        {"type": "regular", "regular": {"type": "document", "document": {"link": "https://example.com/r.pdf"}}},
        {
            "type": "regular",
            "regular": {
                "type": "interactive",
                "interactive": {
                    "type": "button",
                    "body": {"text": "Keep the date?"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]},
                },
            },
        },
        {"type": "regular", "regular": {"type": "location", "location": {"latitude": 46.2, "longitude": 6.1}}},
    ]
    sent = [await send(server, tenant, "+447700900123", block) for block in blocks]
    for message_id in sent:
        await wait_for_status(server, tenant, message_id, "Delivered")


async def test_the_never_delivered_recipient_stays_sent(server):
    tenant = await tenant_on(server, ("whatsapp",))
    message_id = await send(server, tenant, "+447700900001")
    await wait_for_status(server, tenant, message_id, "Sent")
    await assert_history_stays(server, tenant, message_id, "Ready", "Sent")


@pytest.mark.parametrize(
    ("destination", "expected"),
    [("+447700900500", "unknown error"), ("+447700900429", "130429"), ("+447700901056", "131056")],
)
async def test_provider_errors_and_rate_limits_are_retried_not_failed(server, destination, expected):
    tenant = await tenant_on(server, ("whatsapp",))
    message_id = await send(server, tenant, destination)
    row = await attempted(server, message_id)
    assert row.status == "Ready" and row.next_attempt_at is not None and expected in row.description
    if expected == "130429":  # HTTP 429 with Retry-After: 1 is honoured
        assert (row.next_attempt_at - row.updated_at).total_seconds() >= 0.9


async def test_the_sandbox_checks_like_the_cloud_api_and_the_timeout_recipient_hangs(server, monkeypatch):
    monkeypatch.setattr(sandbox, "SLOW_SECONDS", 1.0)
    tenant = await tenant_on(server, ("whatsapp",))
    account = await adapter_account_of(server, tenant, "whatsapp")
    url = adapter.messages_url(account)
    body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "447700900408", "type": "text"}
    body["text"] = {"body": "hi"}
    # Only the probe of the slow case is impatient: the other calls may be slow on a loaded machine.
    async with httpx.AsyncClient(timeout=10) as http, httpx.AsyncClient(timeout=IMPATIENT) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post(url, json=body, headers=adapter.auth_headers(account))
        wrong_token = await http.post(url, json=body, headers={"Authorization": "Bearer not-the-token"})
        assert wrong_token.status_code == 401 and wrong_token.json()["error"]["code"] == 190
        no_token = await http.post(url, json=body)
        assert no_token.status_code == 401 and no_token.json()["error"]["code"] == 104
        unknown = await http.post(
            url.replace(str(account.id), "106540352242922"), json=body, headers=adapter.auth_headers(account)
        )
        assert unknown.status_code == 400 and unknown.json()["error"]["code"] == 100
    await asyncio.sleep(1.0)  # let the slow answer finish before the server stops


async def test_the_verification_handshake(server):
    tenant = await tenant_on(server, ("whatsapp",))
    account = await adapter_account_of(server, tenant, "whatsapp")
    url = f"/callbacks/whatsapp/{account.id}"
    params = {"hub.mode": "subscribe", "hub.verify_token": account.credentials["verifyToken"], "hub.challenge": "8731"}
    response = await server.get(url, params=params)
    assert response.status_code == 200 and response.text == "8731"
    assert response.headers["content-type"].startswith("text/plain")
    assert_problem(await server.get(url, params={**params, "hub.verify_token": "guess"}), 403, "forbidden")
    assert_problem(await server.get(f"/callbacks/whatsapp/{uuid.uuid4()}", params=params), 403, "forbidden")
    # The callbackUrl the operator configures at Meta carries the account token: the handshake still works.
    shown = (await server.get(f"/admin/tenants/{tenant.id}/traffic-accounts/{account.id}", headers=ADMIN)).json()
    callback = urlsplit(shown["callbackUrl"])
    assert callback.path == url and "token=" in callback.query
    response = await server.get(f"{callback.path}?{callback.query}", params=params)
    assert response.status_code == 200 and response.text == "8731"


async def test_a_webhook_without_the_right_signature_changes_nothing(server):
    tenant = await tenant_on(server, ("whatsapp",))
    message_id = await send(server, tenant, "+447700900001")  # accepted, never reported
    await wait_for_status(server, tenant, message_id, "Sent")
    wamid = (await row_of(server, message_id)).provider_message_id
    payload = statuses(tenant, status(wamid, "delivered"))
    body = json.dumps(payload).encode()
    url = f"/callbacks/whatsapp/{tenant.accounts['whatsapp']}"
    assert_problem(await server.post(url, content=body), 401, "unauthorized")
    assert_problem(
        await server.post(url, content=body, headers={SIGNATURE_HEADER: "sha256=" + "0" * 64}), 401, "unauthorized"
    )
    assert_problem(await webhook(server, tenant, payload, app_secret="another-app-secret"), 401, "unauthorized")
    app_secret = (await adapter_account_of(server, tenant, "whatsapp")).credentials["appSecret"]
    tampered = {SIGNATURE_HEADER: signature(app_secret, body + b" ")}
    assert_problem(await server.post(url, content=body, headers=tampered), 401, "unauthorized")
    assert_problem(
        await server.post(f"/callbacks/whatsapp/{uuid.uuid4()}", content=body, headers=tampered), 401, "unauthorized"
    )
    assert await history(server, tenant, message_id) == ["Ready", "Sent"]
    # The same notification, signed with the account's app secret, is taken.
    assert (await webhook(server, tenant, payload)).status_code == 200
    assert await history(server, tenant, message_id) == ["Ready", "Sent", "Delivered"]


async def test_repeated_batched_and_unknown_statuses(server):
    tenant = await tenant_on(server, ("whatsapp",))
    first = await send(server, tenant, "+447700900001")
    second = await send(server, tenant, "+447710900001")
    await wait_for_status(server, tenant, first, "Sent")
    await wait_for_status(server, tenant, second, "Sent")
    a = (await row_of(server, first)).provider_message_id
    b = (await row_of(server, second)).provider_message_id
    # One batch: out of order, repeated, and a wamid the gateway never sent (another system on the number).
    batch = statuses(
        tenant, status(a, "read"), status(a, "delivered"), status("wamid.NOT-OURS", "delivered"), status(b, "delivered")
    )
    response = await webhook(server, tenant, batch)
    assert response.status_code == 200, response.text
    # The unknown wamid is kept, in case it overtook the send answer.
    assert response.json() == {"statuses": 4, "messages": 0, "ignored": 0, "skipped": []}
    assert (await webhook(server, tenant, batch)).status_code == 200  # Meta delivering it again
    failed = {**status(a, "failed"), "errors": [{"code": 131026, "title": "Message undeliverable"}]}
    assert (await webhook(server, tenant, statuses(tenant, failed))).status_code == 200
    message = (await server.get(f"/api/v1/Message/{first}", headers=tenant.key)).json()
    assert [c["status"] for c in message["statusHistory"]] == ["Ready", "Sent", "Read"]
    assert message["deliveryStatus"] == "Read" and message["errorCode"] is None
    assert await history(server, tenant, second) == ["Ready", "Sent", "Delivered"]
    # A body that is no WhatsApp notification is refused; a malformed status in one is skipped, named and
    # logged, and the good one beside it applied (a 400 would make Meta redeliver the whole batch forever).
    assert_problem(await webhook(server, tenant, {"object": "page", "entry": []}), 400, "validation_error", "object")
    assert_problem(
        await webhook(server, tenant, {"object": "whatsapp_business_account"}), 400, "validation_error", "entry"
    )
    response = await webhook(server, tenant, statuses(tenant, status(b, "read"), {"status": "read"}))
    assert response.status_code == 200, response.text
    assert response.json()["skipped"] == [
        {"field": "entry[0].changes[0].value.statuses[1].id", "message": response.json()["skipped"][0]["message"]}
    ]
    assert await history(server, tenant, second) == ["Ready", "Sent", "Delivered", "Read"]


async def test_inbound_messages_are_stored_once_with_user_message_events(server):
    tenant = await tenant_on(server, ("whatsapp",))
    webhook_out = await create_webhook(server, tenant, triggers=("UserMessage",), channel="whatsapp")
    await create_webhook(server, tenant, triggers=("Delivered",), channel="whatsapp")
    user = {"trafficAccountId": tenant.accounts["whatsapp"], "from": "+447700900123", "text": "Hello there"}
    first = (await server.post("/sandbox/whatsapp/inbound", json=user)).json()
    assert first["gatewayStatus"] == 200 and first["providerMessageId"].startswith("wamid."), first
    assert first["channel"] == "whatsapp" and first["trafficAccountId"] == tenant.accounts["whatsapp"], first
    repeat = await server.post("/sandbox/whatsapp/inbound", json={**user, "wamid": first["providerMessageId"]})
    assert repeat.json()["gatewayStatus"] == 200 and repeat.json()["messageId"] == first["messageId"], repeat.text
    tap = {**user, "buttonReply": {"id": "yes", "title": "Yes"}, "replyTo": "wamid.OURS"}
    del tap["text"]
    tapped = (await server.post("/sandbox/whatsapp/inbound", json=tap)).json()
    assert tapped["gatewayStatus"] == 200, tapped

    page = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()
    assert len(page["items"]) == 2
    text_id = page["items"][0]["messageId"]
    assert {first["messageId"], tapped["messageId"]} == {item["messageId"] for item in page["items"]}
    message = (await server.get(f"/api/v1/Message/{text_id}", headers=tenant.key)).json()
    assert message["content"] == {"type": "text", "text": "Hello there"} and message["destination"] == "+447700900123"
    second = (await server.get(f"/api/v1/Message/{page['items'][1]['messageId']}", headers=tenant.key)).json()
    assert second["content"] == {
        "type": "postback",
        "data": "yes",
        "title": "Yes",
        "source": "button_reply",
        "relatesTo": {"providerMessageId": "wamid.OURS"},
    }
    events = await webhook_events(server, text_id)
    assert [(str(e.webhook_id), e.event) for e in events] == [(webhook_out["id"], "UserMessage")]
    assert events[0].payload["content"] == {"type": "text", "text": "Hello there"}
    # The sandbox signs only for sandbox accounts, and says what is missing.
    assert_problem(
        await server.post("/sandbox/whatsapp/inbound", json={**user, "trafficAccountId": str(uuid.uuid4())}),
        404,
        "not_found",
    )
    assert_problem(
        await server.post("/sandbox/whatsapp/inbound", json={"from": "x"}),
        400,
        "validation_error",
        "trafficAccountId",
        "from",
        "text",
    )


async def inbound_by_wamid(client, tenant) -> dict[str, str]:
    """The tenant's inbound messages: wamid -> message id."""
    page = (await client.get("/api/v1/Messages?direction=inbound&limit=100", headers=tenant.key)).json()
    return {(await row_of(client, item["messageId"])).provider_message_id: item["messageId"] for item in page["items"]}


async def content_of(client, tenant, message_id: str) -> dict:
    return (await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()["content"]


def user_message(wamid: str, kind: str, obj: dict | None = None, **extra) -> dict:
    message = {"from": "447700900123", "id": wamid, "timestamp": "1750275992", "type": kind, **extra}
    return message | ({kind: obj} if obj is not None else {})


async def test_a_mixed_batch_keeps_every_good_message_with_its_content(server):
    """One signed POST as Meta batches it (shapes after pywa's fixtures): messages of many kinds, one that Meta
    flags with errors, a change for another phone number id and a malformed entry. The answer is 200, every
    message of the account's number is stored with its content, nothing of the other number is."""
    tenant = await tenant_on(server, ("whatsapp",))
    await create_webhook(server, tenant, triggers=("UserMessage",), channel="whatsapp")
    errors = [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}]
    flow = {"response_json": '{"flow_token": "T-1", "rating": "4"}', "body": "Sent", "name": "flow"}
    ours = [
        user_message("wamid.TEXT", "text", {"body": "hello"}, context={"from": "15550001234", "id": "wamid.OURS"}),
        user_message("wamid.ERR", "unsupported", errors=errors),
        user_message("wamid.VOICE", "audio", {"id": "M1", "mime_type": "audio/ogg; codecs=opus", "voice": True}),
        user_message("wamid.LOC", "location", {"latitude": 46.2, "longitude": 6.1, "name": "Geneva"}),
        user_message(
            "wamid.CARD",
            "contacts",
            contacts=[
                {"name": {"formatted_name": "Ana B"}, "phones": [{"phone": "+385911234567", "wa_id": "385911234567"}]}
            ],
        ),
        user_message("wamid.FORM", "interactive", {"type": "nfm_reply", "nfm_reply": flow}),
        user_message("wamid.LIKE", "reaction", {"message_id": "wamid.TEXT", "emoji": "\N{THUMBS UP SIGN}"}),
        user_message(
            "wamid.EDIT",
            "edit",
            {"original_message_id": "wamid.TEXT", "message": {"type": "text", "text": {"body": "hello!"}}},
        ),
        user_message("wamid.GONE", "revoke", {"original_message_id": "wamid.LOC"}),
    ]
    contacts = [{"profile": {"name": "Ana"}, "wa_id": "447700900123"}]
    payload = notification(
        {"id": "1", "changes": "not a list"},
        {
            "id": "1",
            "changes": [
                change(tenant, contacts=contacts, messages=ours[:5]),
                change(tenant, "209876543210987", messages=[user_message("wamid.OTHER", "text", {"body": "not ours"})]),
                change(tenant, contacts=contacts, messages=ours[5:]),
            ],
        },
    )
    response = await webhook(server, tenant, payload)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "statuses": 0,
        "messages": len(ours),
        "ignored": 1,
        "skipped": [{"field": "entry[0].changes", "message": "must be a list"}],
    }
    ids = await inbound_by_wamid(server, tenant)
    contents = {wamid: await content_of(server, tenant, message_id) for wamid, message_id in ids.items()}
    assert sorted(contents) == sorted(message["id"] for message in ours)  # wamid.OTHER is not stored
    for wamid in ("wamid.ERR", "wamid.CARD", "wamid.FORM"):  # the UserMessage webhook carries the same content
        [event] = await webhook_events(server, ids[wamid])
        assert event.event == "UserMessage" and event.payload["content"] == contents[wamid]
    assert contents["wamid.TEXT"] == {"type": "text", "text": "hello", "relatesTo": {"providerMessageId": "wamid.OURS"}}
    assert contents["wamid.ERR"] == {
        "type": "unsupported",
        "kind": "unsupported",
        "error": {"code": "whatsapp.131051", "title": "Message type unknown", "message": "Message type unknown"},
    }
    assert contents["wamid.VOICE"] == {"type": "voice", "mediaId": "M1", "mimeType": "audio/ogg; codecs=opus"}
    assert contents["wamid.LOC"] == {"type": "location", "latitude": 46.2, "longitude": 6.1, "name": "Geneva"}
    assert contents["wamid.CARD"] == {
        "type": "contacts",
        "contacts": [{"name": "Ana B", "phones": [{"phoneNumber": "+385911234567", "userId": "385911234567"}]}],
    }
    assert contents["wamid.FORM"] == {
        "type": "form",
        "response": {"flow_token": "T-1", "rating": "4"},
        "name": "flow",
        "body": "Sent",
    }
    for wamid, kind, relates_to in (
        ("wamid.LIKE", "reaction", "wamid.TEXT"),
        ("wamid.EDIT", "edit", "wamid.TEXT"),
        ("wamid.GONE", "revoke", "wamid.LOC"),
    ):
        assert contents[wamid]["type"] == kind
        # The gateway may add the id of the message it has for that wamid (its own part of issue 17).
        assert contents[wamid]["relatesTo"]["providerMessageId"] == relates_to, contents[wamid]
    assert contents["wamid.EDIT"]["content"] == {"type": "text", "text": "hello!"}
    # Meta redelivering the same batch stores nothing twice.
    assert (await webhook(server, tenant, payload)).status_code == 200
    assert await inbound_by_wamid(server, tenant) == ids


async def test_the_simulated_user_sends_every_kind_and_another_number_is_ignored(server):
    tenant = await tenant_on(server, ("whatsapp",))
    user = {"trafficAccountId": tenant.accounts["whatsapp"], "from": "+447700900123", "name": "Ana"}
    sent = {
        "contacts": {
            "type": "contacts",
            "contacts": [{"name": {"formatted_name": "Bo"}, "phones": [{"phone": "+1 555"}]}],
        },
        "reaction": {"type": "reaction", "reaction": {"message_id": "wamid.OURS", "emoji": "\N{THUMBS UP SIGN}"}},
        "revoke": {"type": "revoke", "revoke": {"original_message_id": "wamid.OURS"}},
        "unsupported": {"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]},
    }
    for kind, message in sent.items():
        answer = (
            await server.post("/sandbox/whatsapp/inbound", json={**user, "message": message, "wamid": kind})
        ).json()
        assert answer["gatewayStatus"] == 200, answer
    other = {**user, "text": "for another number", "phoneNumberId": "209876543210987", "wamid": "other"}
    assert (await server.post("/sandbox/whatsapp/inbound", json=other)).json()["gatewayStatus"] == 200
    ids = await inbound_by_wamid(server, tenant)
    contents = {wamid: await content_of(server, tenant, message_id) for wamid, message_id in ids.items()}
    assert sorted(contents) == sorted(sent)  # nothing of the other number
    assert contents["contacts"] == {
        "type": "contacts",
        "contacts": [{"name": "Bo", "phones": [{"phoneNumber": "+1 555"}]}],
    }
    assert contents["reaction"]["emoji"] == "\N{THUMBS UP SIGN}"
    assert contents["revoke"]["relatesTo"]["providerMessageId"] == "wamid.OURS"
    assert contents["unsupported"] == {
        "type": "unsupported",
        "kind": "unsupported",
        "error": {"code": "whatsapp.131051", "title": "Message type unknown"},
    }
