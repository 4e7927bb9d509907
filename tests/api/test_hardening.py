"""Races and hostile input: what must stay a clear 4xx and never corrupt data, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import pytest

from channels.viber.callbacks import signature as viber_signature
from tests.conftest import ADMIN, assert_problem, in_app_loop

PUBLIC_URL = "https://93.184.216.34/hook"


async def test_parallel_wrong_logins_cannot_pass_the_lockout_together(client, tenant):
    attempts = [
        client.post("/api/v1/Customer/login", json={"email": tenant.email, "password": f"wrong-{n}"}) for n in range(12)
    ]
    statuses = sorted(response.status_code for response in await asyncio.gather(*attempts))
    assert statuses.count(401) <= 5, statuses
    assert set(statuses) <= {401, 429}, statuses
    locked = await client.post("/api/v1/Customer/login", json={"email": tenant.email, "password": tenant.password})
    assert_problem(locked, 429, "login_locked")


async def test_parallel_customers_with_one_email_make_one_customer(client, tenant):
    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    requests = [
        client.post(
            f"/admin/tenants/{tenant.id}/customers", json={"email": email, "password": "long enough pw"}, headers=ADMIN
        )
        for _ in range(6)
    ]
    responses = await asyncio.gather(*requests)
    assert sorted(r.status_code for r in responses) == [201] + [409] * 5
    for response in responses:
        if response.status_code == 409:
            assert_problem(response, 409, "email_taken", "email")


async def test_nul_characters_are_refused_everywhere(client, tenant):
    login = await client.post("/api/v1/Customer/login", json={"email": "a\u0000@x.io", "password": "whatever-123"})
    assert_problem(login, 400, "validation_error", "body")
    tenant_name = await client.post("/admin/tenants", json={"name": "evil\u0000"}, headers=ADMIN)
    assert_problem(tenant_name, 400, "validation_error", "body")
    template = f"/api/v1/trafficAccounts/{tenant.accounts['whatsapp']}/WhatsAppTemplates/a%00b"
    assert_problem(await client.delete(template, headers=tenant.bearer), 400, "validation_error", "path")
    query = f"/api/v1/trafficAccounts/{tenant.accounts['whatsapp']}/WhatsAppTemplates/abc?language=%00"
    assert_problem(await client.delete(query, headers=tenant.bearer), 400, "validation_error", "language")
    # An escaped backslash followed by "u0000" is ordinary text, not a NUL.
    fine = await client.post("/admin/tenants", json={"name": "back\\u0000slash"}, headers=ADMIN)
    assert fine.status_code == 201 and fine.json()["name"] == "back\\u0000slash"


async def test_deeply_nested_json_is_a_400(client):
    body = '{"email":' + "[" * 100_000 + "]" * 100_000 + ',"password":"x"}'
    response = await client.post(
        "/api/v1/Customer/login", content=body.encode(), headers={"content-type": "application/json"}
    )
    assert_problem(response, 400, "validation_error", "body")


async def test_parallel_webhook_replacements_keep_one_set_of_links(client, tenant):
    created = await client.post(
        "/api/v1/Webhook", json={"url": PUBLIC_URL, "webhookTriggers": ["Delivered"]}, headers=tenant.bearer
    )
    webhook = created.json()["id"]
    links = [tenant.accounts["sms"], tenant.accounts["whatsapp"]]
    replacement = {"url": PUBLIC_URL, "webhookTriggers": ["Read"], "linkTrafficAccountIds": links}
    responses = await asyncio.gather(
        *[client.put(f"/api/v1/Webhook/{webhook}", json=replacement, headers=tenant.bearer) for _ in range(8)]
    )
    assert {r.status_code for r in responses} == {200}, [r.text for r in responses]
    got = (await client.get(f"/api/v1/Webhook/{webhook}", headers=tenant.bearer)).json()
    assert sorted(got["linkTrafficAccountIds"]) == sorted(links)


async def test_too_many_links_in_one_request(client, tenant):
    ids = [str(uuid.uuid4()) for _ in range(1001)]
    response = await client.post(
        "/api/v1/Webhook",
        json={"url": PUBLIC_URL, "webhookTriggers": ["Read"], "linkTrafficAccountIds": ids},
        headers=tenant.bearer,
    )
    assert_problem(response, 400, "validation_error", "linkTrafficAccountIds")


async def test_email_length_is_checked_after_lower_casing(client, tenant):
    email = "\u0130" * 300 + "@x.io"  # "İ".lower() is two characters: 605 once normalised
    response = await client.post(
        f"/admin/tenants/{tenant.id}/customers", json={"email": email, "password": "long enough pw"}, headers=ADMIN
    )
    assert_problem(response, 400, "validation_error", "email")


async def test_template_with_missing_fields_names_them_all(client, tenant):
    response = await client.post(
        f"/api/v1/trafficAccounts/{tenant.accounts['whatsapp']}/WhatsAppTemplates/Bad-Name",
        json={"language": "en", "category": "NOPE"},
        headers=tenant.bearer,
    )
    body = assert_problem(response, 400, "validation_error", "name", "language", "category", "components")
    language = next(e["message"] for e in body["errors"] if e["field"] == "language")
    assert "object" in language and "string" in language


async def test_a_cursor_without_a_time_zone_is_a_400(client):
    cursor = base64.urlsafe_b64encode(f"2024-01-01T00:00:00|{uuid.uuid4()}".encode()).decode().rstrip("=")
    response = await client.get(f"/admin/tenants?cursor={cursor}", headers=ADMIN)
    assert_problem(response, 400, "validation_error", "cursor")


SANDBOX_CHANNELS = ("sms", "viber", "telegram", "whatsapp", "gbm")
NOT_AN_OBJECT = [b"not json", b"\xff\xfe", b"", b"[1, 2]", b'"text"', b"null", b"5"]


@pytest.mark.parametrize("channel", SANDBOX_CHANNELS)
async def test_every_inbound_simulator_refuses_a_body_that_is_no_json_object(client, channel):
    for body in NOT_AN_OBJECT:
        response = await client.post(
            f"/sandbox/{channel}/inbound", content=body, headers={"Content-Type": "application/json"}
        )
        assert_problem(response, 400, "validation_error", "body")


@pytest.mark.parametrize(
    ("change", "fields"),
    [
        ({"trafficAccountId": None, "from": None, "text": None}, ("trafficAccountId", "from", "text")),
        ({"trafficAccountId": 5}, ("trafficAccountId",)),
        ({"trafficAccountId": "not-a-uuid"}, ("trafficAccountId",)),
        ({"from": ["447700900123"]}, ("from",)),
        ({"from": ""}, ("from",)),
        ({"text": {"body": "hi"}}, ("text",)),
        ({"text": ""}, ("text",)),
        ({"to": 5, "msgid": []}, ("to", "msgid")),
    ],
)
async def test_the_sms_inbound_simulator_names_the_fields_at_fault(client, tenant, change, fields):
    body = {"trafficAccountId": tenant.accounts["sms"], "from": "447700900123", "text": "hi"}
    body = {key: value for key, value in (body | change).items() if value is not None}
    assert_problem(await client.post("/sandbox/sms/inbound", json=body), 400, "validation_error", *fields)


async def test_the_sms_inbound_simulator_knows_only_sandbox_sms_accounts(client, tenant):
    for account_id in (str(uuid.uuid4()), tenant.accounts["whatsapp"]):
        body = {"trafficAccountId": account_id, "from": "447700900123", "text": "hi"}
        assert_problem(await client.post("/sandbox/sms/inbound", json=body), 404, "not_found")


@pytest.mark.parametrize(
    ("change", "code"),
    [({"text": 5}, 4), ({"text": ["hi"]}, 4), ({"from": 5}, 6), ({"from": {"name": "x"}}, 6), ({"to": [1]}, 8)],
)
async def test_the_sms_sandbox_provider_answers_wrong_types_like_the_sms_api(client, change, code):
    body = {"from": "Acme", "to": "447700900123", "text": "hi"} | change
    response = await client.post("/sandbox/sms/sms", json=body, headers={"X-Mitto-API-Key": "any"})
    # The SMS API's refusals are HTTP 400 (the gateway's /sms and the sandbox provider answer with one code).
    assert response.status_code == 400 and response.json()["responseCode"] == code, response.text


LONG = "9" * 300  # longer than any address or provider id the gateway stores (256)


def _viber(event: str, **fields) -> dict:
    return {"event": event, "timestamp": 1, "message_token": 5741311803571721087, **fields}


def _telegram(update_id: int, chat_id: int) -> dict:
    message = {"message_id": 1, "date": 1, "chat": {"id": chat_id, "type": "private"}, "text": "hi"}
    return {"update_id": update_id, "message": message}


SECRETS = {"telegram": {"webhookSecret": "hardening-secret"}}  # optional: set, Updates are signed with it


@pytest.mark.parametrize(
    ("channel", "body", "field"),
    [
        ("viber", _viber("delivered", message_token=int(LONG), user_id="u"), "message_token"),
        ("viber", _viber("message", sender={"id": LONG}, message={"type": "text", "text": "hi"}), "sender.id"),
        ("telegram", _telegram(int(LONG), 1861312834), "update_id"),
        ("telegram", _telegram(1, int(LONG)), "message.chat.id"),
    ],
)
async def test_a_signed_callback_with_an_id_too_long_to_store_is_a_400(client, tenant, channel, body, field):
    """Ids and addresses are stored in columns of 256 characters: a longer one (from a provider that
    signed it) is named in a 400, never a database error. (WhatsApp answers 200 and names it in
    ``skipped``, so that Meta doesn't redeliver the batch: channels/whatsapp/tests/incoming/malformed_entries.json.)"""
    account_id = (
        await client.post(
            f"/admin/tenants/{tenant.id}/traffic-accounts",
            json={"name": channel, "channel": channel, "sandbox": True, "settings": SECRETS.get(channel, {})},
            headers=ADMIN,
        )
    ).json()["id"]
    account = in_app_loop(client, lambda: client.app.state.runtime.callbacks.account(uuid.UUID(account_id), channel))
    raw = json.dumps(body).encode()
    headers = {
        "viber": lambda: {"X-Viber-Content-Signature": viber_signature(account.credentials["authToken"], raw)},
        "telegram": lambda: {"X-Telegram-Bot-Api-Secret-Token": account.credentials["webhookSecret"]},
    }[channel]()
    response = await client.post(
        f"/callbacks/{channel}/{account_id}", content=raw, headers={"Content-Type": "application/json", **headers}
    )
    problem = assert_problem(response, 400, "validation_error")
    assert any(error["field"].endswith(field) for error in problem["errors"]), problem["errors"]
