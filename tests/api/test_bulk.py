"""Bulk sending (seed 002, version 1.1): sendbulk and sendmessagesbulk, validated as a whole first."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from gateway.app import create_app
from gateway.messages import acceptor as acceptor_module
from gateway.models import Conversation, FailoverChain, Message, MessageEvent
from gateway.store import messages as store_module
from tests.conftest import assert_problem, error_fields, in_app_loop, make_settings, message_ids, new_tenant

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


# A bulk send on Postgres: its conversations' statement and the making of its COPY records at once, then the
# COPY of its messages and their first events, all in one transaction (gateway.messages.acceptor._fill_and_copy).


def _numbers(count: int, start: int = 0) -> list[str]:
    return [f"+4477{n // 8000:04d}{2000 + n % 8000:04d}" for n in range(start, start + count)]


def _stored(client: AsyncTestClient, tenant_id: str) -> tuple[int, int, int, int]:
    """The tenant's messages, their status events, their conversations, and the messages whose conversation
    is not their destination's, as the database holds them."""
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]
    tenant = uuid.UUID(tenant_id)

    async def work() -> tuple[int, int, int, int]:
        async with engine.connect() as connection:
            messages = await connection.scalar(
                select(func.count()).select_from(Message).where(Message.tenant_id == tenant)
            )
            events = await connection.scalar(
                select(func.count()).select_from(MessageEvent).join(Message).where(Message.tenant_id == tenant)
            )
            conversations = await connection.scalar(
                select(func.count()).select_from(Conversation).where(Conversation.tenant_id == tenant)
            )
            strays = await connection.scalar(
                select(func.count())
                .select_from(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.tenant_id == tenant, Conversation.participant != Message.destination)
            )
        return messages, events, conversations, strays

    return in_app_loop(client, work)


def _postgres_only(client: AsyncTestClient) -> None:
    if client.app.state.runtime.engine.dialect.name != "postgresql":  # type: ignore[attr-defined]
        pytest.skip("COPY is Postgres's; SQLite writes a bulk send with INSERTs")


async def test_a_bad_destination_late_in_a_bulk_of_10000_writes_nothing(client: AsyncTestClient) -> None:
    """Every recipient is checked before anything is written: the 9,999th at fault, nothing stored; put
    right, all 10,000 stored, each message in its destination's conversation with its first event."""
    tenant = await new_tenant(client, ("sms",))
    destinations = _numbers(10_000)
    good = destinations[9_998]
    destinations[9_998] = "not a number"
    body = {"destinations": destinations, "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
    assert error_fields(assert_problem(response, 400, "validation_error")) == ["destinations[9998]"]
    assert _stored(client, tenant.id) == (0, 0, 0, 0)
    destinations[9_998] = good
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    assert len({m["messageId"] for m in response.json()["messages"]}) == 10_000
    assert _stored(client, tenant.id) == (10_000, 10_000, 10_000, 0)


async def test_a_bulk_through_copy_stores_its_idempotency_key_answer_with_it(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {"destinations": _numbers(500), "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    headers = tenant.key | {"Idempotency-Key": "bulk-copy"}
    first = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=headers)
    assert first.status_code == 200, first.text
    again = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=headers)
    assert again.status_code == 200 and again.content == first.content
    assert _stored(client, tenant.id) == (500, 500, 500, 0)


async def test_a_failure_in_the_middle_of_a_bulk_copy_writes_nothing(
    client: AsyncTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The messages are copied, then their events' COPY fails (a foreign key): the conversations made and
    the messages copied go with the transaction, and the Idempotency-Key is free for the retry."""
    _postgres_only(client)
    tenant = await new_tenant(client, ("sms",))
    copy_accepted = store_module.copy_accepted

    async def failing(connection: Any, messages: Any, records: store_module.AcceptedRecords) -> None:
        event = records.events[-1]
        records.events[-1] = (event[0], uuid.uuid4(), *event[2:])  # the event of no message
        await copy_accepted(connection, messages, records)

    monkeypatch.setattr(store_module, "copy_accepted", failing)
    body = {"destinations": _numbers(3_000, 20_000), "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    headers = tenant.key | {"Idempotency-Key": "bulk-fails-once"}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=headers)
    assert response.status_code == 500, response.text
    assert _stored(client, tenant.id) == (0, 0, 0, 0)
    monkeypatch.setattr(store_module, "copy_accepted", copy_accepted)
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert _stored(client, tenant.id) == (3_000, 3_000, 3_000, 0)


async def test_a_failure_while_a_bulk_records_are_made_writes_nothing(
    client: AsyncTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Making the records fails with the conversations' statement in flight: it is cancelled, nothing is
    stored, and the next bulk send is written whole."""
    _postgres_only(client)
    tenant = await new_tenant(client, ("sms",))
    accepted_records = store_module.accepted_records
    made = []

    def failing(messages: Any) -> store_module.AcceptedRecords:
        made.append(len(messages))
        if len(made) == 3:
            raise RuntimeError("records")
        return accepted_records(messages)

    monkeypatch.setattr(store_module, "accepted_records", failing)
    body = {"destinations": _numbers(2_000, 40_000), "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
    assert response.status_code == 500, response.text
    assert _stored(client, tenant.id) == (0, 0, 0, 0)
    monkeypatch.setattr(store_module, "accepted_records", accepted_records)
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    assert _stored(client, tenant.id) == (2_000, 2_000, 2_000, 0)


async def test_a_bulk_records_are_made_while_postgres_makes_its_conversations(
    client: AsyncTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The point of the order: Postgres works on the conversations while this process makes the rows."""
    _postgres_only(client)
    tenant = await new_tenant(client, ("sms",))
    happened: list[str] = []
    make_conversations, accepted_records = acceptor_module._make_conversations, store_module.accepted_records

    async def conversations(connection: Any, firsts: Any) -> Any:
        happened.append("conversations sent")
        made = await make_conversations(connection, firsts)
        happened.append("conversations made")
        return made

    def records(messages: Any) -> store_module.AcceptedRecords:
        happened.append("records")
        return accepted_records(messages)

    monkeypatch.setattr(acceptor_module, "_make_conversations", conversations)
    monkeypatch.setattr(store_module, "accepted_records", records)
    body = {"destinations": _numbers(2_000, 60_000), "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    assert happened.count("records") == 2_000 // acceptor_module.RECORDS_AT_ONCE
    assert happened.index("conversations sent") < happened.index("records") < happened.index("conversations made")
    assert _stored(client, tenant.id) == (2_000, 2_000, 2_000, 0)


async def test_a_failover_bulk_through_copy_stores_its_chains_and_waiting_steps(client: AsyncTestClient) -> None:
    """Each recipient a chain of two steps (SMS, then WhatsApp to the same number): 300 messages, so COPY on
    Postgres, after the chains' INSERT in the same transaction; the second steps wait (Created)."""
    tenant = await new_tenant(client, ("sms", "whatsapp"))
    steps = [tenant.accounts["sms"], tenant.accounts["whatsapp"]]
    whatsapp = {"type": "regular", "regular": {"type": "text", "text": "hi"}}
    failover = {
        "type": "Timeout",
        "timeoutFailover": {"timeoutInSeconds": 20, "status": "Delivered", "trafficAccounts": steps},
    }
    body = {"destinations": _numbers(150, 80_000), "sms": SMS, "whatsapp": whatsapp, "failover": failover}
    response = await client.post("/api/v1.1/Messages/sendbulk", json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    bulk = response.json()
    assert len(bulk["messages"]) == 300
    summary = (await client.get(f"/api/v1.1/Messages/bulk/{bulk['bulkId']}", headers=tenant.key)).json()
    assert summary["statuses"] == {"Ready": 150, "Created": 150}
    # a conversation per traffic account and number; each message in its own, with its first event
    assert _stored(client, tenant.id) == (300, 300, 300, 0)
    engine = client.app.state.runtime.engine  # type: ignore[attr-defined]

    async def chains() -> tuple[int, int]:
        async with engine.connect() as connection:
            tenant_id = uuid.UUID(tenant.id)
            stored = await connection.scalar(
                select(func.count()).select_from(FailoverChain).where(FailoverChain.tenant_id == tenant_id)
            )
            used = await connection.scalar(
                select(func.count(func.distinct(Message.failover_chain_id))).where(Message.tenant_id == tenant_id)
            )
            return stored, used

    assert in_app_loop(client, chains) == (150, 150)
