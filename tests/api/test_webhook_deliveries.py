"""The delivery API of webhooks: rotateSecret, deliveries (filters, cursor pages), replay and recover;
bad input named field by field, other tenants' ids answered as unknown ones. On SQLite and Postgres.

The app here runs no worker and its webhooks point at a closed loopback port: nothing is sent.
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import AsyncIterator

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from gateway.app import create_app
from gateway.lib.clock import now
from gateway.models import Conversation, Message, Webhook, WebhookAttempt, WebhookEvent
from tests.conftest import CLOSED_PORT_URL, TenantFixture, assert_problem, create_webhook, in_app_loop, make_settings

WEBHOOKS = "/api/v1/Webhook"


@pytest.fixture
async def client(database_url: str) -> AsyncIterator[AsyncTestClient]:
    settings = make_settings(database_url, allow_private_webhook_urls=True, worker_in_server=False)
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        yield test_client


def add_events(
    client: AsyncTestClient, tenant: TenantFixture, webhook_id: str, statuses: list[str], start: datetime.datetime
) -> list[uuid.UUID]:
    """Outbox rows for the webhook, one a second from ``start``, each with one attempt (a 500)."""
    tenant_id, account_id = uuid.UUID(tenant.id), uuid.UUID(tenant.accounts["sms"])

    async def run() -> list[uuid.UUID]:
        async with client.app.state.runtime.db_config.get_session() as session:
            participant = f"+4477009{uuid.uuid4().int % 100000:05d}"
            conversation = Conversation(
                tenant_id=tenant_id, traffic_account_id=account_id, channel="sms", participant=participant
            )
            session.add(conversation)
            await session.flush()
            message = Message(
                tenant_id=tenant_id,
                traffic_account_id=account_id,
                conversation_id=conversation.id,
                channel="sms",
                direction="outbound",
                destination=participant,
                status="Delivered",
                sequence=3,
                content={"text": "hi"},
            )
            session.add(message)
            await session.flush()
            events = []
            for index, status in enumerate(statuses):
                at = start + datetime.timedelta(seconds=index)
                event = WebhookEvent(
                    tenant_id=tenant_id,
                    webhook_id=uuid.UUID(webhook_id),
                    message_id=message.id,
                    event="Delivered",
                    sequence=3 + index,
                    payload={"event": "Delivered", "sequence": 3 + index},
                    status=status,
                    attempts=1,
                    next_attempt_at=at + datetime.timedelta(minutes=5) if status == "pending" else None,
                    created_at=at,
                    updated_at=at,
                )
                session.add(event)
                await session.flush()
                session.add(
                    WebhookAttempt(
                        tenant_id=tenant_id,
                        webhook_event_id=event.id,
                        attempted_at=at,
                        response_status=500,
                        latency_ms=12,
                        response_body="oops",
                    )
                )
                events.append(event.id)
            await session.commit()
            return events

    return in_app_loop(client, run)


def stored_webhook(client: AsyncTestClient, webhook_id: str) -> Webhook:
    async def run() -> Webhook:
        async with client.app.state.runtime.db_config.get_session() as session:
            return await session.get(Webhook, uuid.UUID(webhook_id))

    return in_app_loop(client, run)


# --------------------------------------------------------------------------
# rotateSecret


async def test_rotate_secret_returns_a_new_secret_and_keeps_the_old_one_for_the_overlap(client, tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    response = await client.post(f"{WEBHOOKS}/{hook['id']}/rotateSecret", headers=tenant.bearer)
    assert response.status_code == 200, response.text
    secret = response.json()["secret"]
    assert secret.startswith("whsec_") and secret != hook["secret"]
    assert len(base64.b64decode(secret[len("whsec_") :], validate=True)) == 24
    assert (await client.get(f"{WEBHOOKS}/{hook['id']}/secret", headers=tenant.bearer)).json() == {"secret": secret}
    row = stored_webhook(client, hook["id"])
    assert row.previous_secret == hook["secret"] and row.secret_rotated_at is not None


async def test_rotate_secret_of_another_tenant_or_a_bad_id(client, tenant, other_tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    assert_problem(
        await client.post(f"{WEBHOOKS}/{hook['id']}/rotateSecret", headers=other_tenant.key), 404, "not_found"
    )
    assert_problem(await client.post(f"{WEBHOOKS}/{uuid.uuid4()}/rotateSecret", headers=tenant.key), 404, "not_found")
    bad = await client.post(f"{WEBHOOKS}/not-an-id/rotateSecret", headers=tenant.key)
    assert_problem(bad, 400, "validation_error", "webhookId")
    assert stored_webhook(client, hook["id"]).secret == hook["secret"]  # unchanged


# --------------------------------------------------------------------------
# deliveries


async def test_deliveries_come_in_creation_order_in_cursor_pages_with_their_attempts(client, tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    start = now() - datetime.timedelta(hours=1)
    ids = add_events(client, tenant, hook["id"], ["succeeded", "failed", "pending", "failed", "succeeded"], start)
    url = f"{WEBHOOKS}/{hook['id']}/deliveries"

    seen, cursor = [], None
    while True:
        page = await client.get(url, params={"limit": 2, **({"cursor": cursor} if cursor else {})}, headers=tenant.key)
        assert page.status_code == 200, page.text
        seen += page.json()["items"]
        if not (cursor := page.json()["nextCursor"]):
            break
    assert [item["id"] for item in seen] == [str(i) for i in ids]
    pending = seen[2]
    assert pending["status"] == "pending" and pending["nextAttemptAt"].endswith("Z")
    assert pending["event"] == "Delivered" and pending["sequence"] == 5 and pending["payload"]["sequence"] == 5
    [attempt] = pending["attempts"]
    assert attempt == {
        "attemptedAt": attempt["attemptedAt"],
        "responseStatus": 500,
        "latencyMs": 12,
        "responseBody": "oops",
        "error": None,
    }
    assert seen[0]["nextAttemptAt"] is None  # nothing more to do for a succeeded one

    failed = (await client.get(url, params={"status": "failed"}, headers=tenant.key)).json()["items"]
    assert [item["id"] for item in failed] == [str(ids[1]), str(ids[3])]
    window = {
        "from": (start + datetime.timedelta(seconds=1)).isoformat(),
        "to": (start + datetime.timedelta(seconds=3)).isoformat(),
    }
    middle = (await client.get(url, params=window, headers=tenant.key)).json()["items"]
    assert [item["id"] for item in middle] == [str(ids[1]), str(ids[2])]


async def test_deliveries_name_the_bad_query_parameter(client, tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    url = f"{WEBHOOKS}/{hook['id']}/deliveries"
    for params, field in (
        ({"status": "sent"}, "status"),
        ({"from": "yesterday"}, "from"),
        ({"to": "2026-13-01"}, "to"),
        ({"limit": "0"}, "limit"),
        ({"limit": "5000"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ):
        assert_problem(await client.get(url, params=params, headers=tenant.key), 400, "validation_error", field)


async def test_deliveries_of_another_tenant_are_unknown(client, tenant, other_tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    add_events(client, tenant, hook["id"], ["failed"], now())
    stranger = await client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=other_tenant.key)
    assert_problem(stranger, 404, "not_found")
    unknown = await client.get(f"{WEBHOOKS}/{uuid.uuid4()}/deliveries", headers=tenant.key)
    assert_problem(unknown, 404, "not_found")


# --------------------------------------------------------------------------
# replay


async def test_replay_puts_the_event_back_for_an_immediate_attempt(client, tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    [event_id] = add_events(client, tenant, hook["id"], ["failed"], now() - datetime.timedelta(days=2))
    response = await client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{event_id}/replay", headers=tenant.key)
    assert response.status_code == 202, response.text
    replayed = response.json()
    assert replayed["id"] == str(event_id) and replayed["status"] == "pending"
    assert len(replayed["attempts"]) == 1  # the history stays; the new attempt comes next
    next_attempt = datetime.datetime.fromisoformat(replayed["nextAttemptAt"].replace("Z", "+00:00")[:26] + "+00:00")
    assert abs((next_attempt - now()).total_seconds()) < 60


async def test_replay_refuses_unknown_foreign_and_malformed_ids(client, tenant, other_tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    sibling = await create_webhook(client, tenant, triggers=("Delivered",))
    [event_id] = add_events(client, tenant, hook["id"], ["failed"], now())
    replay = f"{WEBHOOKS}/{{}}/deliveries/{{}}/replay"
    assert_problem(await client.post(replay.format(hook["id"], event_id), headers=other_tenant.key), 404, "not_found")
    assert_problem(
        await client.post(replay.format(sibling["id"], event_id), headers=tenant.key), 404, "not_found", "eventId"
    )
    assert_problem(
        await client.post(replay.format(hook["id"], uuid.uuid4()), headers=tenant.key), 404, "not_found", "eventId"
    )
    bad = await client.post(replay.format(hook["id"], "nope"), headers=tenant.key)
    assert_problem(bad, 400, "validation_error", "eventId")


async def test_replay_and_recover_need_the_webhook_enabled(client, tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    [event_id] = add_events(client, tenant, hook["id"], ["failed"], now())
    put = {"url": hook["url"], "webhookTriggers": hook["webhookTriggers"], "enabled": False}
    assert (await client.put(f"{WEBHOOKS}/{hook['id']}", json=put, headers=tenant.key)).status_code == 200
    replay = await client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{event_id}/replay", headers=tenant.key)
    assert_problem(replay, 409, "webhook_disabled")
    recover = await client.post(
        f"{WEBHOOKS}/{hook['id']}/recover", json={"since": now().isoformat()}, headers=tenant.key
    )
    assert_problem(recover, 409, "webhook_disabled")


# --------------------------------------------------------------------------
# recover


async def test_recover_requeues_the_failed_events_of_the_window(client, tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    start = now() - datetime.timedelta(days=1)
    ids = add_events(client, tenant, hook["id"], ["failed", "failed", "succeeded", "failed"], start)
    window = {
        "since": (start + datetime.timedelta(seconds=1)).isoformat(),
        "until": (start + datetime.timedelta(seconds=3)).isoformat(),
    }
    response = await client.post(f"{WEBHOOKS}/{hook['id']}/recover", json=window, headers=tenant.key)
    assert response.status_code == 202 and response.json() == {"recovered": 1}, response.text
    items = (await client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=tenant.key)).json()["items"]
    assert [item["status"] for item in items] == ["failed", "pending", "succeeded", "failed"]
    assert items[1]["id"] == str(ids[1])

    # No until: everything failed since then.
    open_ended = await client.post(
        f"{WEBHOOKS}/{hook['id']}/recover", json={"since": start.isoformat()}, headers=tenant.key
    )
    assert open_ended.json() == {"recovered": 2}


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"since"}),
        ({"since": "last week"}, {"since"}),
        ({"since": [2026]}, {"since"}),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, {"until"}),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-02T00:00:00Z"}, {"until"}),
        ({"since": "2026-01-02T00:00:00Z", "from": "x"}, {"from"}),
        ([], {"body"}),
    ],
)
async def test_recover_names_the_bad_field(client, tenant, payload, fields):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    response = await client.post(f"{WEBHOOKS}/{hook['id']}/recover", json=payload, headers=tenant.key)
    assert_problem(response, 400, "validation_error", *fields)


async def test_recover_of_another_tenant_is_unknown(client, tenant, other_tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    add_events(client, tenant, hook["id"], ["failed"], now())
    since = {"since": (now() - datetime.timedelta(days=1)).isoformat()}
    assert_problem(
        await client.post(f"{WEBHOOKS}/{hook['id']}/recover", json=since, headers=other_tenant.key), 404, "not_found"
    )
    items = (await client.get(f"{WEBHOOKS}/{hook['id']}/deliveries", headers=tenant.key)).json()["items"]
    assert [item["status"] for item in items] == ["failed"]


async def test_custom_header_values_must_be_printable_ascii(client, tenant):
    """httpx (and HTTP) can't send other header values: refused at the door, not failed at every attempt."""
    for value in ("café", "bell\x07", "\x7f"):
        body = {"url": CLOSED_PORT_URL, "webhookTriggers": ["Delivered"], "headers": {"X-Token": value}}
        response = await client.post(WEBHOOKS, json=body, headers=tenant.key)
        assert_problem(response, 400, "validation_error", "headers.X-Token")
    body = {"url": CLOSED_PORT_URL, "webhookTriggers": ["Delivered"], "headers": {"X-Token": "a b\tc ~!"}}
    assert (await client.post(WEBHOOKS, json=body, headers=tenant.key)).status_code == 201


async def test_replay_while_an_attempt_is_under_way_is_a_409(client, tenant):
    hook = await create_webhook(client, tenant, triggers=("Delivered",))
    [event_id] = add_events(client, tenant, hook["id"], ["pending"], now())

    async def lease() -> None:
        async with client.app.state.runtime.db_config.get_session() as session:
            until = now() + datetime.timedelta(minutes=1)
            await session.execute(
                update(WebhookEvent).where(WebhookEvent.id == event_id).values(lease_owner="w", lease_until=until)
            )
            await session.commit()

    in_app_loop(client, lease)
    response = await client.post(f"{WEBHOOKS}/{hook['id']}/deliveries/{event_id}/replay", headers=tenant.key)
    assert_problem(response, 409, "delivery_in_progress")
