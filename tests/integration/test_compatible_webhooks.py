"""A channel's compatible API's callbacks end to end (gateway.store.outbox's compatible webhooks, delivered by
gateway.webhooks.deliverer): a message sent through the compatible API with a Notify is dispatched to the sandbox
provider, reported on, and each report the channel makes of it is the request the customer's endpoint gets (GET
with the template filled in, or POST with a JSON body), unsigned; a user's message is forwarded alike; a failing
endpoint is retried and its webhook never disabled. The test's own compatible API on the sms channel (as in
tests/api/test_compatible_api.py); the real servers, on SQLite and Postgres."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from sqlalchemy import select

from channels.base import Notify
from channels.registry import all_channels
from gateway.lib.db import session_maker
from gateway.models import Webhook, WebhookEvent
from gateway.store import messages as store
from gateway.store import statuses
from gateway.store.messages import StatusChange
from tests.api.test_compatible_api import CHANNEL, compat_converted, compat_send, compat_usage
from tests.conftest import eventually
from tests.integration import webhook_fixtures as wf
from tests.integration.conftest import serve, tenant_on, wait_for_status
from tests.integration.webhook_fixtures import Answer, Clock, Receiver, deliverer

receiver = wf.receiver

INBOUND_PATH = "/inbound"


def report(message: Any, status: str, at: datetime.datetime, notify: Notify, settings: dict) -> dict | None:
    """The test's callback format: the status in the URL (GET) or the body (POST); only the statuses asked for."""
    if notify.statuses and status not in notify.statuses:
        return None
    fields = {"id": message.id.hex, "status": status, "reference": message.reference}
    if notify.method == "GET":
        return {"method": "GET", "url": f"{notify.url}?id={fields['id']}&status={status}", "body": None}
    return {"method": "POST", "url": notify.url, "body": fields}


@pytest.fixture
def receiver_url(receiver: Receiver) -> str:
    return receiver.url("")


@pytest.fixture
async def server(database_url: str, receiver_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    channel = dataclasses.replace(
        all_channels()[CHANNEL],
        compatible_routes=(compat_send, compat_converted, compat_usage),
        compatible_report=report,
        compatible_inbound_target=lambda settings: Notify(receiver_url + INBOUND_PATH),
        compatible_inbound=lambda message, received, settings, notify: {
            "method": notify.method,
            "url": notify.url,
            "body": {"sender": message.destination, "content": message.content.get("text"), "msgid": message.id.hex},
        },
    )
    monkeypatch.setitem(all_channels(), CHANNEL, channel)
    async with serve(database_url) as client:
        yield client


async def compatible_send(client: httpx.AsyncClient, tenant: Any, **fields: Any) -> str:
    sent = await client.post(
        "/compat/send", json={"to": ["+447700900123"], "text": "Your code is 1234", **fields}, headers=tenant.key
    )
    assert sent.status_code == 200, sent.text
    return str(uuid.UUID(sent.json()["messages"][0]["id"]))


async def test_status_reports_are_the_requests_the_channel_makes_of_them(server, receiver: Receiver) -> None:
    tenant = await tenant_on(server)
    by_get = await compatible_send(server, tenant, callback=receiver.url("/get"), method="GET")
    by_post = await compatible_send(
        server, tenant, callback=receiver.url("/post"), method="POST", statuses=[statuses.DELIVERED]
    )
    for message_id in (by_get, by_post):
        await wait_for_status(server, tenant, message_id, "Delivered")
    gets = await receiver.wait_for(2, "/get")  # Sent, then Delivered
    assert [(r.method, parse_qs(r.query)) for r in gets] == [
        ("GET", {"id": [uuid.UUID(by_get).hex], "status": [s]}) for s in (statuses.SENT, statuses.DELIVERED)
    ]
    assert gets[0].body == b"" and "webhook-signature" not in gets[0].headers
    posts = await receiver.wait_for(1, "/post")
    assert posts[0].method == "POST" and posts[0].headers["content-type"] == "application/json"
    assert json.loads(posts[0].body) == {"id": uuid.UUID(by_post).hex, "status": "Delivered", "reference": None}
    assert "webhook-signature" not in posts[0].headers

    async def exported() -> list[dict[str, Any]]:  # each attempt in the deliveries' log, with the webhook's kind
        answer = await server.get("/api/v1/export/webhookDeliveries", headers=tenant.key)
        records = [json.loads(line) for line in answer.text.splitlines()]
        assert {(r["webhookKind"], r["status"]) for r in records} == {("compatible", "succeeded")}, records
        return records

    records = await eventually(exported)
    assert len(records) == 3 and all(len(r["attempts"]) == 1 for r in records)


async def test_a_users_message_is_forwarded_where_the_channel_says(server, receiver: Receiver) -> None:
    tenant = await tenant_on(server)
    user = {"trafficAccountId": tenant.accounts[CHANNEL], "from": "447700900123", "text": "STOP", "msgid": "in-1"}
    answer = await server.post(f"/sandbox/{CHANNEL}/inbound", json=user)
    assert answer.status_code == 200, answer.text
    forwarded = await receiver.wait_for(1, INBOUND_PATH)
    inbound = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()["items"]
    assert json.loads(forwarded[0].body) == {
        "sender": "+447700900123",
        "content": "STOP",
        "msgid": uuid.UUID(inbound[0]["messageId"]).hex,
    }


async def test_a_failing_endpoint_is_retried_and_its_compatible_webhook_never_disabled(
    server, receiver: Receiver
) -> None:
    tenant = await tenant_on(server)
    receiver.answer("/down", Answer(500))
    message_id = uuid.UUID(await compatible_send(server, tenant, callback=receiver.url("/down"), test=False))
    sessions = session_maker(server.app.state.runtime.engine)
    async with sessions() as session:
        webhook = await session.scalar(select(Webhook).where(Webhook.tenant_id == uuid.UUID(tenant.id)))
        assert webhook is not None and webhook.kind == "compatible"
    # The server's own worker tries it at once and fails; a worker of the test's, with a clock it moves, goes on.
    await receiver.wait_for(1, "/down")
    clock = Clock()
    worker = deliverer(server, {"id": str(webhook.id)}, clock=clock, disable_after=datetime.timedelta(seconds=1))
    async with sessions() as session:  # a report to deliver now
        await store.change_statuses(session, [StatusChange(message_id, statuses.FAILED, "x.1", "failed")])
        await session.commit()
    for _ in range(3):
        clock.advance(3600)
        await worker.deliver_once()

    async def state() -> tuple[bool, list[int]]:
        async with sessions() as session:
            found = await session.get(Webhook, webhook.id, populate_existing=True)
            events = await session.scalars(select(WebhookEvent.attempts).where(WebhookEvent.webhook_id == webhook.id))
            return found.enabled, list(events)

    enabled, attempts = await state()
    assert enabled and max(attempts) >= 2, attempts
