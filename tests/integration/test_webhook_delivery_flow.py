"""Webhook delivery in motion: end to end through the SMS sandbox with the server's own worker, a dead
endpoint beside a live one, replay and recover through the API; on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import time
from itertools import pairwise

import standardwebhooks

from gateway.store import statuses
from gateway.store.outbox import FAILED, PENDING, SUCCEEDED
from tests.conftest import CLOSED_PORT_URL, assert_problem
from tests.integration import webhook_fixtures as wf
from tests.integration.conftest import send_message, tenant_on
from tests.integration.webhook_fixtures import Answer, Clock

receiver = wf.receiver
TEXT = {"text": "Your code is 1234", "sender": "MITTO SMS"}


async def test_sandbox_events_reach_the_webhook_signed_through_the_servers_own_worker(server, receiver):
    tenant = await tenant_on(server)
    hook = await wf.create_webhook(
        server, tenant, receiver.url("/hook"), triggers=("Delivered", "Failed", "UserMessage")
    )
    verifier = standardwebhooks.Webhook(hook["secret"])

    delivered_id = await send_message(server, tenant, "sms", "+447700900123", TEXT)
    failed_id = await send_message(server, tenant, "sms", "+447700901027", TEXT)
    user = {"trafficAccountId": tenant.accounts["sms"], "from": "447700900123", "text": "STOP please", "msgid": "in-7"}
    assert (await server.post("/sandbox/sms/inbound", json=user)).json()["gatewayStatus"] == 200

    requests = await receiver.wait_for(3, "/hook")
    payloads = {p["event"]: p for p in (verifier.verify(r.body, r.headers) for r in requests)}
    assert payloads["Delivered"]["messageId"] == delivered_id
    assert payloads["Delivered"]["deliveryStatus"] == "Delivered" and payloads["Delivered"]["sequence"] == 3
    assert payloads["Failed"]["messageId"] == failed_id and payloads["Failed"]["errorCode"] == "sms.dlr.27"
    assert payloads["UserMessage"]["text"] == "STOP please"
    assert payloads["UserMessage"]["sender"] == {"phoneNumber": "+447700900123"}
    assert payloads["Delivered"]["conversation"]["id"] == payloads["UserMessage"]["conversation"]["id"]


async def test_a_dead_endpoint_holds_only_its_own_slots_and_a_refusing_one_is_backed_off(
    server_without_worker, receiver
):
    client = server_without_worker
    tenant = await wf.setup(client)
    dead = await wf.create_webhook(client, tenant, receiver.url("/hang"))
    refusing = await wf.create_webhook(client, tenant, CLOSED_PORT_URL)
    for _ in range(20):  # a backlog for the dead and the refusing endpoints, due before anything else
        await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
    live = await wf.create_webhook(client, tenant, receiver.url("/live"))
    worker = wf.deliverer(client, dead, refusing, live, concurrency=10, endpoint_concurrency=3, timeout_seconds=60)
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop, poll_seconds=0.05))
    try:
        await receiver.wait_for(3, "/hang")
        latencies = []
        for _ in range(10):
            before = time.monotonic()
            await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
            got = (await receiver.wait_for(len(latencies) + 1, "/live", seconds=5))[-1]
            latencies.append(got.at - before)
        assert max(latencies) < 2.0, latencies  # not the 60 s the dead endpoint's attempts take
        assert receiver.most_in_flight["/hang"] == 3  # the cap, though 20+ of its events are due
    finally:
        receiver.release_hanging.set()
        stop.set()
        await loop
    # Each refused event was backed off (5 s +/- 20 %) after its attempt: not hammered.
    refused = await wf.event_ids_of(client, refusing)
    assert len(refused) == 30
    for event_id in refused:
        tried = [attempt.attempted_at for attempt in await wf.attempt_rows(client, event_id)]
        assert tried and all((later - earlier).total_seconds() >= 4 for earlier, later in pairwise(tried))
        assert ((await wf.event_row(client, event_id)).next_attempt_at - tried[-1]).total_seconds() >= 4


async def test_replay_sends_an_event_again_with_the_same_webhook_id(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hook"))
    [event_id] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
    worker = wf.deliverer(client, hook)
    await worker.deliver_once()

    replayed = await client.post(f"/api/v1/Webhook/{hook['id']}/deliveries/{event_id}/replay", headers=tenant.key)
    assert replayed.status_code == 202, replayed.text
    assert replayed.json()["status"] == PENDING and len(replayed.json()["attempts"]) == 1
    await worker.deliver_once()

    first, second = receiver.at("/hook")
    assert first.event_id == second.event_id == str(event_id) and first.body == second.body
    page = (await client.get(f"/api/v1/Webhook/{hook['id']}/deliveries", headers=tenant.key)).json()
    [delivery] = page["items"]
    assert delivery["id"] == str(event_id) and delivery["status"] == SUCCEEDED
    assert [a["responseStatus"] for a in delivery["attempts"]] == [200, 200]

    other = await tenant_on(client)
    stranger = await client.post(f"/api/v1/Webhook/{hook['id']}/deliveries/{event_id}/replay", headers=other.key)
    assert_problem(stranger, 404, "not_found")


async def test_recover_sends_again_the_failed_events_of_the_window(server_without_worker, receiver):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hook"))
    receiver.answer("/hook", Answer(500))
    clock = Clock()
    worker = wf.deliverer(client, hook, clock=clock)
    ids = []
    for _ in range(3):
        ids += await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)
        await asyncio.sleep(0.01)  # distinct creation times
    while await worker.deliver_once():  # every attempt fails until each event is given up
        clock.advance(13 * 3600)
    events = [await wf.event_row(client, event_id) for event_id in ids]
    assert [e.status for e in events] == [FAILED] * 3

    receiver.answer("/hook", Answer(200))
    window = {"since": events[1].created_at.isoformat(), "until": events[2].created_at.isoformat()}
    recovered = await client.post(f"/api/v1/Webhook/{hook['id']}/recover", json=window, headers=tenant.key)
    assert recovered.status_code == 202 and recovered.json() == {"recovered": 1}, recovered.text
    clock.advance(1)
    assert await worker.deliver_once() == 1
    assert [(await wf.event_row(client, e)).status for e in ids] == [FAILED, SUCCEEDED, FAILED]
    assert receiver.at("/hook")[-1].event_id == str(ids[1])

    failed = await client.get(f"/api/v1/Webhook/{hook['id']}/deliveries?status=failed", headers=tenant.key)
    assert [d["id"] for d in failed.json()["items"]] == [str(ids[0]), str(ids[2])]
    assert all(len(d["attempts"]) == 8 and d["nextAttemptAt"] is None for d in failed.json()["items"])
