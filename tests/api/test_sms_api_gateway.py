"""The gateway's side of the SMS API (channels/sms/compatible.py) through the real routes: what a /sms costs the
database beside a Chat API send, and an Idempotency-Key's answer kept per format asked for."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import event

from tests.api.test_sms_api import SMS, settings_of
from tests.conftest import TenantFixture, new_tenant

CALLBACK = "https://93.184.216.34/dlr?id=<msgid>"  # a public IP literal: nothing to resolve, nothing sent


@pytest.fixture
async def tenant(client: AsyncTestClient) -> TenantFixture:
    return await new_tenant(client, ("sms",))


async def statements_of(client: AsyncTestClient, send: dict) -> list[str]:
    """The SQL statements the second of two identical requests makes (the first fills the caches)."""
    engine = client.app.state.runtime.db_config.get_engine()
    statements: list[str] = []

    def record(conn, cursor, statement, *args) -> None:  # noqa: ANN001, ARG001
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        for _ in range(2):
            statements.clear()
            answer = await client.post(send["path"], json=send["json"], headers=send["headers"])
            assert answer.status_code == 200, answer.text
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    return statements


async def test_an_sms_with_a_callback_costs_the_database_what_a_chat_api_send_does(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    """The account and the callback's webhook are remembered a moment, as a Chat API send's account is, and
    nothing is committed when the webhook exists: as many statements as POST /api/v1/Message/send."""
    await settings_of(client, tenant, callbackUrl=CALLBACK)
    sms = await statements_of(client, {"path": "/sms", "json": SMS, "headers": tenant.key})
    chat_send = {
        "trafficAccountId": tenant.accounts["sms"],
        "destination": "+15555552795",
        "sms": {"text": "Hi", "sender": "Acme"},
    }
    chat = await statements_of(client, {"path": "/api/v1/Message/send", "json": chat_send, "headers": tenant.key})
    assert len(sms) == len(chat), (sms, chat)


async def test_an_idempotency_key_replays_only_the_format_first_asked_for(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    """/sms answers JSON or XML as Accept asks: a retry of an XML request asking JSON is another request (422),
    not the XML bytes; asking XML again replays them."""
    headers = {**tenant.key, "Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/sms", json=SMS, headers={**headers, "Accept": "application/xml"})
    assert first.status_code == 200 and first.headers["content-type"].startswith("application/xml"), first.text
    other = await client.post("/sms", json=SMS, headers={**headers, "Accept": "application/json"})
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused", other.text
    again = await client.post("/sms", json=SMS, headers={**headers, "Accept": "application/xml"})
    assert again.status_code == 200 and again.content == first.content
    assert again.headers["idempotent-replay"] == "true"
