"""The gateway's side of the SMS API (channels/sms/compatible.py) through the real routes: what a /sms costs the
database beside a Chat API send, and an Idempotency-Key's answer kept per format asked for."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient

from tests.api.test_sms_api import SMS
from tests.conftest import TenantFixture, new_tenant


@pytest.fixture
async def tenant(client: AsyncTestClient) -> TenantFixture:
    return await new_tenant(client, ("sms",))


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
