"""Sending and reading messages over the Chat API (acceptance only: dispatch has tests of its own)."""

from __future__ import annotations

import re
import uuid

from tests.conftest import ADMIN, assert_problem, new_tenant

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
SMS = {"text": "Hi, this is test msg.", "sender": "MITTO SMS"}


async def send(client, tenant, version="v1", **body):
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "sms": SMS} | body
    return await client.post(f"/api/{version}/Message/send", json=payload, headers=tenant.key)


async def test_version_1_answers_with_the_message(client, tenant):
    response = await send(client, tenant)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deliveryStatus"] == "Ready"
    assert body["trafficAccountId"] == tenant.accounts["sms"]
    assert body["messageId"] == body["id"]
    assert body["sender"] == {"id": tenant.accounts["sms"], "name": "sms sandbox"}
    assert body["conversation"]["participants"] == [body["sender"], {"phoneNumber": "+447700900123"}]
    assert TIMESTAMP.match(body["createdAt"]) and TIMESTAMP.match(body["updatedAt"])


async def test_version_1_1_answers_with_ids_on_the_plural_path(client, tenant):
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": "447700900123", "sms": SMS}
    response = await client.post("/api/v1.1/Messages/send", json=payload, headers=tenant.bearer)
    assert response.status_code == 200, response.text
    [sent] = response.json()["messages"]
    assert set(sent) == {"messageId", "trafficAccountId"} and sent["trafficAccountId"] == tenant.accounts["sms"]


async def test_get_message_shows_request_parts_and_history(client, tenant):
    long_text = {"text": "x" * 161, "sender": "447700900999", "reference": "order-42"}
    message_id = (await send(client, tenant, sms=long_text)).json()["messageId"]
    response = await client.get(f"/api/v1/Messages/{message_id}", headers=tenant.key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["requestInfo"] == long_text and body["messageParts"] == 2 and body["reference"] == "order-42"
    assert body["deliveryStatus"] == "Ready" and body["errorCode"] is None and body["description"] is None
    assert [change["status"] for change in body["statusHistory"]] == ["Ready"]
    assert body["direction"] == "outbound" and body["channel"] == "sms"


async def test_one_conversation_per_user(client, tenant):
    first = (await send(client, tenant)).json()
    second = (await send(client, tenant)).json()
    other = (await send(client, tenant, destination="+447700900124")).json()
    assert first["conversation"]["id"] == second["conversation"]["id"] != other["conversation"]["id"]
    listed = await client.get(f"/api/v1/conversations/{first['conversation']['id']}/messages", headers=tenant.key)
    assert [m["messageId"] for m in listed.json()["items"]] == [first["messageId"], second["messageId"]]


async def test_block_errors_name_the_fields(client, tenant):
    response = await send(client, tenant, sms={"text": "", "sender": "WAY TOO LONG SENDER"}, destination="abc")
    assert_problem(response, 400, "validation_error", "sms.text", "sms.sender", "destination")


async def test_missing_block_and_block_of_another_channel(client, tenant):
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "viber": {"text": "x"}}
    response = await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "sms", "viber")


async def test_traffic_account_of_another_tenant_is_a_404_naming_it(client, tenant, other_tenant):
    response = await send(client, tenant, trafficAccountId=other_tenant.accounts["sms"])
    assert_problem(response, 404, "not_found", "trafficAccountId")
    response = await send(client, tenant, trafficAccountId=str(uuid.uuid4()))
    assert_problem(response, 404, "not_found", "trafficAccountId")


async def test_messages_of_another_tenant_are_invisible(client, tenant, other_tenant):
    message_id = (await send(client, tenant)).json()["messageId"]
    assert_problem(await client.get(f"/api/v1/Message/{message_id}", headers=other_tenant.key), 404, "not_found")
    listed = await client.get("/api/v1/Messages", headers=other_tenant.key)
    assert listed.json() == {"items": [], "nextCursor": None}


async def test_list_filters_and_pages(client):
    tenant = await new_tenant(client)
    ids = [(await send(client, tenant, destination=f"+44770090012{n}")).json()["messageId"] for n in range(5)]
    seen, cursor = [], None
    while True:
        query = f"?limit=2&trafficAccountId={tenant.accounts['sms']}" + (f"&cursor={cursor}" if cursor else "")
        page = (await client.get(f"/api/v1/Messages{query}", headers=tenant.key)).json()
        seen += [m["messageId"] for m in page["items"]]
        if not (cursor := page["nextCursor"]):
            break
    assert seen == ids
    one = (await client.get("/api/v1/Messages?destination=%2B447700900123", headers=tenant.key)).json()["items"]
    assert [m["messageId"] for m in one] == [ids[3]]
    assert (await client.get("/api/v1/Messages?status=Delivered", headers=tenant.key)).json()["items"] == []
    bad = await client.get("/api/v1/Messages?status=Nope", headers=tenant.key)
    assert_problem(bad, 400, "validation_error", "status")


async def test_every_channel_validates_its_block(client):
    tenant = await new_tenant(client, channels=("sms", "whatsapp", "viber", "telegram", "gbm"))
    bad = {
        "whatsapp": ({"type": "template", "template": {"name": "x", "language": "en"}}, "whatsapp.template.language"),
        "viber": ({"type": "session", "text": "x", "ttl": 5}, "viber.ttl"),
        "telegram": ({"text": {"message": ""}}, "telegram.text.message"),
        "gbm": ({"text": {"message": "hi"}, "suggestions": [{"reply": {"text": "x" * 26}}] * 14}, "gbm.suggestions"),
    }
    for channel, (block, field) in bad.items():
        destination = "+447700900123" if channel in ("whatsapp", "viber") else "12345"
        payload = {"trafficAccountId": tenant.accounts[channel], "destination": destination, channel: block}
        response = await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)
        body = assert_problem(response, 400, "validation_error")
        assert any(e["field"].startswith(field) for e in body["errors"]), (channel, body)
    good = {
        "trafficAccountId": tenant.accounts["telegram"],
        "destination": "1861312834",
        "telegram": {"text": {"message": "hi"}},
    }
    sent = await client.post("/api/v1/Message/send", json=good, headers=tenant.key)
    assert sent.status_code == 200, sent.text
    assert sent.json()["conversation"]["participants"][1] == {"messagingAppIdentifier": "1861312834"}
    whats_app = {
        "trafficAccountId": tenant.accounts["whatsapp"],
        "destination": "+447700900123",
        "whatsApp": {"type": "regular", "regular": {"type": "text", "text": "hi"}},
    }
    assert (await client.post("/api/v1/Message/send", json=whats_app, headers=tenant.key)).status_code == 200


UTILITY = {
    "language": {"code": "en_US"},
    "category": "UTILITY",
    "components": [{"type": "BODY", "text": "Hi {{1}}, order {{2}} shipped.", "example": {"body_text": [["A", "B"]]}}],
}


def template_block(name: str, *parameters: str, code: str = "en_US") -> dict:
    body = {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
    return {"type": "template", "template": {"name": name, "language": {"code": code}, "components": [body]}}


async def test_template_messages_use_the_accounts_approved_templates(client, tenant):
    account = tenant.accounts["whatsapp"]
    created = await client.post(
        f"/api/v1/trafficAccounts/{account}/WhatsAppTemplates/order_shipped", json=UTILITY, headers=tenant.key
    )
    assert created.status_code == 201, created.text

    async def send_template(block):
        payload = {"trafficAccountId": account, "destination": "+447700900123", "whatsapp": block}
        return await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)

    assert (await send_template(template_block("order_shipped", "Ana", "A-1"))).status_code == 200
    missing = await send_template(template_block("order_shipped", "Ana"))
    body = assert_problem(missing, 400, "validation_error", "whatsapp.template.components")
    assert "2 placeholder" in body["errors"][0]["message"]
    unknown = await send_template(template_block("no_such_template", "x"))
    assert_problem(unknown, 400, "validation_error", "whatsapp.template.name")
    other_language = await send_template(template_block("order_shipped", "Ana", "A-1", code="it"))
    assert_problem(other_language, 400, "validation_error", "whatsapp.template.name")


async def test_a_pending_template_cannot_be_sent(client, tenant):
    live = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={
            "name": "live wa",
            "channel": "whatsapp",
            "settings": {"phoneNumberId": "1", "wabaId": "2", "accessToken": "a", "appSecret": "b", "verifyToken": "c"},
        },
        headers=ADMIN,
    )
    account = live.json()["id"]
    created = await client.post(
        f"/api/v1/trafficAccounts/{account}/WhatsAppTemplates/order_shipped", json=UTILITY, headers=tenant.key
    )
    assert created.json()["status"] == "PENDING"
    payload = {
        "trafficAccountId": account,
        "destination": "+447700900123",
        "whatsapp": template_block("order_shipped", "a", "b"),
    }
    response = await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    body = assert_problem(response, 400, "validation_error", "whatsapp.template.name")
    assert "PENDING" in body["errors"][0]["message"]


async def _settings(client, tenant, channel, settings):
    url = f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts[channel]}"
    return await client.patch(url, json={"settings": settings}, headers=ADMIN)


async def test_the_sender_carries_the_account_s_number_and_bot_username_as_seed_002_shows(client):
    tenant = await new_tenant(client, ("sms", "telegram", "gbm"))
    assert (await _settings(client, tenant, "sms", {"phoneNumber": "+44 7700 900000"})).status_code == 200
    assert (await _settings(client, tenant, "telegram", {"botUsername": "telegram_agent"})).status_code == 200
    sms = (await send(client, tenant)).json()
    assert sms["sender"] == {"id": tenant.accounts["sms"], "phoneNumber": "+447700900000", "name": "sms sandbox"}
    assert sms["conversation"]["participants"][0] == sms["sender"]
    payload = {"trafficAccountId": tenant.accounts["telegram"], "destination": "1861312834"}
    telegram = await client.post(
        "/api/v1/Message/send", json=payload | {"telegram": {"text": {"message": "Hi"}}}, headers=tenant.key
    )
    assert list(telegram.json()["sender"].items()) == [
        ("id", tenant.accounts["telegram"]),
        ("messagingAppIdentifier", "telegram_agent"),
        ("name", "telegram sandbox"),
    ]
    assert telegram.json()["conversation"]["participants"][1] == {"messagingAppIdentifier": "1861312834"}
    # GET Message: the same sender, and the text of a text message wherever its channel's block keeps it.
    for sent, text in ((sms, SMS["text"]), (telegram.json(), "Hi")):
        detail = (await client.get(f"/api/v1/Message/{sent['messageId']}", headers=tenant.key)).json()
        assert detail["sender"] == sent["sender"] and detail["text"] == text
        assert detail["conversation"]["participants"] == sent["conversation"]["participants"]
    # A channel without a number of its own (GBM) shows the account by id and name only.
    gbm = {
        "trafficAccountId": tenant.accounts["gbm"],
        "destination": "conversation-1",
        "gbm": {"text": {"message": "Hi"}},
    }
    answer = (await client.post("/api/v1/Message/send", json=gbm, headers=tenant.key)).json()
    assert answer["sender"] == {"id": tenant.accounts["gbm"], "name": "gbm sandbox"}


async def test_an_account_s_own_address_setting_is_checked(client):
    tenant = await new_tenant(client, ("sms", "telegram", "gbm"))
    assert_problem(
        await _settings(client, tenant, "sms", {"phoneNumber": "call me"}),
        400,
        "validation_error",
        "settings.phoneNumber",
    )
    assert_problem(
        await _settings(client, tenant, "telegram", {"botUsername": "two words"}),
        400,
        "validation_error",
        "settings.botUsername",
    )
    # Only the channels whose accounts have such an address take the setting.
    assert_problem(
        await _settings(client, tenant, "gbm", {"phoneNumber": "+447700900000"}),
        400,
        "validation_error",
        "settings.phoneNumber",
    )
    # Optional: a live account needs none (its other settings are required as before).
    live = {"name": "live", "channel": "sms", "sandbox": False, "settings": {"apiKey": "k"}}
    created = await client.post(f"/admin/tenants/{tenant.id}/traffic-accounts", json=live, headers=ADMIN)
    assert created.status_code == 201, created.text
    live["settings"] = {}
    refused = await client.post(f"/admin/tenants/{tenant.id}/traffic-accounts", json=live, headers=ADMIN)
    assert_problem(refused, 400, "validation_error", "settings.apiKey")
    assert "settings.phoneNumber" not in str(refused.json())
