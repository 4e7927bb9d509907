"""Bulk sending (seed 002, version 1.1): sendbulk and sendmessagesbulk, validated as a whole first."""

from __future__ import annotations

import uuid

from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.conftest import assert_problem, make_settings, message_ids, new_tenant

SMS = {"sender": "Acme", "text": "Hello"}


async def test_sendbulk_answers_in_order_and_sends_a_repeated_destination_once(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    destinations = ["+447700900101", "447700900102", "+44 7700 900101", "+447700900103"]
    body = {"destinations": destinations, "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [m["destination"] for m in answer["messages"]] == destinations
    assert {m["trafficAccountId"] for m in answer["messages"]} == {tenant.accounts["sms"]}
    ids = [m["messageId"] for m in answer["messages"]]
    assert ids[0] == ids[2] and len(set(ids)) == 3  # the repeat is the first one's message
    assert [m["duplicate"] for m in answer["messages"]] == [False, False, True, False]
    assert len(await message_ids(client, tenant)) == 3
    one = (await client.get(f"/api/v1/Message/{ids[1]}", headers=tenant.key)).json()
    assert one["destination"] == "+447700900102" and one["requestInfo"] == SMS
    summary = await client.get(f"/api/v1.1/Messages/bulk/{answer['bulkId']}", headers=tenant.key)
    assert summary.status_code == 200, summary.text
    assert summary.json()["bulkId"] == answer["bulkId"] and summary.json()["total"] == 3
    assert sum(summary.json()["statuses"].values()) == 3


async def test_bulk_needs_version_1_1(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {"destinations": ["+447700900101"], "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    for path in (
        "/api/v1/Messages/sendbulk",
        "/api/v1/Messages/sendmessagesbulk",
        f"/api/v1/Messages/bulk/{uuid.uuid4()}",
    ):
        response = await (
            client.get(path, headers=tenant.key)
            if "bulk/" in path
            else client.post(path, json=body, headers=tenant.key)
        )
        assert_problem(response, 404, "bulk_needs_v1_1")


async def test_sendbulk_names_every_bad_destination_and_sends_nothing(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    destinations = ["+447700900101", "not a number", "+447700900103", "12"]
    body = {"destinations": destinations, "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
    problem = assert_problem(response, 400, "validation_error", "destinations[1]", "destinations[3]")
    assert {e["field"] for e in problem["errors"]} == {"destinations[1]", "destinations[3]"}
    bad_first = {**body, "destinations": ["nope", "+447700900101"]}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=bad_first, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "destinations[0]")
    bad_block = {**body, "sms": {"sender": "Acme"}}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=bad_block, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "sms.text")
    assert len(await message_ids(client, tenant)) == 0


async def test_bulk_size_is_limited_by_a_setting(database_url: str) -> None:
    async with AsyncTestClient(app=create_app(make_settings(database_url, bulk_max_messages=3))) as client:
        tenant = await new_tenant(client, ("sms",))
        destinations = [f"+4477009001{n:02d}" for n in range(4)]
        body = {"destinations": destinations, "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
        response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
        assert_problem(response, 400, "validation_error", "destinations")
        messages = {
            "messages": [
                {"trafficAccountId": tenant.accounts["sms"], "destination": d, "sms": SMS} for d in destinations
            ]
        }
        response = await client.post("/api/v1.1/Messages/sendmessagesbulk", json=messages, headers=tenant.key)
        assert_problem(response, 400, "validation_error", "messages")


async def test_sendmessagesbulk_sends_all_or_names_every_one_at_fault(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "whatsapp"))
    good = [
        {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900101", "sms": SMS},
        {
            "trafficAccountId": tenant.accounts["whatsapp"],
            "destination": "+447700900102",
            "whatsapp": {"type": "regular", "regular": {"type": "text", "text": "hi"}},
        },
    ]
    bad = [
        good[0],
        {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900103", "sms": {"sender": "Acme"}},
        {"trafficAccountId": str(uuid.uuid4()), "destination": "+447700900104", "sms": SMS},
        {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900105", "whatsapp": {}},
    ]
    response = await client.post("/api/v1.1/Messages/sendmessagesbulk", json={"messages": bad}, headers=tenant.key)
    problem = assert_problem(
        response, 400, "validation_error", "messages[1].sms.text", "messages[2].trafficAccountId", "messages[3].sms"
    )
    assert not any(e["field"].startswith("messages[0]") for e in problem["errors"])
    assert len(await message_ids(client, tenant)) == 0
    response = await client.post("/api/v1.1/Messages/sendmessagesbulk", json={"messages": good}, headers=tenant.key)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert [(m["destination"], m["trafficAccountId"]) for m in answer["messages"]] == [
        ("+447700900101", tenant.accounts["sms"]),
        ("+447700900102", tenant.accounts["whatsapp"]),
    ]
    summary = (await client.get(f"/api/v1.1/Messages/bulk/{answer['bulkId']}", headers=tenant.key)).json()
    assert summary["total"] == 2


async def test_a_bulk_of_another_tenant_is_not_found(client: AsyncTestClient) -> None:
    tenant, other = await new_tenant(client, ("sms",)), await new_tenant(client, ("sms",))
    body = {"destinations": ["+447700900101"], "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    bulk_id = (await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)).json()["bulkId"]
    assert_problem(await client.get(f"/api/v1.1/Messages/bulk/{bulk_id}", headers=other.key), 404, "not_found")
    other_body = {**body, "trafficAccountId": other.accounts["sms"]}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=other_body, headers=tenant.key)
    assert_problem(response, 404, "not_found", "trafficAccountId")
