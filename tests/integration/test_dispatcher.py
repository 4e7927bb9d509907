"""Dispatch: leases, crash recovery, permanent failures and validity, against real SQLite and Postgres,
with the SMS adapter talking to its sandbox provider over real HTTP."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest
import sqlalchemy as sa
import structlog

from gateway.lib.db import session_maker
from gateway.messages.dispatcher import LEASE
from gateway.models import Message
from tests.conftest import ADMIN, eventually
from tests.integration.conftest import assert_history, dispatcher_of, send_sms, tenant_on, wait_for_status
from tests.integration.conftest import message_row as row


async def test_a_worker_killed_mid_send_is_replaced_when_its_lease_expires(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send_sms(client, tenant)
    dead = dispatcher_of(client, owner="dead-worker")
    # Large limits: messages of earlier tests in the shared database may be due too.
    assert uuid.UUID(message_id) in await dead.claim(1000)  # claimed, then the process "dies" before sending
    alive = dispatcher_of(client, owner="alive-worker")
    assert uuid.UUID(message_id) not in await alive.claim(1000)  # the lease holds
    later = dispatcher_of(client, clock=lambda: datetime.datetime.now(datetime.UTC) + LEASE, owner="alive-worker")
    assert await later.dispatch_once(limit=1000) >= 1
    message = await wait_for_status(client, tenant, message_id, "Delivered")
    assert_history(message, "Ready", "Sent", "Delivered")
    stored = await row(client, message_id)
    assert stored.attempts == 1 and stored.lease_owner is None
    for worker in (dead, alive, later):
        await worker.http.aclose()


async def test_two_workers_never_claim_the_same_message(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    ids = {uuid.UUID(await send_sms(client, tenant, destination=f"+4477009001{n:02d}")) for n in range(20)}
    first, second = dispatcher_of(client, owner="one"), dispatcher_of(client, owner="two")
    claimed = await asyncio.gather(first.claim(500), second.claim(500))
    assert not set(claimed[0]) & set(claimed[1])
    assert ids <= set(claimed[0]) | set(claimed[1])  # (with messages of earlier tests, maybe)
    await first.http.aclose()
    await second.http.aclose()


async def test_a_permanent_rejection_fails_the_message(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    # The sandbox rejects a receiver that isn't digits only; the gateway normalises, so force it via the DB.
    message_id = await send_sms(client, tenant)
    async with session_maker(client.app.state.runtime.engine)() as session:
        await session.execute(sa.update(Message).where(Message.id == uuid.UUID(message_id)).values(destination="+"))
        await session.commit()
    worker = dispatcher_of(client)
    await worker.dispatch_once()
    message = await wait_for_status(client, tenant, message_id, "Failed")
    assert message["errorCode"] == "sms.7" and "receiver" in message["description"].lower()
    await worker.http.aclose()


async def test_a_message_past_its_validity_expires_instead_of_being_sent(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send_sms(client, tenant)
    future = dispatcher_of(client, clock=lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3))
    with structlog.testing.capture_logs() as lines:
        await future.dispatch_once()
    message = await wait_for_status(client, tenant, message_id, "Expired")
    assert message["errorCode"] == "expired"
    assert [c["status"] for c in message["statusHistory"]] == ["Ready", "Expired"]
    # The operator's line, with the message's ids; no send line, as nothing was sent.
    [expired] = [line for line in lines if line.get("message_id") == uuid.UUID(message_id)]
    assert expired["event"] == "message expired" and expired["log_level"] == "warning"
    assert expired["tenant_id"] == uuid.UUID(tenant.id) and expired["channel"] == "sms" and expired["attempts"] == 0
    assert "validity ended" in expired["why"]
    await future.http.aclose()


async def test_the_accounts_send_rate_holds_back_the_rest(server_without_worker):
    client = server_without_worker
    tenant = await tenant_on(client)
    patch = {"settings": {"sendRate": 2}}
    url = f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts['sms']}"
    assert (await client.patch(url, json=patch, headers=ADMIN)).status_code == 200
    ids = [await send_sms(client, tenant, destination=f"+4477009002{n:02d}") for n in range(6)]
    worker = dispatcher_of(client)
    started = datetime.datetime.now(datetime.UTC)
    await worker.dispatch_once()
    rows = [await row(client, message_id) for message_id in ids]
    sent = [r for r in rows if r.status != "Ready"]
    held = [r for r in rows if r.status == "Ready"]
    assert len(sent) == 3, [r.status for r in rows]  # 2/s with one second of burst: three at once
    # Put back for later, not counted as attempts (compared with the start: a loaded machine may take
    # longer than the wait itself to get here).
    assert all(r.attempts == 0 and r.lease_owner is None and r.next_attempt_at > started for r in held)
    await worker.http.aclose()


async def test_a_report_that_overtakes_the_send_answer_is_applied_when_the_id_is_recorded(server_without_worker):
    from channels.base import SendResult, StatusReport
    from gateway.messages.dispatcher import Outcome

    client = server_without_worker
    # Viber reports name only the provider's message token, so they can overtake the send answer.
    tenant = await tenant_on(client, channels=("viber",))
    payload = {
        "trafficAccountId": tenant.accounts["viber"],
        "destination": "sandboxUser0124",  # a Viber user id: a session message goes through the bot API
        "viber": {"text": "hi", "type": "session"},
    }
    response = await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert response.status_code == 200, response.text
    message_id = response.json()["messageId"]
    account_id = uuid.UUID(tenant.accounts["viber"])
    pipeline = client.app.state.runtime.callbacks
    # The provider reports on its id "p-1" before the worker has recorded it: parked, nothing changes yet.
    with structlog.testing.capture_logs() as lines:
        assert await pipeline.report(account_id, StatusReport(status="Delivered", provider_message_id="p-1"))
        assert (await row(client, message_id)).status == "Ready"
        worker = dispatcher_of(client)
        assert uuid.UUID(message_id) in await worker.claim(1000)
        async with session_maker(client.app.state.runtime.engine)() as session:
            claimed = await session.get(Message, uuid.UUID(message_id))
        await worker.outcomes.submit(Outcome(claimed, SendResult(status="Sent", provider_message_id="p-1")))
    message = await wait_for_status(client, tenant, message_id, "Delivered", seconds=2)
    assert [c["status"] for c in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]
    parked, applied = (line for line in lines if line.get("provider_message_id") == "p-1")
    assert parked == {
        "event": "report parked",
        "log_level": "info",
        "traffic_account_id": account_id,
        "provider_message_id": "p-1",
        "status": "Delivered",
    }
    assert applied == {
        "event": "parked report applied",
        "log_level": "info",
        "message_id": uuid.UUID(message_id),
        "traffic_account_id": account_id,
        "provider_message_id": "p-1",
        "statuses": ["Delivered"],
    }
    # A report for an id of no message of an unknown account is refused, not parked.
    assert not await pipeline.report(uuid.uuid4(), StatusReport(status="Delivered", provider_message_id="p-2"))
    await worker.http.aclose()


async def test_an_sms_send_answer_is_recorded_without_looking_for_parked_reports(server_without_worker):
    """SMS reports name our message id (their callback token), so none can be parked waiting for the
    provider's id: recording the answer must not spend a transaction looking for one."""
    from channels.base import SendResult
    from gateway.messages.dispatcher import Outcome

    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send_sms(client, tenant)
    worker = dispatcher_of(client)
    assert uuid.UUID(message_id) in await worker.claim(1000)
    async with session_maker(client.app.state.runtime.engine)() as session:
        claimed = await session.get(Message, uuid.UUID(message_id))
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = client.app.state.runtime.engine.sync_engine
    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        await worker.outcomes.submit(Outcome(claimed, SendResult(status="Sent", provider_message_id="p-sms-1")))
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)
    assert (await row(client, message_id)).status in ("Sent", "Delivered")
    assert any("UPDATE message" in statement for statement in statements)
    assert not [statement for statement in statements if "pending_report" in statement]
    await worker.http.aclose()


async def test_the_dispatch_loop_claims_once_per_wake_up(server_without_worker):
    """A claim that took fewer messages than it could took all that were due: the loop then waits for a
    wake-up (or its poll) rather than claiming again at once or whenever a send ends."""
    client = server_without_worker
    tenant = await tenant_on(client)
    worker = dispatcher_of(client)
    claims = 0
    claim = worker.claim

    async def counted(limit: int) -> list[uuid.UUID]:
        nonlocal claims
        claims += 1
        return await claim(limit)

    worker.claim = counted  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop, poll_seconds=60))

    def claimed_once() -> None:  # the first claim finds what earlier tests left due
        assert claims >= 1

    await eventually(claimed_once)
    before = claims
    message_id = await send_sms(client, tenant)
    await worker.work_due.messages()
    await wait_for_status(client, tenant, message_id, "Delivered")
    await asyncio.sleep(0.2)  # a fixed sleep, not a poll: it proves that no further claim comes
    assert claims - before == 1
    stop.set()
    await loop
    await worker.http.aclose()


async def test_a_report_for_a_message_whose_worker_died_before_recording_the_send(server_without_worker):
    """The worker claimed the message, the provider took it, and the worker died before recording Sent:
    the message is still Ready (its lease running out) when the delivery report comes. The report records
    the Sent it implies, with the provider's id, and the message is not sent again."""
    from gateway.models import MessageEvent

    client = server_without_worker
    tenant = await tenant_on(client)
    message_id = await send_sms(client, tenant)
    dead = dispatcher_of(client, owner="dead-worker")
    assert uuid.UUID(message_id) in await dead.claim(1000)  # then it sends, and dies
    token = client.app.state.runtime.callbacks.tokens.issue(uuid.UUID(message_id))
    report = {"messageId": "provider-715118ef", "status": "DELIVERED", "errorcode": "0"}
    answer = await client.post(f"/callbacks/sms/{tenant.accounts['sms']}?token={token}", json=report)
    assert answer.status_code == 200, answer.text
    message = await wait_for_status(client, tenant, message_id, "Delivered")
    assert [c["status"] for c in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]
    stored = await row(client, message_id)
    assert stored.provider_message_id == "provider-715118ef" and stored.sequence == 3
    async with session_maker(client.app.state.runtime.engine)() as session:
        events = await session.execute(
            sa.select(MessageEvent.sequence, MessageEvent.status, MessageEvent.occurred_at)
            .where(MessageEvent.message_id == uuid.UUID(message_id))
            .order_by(MessageEvent.sequence)
        )
        (_, _, ready_at), (*sent, sent_at), (*delivered, delivered_at) = events.all()
    assert (sent, delivered) == ([2, "Sent"], [3, "Delivered"]) and ready_at <= sent_at <= delivered_at
    later = dispatcher_of(client, clock=lambda: datetime.datetime.now(datetime.UTC) + 2 * LEASE, owner="alive")
    assert uuid.UUID(message_id) not in await later.claim(1000)  # the lease ran out, but it was sent
    assert (await row(client, message_id)).status == "Delivered"
    for worker in (dead, later):
        await worker.http.aclose()


def test_the_lease_is_a_setting_for_messages_and_webhook_events(monkeypatch, tmp_path):
    """GATEWAY_LEASE_SECONDS: how long a dead worker's claimed messages and webhook events wait for another
    (the fault suite's short runs use 20 s); never shorter than a provider call or a webhook attempt."""
    from gateway.lib import crypto
    from gateway.runtime import Runtime
    from gateway.settings import Settings, SettingsError

    monkeypatch.setattr(crypto, "_encryption_keys", crypto._encryption_keys)  # a Runtime sets this process's keys

    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path}/gateway.db")
    assert Settings.from_env().lease_seconds == 60
    monkeypatch.setenv("GATEWAY_LEASE_SECONDS", "25")
    monkeypatch.setenv("GATEWAY_WEBHOOK_TIMEOUT", "5")
    settings = Settings.from_env()
    runtime = Runtime(settings)
    assert runtime.dispatcher.lease == runtime.deliverer.lease == datetime.timedelta(seconds=25)
    monkeypatch.setenv("GATEWAY_WEBHOOK_TIMEOUT", "15")  # an attempt may take 15 s: the event's lease is twice that
    settings = Settings.from_env()
    runtime = Runtime(settings)
    assert runtime.dispatcher.lease == datetime.timedelta(seconds=25)
    assert runtime.deliverer.lease == datetime.timedelta(seconds=30)
    monkeypatch.setenv("GATEWAY_LEASE_SECONDS", "10")
    with pytest.raises(SettingsError, match="GATEWAY_LEASE_SECONDS must be at least 20"):
        Settings.from_env()


def test_the_backoff_stays_finite_whatever_a_channel_says():
    from gateway.messages.dispatcher import backoff

    assert backoff(1, float("inf")) == 3600.0
    assert 0 <= backoff(1, float("nan")) <= 2.0
    assert backoff(1, 30.0) == 30.0
