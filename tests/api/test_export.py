"""Export (seed 003): GET /api/v1/export/messages and /webhookDeliveries, NDJSON and CSV, filtered and
tenant-scoped; on SQLite and Postgres. The app runs no worker: messages stay Ready, nothing is delivered.
The 100,000-message run with the server's memory measured is tests/integration/test_export_memory.py."""

from __future__ import annotations

import csv
import datetime
import io
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient

from gateway.api import export
from gateway.app import create_app
from gateway.lib.clock import now
from tests.api.test_admin import _full_settings
from tests.api.test_webhook_deliveries import add_events
from tests.conftest import ADMIN, assert_problem, create_webhook, make_settings, new_tenant

MESSAGES = "/api/v1/export/messages"
DELIVERIES = "/api/v1/export/webhookDeliveries"


def FAILOVER(tenant) -> dict:  # noqa: N802 (a request body, as the API reads it)
    """A Timeout failover send: WhatsApp first, then SMS (seed 002)."""
    return {
        "destination": "447700900123",
        "whatsapp": {"type": "regular", "regular": {"type": "text", "text": "Hello"}},
        "sms": {"sender": "Acme", "text": "Hello"},
        "failover": {
            "type": "Timeout",
            "timeoutFailover": {
                "timeoutInSeconds": 20,
                "status": "Delivered",
                "trafficAccounts": [tenant.accounts["whatsapp"], tenant.accounts["sms"]],
            },
        },
    }


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[AsyncTestClient]:
    """Webhooks may point at loopback (add_events' deliveries are never sent: no worker runs)."""
    settings = make_settings(database_url, allow_private_webhook_urls=True)
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


async def send(client, tenant, channel: str = "sms", destination: str = "+447700900123") -> str:
    block = {
        "sms": {"text": "hello, world", "sender": "Acme"},
        "whatsapp": {"type": "regular", "regular": {"type": "text", "text": "hi"}},
    }[channel]
    body = {"trafficAccountId": tenant.accounts[channel], "destination": destination, channel: block}
    answer = await client.post("/api/v1.1/Message/send", json=body, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    return answer.json()["messages"][0]["messageId"]


def ndjson(answer) -> list[dict]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in answer.text.splitlines()]


async def test_every_message_as_get_message_answers_it_in_creation_order(client, tenant, monkeypatch):
    monkeypatch.setattr(export, "CHUNK", 2)  # three chunks: the keyset paging is crossed
    ids = [await send(client, tenant, destination=f"+4477009001{i:02d}") for i in range(5)]
    chain = await client.post("/api/v1/Message/send", json=FAILOVER(tenant), headers=tenant.key)
    assert chain.status_code == 200, chain.text
    answer = await client.get(MESSAGES, headers=tenant.bearer)
    records = ndjson(answer)
    assert [r["messageId"] for r in records[:5]] == ids  # the chain's steps are stored at one time, after them
    assert {r["messageId"] for r in records[5:]} == set(chain.json()) and len(records) == 7
    assert [step["messageId"] for step in records[-1]["failover"]["steps"]] == chain.json()
    for record in records:
        shown = await client.get(f"/api/v1/Message/{record['messageId']}", headers=tenant.key)
        assert record == shown.json()
    assert records[0]["statusHistory"][0]["status"] == "Ready"
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="messages-') and disposition.endswith('.ndjson"')


async def test_filters_by_account_direction_and_time(client, tenant):
    sms = await send(client, tenant)
    whatsapp = await send(client, tenant, "whatsapp")
    by_account = ndjson(
        await client.get(MESSAGES, params={"trafficAccountId": tenant.accounts["whatsapp"]}, headers=tenant.key)
    )
    assert [r["messageId"] for r in by_account] == [whatsapp]
    inbound = ndjson(await client.get(MESSAGES, params={"direction": "inbound"}, headers=tenant.key))
    assert inbound == []
    outbound = ndjson(await client.get(MESSAGES, params={"direction": "outbound"}, headers=tenant.key))
    assert [r["messageId"] for r in outbound] == [sms, whatsapp]
    later = (now() + datetime.timedelta(minutes=1)).isoformat()
    assert ndjson(await client.get(MESSAGES, params={"from": later}, headers=tenant.key)) == []
    before = ndjson(await client.get(MESSAGES, params={"to": later}, headers=tenant.key))
    assert [r["messageId"] for r in before] == [sms, whatsapp]


async def test_csv_has_one_column_per_field_and_nested_values_as_json(client, tenant):
    first, second = await send(client, tenant), await send(client, tenant, "whatsapp")
    answer = await client.get(MESSAGES, params={"format": "csv"}, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert answer.headers["content-disposition"].endswith('.csv"')
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert [row["messageId"] for row in rows] == [first, second]
    shown = (await client.get(f"/api/v1/Message/{first}", headers=tenant.key)).json()
    assert list(rows[0]) == list(shown)  # the same columns, in the same order
    assert json.loads(rows[0]["statusHistory"]) == shown["statusHistory"]
    assert json.loads(rows[0]["requestInfo"]) == shown["requestInfo"]
    assert rows[0]["text"] == "hello, world" and rows[0]["reference"] == "" and rows[0]["messageParts"] == "1"


async def test_an_empty_csv_export_is_its_header(client, tenant):
    answer = await client.get(DELIVERIES, params={"format": "csv"}, headers=tenant.key)
    assert answer.status_code == 200, answer.text
    assert answer.text.splitlines()[0].startswith("id,event,messageId,sequence,status,payload")
    assert answer.text.splitlines()[0].endswith(",attempts,webhookId,webhookKind") and len(answer.text.splitlines()) == 1


async def test_other_tenants_see_nothing_of_each_other(client, tenant, other_tenant):
    await send(client, tenant)
    assert ndjson(await client.get(MESSAGES, headers=other_tenant.key)) == []
    foreign = await client.get(MESSAGES, params={"trafficAccountId": tenant.accounts["sms"]}, headers=other_tenant.key)
    assert_problem(foreign, 404, "not_found", "trafficAccountId")
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    add_events(client, tenant, hook["id"], ["succeeded"], now())
    assert ndjson(await client.get(DELIVERIES, headers=other_tenant.key)) == []
    foreign = await client.get(DELIVERIES, params={"webhookId": hook["id"]}, headers=other_tenant.key)
    assert_problem(foreign, 404, "not_found", "webhookId")


async def test_live_accounts_are_exported_too(client, tenant):
    live = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": "live sms", "channel": "sms", "sandbox": False, "settings": _full_settings("sms")[0]},
        headers=ADMIN,
    )
    assert live.status_code == 201, live.text
    tenant.accounts["sms"] = live.json()["id"]
    sent = await send(client, tenant)
    records = ndjson(await client.get(MESSAGES, params={"trafficAccountId": live.json()["id"]}, headers=tenant.key))
    assert [r["messageId"] for r in records] == [sent]


async def test_bad_parameters_are_named(client, tenant):
    assert_problem(
        await client.get(MESSAGES, params={"format": "xml"}, headers=tenant.key), 400, "validation_error", "format"
    )
    assert_problem(
        await client.get(MESSAGES, params={"from": "yesterday"}, headers=tenant.key), 400, "validation_error", "from"
    )
    assert_problem(
        await client.get(DELIVERIES, params={"to": "soon"}, headers=tenant.key), 400, "validation_error", "to"
    )
    at = now().isoformat()
    assert_problem(
        await client.get(MESSAGES, params={"from": at, "to": at}, headers=tenant.key), 400, "validation_error", "to"
    )
    assert_problem(
        await client.get(MESSAGES, params={"direction": "up"}, headers=tenant.key), 400, "validation_error", "direction"
    )
    assert (await client.get(MESSAGES)).status_code == 401


async def test_deliveries_with_their_attempts_in_order_across_webhooks(client, tenant, monkeypatch):
    monkeypatch.setattr(export, "CHUNK", 2)
    first = await create_webhook(client, tenant, triggers=("Delivered",))
    second = await create_webhook(client, tenant, triggers=("Delivered",))
    start = now() - datetime.timedelta(hours=1)
    ids = add_events(client, tenant, first["id"], ["succeeded", "failed", "pending"], start)
    ids += add_events(client, tenant, second["id"], ["failed"], start + datetime.timedelta(minutes=1))
    records = ndjson(await client.get(DELIVERIES, headers=tenant.key))
    assert [uuid.UUID(r["id"]) for r in records] == ids
    assert [r["webhookId"] for r in records] == [first["id"]] * 3 + [second["id"]]
    assert {r["webhookKind"] for r in records} == {"chat"}
    listed = (await client.get(f"/api/v1/Webhook/{first['id']}/deliveries", headers=tenant.key)).json()["items"]
    assert [{**r, "webhookId": first["id"], "webhookKind": "chat"} for r in listed] == records[:3]
    assert records[0]["attempts"][0]["responseStatus"] == 500
    only_second = ndjson(await client.get(DELIVERIES, params={"webhookId": second["id"]}, headers=tenant.key))
    assert [uuid.UUID(r["id"]) for r in only_second] == ids[3:]
    window = {
        "from": (start + datetime.timedelta(seconds=1)).isoformat(),
        "to": (start + datetime.timedelta(seconds=2)).isoformat(),
    }
    assert [uuid.UUID(r["id"]) for r in ndjson(await client.get(DELIVERIES, params=window, headers=tenant.key))] == ids[
        1:2
    ]
    rows = list(
        csv.DictReader(io.StringIO((await client.get(DELIVERIES, params={"format": "csv"}, headers=tenant.key)).text))
    )
    assert [uuid.UUID(row["id"]) for row in rows] == ids
    assert (
        json.loads(rows[0]["attempts"]) == records[0]["attempts"]
        and json.loads(rows[0]["payload"]) == records[0]["payload"]
    )


async def test_a_tenant_with_no_messages_exports_nothing(client):
    tenant = await new_tenant(client)
    answer = await client.get(MESSAGES, headers=tenant.key)
    assert answer.status_code == 200 and answer.text == ""
