"""Timeout failover (seed 002): the next traffic account's message goes out when the active one
fails or hasn't reached the status in time; exactly one next message, whatever races."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from channels.base import StatusReport
from gateway.lib.db import create_engine, session_maker
from gateway.lib.due import MemoryDueIndex, RedisDueIndex
from gateway.messages.failover import ACTIVE, EXHAUSTED, FailoverTimers, move_on
from gateway.models import FailoverChain, Message, MessageEvent
from tests.conftest import REDIS_URL, assert_problem, eventually, make_settings
from tests.integration.conftest import dispatcher_of, message_row, tenant_on, wait_for_status

SMS = {"sender": "Acme", "text": "Hello"}
TELEGRAM = {"text": {"message": "Hello"}}
VIBER = {"type": "transactional", "text": "Hello"}
WHATSAPP = {"type": "regular", "regular": {"type": "text", "text": "Hello"}}


@pytest.fixture(autouse=True)
async def no_chains_of_other_tests(database_url: str) -> None:
    """The session's tests share a database, and the API tests' failover sends are never dispatched: their
    chains would still wait, and these tests' timers (which count and fire every pending one) take them
    for their own. Ended before each test; each test's own chains go with its tenants."""
    engine = create_engine(make_settings(database_url).database_url)
    try:
        async with engine.begin() as connection:
            ended = {"state": EXHAUSTED, "due_at": None}
            await connection.execute(update(FailoverChain).where(FailoverChain.state == ACTIVE).values(**ended))
    finally:
        await engine.dispose()


def failover(tenant: Any, *channels: str, seconds: int = 20, status: str = "Delivered") -> dict:
    accounts = [tenant.accounts[channel] for channel in channels]
    return {
        "type": "Timeout",
        "timeoutFailover": {"timeoutInSeconds": seconds, "status": status, "trafficAccounts": accounts},
    }


async def send_chain(client: httpx.AsyncClient, tenant: Any, destination: str, **options: Any) -> list[str]:
    body = {
        "destination": destination,
        "sms": SMS,
        "telegram": TELEGRAM,
        "failover": failover(tenant, "sms", "telegram", **options),
    }
    response = await client.post("/api/v1/Message/send", json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    ids = response.json()
    assert isinstance(ids, list) and len(ids) == 2  # seed 002: the chain's ids, in order
    return ids


def timers_of(client: httpx.AsyncClient, clock: Any, index: Any = None) -> FailoverTimers:
    return FailoverTimers(session_maker(client.app.state.runtime.engine), index or MemoryDueIndex(), clock=clock)  # type: ignore[attr-defined]


async def chain_row(client: httpx.AsyncClient, message_id: str) -> FailoverChain:
    async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
        message = await session.get(Message, uuid.UUID(message_id))
        assert message is not None and message.failover_chain_id is not None
        chain = await session.get(FailoverChain, message.failover_chain_id)
        assert chain is not None
        return chain


async def ready_events(client: httpx.AsyncClient, message_id: str) -> int:
    async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
        events = await session.scalars(
            select(MessageEvent).where(MessageEvent.message_id == uuid.UUID(message_id), MessageEvent.status == "Ready")
        )
        return len(list(events))


def later(seconds: float) -> Any:
    return lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=seconds)


async def test_the_next_step_goes_out_when_the_first_times_out(server_without_worker: httpx.AsyncClient) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700900001")  # SMS: accepted, never reported
    assert (await message_row(client, second)).status == "Created"
    worker = dispatcher_of(client)
    await worker.dispatch_once()
    await wait_for_status(client, tenant, first, "Sent")
    timers = timers_of(client, later(21))
    assert await timers.put_back(overdue_only=False) == 1
    assert await timers_of(client, later(10), timers.index).fire_due() == 0  # not yet
    assert await timers.fire_due() == 1
    assert (await message_row(client, second)).status == "Ready"
    later_worker = dispatcher_of(client, clock=later(21))  # it is due at the timer's (future) time
    await later_worker.dispatch_once()
    await later_worker.http.aclose()
    await wait_for_status(client, tenant, second, "Delivered")
    detail = (await client.get(f"/api/v1/Message/{first}", headers=tenant.key)).json()
    chain = detail["failover"]
    assert chain["type"] == "Timeout" and chain["status"] == "Delivered" and chain["timeoutInSeconds"] == 20
    assert chain["state"] == "done" and chain["activeStep"] == 1
    assert [(s["messageId"], s["active"]) for s in chain["steps"]] == [(first, False), (second, True)]
    await worker.http.aclose()


async def test_an_sms_step_that_times_out_moves_on_to_a_telegram_chat_id(
    server_without_worker: httpx.AsyncClient,
) -> None:
    """SMS to a phone number, then Telegram to the user's chat id (a step with its own destination): the
    sandbox never reports the SMS (...0001), the timer fires, and the Telegram step reaches the chat."""
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))

    async def send(chat_id: str) -> list[str]:
        steps = [tenant.accounts["sms"], {"trafficAccountId": tenant.accounts["telegram"], "destination": chat_id}]
        chain = {
            "type": "Timeout",
            "timeoutFailover": {"timeoutInSeconds": 20, "status": "Delivered", "trafficAccounts": steps},
        }
        body = {"destination": "+447700900001", "sms": SMS, "telegram": TELEGRAM, "failover": chain}
        response = await client.post("/api/v1/Message/send", json=body, headers=tenant.key)
        assert response.status_code == 200, response.text
        return response.json()

    # The second chain's chat id ends in 0403 (the sandbox's blocked bot): its failure shows the chat id,
    # not the phone number, is what reached the Bot API.
    (first, second), (_, blocked) = await send("1861312834"), await send("1861310403")
    worker = dispatcher_of(client)
    await worker.dispatch_once()
    await wait_for_status(client, tenant, first, "Sent")
    timers = timers_of(client, later(21))
    assert await timers.put_back(overdue_only=False) == 2
    assert await timers.fire_due() == 2
    later_worker = dispatcher_of(client, clock=later(21))
    await later_worker.dispatch_once()
    await later_worker.http.aclose()
    await worker.http.aclose()
    delivered = await wait_for_status(client, tenant, second, "Delivered")
    assert delivered["destination"] == "1861312834" and delivered["channel"] == "telegram"
    failed = await wait_for_status(client, tenant, blocked, "Failed")
    assert failed["errorCode"] == "telegram.403"
    chain = delivered["failover"]
    assert chain["state"] == "done" and chain["activeStep"] == 1
    assert [(s["destination"], s["deliveryStatus"]) for s in chain["steps"]] == [
        ("+447700900001", "Sent"),
        ("1861312834", "Delivered"),
    ]
    # The user answers on Telegram: the reply joins the conversation of the step sent to their chat.
    user = {"trafficAccountId": tenant.accounts["telegram"], "from": "1861312834", "text": "Got it"}
    answer = (await client.post("/sandbox/telegram/inbound", json=user)).json()
    assert answer["gatewayStatus"] == 200, answer
    replies = await client.get("/api/v1/Messages", params={"direction": "inbound"}, headers=tenant.key)
    [reply] = replies.json()["items"]
    assert reply["messageId"] == answer["messageId"]
    assert reply["conversationId"] == delivered["conversation"]["id"]


async def send_read_chain(client: httpx.AsyncClient, tenant: Any, destination: str) -> list[str]:
    """A chain waiting for Read: Viber first, then WhatsApp (both report Read, for receivers ending in 0002)."""
    body = {
        "destination": destination,
        "viber": VIBER,
        "whatsapp": WHATSAPP,
        "failover": failover(tenant, "viber", "whatsapp", status="Read"),
    }
    response = await client.post("/api/v1/Message/send", json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_chain_waiting_for_read_moves_on_from_a_step_only_delivered(
    server_without_worker: httpx.AsyncClient,
) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("viber", "whatsapp"))
    first, second = await send_read_chain(client, tenant, "447700900123")  # Delivered, never Read
    worker = dispatcher_of(client)
    await worker.dispatch_once(limit=1000)
    await wait_for_status(client, tenant, first, "Delivered")
    assert (await chain_row(client, first)).state == "active"  # Delivered is not Read
    timers = timers_of(client, later(21))
    assert await timers.put_back(overdue_only=False) >= 1
    assert await timers.fire_due() == 1
    assert (await message_row(client, second)).status == "Ready"
    later_worker = dispatcher_of(client, clock=later(21))
    await later_worker.dispatch_once(limit=1000)
    await wait_for_status(client, tenant, second, "Delivered")
    chain = await chain_row(client, first)
    assert (chain.state, chain.active_step) == ("active", 1)  # the last step, still waiting for Read
    for dispatcher in (worker, later_worker):
        await dispatcher.http.aclose()


async def test_read_ends_a_chain_waiting_for_read(server_without_worker: httpx.AsyncClient) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("viber", "whatsapp"))
    first, second = await send_read_chain(client, tenant, "447700900002")  # delivered, then seen
    worker = dispatcher_of(client)
    await worker.dispatch_once(limit=1000)
    await wait_for_status(client, tenant, first, "Read")
    assert (await chain_row(client, first)).state == "done"
    timers = timers_of(client, later(60))
    await timers.index.schedule({str((await chain_row(client, first)).id): 0.0})  # a timer that fires anyway
    assert await timers.fire_due() == 0
    assert (await message_row(client, second)).status == "Created"
    await worker.http.aclose()


async def test_an_early_failure_moves_on_at_once(server_without_worker: httpx.AsyncClient) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700901027")  # SMS: undelivered, error 27
    worker = dispatcher_of(client)
    await worker.dispatch_once()
    await wait_for_status(client, tenant, first, "Failed")
    assert (await message_row(client, second)).status == "Ready"  # no timer needed
    await worker.dispatch_once()
    await wait_for_status(client, tenant, second, "Delivered")
    await worker.http.aclose()


async def test_a_step_activated_by_a_report_is_sent_without_waiting_for_a_poll(
    server_without_worker: httpx.AsyncClient,
) -> None:
    """The report that fails a step (a provider's callback) makes the next one Ready and says so: the
    dispatch loop, polling only every minute, sends it at once."""
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    worker = dispatcher_of(client, work_due=client.app.state.runtime.work_due)  # type: ignore[attr-defined]
    stop = asyncio.Event()
    loop = asyncio.create_task(worker.run(stop, poll_seconds=60))
    first, second = await send_chain(client, tenant, "447700901027")  # SMS: sent, then reported undelivered
    await wait_for_status(client, tenant, second, "Sent", "Delivered", seconds=10)
    stop.set()
    await loop
    await worker.http.aclose()
    async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
        history = (
            await session.execute(
                select(MessageEvent.status, MessageEvent.occurred_at)
                .where(MessageEvent.message_id == uuid.UUID(second))
                .order_by(MessageEvent.sequence)
            )
        ).all()
    assert (await message_row(client, first)).status == "Failed"
    statuses = [status for status, _ in history]
    assert statuses[:2] == ["Created", "Ready"] and statuses[2] in ("Sent", "Delivered"), statuses
    waited = (history[2].occurred_at - history[1].occurred_at).total_seconds()  # made Ready, then sent
    assert waited < 0.5, f"the activated step waited {waited:.3f} s to be sent"


async def test_success_before_the_timeout_sends_nothing_more(server_without_worker: httpx.AsyncClient) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700900123")
    worker = dispatcher_of(client)
    await worker.dispatch_once()
    await wait_for_status(client, tenant, first, "Delivered")
    timers = timers_of(client, later(60))
    await timers.index.schedule({str((await chain_row(client, first)).id): 0.0})  # a timer that fires anyway
    assert await timers.fire_due() == 0
    assert (await chain_row(client, first)).state == "done"
    assert (await message_row(client, second)).status == "Created"
    await worker.http.aclose()


async def test_a_timer_fired_twice_sends_one_next_message(server_without_worker: httpx.AsyncClient) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700900001")
    chain = await chain_row(client, first)
    at = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=30)

    async def fire() -> Any:
        async with session_maker(client.app.state.runtime.engine)() as session:  # type: ignore[attr-defined]
            moved, _ = await move_on(session, [chain.id], at, from_step=0)
            await session.commit()
            return moved.get(chain.id)

    outcomes = await asyncio.gather(*(fire() for _ in range(5)))
    assert sum(due is not None for due in outcomes) == 1
    assert await ready_events(client, second) == 1
    assert (await chain_row(client, first)).active_step == 1


async def test_a_report_racing_the_timer_sends_at_most_one_next_message(
    server_without_worker: httpx.AsyncClient,
) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700900001")
    worker = dispatcher_of(client)
    await worker.dispatch_once()
    await wait_for_status(client, tenant, first, "Sent")
    timers = timers_of(client, later(21))
    await timers.put_back(overdue_only=False)
    account = uuid.UUID(tenant.accounts["sms"])
    report = StatusReport(status="Delivered", message_id=uuid.UUID(first))
    await asyncio.gather(timers.fire_due(), client.app.state.runtime.callbacks.report(account, report))  # type: ignore[attr-defined]
    chain = await chain_row(client, first)
    assert chain.state == "done"  # the report ended it, before or after the timer moved it on
    assert await ready_events(client, second) <= 1
    await worker.http.aclose()


async def test_timers_come_back_after_a_redis_flush(
    server_without_worker: httpx.AsyncClient, redis_client: Any
) -> None:
    from redis.asyncio import Redis

    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700900001")
    redis = Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/11")
    index = RedisDueIndex(redis, f"test:failover:{uuid.uuid4()}")
    timers = timers_of(client, later(21), index)
    await timers.put_back(overdue_only=False)
    assert await index.size() >= 1
    await redis.delete(index.key)  # what a flush does to it
    assert await timers.fire_due() == 0  # nothing in the index...
    await timers.put_back(overdue_only=True)  # ...until the reconciler puts the overdue timer back
    assert await timers.fire_due() == 1
    assert (await message_row(client, second)).status == "Ready"
    await redis.delete(index.key)
    await redis.aclose()


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_an_index_tells_the_next_due_time_and_settles_in_one_call(kind: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/11")
    index = RedisDueIndex(redis, f"test:due:{uuid.uuid4()}") if kind == "redis" else MemoryDueIndex()
    try:
        assert await index.take(100.0, 10, 30) == ({}, None)
        await index.schedule({"a": 10.5, "b": 20.25, "c": 40.125})
        assert await index.take(15.0, 10, 30) == ({"a": 10.5}, 20.25)  # a is held until 45 meanwhile
        assert await index.take(30.0, 10, 30) == ({"b": 20.25}, 40.125)
        await index.settle({"b": 35.0}, ["a"])  # b due again, a done
        assert await index.take(36.0, 10, 30) == ({"b": 35.0}, 40.125)
        await index.settle({}, ["b", "c"])
        assert await index.size() == 0
    finally:
        if kind == "redis":
            await redis.delete(index.key)
        await redis.aclose()


async def test_timers_fire_while_a_slow_full_reconcile_runs(server_without_worker: httpx.AsyncClient) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700900001")
    timers = timers_of(client, later(21))
    await timers.put_back(overdue_only=False)
    full_reconcile_began, release = asyncio.Event(), asyncio.Event()
    put_back = timers.put_back

    async def slow_put_back(overdue_only: bool) -> int:
        if not overdue_only:  # reading 100k pending timers takes seconds
            full_reconcile_began.set()
            await release.wait()
        return await put_back(overdue_only)

    timers.put_back = slow_put_back  # type: ignore[method-assign]
    stop = asyncio.Event()
    loop = asyncio.create_task(timers.run(stop, poll_seconds=0.01))
    await asyncio.wait_for(full_reconcile_began.wait(), 5)

    async def fired() -> None:  # without waiting for the reconcile
        assert (await message_row(client, second)).status == "Ready"

    await eventually(fired, interval=0.02)
    release.set()
    stop.set()
    await asyncio.wait_for(loop, 5)


async def test_the_loop_wakes_when_the_next_timer_is_due_not_at_its_poll(
    server_without_worker: httpx.AsyncClient,
) -> None:
    """The index tells the loop when its next timer is due: one due in 0.3 s fires then, though the loop
    polls only every 30 s."""
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700900001")
    clock = later(21)  # the chain's own 20 s timeout has passed by this clock
    timers = timers_of(client, clock)
    await timers.index.schedule({str((await chain_row(client, first)).id): clock().timestamp() + 0.3})
    stop = asyncio.Event()
    loop = asyncio.create_task(timers.run(stop, poll_seconds=30))
    began = asyncio.get_running_loop().time()

    async def fired() -> None:
        assert (await message_row(client, second)).status == "Ready"

    await eventually(fired, interval=0.02)
    assert asyncio.get_running_loop().time() - began < 5  # not at the 30 s poll
    stop.set()
    await loop


async def test_untriggered_steps_are_purged_after_the_retention(server_without_worker: httpx.AsyncClient) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    first, second = await send_chain(client, tenant, "447700900123")
    assert await timers_of(client, later(59 * 86400)).purge_untriggered() == 0
    assert await timers_of(client, later(61 * 86400)).purge_untriggered() >= 1
    assert await message_row(client, second) is None
    assert await message_row(client, first) is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "Read"}, "failover.timeoutFailover.trafficAccounts[0]"),  # SMS never reports Read
        ({"timeoutInSeconds": 0}, "failover.timeoutFailover.timeoutInSeconds"),
        ({"status": "Sent"}, "failover.timeoutFailover.status"),
        ({"trafficAccounts": ["x"]}, "failover.timeoutFailover.trafficAccounts"),
    ],
)
async def test_a_bad_failover_is_refused_naming_the_field(
    server_without_worker: httpx.AsyncClient, change: dict, field: str
) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    chain = failover(tenant, "sms", "telegram")
    chain["timeoutFailover"].update(change)
    body = {"destination": "447700900123", "sms": SMS, "telegram": TELEGRAM, "failover": chain}
    problem = assert_problem(
        await client.post("/api/v1/Message/send", json=body, headers=tenant.key), 400, "validation_error", field
    )
    assert problem


async def test_a_missing_block_and_an_unknown_account_are_named(server_without_worker: httpx.AsyncClient) -> None:
    client = server_without_worker
    tenant = await tenant_on(client, ("sms", "telegram"))
    body = {"destination": "447700900123", "sms": SMS, "failover": failover(tenant, "sms", "telegram")}
    assert_problem(
        await client.post("/api/v1/Message/send", json=body, headers=tenant.key), 400, "validation_error", "telegram"
    )
    chain = failover(tenant, "sms", "telegram")
    chain["timeoutFailover"]["trafficAccounts"][1] = str(uuid.uuid4())
    body = {"destination": "447700900123", "sms": SMS, "telegram": TELEGRAM, "failover": chain}
    response = await client.post("/api/v1/Message/send", json=body, headers=tenant.key)
    assert_problem(response, 404, "not_found", "failover.timeoutFailover.trafficAccounts[1]")


async def test_the_embedded_scheduler_fires_on_time(server: httpx.AsyncClient) -> None:
    """No Redis: the server's own loop keeps the timers (after a real 5 s timeout)."""
    tenant = await tenant_on(server, ("sms", "telegram"))
    first, second = await send_chain(server, tenant, "447700900001", seconds=5)
    body = (
        await server.post(
            "/api/v1.1/Messages/send",
            json={
                "destination": "447700900002",
                "sms": SMS,
                "telegram": TELEGRAM,
                "failover": failover(tenant, "sms", "telegram"),
            },
            headers=tenant.key,
        )
    ).json()
    assert [m["trafficAccountId"] for m in body["messages"]] == [tenant.accounts["sms"], tenant.accounts["telegram"]]
    await wait_for_status(server, tenant, first, "Sent")
    assert (await message_row(server, second)).status == "Created"
    await wait_for_status(server, tenant, second, "Delivered", seconds=12)
