"""The event tail (gateway.events.tail): a tenant's events as they are committed, to this process's listeners,
none missed or repeated although transactions commit out of occurred_at order."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import msgspec
import pytest
from sqlalchemy import select

from channels.base import StatusReport
from gateway.events import tail as tail_module
from gateway.lib.clock import now
from gateway.models import MessageEvent
from gateway.store import messages as store_messages
from gateway.webhooks.payloads import StatusEvent
from tests.conftest import eventually
from tests.integration.conftest import send_sms, tenant_on
from tests.integration.test_message_waits import user_writes


async def next_events(subscription, count: int, seconds: float = 15) -> list:
    events = []
    async with asyncio.timeout(seconds):
        while len(events) < count:
            events.append(await subscription.next())
    return events


async def test_a_subscriber_gets_its_tenant_s_events_shaped_as_the_webhooks(server):
    tenant, other = await tenant_on(server), await tenant_on(server)
    tail = server.app.state.runtime.event_tail
    async with tail.subscribe(uuid.UUID(tenant.id)) as subscription:
        await send_sms(server, other)
        message_id = await send_sms(server, tenant)
        events = await next_events(subscription, 3)
        assert [e.kind for e in events] == ["Ready", "Sent", "Delivered"]
        assert {str(e.message_id) for e in events} == {message_id}
        assert [e.sequence for e in events] == [1, 2, 3]
        delivered = msgspec.convert(events[2].payload, StatusEvent)  # the webhooks' schema
        assert delivered.message_id == uuid.UUID(message_id) and delivered.delivery_status == "Delivered"
        assert events[0].payload["deliveryStatus"] == "Ready" and events[0].payload["sequence"] == 1
        assert len({e.cursor for e in events}) == 3
        await asyncio.sleep(0.5)  # nothing more: the other tenant's events, and no repeats
        assert await subscription.next(0) is None
    assert tail.subscribers == 0

    def stopped() -> None:  # nobody listens: it stopped reading
        assert tail._task is None  # noqa: SLF001

    await eventually(stopped, seconds=5)


async def event_ids(server, message_ids: list[str]) -> set[uuid.UUID]:
    async with server.app.state.runtime.sessions() as session:
        found = await session.scalars(
            select(MessageEvent.id).where(MessageEvent.message_id.in_([uuid.UUID(m) for m in message_ids]))
        )
        return set(found)


async def test_only_the_tenants_listened_to_are_read(server):
    """Another tenant's events are not read at all (neither their ids nor their rows), however busy it is, and
    a status event's row leaves the message's content unread; a tenant listened to later starts from then,
    though the tail was already running."""
    tenant, busy = await tenant_on(server), await tenant_on(server)
    tail = server.app.state.runtime.event_tail
    async with tail.subscribe(uuid.UUID(tenant.id)) as subscription:
        busy_messages = [await send_sms(server, busy) for _ in range(3)]
        message_id = await send_sms(server, tenant)
        events = await next_events(subscription, 3)
        assert all(event.row.content is None for event in events)  # a status event doesn't show the text
        assert events[2].payload["deliveryStatus"] == "Delivered"
        await user_writes(server, tenant, "hi there", "t-1")
        [user_message] = await next_events(subscription, 1)
        assert user_message.kind == "UserMessage" and user_message.payload["text"] == "hi there"

        async def all_busy_events() -> set[uuid.UUID]:
            ids = await event_ids(server, busy_messages)
            assert len(ids) == 9  # Ready, Sent, Delivered each
            return ids

        busy_events = await eventually(all_busy_events)
        await asyncio.sleep(3 * tail_module.READ_INTERVAL)  # reads went past them
        seen = set(tail._seen)  # noqa: SLF001  (every id the tail read in its window)
        assert await event_ids(server, [message_id]) <= seen
        assert not busy_events & seen

        async with tail.subscribe(uuid.UUID(busy.id)) as late:
            await asyncio.sleep(1)
            assert await late.next(0) is None  # its events of the window came before it listened
            another = await send_sms(server, busy)
            assert {str(event.message_id) for event in await next_events(late, 3)} == {another}
        assert await subscription.next(0) is None  # and the first tenant got none of them


async def test_an_event_committed_late_is_handed_out_once(server, monkeypatch):
    """A change whose transaction began (occurred_at) before events already handed out, committed after them."""
    tenant = await tenant_on(server)
    runtime = server.app.state.runtime
    async with runtime.event_tail.subscribe(uuid.UUID(tenant.id)) as subscription:
        message_id = await send_sms(server, tenant, destination="+447700900001")  # accepted, never reported
        ready, sent = await next_events(subscription, 2)
        assert sent.kind == "Sent"
        await asyncio.sleep(3 * tail_module.READ_INTERVAL)  # reads went past it
        late = sent.occurred_at - datetime.timedelta(seconds=1)
        monkeypatch.setattr(store_messages, "now", lambda: late)
        account = uuid.UUID(tenant.accounts["sms"])
        assert await runtime.callbacks.report(account, StatusReport("Delivered", uuid.UUID(message_id)))
        monkeypatch.setattr(store_messages, "now", now)
        [delivered] = await next_events(subscription, 1)
        assert delivered.kind == "Delivered" and delivered.occurred_at == late
        await asyncio.sleep(1)
        assert await subscription.next(0) is None  # handed out once, though read again and again


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_subscriber_that_falls_behind_is_told(server, monkeypatch):
    monkeypatch.setattr(tail_module, "MAX_QUEUED", 2)
    tenant = await tenant_on(server)
    async with server.app.state.runtime.event_tail.subscribe(uuid.UUID(tenant.id)) as subscription:
        await send_sms(server, tenant)
        await asyncio.sleep(2)
        assert subscription.lagged
        await next_events(subscription, 2)
        with pytest.raises(tail_module.Lagged):
            await subscription.next(1)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_transaction_held_open_across_reads_is_not_missed(server):
    """Two real transactions: the first to change a status commits last, after the tail handed out the other."""
    tenant = await tenant_on(server)
    runtime = server.app.state.runtime
    async with runtime.event_tail.subscribe(uuid.UUID(tenant.id)) as subscription:
        first = await send_sms(server, tenant, destination="+447700900001")  # both stay Sent
        second = await send_sms(server, tenant, destination="+447700910001")
        await next_events(subscription, 4)  # their Ready and Sent
        async with runtime.sessions() as held:
            await store_messages.change_statuses(held, [store_messages.StatusChange(uuid.UUID(first), "Delivered")])
            account = uuid.UUID(tenant.accounts["sms"])
            assert await runtime.callbacks.report(account, StatusReport("Delivered", uuid.UUID(second)))
            [other] = await next_events(subscription, 1)
            assert str(other.message_id) == second
            await asyncio.sleep(5 * tail_module.READ_INTERVAL)  # reads went past the held change's occurred_at
            await held.commit()
        [late] = await next_events(subscription, 1)
        assert str(late.message_id) == first and late.kind == "Delivered" and late.occurred_at < other.occurred_at
        await asyncio.sleep(1)
        assert await subscription.next(0) is None
