"""GET /api/v1/sandbox/requests (the journal) and /api/v1/sandbox/trafficAccounts/{id}/behaviour: shapes,
validation, tenant scoping (a live account or another tenant's is a 404), filters and pagination."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest

from gateway.sandbox_journal import CALLBACK, REQUEST
from tests.conftest import ADMIN, TenantFixture, assert_problem, in_app_loop

BASE = datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)


def behaviour_url(account_id: str) -> str:
    return f"/api/v1/sandbox/trafficAccounts/{account_id}/behaviour"


async def live_account(client, tenant: TenantFixture) -> str:
    response = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": "live sms", "channel": "sms", "sandbox": False, "settings": {"apiKey": "live-key"}},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_behaviour_is_set_shown_and_cleared(client, tenant):
    url = behaviour_url(tenant.accounts["sms"])
    none = await client.get(url, headers=tenant.key)
    assert none.status_code == 200
    assert none.json() == {
        "trafficAccountId": tenant.accounts["sms"],
        "latencyMs": 0,
        "errorRate": 0.0,
        "failNext": None,
    }
    body = {"latencyMs": {"min": 10, "max": 50}, "errorRate": 0.25, "failNext": {"count": 2, "with": "throttled"}}
    put = await client.put(url, json=body, headers=tenant.key)
    assert put.status_code == 200, put.text
    assert put.json() == {"trafficAccountId": tenant.accounts["sms"], **body}
    assert (await client.get(url, headers=tenant.bearer)).json() == put.json()
    # PUT replaces: what it leaves out is back to none.
    fixed = await client.put(url, json={"latencyMs": 200}, headers=tenant.key)
    assert fixed.json() == {
        "trafficAccountId": tenant.accounts["sms"],
        "latencyMs": 200,
        "errorRate": 0.0,
        "failNext": None,
    }
    assert (await client.delete(url, headers=tenant.key)).status_code == 204
    assert (await client.get(url, headers=tenant.key)).json()["latencyMs"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"failNext": {"count": 1, "with": "sometimes"}}, "failNext.with"),
        ({"failNext": {"count": -1, "with": "transient"}}, "failNext.count"),
        ({"failNext": {"with": "transient"}}, "failNext.count"),
        ({"errorRate": 1.5}, "errorRate"),
        ({"latencyMs": 60_001}, "latencyMs"),
        ({"latencyMs": "slow"}, "latencyMs"),
        ({"latencyMs": {"min": 500, "max": 100}}, "latencyMs.max"),
        ({"latencyMs": {"min": 0, "max": 70_000}}, "latencyMs"),
        ({"chaos": True}, "chaos"),
    ],
)
async def test_a_bad_behaviour_is_a_400_naming_the_field(client, tenant, body, field):
    response = await client.put(behaviour_url(tenant.accounts["sms"]), json=body, headers=tenant.key)
    assert_problem(response, 400, "validation_error")
    fields = [error["field"] for error in response.json()["errors"]]
    assert any(f == field or f.startswith(f"{field}.") for f in fields), fields


async def test_live_and_other_tenants_accounts_are_not_found(client, tenant, other_tenant):
    for account_id in (await live_account(client, tenant), other_tenant.accounts["sms"], str(uuid.uuid4())):
        for method in ("get", "delete"):
            assert_problem(
                await getattr(client, method)(behaviour_url(account_id), headers=tenant.key),
                404,
                "not_found",
                "account_id",
            )
        put = await client.put(behaviour_url(account_id), json={"errorRate": 1}, headers=tenant.key)
        assert_problem(put, 404, "not_found", "account_id")
        journal = await client.get(f"/api/v1/sandbox/requests?trafficAccountId={account_id}", headers=tenant.key)
        assert_problem(journal, 404, "not_found", "trafficAccountId")


async def test_first_behaviours_put_at_once_all_succeed_and_one_is_kept(client, tenant):
    url = behaviour_url(tenant.accounts["sms"])
    puts = [client.put(url, json={"latencyMs": n}, headers=tenant.key) for n in range(1, 6)]
    answers = await asyncio.gather(*puts)
    assert [a.status_code for a in answers] == [200] * 5, [a.text for a in answers]
    assert (await client.get(url, headers=tenant.key)).json()["latencyMs"] in range(1, 6)


async def test_behaviour_needs_a_customer(client, tenant):
    assert (await client.get(behaviour_url(tenant.accounts["sms"]))).status_code == 401
    assert (await client.get("/api/v1/sandbox/requests")).status_code == 401


def record(client, tenant: TenantFixture, *rows: dict) -> None:
    """Journal rows as the gateway writes them (its Journal), written before this returns."""
    journal = client.app.state.runtime.journal

    async def write() -> None:
        for row in rows:
            journal.record(row)
        await journal.flush()

    in_app_loop(client, write)


def row(tenant: TenantFixture, channel: str, n: int, **values: object) -> dict:
    return {
        "tenant_id": uuid.UUID(tenant.id),
        "traffic_account_id": uuid.UUID(tenant.accounts[channel]),
        "channel": channel,
        "direction": REQUEST,
        "message_id": None,
        "destination": "+447700900123",
        "method": "POST",
        "url": f"http://127.0.0.1/sandbox/{channel}/{n}",
        "request_headers": {"content-type": "application/json"},
        "request_body": f'{{"n": {n}}}',
        "response_status": 200,
        "response_headers": {},
        "response_body": "{}",
        "error": None,
        "latency_ms": n,
        "occurred_at": BASE + datetime.timedelta(seconds=n),
        **values,
    }


async def test_the_journal_is_filtered_and_paged_oldest_first(client, tenant, other_tenant):
    send = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "sms": {"text": "hi", "sender": "ACME"}}
    sent = await client.post("/api/v1/Message/send", json=send, headers=tenant.key)  # stays Ready: no worker runs
    message_id = uuid.UUID(sent.json()["messageId"])  # the journal keeps no entry of a message that isn't there
    record(
        client,
        tenant,
        row(tenant, "sms", 3, message_id=message_id),
        row(tenant, "sms", 1, message_id=message_id),
        row(tenant, "whatsapp", 2, destination="+447700900999"),
        row(tenant, "sms", 4, direction=CALLBACK, message_id=message_id, response_status=None, error="no answer"),
        row(other_tenant, "sms", 5),
    )
    every = await client.get("/api/v1/sandbox/requests", headers=tenant.key)
    assert every.status_code == 200
    items = every.json()["items"]
    assert [item["latencyMs"] for item in items] == [1, 2, 3, 4]  # oldest first, the tenant's own
    first = items[0]
    assert first["url"] == "http://127.0.0.1/sandbox/sms/1" and first["requestBody"] == '{"n": 1}'
    assert set(first) == {
        "id", "trafficAccountId", "channel", "direction", "messageId", "destination", "method", "url",
        "requestHeaders", "requestBody", "responseStatus", "responseHeaders", "responseBody", "error",
        "latencyMs", "occurredAt",
    }  # fmt: skip
    assert first["occurredAt"] == "2026-01-01T12:00:01.0000000Z"

    async def latencies(**params: str) -> list[int]:
        response = await client.get("/api/v1/sandbox/requests", params=params, headers=tenant.key)
        assert response.status_code == 200, response.text
        return [item["latencyMs"] for item in response.json()["items"]]

    assert await latencies(trafficAccountId=tenant.accounts["whatsapp"]) == [2]
    assert await latencies(destination="+447700900999") == [2]
    assert await latencies(messageId=str(message_id)) == [1, 3, 4]
    assert await latencies(messageId=str(message_id), direction="callback") == [4]
    assert await latencies(since="2026-01-01T12:00:03Z") == [3, 4]
    assert await latencies(since="2026-01-01T12:00:03") == [3, 4]  # no offset: UTC
    pages, cursor = [], None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/sandbox/requests", params=params, headers=tenant.key)).json()
        pages.append([item["latencyMs"] for item in page["items"]])
        if (cursor := page["nextCursor"]) is None:
            break
    assert pages == [[1, 2, 3], [4]]


@pytest.mark.parametrize(
    "query",
    ["trafficAccountId=nope", "messageId=42", "direction=sideways", "since=yesterday", "limit=0", "cursor=%21%21"],
)
async def test_bad_journal_parameters_are_a_400_naming_them(client, tenant, query):
    response = await client.get(f"/api/v1/sandbox/requests?{query}", headers=tenant.key)
    assert_problem(response, 400, "validation_error", query.split("=")[0])
