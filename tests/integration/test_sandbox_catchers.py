"""Webhook catchers end to end, with private webhook addresses refused as in production: a webhook pointed
at a catcher gets a status event with a verified signature through the server's own worker; a catcher told
to answer 500 twice makes the deliverer retry, the third attempt succeeds; a wrong secret doesn't verify;
another tenant's catcher is a 404. On SQLite and Postgres."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import httpx
import pytest
import standardwebhooks
from sqlalchemy import update

from gateway.lib.db import session_maker
from gateway.models import WebhookEvent
from tests.conftest import assert_problem, eventually
from tests.integration.conftest import send_message, serve, tenant_on, wait_for_status

TEXT = {"text": "Your code is 1234", "sender": "MITTO SMS"}


@pytest.fixture
async def strict_server(database_url: str) -> Any:
    """The gateway with its worker, refusing private webhook addresses (GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS=false)."""
    async with serve(database_url, allow_private_webhook_urls=False) as client:
        yield client


async def new_catcher(client: httpx.AsyncClient, tenant: Any) -> dict[str, Any]:
    created = await client.post("/api/v1/sandbox/catchers", headers=tenant.key)
    assert created.status_code == 201, created.text
    return created.json()


async def webhook_to(client: httpx.AsyncClient, tenant: Any, url: str) -> dict[str, Any]:
    body = {"url": url, "webhookTriggers": ["Delivered"], "linkTrafficAccountIds": [tenant.accounts["sms"]]}
    created = await client.post("/api/v1/Webhook", json=body, headers=tenant.key)
    assert created.status_code == 201, created.text
    return created.json()


async def caught(client: httpx.AsyncClient, tenant: Any, catcher: dict[str, Any], count: int) -> list[dict[str, Any]]:
    async def received() -> list[dict[str, Any]]:
        page = await client.get(f"/api/v1/sandbox/catchers/{catcher['id']}/requests", headers=tenant.key)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) >= count, page.json()
        return page.json()["items"]

    return await eventually(received, seconds=15)


async def test_a_webhook_pointed_at_a_catcher_receives_a_status_event_with_a_verified_signature(strict_server):
    client = strict_server
    tenant = await tenant_on(client)
    catcher = await new_catcher(client, tenant)
    assert catcher["url"] == f"{client.base_url}/sandbox/catchers/{catcher['id']}"
    assert catcher["answerStatus"] is None and catcher["answerRemaining"] == 0
    # Private addresses are refused, the gateway's own catcher URL is not.
    refused = await client.post(
        "/api/v1/Webhook",
        json={"url": f"{client.base_url}/callbacks/x", "webhookTriggers": ["Delivered"]},
        headers=tenant.key,
    )
    assert_problem(refused, 400, "validation_error", "url")
    hook = await webhook_to(client, tenant, catcher["url"])

    message_id = await send_message(client, tenant, "sms", "+447700900123", TEXT)
    await wait_for_status(client, tenant, message_id, "Delivered")
    [request] = await caught(client, tenant, catcher, 1)
    assert request["signatureVerified"] is True and request["webhookId"] == hook["id"], request
    assert request["method"] == "POST" and request["answeredStatus"] == 200
    assert request["headers"]["webhook-id"] and request["headers"]["content-type"] == "application/json"
    payload = standardwebhooks.Webhook(hook["secret"]).verify(request["body"], request["headers"])
    assert payload["messageId"] == message_id and payload["event"] == "Delivered"
    listed = (await client.get("/api/v1/sandbox/catchers", headers=tenant.key)).json()
    assert [c["id"] for c in listed] == [catcher["id"]]


async def test_a_catcher_answering_500_twice_makes_the_deliverer_retry_and_the_third_attempt_succeeds(
    strict_server,
):
    client = strict_server
    tenant = await tenant_on(client)
    catcher = await new_catcher(client, tenant)
    told = await client.put(
        f"/api/v1/sandbox/catchers/{catcher['id']}/answer", json={"status": 500, "count": 2}, headers=tenant.key
    )
    assert told.status_code == 200 and told.json()["answerRemaining"] == 2, told.text
    hook = await webhook_to(client, tenant, catcher["url"])
    message_id = await send_message(client, tenant, "sms", "+447700900123", TEXT)

    for attempts in (1, 2, 3):
        await caught(client, tenant, catcher, attempts)
        if attempts < 3:  # the schedule's 5 s and 5 min, skipped: due again now
            await due_now(client, hook)

    requests = await caught(client, tenant, catcher, 3)
    assert [r["answeredStatus"] for r in requests] == [500, 500, 200]
    assert len({r["headers"]["webhook-id"] for r in requests}) == 1  # one event, delivered three times
    assert all(r["signatureVerified"] for r in requests)

    async def succeeded() -> dict[str, Any]:
        page = await client.get(f"/api/v1/Webhook/{hook['id']}/deliveries", headers=tenant.key)
        [delivery] = page.json()["items"]
        assert delivery["status"] == "succeeded", delivery
        return delivery

    delivery = await eventually(succeeded)
    assert delivery["messageId"] == message_id
    assert [a["responseStatus"] for a in delivery["attempts"]] == [500, 500, 200]
    after = (await client.get(f"/api/v1/sandbox/catchers/{catcher['id']}", headers=tenant.key)).json()
    assert after["answerRemaining"] == 0 and after["answerStatus"] == 500


async def due_now(client: httpx.AsyncClient, hook: dict[str, Any]) -> None:
    """The webhook's pending events due now (rather than at their retry time), once the attempt is recorded."""

    async def rescheduled() -> None:
        async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
            moved = await session.execute(
                update(WebhookEvent)
                .where(
                    WebhookEvent.webhook_id == uuid.UUID(hook["id"]),
                    WebhookEvent.status == "pending",
                    WebhookEvent.attempts >= 1,
                    WebhookEvent.lease_owner.is_(None),
                )
                .values(next_attempt_at=datetime.datetime.now(datetime.UTC))
            )
            await session.commit()
        assert moved.rowcount == 1

    await eventually(rescheduled)


async def test_signatures_are_checked_against_the_webhook_whose_url_is_the_catchers(server):
    client = server
    tenant = await tenant_on(client)
    catcher, lonely = await new_catcher(client, tenant), await new_catcher(client, tenant)
    hook = await webhook_to(client, tenant, catcher["url"])
    body = b'{"event": "Delivered"}'
    moment = datetime.datetime.now(datetime.UTC)

    def signed(secret: str) -> dict[str, str]:
        signature = standardwebhooks.Webhook(secret).sign("msg_1", moment, body.decode())
        return {"webhook-id": "msg_1", "webhook-timestamp": str(int(moment.timestamp())), "webhook-signature": signature}

    wrong = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert (await client.post(catcher["url"], content=body, headers=signed(hook["secret"]))).status_code == 200
    assert (await client.post(catcher["url"], content=body, headers=signed(wrong))).status_code == 200
    assert (await client.post(catcher["url"], content=b"not json \xff")).status_code == 200  # unsigned, any body
    assert (await client.post(lonely["url"], content=body, headers=signed(hook["secret"]))).status_code == 200

    requests = await caught(client, tenant, catcher, 3)
    assert [(r["signatureVerified"], r["webhookId"]) for r in requests] == [
        (True, hook["id"]),
        (False, hook["id"]),
        (None, hook["id"]),
    ]
    assert requests[2]["body"] == "not json \ufffd"
    [alone] = await caught(client, tenant, lonely, 1)
    assert alone["signatureVerified"] is None and alone["webhookId"] is None

    # After a rotation the previous secret still verifies (the deliverer signs with both for a day).
    old = hook["secret"]
    rotated = await client.post(f"/api/v1/Webhook/{hook['id']}/rotateSecret", headers=tenant.key)
    assert rotated.status_code == 200, rotated.text
    assert (await client.post(catcher["url"], content=body, headers=signed(old))).status_code == 200
    assert (await caught(client, tenant, catcher, 4))[3]["signatureVerified"] is True

    first = await client.get(f"/api/v1/sandbox/catchers/{catcher['id']}/requests?limit=1", headers=tenant.key)
    second = await client.get(
        f"/api/v1/sandbox/catchers/{catcher['id']}/requests?limit=1&cursor={first.json()['nextCursor']}",
        headers=tenant.key,
    )
    assert [r["id"] for r in first.json()["items"] + second.json()["items"]] == [r["id"] for r in requests[:2]]


async def test_another_tenants_catcher_is_a_404_and_a_deleted_catcher_catches_nothing(server):
    client = server
    tenant, other = await tenant_on(client), await tenant_on(client)
    catcher = await new_catcher(client, tenant)
    base = f"/api/v1/sandbox/catchers/{catcher['id']}"
    for method, path, body in (
        ("GET", base, None),
        ("GET", f"{base}/requests", None),
        ("PUT", f"{base}/answer", {"status": 503, "count": 1}),
        ("DELETE", base, None),
    ):
        answer = await client.request(method, path, json=body, headers=other.key)
        assert_problem(answer, 404, "not_found")
    assert (await client.get("/api/v1/sandbox/catchers", headers=other.key)).json() == []
    bad = await client.put(f"{base}/answer", json={"status": 99, "count": -1}, headers=tenant.key)
    assert_problem(bad, 400, "validation_error", "status", "count")

    assert (await client.delete(base, headers=tenant.key)).status_code == 204
    assert (await client.post(catcher["url"], content=b"{}")).status_code == 404
    assert (await client.post("/sandbox/catchers/not-a-uuid", content=b"{}")).status_code == 404
    assert_problem(await client.get(base, headers=tenant.key), 404, "not_found")
