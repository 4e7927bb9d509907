"""`gateway worker` processes delivering webhooks: one killed (SIGKILL) in the middle of an attempt, the
event delivered by another once the lease has run out; nothing lost. On SQLite and Postgres."""

from __future__ import annotations

import asyncio
import datetime
import signal
import uuid

from sqlalchemy import update

from gateway.lib.db import session_maker
from gateway.models import WebhookEvent
from gateway.store import statuses
from gateway.store.outbox import SUCCEEDED
from tests.conftest import eventually
from tests.integration import webhook_fixtures as wf
from tests.integration.conftest import start_worker

receiver = wf.receiver


async def start_delivering_worker(database_url: str) -> asyncio.subprocess.Process:
    return await start_worker(database_url, env={"GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS": "true"})


async def test_a_killed_worker_process_loses_nothing(server_without_worker, receiver, database_url):
    client = server_without_worker
    tenant = await wf.setup(client)
    hook = await wf.create_webhook(client, tenant, receiver.url("/hook"))
    receiver.hang_once.add("/hook")  # the first worker's attempt never gets an answer
    [event_id] = await wf.raise_status(client, await wf.new_message(client, tenant), statuses.DELIVERED)

    doomed = await start_delivering_worker(database_url)
    try:
        await receiver.wait_for(1, "/hook", seconds=30)
    finally:
        doomed.send_signal(signal.SIGKILL)  # mid-attempt: nothing recorded, the lease held
        await doomed.wait()
    event = await wf.event_row(client, event_id)
    assert event.lease_owner is not None and event.status != SUCCEEDED
    assert await wf.attempt_rows(client, event_id) == []

    # The lease runs out (60 s, not waited for here), and the next worker delivers the event.
    async with session_maker(client.app.state.runtime.engine)() as session:
        expired = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
        await session.execute(update(WebhookEvent).where(WebhookEvent.id == event_id).values(lease_until=expired))
        await session.commit()
    survivor = await start_delivering_worker(database_url)
    try:
        first, second = await receiver.wait_for(2, "/hook", seconds=30)

        async def delivered() -> WebhookEvent:
            event = await wf.event_row(client, event_id)
            assert event.status == SUCCEEDED and event.lease_owner is None
            return event

        event = await eventually(delivered)
    finally:
        survivor.send_signal(signal.SIGTERM)
        await survivor.wait()
    assert first.event_id == second.event_id == str(event_id)
    [attempt] = await wf.attempt_rows(client, event_id)
    assert attempt.response_status == 200
    assert uuid.UUID(hook["id"]) == event.webhook_id
