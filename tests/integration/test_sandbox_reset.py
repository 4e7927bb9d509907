"""DELETE /api/v1/sandbox/data while work is in flight, through the server's own worker: sends waiting on a
slow provider, webhook deliveries hanging at the receiver, a failover timer pending, a remembered
conversation id. Afterwards the tenant's sandbox data is gone, the next send to the same destination is
delivered (and its webhook event delivered), and another tenant's and a live account's data is untouched.
On SQLite and Postgres."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import httpx
from sqlalchemy import func, select

from gateway.lib.db import session_maker
from gateway.models import Conversation, FailoverChain, Message, MessageEvent, WebhookAttempt, WebhookEvent
from gateway.store import statuses
from tests.conftest import ADMIN, eventually, message_ids
from tests.integration import webhook_fixtures as wf
from tests.integration.conftest import message_row, send_message, tenant_on, wait_for_status

receiver = wf.receiver
TEXT = {"text": "Your code is 1234", "sender": "MITTO SMS"}
TELEGRAM = {"text": {"message": "Hello"}}


async def live_message(client: httpx.AsyncClient, tenant: Any) -> uuid.UUID:
    """A message of a live traffic account of the tenant, with its status event, the second step of a failover
    chain whose first step is on the sandbox sms account (stored directly: a live account's sends would go to
    the real provider)."""
    settings = {"botToken": f"123:{uuid.uuid4().hex}", "baseUrl": "https://provider.example.com"}
    account = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": "live", "channel": "telegram", "sandbox": False, "settings": settings},
        headers=ADMIN,
    )
    assert account.status_code == 201, account.text
    async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
        chain = FailoverChain(
            tenant_id=uuid.UUID(tenant.id), required_status="Delivered", timeout_seconds=60, steps=2, active_step=1
        )
        first = Conversation(
            tenant_id=uuid.UUID(tenant.id),
            traffic_account_id=uuid.UUID(tenant.accounts["sms"]),
            channel="sms",
            participant="+447700900999",
        )
        session.add_all([chain, first])
        await session.flush()
        session.add(
            Message(
                tenant_id=uuid.UUID(tenant.id),
                traffic_account_id=first.traffic_account_id,
                conversation_id=first.id,
                channel="sms",
                direction="outbound",
                destination=first.participant,
                status=statuses.FAILED,
                content={"text": "sandbox step"},
                failover_chain_id=chain.id,
                failover_step=0,
            )
        )
        conversation = Conversation(
            tenant_id=uuid.UUID(tenant.id),
            traffic_account_id=uuid.UUID(account.json()["id"]),
            channel="telegram",
            participant="5550001",
        )
        session.add(conversation)
        await session.flush()
        message = Message(
            tenant_id=uuid.UUID(tenant.id),
            traffic_account_id=conversation.traffic_account_id,
            conversation_id=conversation.id,
            channel="telegram",
            direction="outbound",
            destination="5550001",
            status=statuses.DELIVERED,
            content={"text": "live"},
            failover_chain_id=chain.id,
            failover_step=1,
        )
        session.add(message)
        await session.flush()
        session.add(
            MessageEvent(message_id=message.id, sequence=1, status=statuses.DELIVERED, occurred_at=message.created_at)
        )
        await session.commit()
        return message.id


async def count(client: httpx.AsyncClient, model: Any, *where: Any) -> int:
    async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
        return await session.scalar(select(func.count()).select_from(model).where(*where))


async def test_a_reset_while_sends_deliveries_and_timers_are_in_flight_leaves_a_working_sandbox(server, receiver):
    client = server
    tenant = await tenant_on(client, ("sms", "telegram"))
    other = await tenant_on(client)
    kept_live = await live_message(client, tenant)
    others = await send_message(client, other, "sms", "+447700900123", TEXT)
    await wait_for_status(client, other, others, statuses.DELIVERED)

    hook = await wf.create_webhook(client, tenant, receiver.url("/hang"), triggers=("Delivered",))
    delivered = [await send_message(client, tenant, "sms", "+447700900123", TEXT) for _ in range(3)]
    slow = await send_message(client, tenant, "sms", "+447700900408", TEXT)  # the provider answers in 30 s
    keyed = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900124", "sms": TEXT}
    first_keyed = await client.post("/api/v1/Message/send", json=keyed, headers={**tenant.key, "Idempotency-Key": "k1"})
    assert first_keyed.status_code == 200, first_keyed.text
    steps = [tenant.accounts["sms"], {"trafficAccountId": tenant.accounts["telegram"], "destination": "5550002"}]
    chain = {
        "type": "Timeout",
        "timeoutFailover": {"timeoutInSeconds": 60, "status": "Delivered", "trafficAccounts": steps},
    }
    chained = await client.post(
        "/api/v1/Message/send",
        json={"destination": "+447700900001", "sms": TEXT, "telegram": TELEGRAM, "failover": chain},
        headers=tenant.key,
    )
    assert chained.status_code == 200, chained.text
    for message_id in delivered:
        await wait_for_status(client, tenant, message_id, statuses.DELIVERED)
    await receiver.wait_for(1, "/hang")  # a delivery in flight (the others wait for it or are queued)

    async def sending() -> None:
        row = await message_row(client, slow)
        assert row.lease_owner is not None and row.attempts == 0, (row.lease_owner, row.attempts)

    await eventually(sending)  # the worker waits on the provider
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert await runtime.failover_index.size() >= 1

    remembered = dict(runtime.acceptor._conversations)  # what another API process would still remember
    old_conversation = (await client.get(f"/api/v1/Message/{delivered[0]}", headers=tenant.key)).json()
    old_conversation = old_conversation["conversation"]["id"]
    behaviour = f"/api/v1/sandbox/trafficAccounts/{tenant.accounts['telegram']}/behaviour"
    chaos = {"latencyMs": 5, "failNext": {"count": 3, "with": "rejected"}}  # one test's chaos, left behind
    assert (await client.put(behaviour, json=chaos, headers=tenant.key)).status_code == 200
    reset = await client.delete("/api/v1/sandbox/data", headers=tenant.key)
    assert reset.status_code == 200, reset.text
    deleted = reset.json()
    assert deleted["behaviours"] == 1, deleted
    assert (await client.get(behaviour, headers=tenant.key)).json() == {
        "trafficAccountId": tenant.accounts["telegram"], "latencyMs": 0, "errorRate": 0.0, "failNext": None
    }
    # 3 + 1 + 1 + a chain of 2 + the sandbox step of the chain with a live step
    assert deleted["messages"] == 8 and deleted["conversations"] == 6, deleted
    # The tenant has a live account: its keys keep their answers (a live send's retry must not send again).
    assert deleted["failoverChains"] == 1 and deleted["idempotencyKeys"] == 0, deleted
    assert deleted["webhookEvents"] >= 3 and deleted["messageEvents"] >= 12, deleted

    assert await message_ids(client, tenant) == [str(kept_live)]
    assert (await client.get(f"/api/v1/Message/{delivered[0]}", headers=tenant.key)).status_code == 404
    assert await runtime.failover_index.size() == 0

    receiver.release_hanging.set()  # the deliveries in flight end: nothing is recorded of them
    again = await send_message(client, tenant, "sms", "+447700900123", TEXT)
    message = await wait_for_status(client, tenant, again, statuses.DELIVERED)
    assert message["conversation"]["id"] != old_conversation  # the remembered one was deleted

    async def delivered_again() -> None:
        page = (await client.get(f"/api/v1/Webhook/{hook['id']}/deliveries", headers=tenant.key)).json()
        assert [(d["messageId"], d["status"]) for d in page["items"]] == [(again, "succeeded")], page

    await eventually(delivered_again)
    # The deliveries that hung through the reset ended without a trace: the only attempt is the new one's.
    assert await count(client, WebhookAttempt, WebhookAttempt.tenant_id == uuid.UUID(tenant.id)) == 1
    # A process that didn't run the reset still remembers the deleted conversations: its next send finds
    # them gone (its insert fails) and looks them up again.
    runtime.acceptor._conversations.update(remembered)
    third = await send_message(client, tenant, "sms", "+447700900123", TEXT)
    third_message = await wait_for_status(client, tenant, third, statuses.DELIVERED)
    assert third_message["conversation"]["id"] == message["conversation"]["id"]
    # The Idempotency-Key stays with a tenant that has a live account: the same request is answered as before.
    second_keyed = await client.post(
        "/api/v1/Message/send", json=keyed, headers={**tenant.key, "Idempotency-Key": "k1"}
    )
    assert second_keyed.headers.get("Idempotent-Replay") == "true", second_keyed.headers
    assert second_keyed.json()["messageId"] == first_keyed.json()["messageId"]

    # Another tenant's sandbox and this tenant's live account: untouched.
    assert (await client.get(f"/api/v1/Message/{others}", headers=other.key)).json()["deliveryStatus"] == "Delivered"
    assert await count(client, MessageEvent, MessageEvent.message_id == kept_live) == 1
    # The chain with a live step stays, with that step.
    [kept_chain] = (await client.get(f"/api/v1/Message/{kept_live}", headers=tenant.key)).json()["failover"]["steps"]
    assert kept_chain["messageId"] == str(kept_live), kept_chain
    assert await count(client, FailoverChain, FailoverChain.tenant_id == uuid.UUID(tenant.id)) == 1
    assert await count(client, WebhookEvent, WebhookEvent.message_id.in_([uuid.UUID(m) for m in delivered])) == 0


async def test_a_sandbox_only_tenants_keys_go_so_the_same_request_sends_again(server):
    client = server
    tenant = await tenant_on(client)
    keyed = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900124", "sms": TEXT}
    headers = {**tenant.key, "Idempotency-Key": "k1"}
    first = await client.post("/api/v1/Message/send", json=keyed, headers=headers)
    assert first.status_code == 200, first.text
    reset = await client.delete("/api/v1/sandbox/data", headers=tenant.key)
    assert reset.json()["idempotencyKeys"] == 1, reset.text
    second = await client.post("/api/v1/Message/send", json=keyed, headers=headers)
    assert second.status_code == 200 and "Idempotent-Replay" not in second.headers, second.text
    assert second.json()["messageId"] != first.json()["messageId"]


async def test_a_reset_of_nothing_deletes_nothing_and_needs_a_customer(server):
    client = server
    tenant = await tenant_on(client)
    reset = await client.delete("/api/v1/sandbox/data", headers=tenant.key)
    assert reset.status_code == 200 and set(reset.json().values()) == {0}, reset.text
    assert (await client.delete("/api/v1/sandbox/data")).status_code == 401


async def test_a_reset_ends_catchers_pending_answers_and_an_exchange_of_a_deleted_message_is_not_journaled(server):
    client = server
    tenant = await tenant_on(client)
    catcher = (await client.post("/api/v1/sandbox/catchers", headers=tenant.key)).json()
    answer = f"/api/v1/sandbox/catchers/{catcher['id']}/answer"
    assert (await client.put(answer, json={"status": 500, "count": 5}, headers=tenant.key)).status_code == 200
    sent = await send_message(client, tenant, "sms", "+447700900123", TEXT)
    await wait_for_status(client, tenant, sent, statuses.DELIVERED)
    reset = (await client.delete("/api/v1/sandbox/data", headers=tenant.key)).json()
    assert reset["catcherAnswers"] == 1 and reset["requests"] >= 2, reset  # the send and its report, flushed first
    shown = (await client.get(f"/api/v1/sandbox/catchers/{catcher['id']}", headers=tenant.key)).json()
    assert shown["answerStatus"] is None and shown["answerRemaining"] == 0, shown

    # An exchange of the deleted message that was still waiting to be written (a send answered after the
    # reset): dropped, not journaled under a message that no longer exists. One of no message is kept.
    journal = client.app.state.runtime.journal  # type: ignore[attr-defined]
    row = {
        "tenant_id": uuid.UUID(tenant.id),
        "traffic_account_id": uuid.UUID(tenant.accounts["sms"]),
        "channel": "sms",
        "direction": "request",
        "destination": "+447700900123",
        "method": "POST",
        "url": "http://sandbox/sms",
        "occurred_at": datetime.datetime.now(datetime.UTC),
    }
    journal.record(row | {"message_id": uuid.UUID(sent)})
    journal.record(row | {"message_id": None})
    await journal.flush()
    exchanges = (await client.get("/api/v1/sandbox/requests", headers=tenant.key)).json()["items"]
    assert [e["messageId"] for e in exchanges] == [None], exchanges
