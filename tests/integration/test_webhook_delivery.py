"""Webhook delivery against a real receiver on loopback, on SQLite and Postgres: signatures checked by
the standardwebhooks library as an independent consumer, the retry schedule on a controllable clock,
Retry-After, 410, disabling and re-enabling, ordering per message, SSRF refusal at send time."""

from __future__ import annotations

import asyncio
import datetime
import email.utils
import json
import logging
import random
import uuid

import pytest
import standardwebhooks
import structlog

from gateway.lib.db import session_maker
from gateway.models import Webhook
from gateway.store import statuses
from gateway.store.outbox import FAILED, PENDING, SUCCEEDED
from gateway.webhooks.schedule import RETRY_DELAYS
from tests.conftest import eventually
from tests.integration import webhook_fixtures as wf
from tests.integration.webhook_fixtures import Answer, Clock

receiver = wf.receiver


async def test_a_delivery_is_signed_as_standard_webhooks_and_carries_the_custom_headers(
    server_without_worker, receiver
):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hook"), headers={"X-Receiver-Token": "abc"})
    message_id = await wf.new_message(client, tenant, reference="order-7")
    [event_id] = await wf.raise_status(client, message_id, statuses.DELIVERED)

    assert await wf.deliverer(client, hook).deliver_once() == 1

    [request] = receiver.at("/hook")
    payload = standardwebhooks.Webhook(hook["secret"]).verify(request.body, request.headers)
    assert request.headers["webhook-id"] == str(event_id)
    assert request.headers["x-receiver-token"] == "abc"
    assert request.headers["content-type"] == "application/json"
    assert payload["event"] == "Delivered" and payload["messageId"] == str(message_id)
    assert payload["reference"] == "order-7" and payload["sequence"] == 3 and payload["version"] == 1
    event = await wf.event_row(client, event_id)
    assert event.status == SUCCEEDED and event.attempts == 1 and event.lease_owner is None
    [attempt] = await wf.attempt_rows(client, event_id)
    assert attempt.response_status == 200 and attempt.response_body == "ok" and attempt.error is None
    assert attempt.latency_ms >= 0


async def test_for_a_day_after_a_rotation_both_secrets_sign(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hook"))
    rotated = await client.post(f"/api/v1/Webhook/{hook['id']}/rotateSecret", headers=tenant.key)
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret.startswith("whsec_") and new_secret != hook["secret"]
    clock = Clock()
    worker = wf.deliverer(client, hook, clock=clock)
    message_id = await wf.new_message(client, tenant)

    await wf.raise_status(client, message_id, statuses.DELIVERED)
    await worker.deliver_once()
    [request] = receiver.at("/hook")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], new_secret):  # a receiver with either secret accepts it
        standardwebhooks.Webhook(secret).verify(request.body, request.headers)

    clock.advance(25 * 3600)
    await wf.raise_status(client, message_id, statuses.READ)
    await worker.deliver_once()
    later = receiver.at("/hook")[1]
    at = datetime.datetime.fromtimestamp(int(later.headers["webhook-timestamp"]), datetime.UTC)
    expected = standardwebhooks.Webhook(new_secret).sign(later.event_id, at, later.body.decode())
    assert later.headers["webhook-signature"] == expected  # the new secret alone


async def test_failed_attempts_follow_the_schedule_with_jitter_then_give_up(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/down"))
    receiver.answer("/down", Answer(500, b"broken"))
    clock = Clock()
    worker = wf.deliverer(client, hook, clock=clock, rng=random.Random(7))
    [event_id] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)

    for number, delay in enumerate(RETRY_DELAYS, start=1):
        assert await worker.deliver_once() == 1
        event = await wf.event_row(client, event_id)
        assert event.status == PENDING and event.attempts == number
        waited = (event.next_attempt_at - clock.now).total_seconds()
        assert 0.8 * delay <= waited <= 1.2 * delay, (number, waited)
        clock.advance(waited - 0.5)
        assert await worker.deliver_once() == 0  # not before its time
        clock.to(event.next_attempt_at)

    assert await worker.deliver_once() == 1  # the eighth and last attempt
    event = await wf.event_row(client, event_id)
    assert event.status == FAILED and event.attempts == 8 and event.next_attempt_at is None
    attempts = await wf.attempt_rows(client, event_id)
    assert [a.response_status for a in attempts] == [500] * 8 and attempts[0].response_body == "broken"
    assert len({r.event_id for r in receiver.at("/down")}) == 1  # one webhook-id on every retry
    clock.advance(30 * 3600)
    assert await worker.deliver_once() == 0


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(server_without_worker, receiver, status):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/busy"))
    clock = Clock()
    # An HTTP date ten minutes after the second attempt (which comes 120 s after the first).
    in_ten_minutes = email.utils.format_datetime(clock.now + datetime.timedelta(seconds=720), usegmt=True)
    receiver.answer(
        "/busy",
        Answer(status, headers={"Retry-After": "120"}),
        Answer(status, headers={"Retry-After": in_ten_minutes}),
        Answer(status, headers={"Retry-After": "1"}),  # shorter than the schedule: the schedule wins
    )
    worker = wf.deliverer(client, hook, clock=clock)
    [event_id] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)

    def waited(event):
        return (event.next_attempt_at - clock.now).total_seconds()

    await worker.deliver_once()
    assert waited(await wf.event_row(client, event_id)) == pytest.approx(120, abs=0.01)
    clock.advance(120)
    await worker.deliver_once()
    assert 590 <= waited(await wf.event_row(client, event_id)) <= 600
    clock.advance(600)
    await worker.deliver_once()
    assert 0.8 * 1800 <= waited(await wf.event_row(client, event_id)) <= 1.2 * 1800


async def test_410_disables_the_webhook_at_once_and_enabling_brings_it_back(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/gone"))
    receiver.answer("/gone", Answer(410, b"gone"), Answer(200))
    clock = Clock()
    worker = wf.deliverer(client, hook, clock=clock)
    message_id = await wf.new_message(client, tenant)
    [first] = await wf.raise_status(client, message_id, statuses.DELIVERED)
    with structlog.testing.capture_logs() as lines:
        await worker.deliver_once()

    assert (await wf.event_row(client, first)).status == FAILED
    webhook = (await client.get(f"/api/v1/Webhook/{hook['id']}", headers=tenant.key)).json()
    assert webhook["enabled"] is False
    ids = {"webhook_id": uuid.UUID(hook["id"]), "tenant_id": uuid.UUID(tenant.id)}
    attempt, disabled = lines
    assert attempt["event"] == "webhook attempt" and attempt["log_level"] == "warning" and attempt["status"] == 410
    assert attempt["next_attempt_at"] is None and attempt["event_id"] == first and attempt["attempt"] == 1
    assert disabled == {
        "event": "webhook disabled",
        "log_level": "warning",
        **ids,
        "why": "the receiver answered 410 Gone",
    }
    # Events raised meanwhile are not written for a disabled webhook; those already pending wait.
    assert await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED) == []

    body = {"url": hook["url"], "webhookTriggers": hook["webhookTriggers"], "enabled": True}
    with structlog.testing.capture_logs() as lines:
        assert (await client.put(f"/api/v1/Webhook/{hook['id']}", json=body, headers=tenant.key)).status_code == 200
    assert lines == [{"event": "webhook enabled", "log_level": "info", **ids}]
    [third] = await wf.raise_status(client, message_id, statuses.READ)
    await worker.deliver_once()
    assert (await wf.event_row(client, third)).status == SUCCEEDED


async def test_a_success_ends_a_run_of_failures_another_worker_started(server_without_worker, receiver):
    """A worker clears a webhook's run of failures only when it knows of one (it read it at its claim, or
    failed itself): one that learnt of it from the claim still clears it."""
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/flaky"))
    receiver.answer("/flaky", Answer(500))
    clock = Clock()
    first_worker, second_worker = wf.deliverer(client, hook, clock=clock), wf.deliverer(client, hook, clock=clock)
    message_id = await wf.new_message(client, tenant)
    [first] = await wf.raise_status(client, message_id, statuses.DELIVERED)
    await first_worker.deliver_once()
    assert (await wf.webhook_row(client, hook["id"])).failing_since == clock.now

    clock.advance(3600)
    receiver.answer("/flaky", Answer(200))
    assert await second_worker.deliver_once() == 1
    assert (await wf.event_row(client, first)).status == SUCCEEDED
    assert (await wf.webhook_row(client, hook["id"])).failing_since is None


async def test_a_success_ends_a_run_of_failures_that_began_during_its_attempt(server_without_worker, receiver):
    """Another worker's failure committed after this worker's claim, while its attempt was under way: the
    attempt's success still ends the run (left open, a healthy webhook would be disabled by a later failure)."""
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hang/slow"))
    worker = wf.deliverer(client, hook)
    message_id = await wf.new_message(client, tenant)
    [event] = await wf.raise_status(client, message_id, statuses.DELIVERED)
    delivering = asyncio.create_task(worker.deliver_once())
    await receiver.wait_for(1, "/hang/slow")  # claimed while the webhook was not failing; the attempt waits
    async with session_maker(client.app.state.runtime.engine)() as session, session.begin():
        webhook = await session.get(Webhook, uuid.UUID(hook["id"]))
        webhook.failing_since = datetime.datetime.now(datetime.UTC)  # as another worker's failed attempt writes
    receiver.release_hanging.set()
    assert await delivering == 1
    assert (await wf.event_row(client, event)).status == SUCCEEDED
    assert (await wf.webhook_row(client, hook["id"])).failing_since is None


async def test_a_webhook_failing_for_the_whole_period_is_disabled_and_comes_back_when_enabled(
    server_without_worker, receiver
):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/dead"))
    receiver.answer("/dead", Answer(500))
    clock = Clock()
    worker = wf.deliverer(client, hook, clock=clock, disable_after=datetime.timedelta(days=5))
    message_id = await wf.new_message(client, tenant)
    [first] = await wf.raise_status(client, message_id, statuses.DELIVERED)
    await worker.deliver_once()
    started = (await wf.webhook_row(client, hook["id"])).failing_since
    assert started == clock.now

    # Failing for a day, then one success: the run of failures starts again.
    clock.advance(24 * 3600)
    receiver.answer("/dead", Answer(200))
    await worker.deliver_once()
    assert (await wf.event_row(client, first)).status == SUCCEEDED
    assert (await wf.webhook_row(client, hook["id"])).failing_since is None

    receiver.answer("/dead", Answer(500))
    [second] = await wf.raise_status(client, message_id, statuses.READ)
    await worker.deliver_once()
    failing_since = clock.now
    while clock.now - failing_since < datetime.timedelta(days=5):
        assert (await wf.webhook_row(client, hook["id"])).enabled
        [latest] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
        clock.advance(11 * 3600)
        await worker.deliver_once()
    webhook = await wf.webhook_row(client, hook["id"])
    assert not webhook.enabled and webhook.failing_since == failing_since
    assert (await wf.event_row(client, second)).status == FAILED  # its 8 attempts were used up long ago
    assert (await wf.event_row(client, latest)).status == PENDING  # waits, not given up

    receiver.answer("/dead", Answer(200))
    body = {"url": hook["url"], "webhookTriggers": hook["webhookTriggers"], "enabled": True}
    assert (await client.put(f"/api/v1/Webhook/{hook['id']}", json=body, headers=tenant.key)).status_code == 200
    assert (await wf.webhook_row(client, hook["id"])).failing_since is None
    clock.advance(1)
    while await worker.deliver_once():  # what waited is due at once, not at the end of its backoff
        pass
    assert (await wf.event_row(client, latest)).status == SUCCEEDED
    assert (await wf.event_row(client, second)).status == FAILED  # for recover to send again


async def test_events_of_one_message_arrive_in_sequence_order_under_failures(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hook"), triggers=("Delivered", "Read", "Failed"))
    receiver.answer("/hook", Answer(500), Answer(200))
    clock = Clock()
    worker = wf.deliverer(client, hook, clock=clock)
    message_id = await wf.new_message(client, tenant)
    [delivered] = await wf.raise_status(client, message_id, statuses.DELIVERED)
    [read] = await wf.raise_status(client, message_id, statuses.READ)

    assert await worker.deliver_once() == 1  # Delivered fails; Read waits behind it
    clock.advance(3600)
    assert await worker.deliver_once() == 1  # Delivered goes
    assert await worker.deliver_once() == 1  # then Read
    assert [json.loads(r.body)["sequence"] for r in receiver.at("/hook")] == [3, 3, 4]

    # An event given up lets the next one go.
    receiver.answer("/hook", Answer(500))
    other = await wf.new_message(client, tenant)
    [first] = await wf.raise_status(client, other, statuses.DELIVERED)
    [second] = await wf.raise_status(client, other, statuses.READ)
    for _ in range(8):
        assert await worker.deliver_once() == 1
        assert (await wf.event_row(client, second)).attempts == 0
        clock.advance(13 * 3600)
    assert (await wf.event_row(client, first)).status == FAILED
    receiver.answer("/hook", Answer(200))
    assert await worker.deliver_once() == 1
    assert (await wf.event_row(client, second)).status == SUCCEEDED


async def test_redirects_are_not_followed_and_the_answer_is_kept_to_1_kb(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    moved = await wf.create_webhook(client, tenant, receiver.url("/moved"))
    chatty = await wf.create_webhook(client, tenant, receiver.url("/chatty"))
    receiver.answer("/moved", Answer(302, headers={"Location": receiver.url("/elsewhere")}))
    receiver.answer("/chatty", Answer(200, "é".encode() * 2000))
    event_ids = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)

    assert await wf.deliverer(client, moved, chatty).deliver_once() == 2

    assert receiver.at("/elsewhere") == []
    by_webhook = {str((await wf.event_row(client, e)).webhook_id): e for e in event_ids}
    [redirected] = await wf.attempt_rows(client, by_webhook[moved["id"]])
    assert redirected.response_status == 302 and "not followed" in redirected.error
    assert (await wf.event_row(client, by_webhook[moved["id"]])).status == PENDING
    [kept] = await wf.attempt_rows(client, by_webhook[chatty["id"]])
    assert kept.response_body == "é" * 512


async def test_an_answer_later_than_the_timeout_is_a_failed_attempt(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hang"))
    [event_id] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)

    await wf.deliverer(client, hook, timeout_seconds=0.3).deliver_once()

    [attempt] = await wf.attempt_rows(client, event_id)
    assert attempt.response_status is None and attempt.error == "no answer within 0.3 s"
    assert 250 <= attempt.latency_ms < 2000
    assert (await wf.event_row(client, event_id)).status == PENDING


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_private_addresses_are_refused_at_send_time(server_without_worker, receiver, host):
    """The server allowed the loopback URL when the webhook was made; a worker that doesn't allow private
    addresses resolves the name again before each attempt and refuses it."""
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, f"http://{host}:{receiver.port}/hook")
    [event_id] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)

    await wf.deliverer(client, hook, allow_private_urls=False).deliver_once()

    assert receiver.received == []
    [attempt] = await wf.attempt_rows(client, event_id)
    assert attempt.response_status is None and attempt.error.startswith("refused: the URL resolves to")
    assert (await wf.event_row(client, event_id)).status == PENDING


async def test_a_worker_killed_mid_attempt_leaves_the_event_to_another_once_its_lease_expires(
    server_without_worker, receiver
):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/slow"))
    [event_id] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
    clock = Clock()
    doomed = wf.deliverer(client, hook, clock=clock, lease=datetime.timedelta(seconds=30))
    survivor = wf.deliverer(client, hook, clock=clock)

    [(event, target)] = await doomed.claim(10)
    receiver.answer("/slow", Answer(200))
    attempt = asyncio.create_task(doomed.attempt(event, target))
    await receiver.wait_for(1, "/slow")
    attempt.cancel()  # the process dies: the request was sent, nothing was recorded

    assert await survivor.deliver_once() == 0  # the lease still holds
    clock.advance(31)
    assert await survivor.deliver_once() == 1
    first, second = receiver.at("/slow")
    assert first.event_id == second.event_id == str(event_id)  # the receiver can tell it's a repeat
    event = await wf.event_row(client, event_id)
    assert event.status == SUCCEEDED and event.lease_owner is None
    assert len(await wf.attempt_rows(client, event_id)) == 1


async def test_events_wait_in_the_database_across_restarts(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hook"))
    ids = [
        event_id
        for _ in range(3)
        for event_id in await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
    ]
    # No worker was running when they were written; the next one to start delivers them.
    assert await wf.deliverer(client, hook, owner=f"new-{uuid.uuid4()}").deliver_once() == 3
    assert {r.event_id for r in receiver.at("/hook")} == {str(i) for i in ids}


async def test_events_of_a_disabled_webhook_wait_out_of_the_way_until_it_is_enabled(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hook"))
    ids = [
        event_id
        for _ in range(3)
        for event_id in await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
    ]
    put = {"url": hook["url"], "webhookTriggers": hook["webhookTriggers"]}
    url = f"/api/v1/Webhook/{hook['id']}"
    assert (await client.put(url, json=put | {"enabled": False}, headers=tenant.key)).status_code == 200
    clock = Clock()
    worker = wf.deliverer(client, hook, clock=clock)

    assert await worker.deliver_once() == 0
    for event_id in ids:  # put back, so the claims that follow don't read them again and again
        event = await wf.event_row(client, event_id)
        assert event.status == PENDING and event.next_attempt_at >= clock.now + datetime.timedelta(minutes=59)
    assert receiver.received == []

    assert (await client.put(url, json=put | {"enabled": True}, headers=tenant.key)).status_code == 200
    assert await worker.deliver_once() == 3
    assert {r.event_id for r in receiver.at("/hook")} == {str(i) for i in ids}


async def test_a_webhook_deleted_during_its_attempt_is_no_error(server_without_worker, receiver, caplog):
    """`DELETE /api/v1/Webhook/{id}?forceDelete=true` while an attempt is under way: the attempt goes with
    the webhook, quietly (an expected case, not an error), and the loop keeps delivering the others."""
    caplog.set_level(logging.INFO, logger="gateway.webhooks.deliverer")
    client = server_without_worker
    tenant = await wf.setup(client)
    slow = await wf.create_webhook(client, tenant, receiver.url("/hang/slow"))
    other = await wf.create_webhook(client, tenant, receiver.url("/other"))
    worker = wf.deliverer(client, slow, other)
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop))
    await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
    await receiver.wait_for(1, "/hang/slow")
    await receiver.wait_for(1, "/other")
    deleted = await client.delete(f"/api/v1/Webhook/{slow['id']}?forceDelete=true", headers=tenant.key)
    assert deleted.status_code == 204
    receiver.release_hanging.set()  # the deleted webhook's receiver answers now

    def said_gone() -> None:  # the worker found the event gone, and said so
        assert [r.levelname for r in caplog.records if "deleted during its attempt" in r.getMessage()] == ["INFO"]

    await eventually(said_gone)
    [event_id] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
    got = await receiver.wait_for(2, "/other")
    assert got[-1].event_id == str(event_id)
    assert await wf.event_ids_of(client, slow) == []
    stop.set()
    await asyncio.wait_for(loop, 10)
    await worker.http.aclose()
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors == [], [record.getMessage() for record in errors]
    assert len(receiver.at("/hang/slow")) == 1  # the deleted event is not attempted again
