"""The SMS HTTP API served to customers (issue 20), on SQLite and Postgres: the operations of its two public specs
with requests built after their documented examples (ballerina-platform/openapi-connectors openapi/mitto.sms/
openapi.yml: /sms, /smsbulk, /sms/converted, /usage/bycountry; microsoft/PowerPlatformConnectors certified-connectors/
Mitto/apiDefinition.swagger.json: /v2/sms.json, /v2/smsbulk.json), every responseCode, XML, test mode, bulk with
duplicates, the callbacks' requests (templates with both delimiters, GET and POST, 2-way), conversion and usage."""

from __future__ import annotations

import datetime
import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from channels.sms.protocol import REPORT_FIELDS
from gateway.app import create_app
from gateway.models import Webhook, WebhookEvent
from gateway.settings import Settings
from gateway.store import messages as store
from gateway.store.messages import StatusChange
from tests.conftest import ADMIN, TenantFixture, in_app_loop, make_settings, message_ids, new_tenant

HEX_ID = re.compile(r"[0-9a-f]{32}")
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z")
LONG = (
    "Due to the limitations of GSM/PDU standard, the body text of an SMS message cannot be longer than 160 "
    "characters (70 characters if the text is Unicode format). MITTO's SMS API overcomes this limitations by "
    "splitting larger messages into several smaller messages, each of which conforms to that standards."
)
# The public OpenAPI's request examples of POST /sms (its numbers: 15555552795 and 491725551234).
EXAMPLES = {
    "Send an SMS": {"from": "MITTO SMS", "to": "15555552795", "text": "Hello, World!"},
    "Send a Long SMS": {"from": "MITTO SMS", "to": "491725551234", "text": LONG, "type": "auto"},
    "Send a Message in a Different Language": {
        "from": "MITTO SMS",
        "to": "491725551234",
        "text": "Здравствуй, Мир!",
        "type": "auto",
    },
    "Add Metadata to a Message": {
        "from": "MITTO SMS",
        "to": "491725551234",
        "text": "Enjoy the stunning Spring 2019 visuals in our gallery!",
        "reference": "Campaign 2019-05, B-split message",
    },
}
SMS = EXAMPLES["Send an SMS"]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The callbacks' example hosts (reports.example) resolve nowhere, and a callback's origin is checked as a
    webhook's URL is (refused: tests/api/test_compatible_api.py): here they are let through."""
    return make_settings(database_url, allow_private_webhook_urls=True)


@pytest.fixture
async def tenant(client: AsyncTestClient) -> TenantFixture:
    return await new_tenant(client, ("sms",))


async def settings_of(client: AsyncTestClient, tenant: TenantFixture, **settings: Any) -> None:
    """The tenant's sms account gets these settings (merge patch through the operator API)."""
    changed = await client.patch(
        f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts['sms']}",
        json={"settings": settings},
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.text


@pytest.mark.parametrize("example", list(EXAMPLES))
async def test_the_public_openapis_examples_send_a_message(
    client: AsyncTestClient, tenant: TenantFixture, example: str
) -> None:
    body = EXAMPLES[example]
    answer = await client.post("/sms", json=body, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    sent = answer.json()
    assert set(sent) == {"id", "timestamp", "to", "textLength", "responseCode", "responseText"}
    assert HEX_ID.fullmatch(sent["id"]) and TIMESTAMP.fullmatch(sent["timestamp"])
    assert (sent["to"], sent["textLength"], sent["responseCode"], sent["responseText"]) == (
        body["to"],
        len(body["text"]),
        0,
        "SMS sent",
    )
    # An ordinary message of the Chat API, found by the 32-hex id as by the dashed one.
    for given in (sent["id"], str(uuid.UUID(sent["id"]))):
        message = await client.get(f"/api/v1/Message/{given}", headers=tenant.key)
        assert message.status_code == 200, message.text
    message = message.json()
    assert message["trafficAccountId"] == tenant.accounts["sms"]
    assert message["destination"] == "+" + body["to"]
    assert message["requestInfo"]["text"] == body["text"] and message["requestInfo"]["sender"] == "MITTO SMS"
    assert message["requestInfo"].get("reference") == body.get("reference")
    assert message["requestInfo"]["validity"] == 2880


async def test_the_power_platform_paths_and_receivers(client: AsyncTestClient, tenant: TenantFixture) -> None:
    single = {"from": "Mitto", "to": "+491775682913", "text": "Hello World", "type": "GSM", "reference": "MyId-123"}
    for path in ("/v2/sms.json", "/sms.json"):
        answer = await client.post(path, json=single, headers=tenant.key)
        assert answer.status_code == 200, answer.text
        assert answer.json()["to"] == "+491775682913"
    bulk = {**single, "to": ["+491775648254", "+423394994884"]}
    answer = await client.post("/v2/smsbulk.json", json=bulk, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body) == ["messages", "responseCode", "responseText"]
    assert [set(m) for m in body["messages"]] == [{"id", "timestamp", "to", "textLength"}] * 2
    assert [m["to"] for m in body["messages"]] == bulk["to"]
    assert len(await message_ids(client, tenant)) == 4


async def test_blank_optional_fields_are_absent(client: AsyncTestClient, tenant: TenantFixture) -> None:
    # The Power Platform connector's form sends "" for an advanced field left blank.
    blank = {"reference": "", "udh": "", "callback": "", "deliveryStatusesToNotify": "", "flash": False, "test": False}
    answer = await client.post("/v2/sms.json", json={**SMS, **blank, "type": "GSM"}, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    stored = (await client.get(f"/api/v1/Message/{answer.json()['id']}", headers=tenant.key)).json()
    assert "reference" not in stored["requestInfo"] and "udh" not in stored["requestInfo"], stored
    assert (stored["requestInfo"]["type"], stored["requestInfo"]["flash"]) == ("GSM", False)


async def test_bulk_a_number_twice_gets_two_messages_in_order(client: AsyncTestClient, tenant: TenantFixture) -> None:
    answer = await client.post(
        "/smsbulk", json={**SMS, "to": "359898876737,359898876737, 447700900123"}, headers=tenant.key
    )
    assert answer.status_code == 200, answer.text
    messages = answer.json()["messages"]
    assert [m["to"] for m in messages] == ["359898876737", "359898876737", "447700900123"]
    assert len({m["id"] for m in messages}) == 3
    for entry in messages:
        stored = (await client.get(f"/api/v1/Message/{entry['id']}", headers=tenant.key)).json()
        assert stored["destination"] == "+" + entry["to"]


async def test_test_mode_checks_in_full_and_stores_nothing(client: AsyncTestClient, tenant: TenantFixture) -> None:
    answer = await client.post("/sms", json={**SMS, "test": True}, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    assert "id" not in answer.json() and answer.json()["test"] is True
    bulk = await client.post("/smsbulk", json={**SMS, "to": ["15555552795"] * 2, "test": True}, headers=tenant.key)
    assert bulk.json()["test"] is True and all("id" not in m for m in bulk.json()["messages"])
    refused = await client.post("/sms", json={**SMS, "to": "999", "test": True}, headers=tenant.key)
    assert (refused.status_code, refused.json()["responseCode"]) == (400, 8)
    assert await message_ids(client, tenant) == []


@pytest.mark.parametrize(
    "change,code,text,field",
    [
        ({"type": "UCS2"}, 2, "Invalid type", "type"),
        ({"text": ""}, 3, "Empty message", "text"),
        ({"text": "Łódź"}, 4, "Message text is invalid", "text"),  # GSM, the default type
        ({"text": "zz", "type": "Byte"}, 4, "Message text is invalid", "text"),
        ({"text": "x" * 1531}, 4, "Message text is invalid", "text"),  # over 10 parts: the gateway's rule
        ({"from": ""}, 5, "Empty sender", "from"),
        ({"from": "AB"}, 6, "Invalid sender", "from"),
        ({"from": "123456789012345"}, 6, "Invalid sender", "from"),
        ({"from": "ACME!"}, 6, "Invalid sender", "from"),  # a character no network takes: the gateway's rule
        ({"to": ""}, 7, "Empty receiver", "to"),
        ({"to": "+44 7700 900123"}, 8, "Invalid receiver", "to"),
        ({"to": "999"}, 8, "Invalid receiver", "to"),  # no possible phone number: the gateway's rule
        ({"validity": 0}, 1, "Internal error", "validity"),
    ],
)
async def test_every_response_code(
    client: AsyncTestClient, tenant: TenantFixture, change: dict, code: int, text: str, field: str
) -> None:
    answer = await client.post("/sms", json={**SMS, **change}, headers=tenant.key)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert (body["responseCode"], body["responseText"], body["textLength"]) == (code, text, 0)
    assert (body["status"], body["code"], body["type"]) == (
        400,
        "validation_error",
        "urn:gateway:problem:validation_error",
    )
    assert field in [e["field"] for e in body["errors"]], body
    assert await message_ids(client, tenant) == []


async def test_a_lone_surrogate_is_refused_and_nothing_stored(client: AsyncTestClient, tenant: TenantFixture) -> None:
    # json.loads takes "\ud800" (half a character): stored, it broke reading the message and the export
    # (SQLite), and Postgres refused it with a 500. Decoded as the Chat API does, it is no valid JSON.
    raw = b'{"from": "MITTO SMS", "to": "15555552795", "text": "a\\ud800b", "type": "Unicode"}'
    for path in ("/sms", "/smsbulk"):
        answer = await client.post(path, content=raw, headers={**tenant.key, "content-type": "application/json"})
        assert answer.status_code == 400, answer.text
        body = answer.json()
        assert (body["responseCode"], [e["field"] for e in body["errors"]]) == (1, ["body"])
    assert await message_ids(client, tenant) == []


async def test_a_bulk_receiver_at_fault_is_named_as_written(client: AsyncTestClient, tenant: TenantFixture) -> None:
    answer = await client.post("/smsbulk", json={**SMS, "to": ["15555552795", "999"]}, headers=tenant.key)
    assert answer.status_code == 400, answer.text
    assert answer.json()["responseCode"] == 8 and [e["field"] for e in answer.json()["errors"]] == ["to[1]"]
    assert await message_ids(client, tenant) == []


async def test_xml(client: AsyncTestClient, tenant: TenantFixture) -> None:
    for answer in (
        await client.post("/sms.xml", json=SMS, headers=tenant.key),
        await client.post("/sms", json=SMS, headers={**tenant.key, "Accept": "application/xml"}),
    ):
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"].startswith("application/xml")
        assert re.fullmatch(
            r'<\?xml version="1.0" encoding="utf-8"\?><response><id>[0-9a-f]{32}</id><timestamp>[^<]+</timestamp>'
            r"<to>15555552795</to><textLength>13</textLength><responseCode>0</responseCode>"
            r"<responseText>SMS sent</responseText></response>",
            answer.text,
        ), answer.text
    bulk = await client.post("/smsbulk.xml", json={**SMS, "to": ["15555552795"] * 2}, headers=tenant.key)
    assert bulk.text.count("<message><id>") == 2
    refused = await client.post("/sms.xml", json={**SMS, "to": ""}, headers=tenant.key)
    assert refused.status_code == 400 and refused.headers["content-type"].startswith("application/xml")
    assert "<responseCode>7</responseCode><responseText>Empty receiver</responseText>" in refused.text


async def test_an_idempotency_key_replays_the_answer(client: AsyncTestClient, tenant: TenantFixture) -> None:
    headers = {**tenant.key, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/sms", json=SMS, headers=headers)
    again = await client.post("/sms", json=SMS, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content and again.headers["idempotent-replay"] == "true"
    assert len(await message_ids(client, tenant)) == 1


async def test_without_an_sms_account_a_403_says_so(client: AsyncTestClient) -> None:
    none = await new_tenant(client, ("whatsapp",))
    answer = await client.post("/sms", json=SMS, headers=none.key)
    assert answer.status_code == 403, answer.text
    assert (answer.json()["code"], answer.json()["responseCode"]) == ("no_traffic_account", 1)
    assert (await client.post("/sms", json=SMS)).status_code == 401


def changes_and_events(
    client: AsyncTestClient, tenant: TenantFixture, changes: list[StatusChange]
) -> tuple[list[Webhook], list[WebhookEvent]]:
    """Apply status changes as the workers do; the tenant's compatible webhooks and their events."""

    async def work() -> tuple[list[Webhook], list[WebhookEvent]]:
        async with client.app.state.runtime.sessions() as session:
            await store.change_statuses(session, changes)
            await session.commit()
            tenant_id = uuid.UUID(tenant.id)
            webhooks = list(await session.scalars(select(Webhook).where(Webhook.tenant_id == tenant_id)))
            events = list(
                await session.scalars(
                    select(WebhookEvent)
                    .where(WebhookEvent.webhook_id.in_([w.id for w in webhooks]))
                    .order_by(WebhookEvent.created_at)
                )
            )
        return webhooks, events

    return in_app_loop(client, work)


async def test_reports_to_the_requests_callback_template(client: AsyncTestClient, tenant: TenantFixture) -> None:
    await settings_of(client, tenant, callbackMethod="GET")
    template = "https://reports.example/dlr?id=<msgid>&status=$status$&code=<errorcode>&ref=$reference$"
    body = {
        **SMS,
        "callback": template,
        "reference": "Spring campaign",
        "deliveryStatusesToNotify": "DELIVERED,UNDELIVERED",
    }
    first = uuid.UUID((await client.post("/sms", json=body, headers=tenant.key)).json()["id"])
    second = uuid.UUID((await client.post("/sms", json=body, headers=tenant.key)).json()["id"])
    webhooks, events = changes_and_events(
        client,
        tenant,
        [StatusChange(first, "Sent"), StatusChange(first, "Delivered"), StatusChange(second, "Failed", "sms.dlr.27")],
    )
    assert [(w.kind, w.url, w.method) for w in webhooks] == [("compatible", "https://reports.example", "GET")]
    # SENT is not among deliveryStatusesToNotify: not reported.
    events.sort(key=lambda e: e.message_id != first)  # in one transaction: the same time
    assert [(e.message_id, e.event) for e in events] == [(first, "Delivered"), (second, "Failed")]
    assert [e.payload for e in events] == [
        {
            "method": "GET",
            "url": f"https://reports.example/dlr?id={first.hex}&status=DELIVERED&code=0&ref=Spring%20campaign",
            "body": None,
        },
        {
            "method": "GET",
            "url": f"https://reports.example/dlr?id={second.hex}&status=UNDELIVERED&code=27&ref=Spring%20campaign",
            "body": None,
        },
    ]


async def test_reports_to_the_accounts_callback_url_by_post(client: AsyncTestClient, tenant: TenantFixture) -> None:
    await settings_of(client, tenant, callbackUrl="https://reports.example/dlr", prices={"USA": 0.5})
    sent = uuid.UUID((await client.post("/sms", json=SMS, headers=tenant.key)).json()["id"])
    _, events = changes_and_events(client, tenant, [StatusChange(sent, "Sent")])
    [event] = events
    assert (event.event, event.payload["method"], event.payload["url"]) == (
        "Sent",
        "POST",
        "https://reports.example/dlr",
    )
    report = event.payload["body"]
    assert set(report) == set(REPORT_FIELDS)  # seed 004 (a jsonb column keeps no order)
    assert (report["msgid"], report["status"], report["receiver"], report["cost"], report["errorcode"]) == (
        sent.hex,
        "SENT",
        "15555552795",
        "0.5",
        "0",
    )
    assert TIMESTAMP.fullmatch(report["sendtime"]) and report["sendtimestamp"].isdigit()


async def test_reports_by_get_without_placeholders_carry_a_query(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    await settings_of(client, tenant, callbackUrl="https://reports.example/dlr?customer=7", callbackMethod="GET")
    sent = uuid.UUID((await client.post("/sms", json=SMS, headers=tenant.key)).json()["id"])
    _, [event] = changes_and_events(client, tenant, [StatusChange(sent, "Delivered")])
    url = urlsplit(event.payload["url"])
    query = parse_qs(url.query, keep_blank_values=True)
    assert (url.path, query["customer"], query["msgid"], query["status"]) == ("/dlr", ["7"], [sent.hex], ["DELIVERED"])
    assert event.payload["body"] is None


async def test_a_reports_failed_reaches_the_callback_as_failed(client: AsyncTestClient, tenant: TenantFixture) -> None:
    # Seed 004: FAILED is "rejected by the carrier", UNDELIVERED "undeliverable"; both are the gateway's Failed,
    # and the customer's report says the state and errorcode the provider's report said.
    await settings_of(client, tenant, callbackUrl="https://reports.example/dlr")
    reports = [("FAILED", "13"), ("UNDELIVERED", "27"), ("FAILED", None), ("UNDELIVERED", None)]
    sent = []
    for state, code in reports:
        sent.append(uuid.UUID((await client.post("/sms", json=SMS, headers=tenant.key)).json()["id"]))
        token = client.app.state.runtime.callbacks.tokens.issue(sent[-1])
        dlr = {"msgid": "up-1", "status": state} | ({} if code is None else {"errorcode": code})
        answer = await client.post(f"/callbacks/sms/{tenant.accounts['sms']}?token={token}", json=dlr)
        assert answer.status_code == 200, answer.text
    _, events = changes_and_events(client, tenant, [])
    failures = {e.message_id: e.payload["body"] for e in events if e.payload["body"]["status"] != "SENT"}
    assert [(failures[m]["status"], failures[m]["errorcode"]) for m in sent] == [
        ("FAILED", "13"),
        ("UNDELIVERED", "27"),
        ("FAILED", "999"),  # seed 004's "Unspecified error"
        ("UNDELIVERED", "999"),
    ]
    stored = (await client.get(f"/api/v1/Message/{sent[0]}", headers=tenant.key)).json()
    assert (stored["errorCode"], stored["description"]) == ("sms.dlr.failed.13", "Call barred")


async def test_without_a_callback_nothing_is_reported(client: AsyncTestClient, tenant: TenantFixture) -> None:
    sent = uuid.UUID((await client.post("/sms", json=SMS, headers=tenant.key)).json()["id"])
    assert changes_and_events(client, tenant, [StatusChange(sent, "Delivered")]) == ([], [])


async def test_a_users_sms_is_forwarded_to_the_inbound_url(client: AsyncTestClient, tenant: TenantFixture) -> None:
    await settings_of(client, tenant, inboundUrl="https://replies.example/in", phoneNumber="+385910001111")
    account = await client.get(f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts['sms']}", headers=ADMIN)
    callback = urlsplit(account.json()["callbackUrl"])
    received = await client.post(
        f"{callback.path}?{callback.query}",
        json={"sender": "447700900123", "receiver": "385910001111", "content": "YES", "msgid": "m-1", "coding": "GSM"},
    )
    assert received.status_code == 200, received.text
    webhooks, [event] = changes_and_events(client, tenant, [])
    assert [(w.kind, w.url, w.method) for w in webhooks] == [("compatible", "https://replies.example", "POST")]
    assert event.payload == {
        "method": "POST",
        "url": "https://replies.example/in",
        "body": {
            "coding": "GSM",
            "sender": "447700900123",
            "content": "YES",
            "receiver": "385910001111",
            "msgid": event.message_id.hex,
        },
    }


async def test_conversion_tracking(client: AsyncTestClient, tenant: TenantFixture) -> None:
    sent = (await client.post("/sms", json=SMS, headers=tenant.key)).json()["id"]
    off = await client.post("/sms/converted", json={"messageId": sent}, headers=tenant.key)
    assert off.status_code == 400, off.text
    assert off.json()["error"] == "Conversion rate tracking is not enabled for this customer account"
    await settings_of(client, tenant, conversionTracking=True)
    for given in (sent, str(uuid.UUID(sent))):
        done = await client.post("/sms/converted", json={"messageId": given}, headers=tenant.key)
        assert (done.status_code, done.json()) == (200, "OK"), done.text
    assert (await client.get(f"/api/v1/Message/{sent}", headers=tenant.key)).json()["converted"] is True
    unknown = "8d19cf53-a264-4cc6-800c-95600aeb9141"  # seed 004's example
    missing = await client.post("/sms/converted", json={"messageId": unknown}, headers=tenant.key)
    assert missing.status_code == 404
    assert missing.json()["error"] == f'No convertible message found for id "{unknown}"'
    other = await new_tenant(client, ("sms",))
    await settings_of(client, other, conversionTracking=True)
    assert (await client.post("/sms/converted", json={"messageId": sent}, headers=other.key)).status_code == 404


async def test_usage_by_country(client: AsyncTestClient, tenant: TenantFixture) -> None:
    await settings_of(client, tenant, prices={"HRV": 0.9, "default": 1.2})
    await client.post(
        "/smsbulk", json={**SMS, "to": ["385911234567", "385911234567", "447700900123"]}, headers=tenant.key
    )
    await client.post("/sms", json={**SMS, "to": "385911234567", "text": "x" * 200}, headers=tenant.key)  # 2 parts
    await client.post("/sms", json={**SMS, "test": True}, headers=tenant.key)  # test mode: nothing
    ids = [uuid.UUID(i) for i in await message_ids(client, tenant)]

    async def sent() -> None:  # usage counts the messages that left (no worker runs here)
        async with client.app.state.runtime.sessions() as session:
            await store.change_statuses(
                session, [StatusChange(i, "Sent", values={"provider_message_id": "p"}) for i in ids]
            )
            await session.commit()

    in_app_loop(client, sent)
    today = datetime.datetime.now(datetime.UTC).date()
    query = {"startDate": today.isoformat(), "endDate": today.strftime("%Y%m%d"), "accountName": "sms sandbox"}
    answer = await client.post("/usage/bycountry", json=query, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    assert answer.json() == [
        {"country": "GBR", "messagesCount": 1, "cost": 1.2},
        {"country": "HRV", "messagesCount": 3, "cost": 3.6},
    ]
    earlier = {**query, "startDate": "2020-02-15", "endDate": "2020-02-28"}  # the public OpenAPI's example dates
    assert (await client.post("/usage/bycountry", json=earlier, headers=tenant.key)).json() == []
    too_long = await client.post(
        "/usage/bycountry", json={**query, "startDate": "2020-01-01", "endDate": "2020-02-01"}, headers=tenant.key
    )
    assert (too_long.status_code, too_long.json()["error"]) == (400, "Maximum queryable period is 31 days")
    unknown = await client.post(
        "/usage/bycountry", json={**query, "accountName": "Starfleet Academy"}, headers=tenant.key
    )
    assert unknown.status_code == 404


async def test_rate_limits_apply_to_sms_and_smsbulk(client: AsyncTestClient, tenant: TenantFixture) -> None:
    """The tenant's quota, as on the Chat API: a 429 with Retry-After and the RateLimit fields, nothing stored."""
    patched = await client.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": 2}, headers=ADMIN)
    assert patched.status_code == 200, patched.text
    bulk = {**SMS, "to": ["385911234567", "447700900123"]}
    answers = [await client.post(path, json=body, headers=tenant.key) for path, body in [("/sms", SMS)] * 2]
    answers += [await client.post("/smsbulk", json=bulk, headers=tenant.key)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert (await client.post("/sms", json=SMS, headers=tenant.key)).status_code == 429
    refused = answers[-1]
    assert refused.json()["code"] == "rate_limited" and refused.headers["retry-after"] == "30"
    assert refused.headers["ratelimit-policy"] == '"default";q=2;w=60'
    assert refused.headers["ratelimit"] == '"default";r=0;t=30'
    assert [a.headers["ratelimit"] for a in answers[:2]] == ['"default";r=1;t=30', '"default";r=0;t=60']
    await client.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": None}, headers=ADMIN)
    assert len(await message_ids(client, tenant)) == 2  # the refused ones stored nothing


async def test_several_sms_accounts_and_an_unbound_key_is_a_403_in_either_format(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    second = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": "second sms", "channel": "sms", "sandbox": True},
        headers=ADMIN,
    )
    assert second.status_code == 201, second.text
    answer = await client.post("/sms", json=SMS, headers=tenant.key)
    assert answer.status_code == 403, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert (body["code"], body["status"], body["responseCode"], body["responseText"]) == (
        "several_traffic_accounts",
        403,
        1,
        "Internal error",
    )
    xml = await client.post("/sms.xml", json=SMS, headers=tenant.key)
    assert xml.status_code == 403 and xml.headers["content-type"].startswith("application/xml"), xml.text
    for element in ("<responseCode>1</responseCode>", "<code>several_traffic_accounts</code>", "<status>403</status>"):
        assert element in xml.text, xml.text
    assert await message_ids(client, tenant) == []


@pytest.mark.parametrize("callback", ["http://127.0.0.1/dlr?id=<msgid>", "http://10.0.0.5/dlr"])
async def test_a_private_callback_is_refused_naming_it(database_url: str, callback: str) -> None:
    """Without GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS a callback inside the network is refused at once (as the webhook
    API refuses such a webhook), rather than reports the guard refuses over the whole retry schedule."""
    async with AsyncTestClient(app=create_app(make_settings(database_url))) as test_client:
        tenant = await new_tenant(test_client, ("sms",))
        try:
            refused = await test_client.post("/sms", json={**SMS, "callback": callback}, headers=tenant.key)
            assert refused.status_code == 400, refused.text
            body = refused.json()
            assert (body["responseCode"], body["code"]) == (1, "validation_error")
            [error] = body["errors"]
            assert error["field"] == "callback" and "private, loopback or link-local" in error["message"], error
            assert await message_ids(test_client, tenant) == []
        finally:
            await test_client.delete(f"/admin/tenants/{tenant.id}", headers=ADMIN)


async def test_smsbulk_json(client: AsyncTestClient, tenant: TenantFixture) -> None:
    answer = await client.post("/smsbulk.json", json={**SMS, "to": "385911234567,447700900123"}, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert (body["responseCode"], [m["to"] for m in body["messages"]]) == (0, ["385911234567", "447700900123"])
    assert sorted(await message_ids(client, tenant)) == sorted(str(uuid.UUID(m["id"])) for m in body["messages"])


async def test_the_export_shows_a_converted_message(client: AsyncTestClient, tenant: TenantFixture) -> None:
    await settings_of(client, tenant, conversionTracking=True)
    converted, other = [(await client.post("/sms", json=SMS, headers=tenant.key)).json()["id"] for _ in range(2)]
    done = await client.post("/sms/converted", json={"messageId": converted}, headers=tenant.key)
    assert done.status_code == 200, done.text
    export = await client.get("/api/v1/export/messages", headers=tenant.bearer)
    assert export.status_code == 200, export.text
    records = {uuid.UUID(r["messageId"]).hex: r for r in map(json.loads, export.text.splitlines())}
    assert (records[converted]["converted"], records[other]["converted"]) == (True, False)
