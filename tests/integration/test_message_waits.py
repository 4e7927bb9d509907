"""The long-polls: GET /api/v1/Messages/{id}/wait (a status) and GET /api/v1/Messages/wait (the next message).
They hold no database connection while they wait; a change made by another process ends them too."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from gateway.lib import db
from tests.conftest import assert_problem, eventually
from tests.integration.conftest import free_port, send_sms, serve, start_worker, tenant_on
from tests.integration.test_worker_callbacks import until_healthy


async def user_writes(server, tenant, text: str, msgid: str) -> None:
    user = {"trafficAccountId": tenant.accounts["sms"], "from": "447700900123", "text": text, "msgid": msgid}
    answer = await server.post("/sandbox/sms/inbound", json=user)
    assert answer.status_code == 200 and answer.json()["gatewayStatus"] == 200, answer.text


async def test_a_wait_answers_when_the_message_is_delivered(server):
    tenant = await tenant_on(server)
    message_id = await send_sms(server, tenant)
    answer = await server.get(
        f"/api/v1/Messages/{message_id}/wait?status=Delivered,Read&timeout=15", headers=tenant.key
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["messageId"] == message_id and body["deliveryStatus"] == "Delivered"
    assert [c["status"] for c in body["statusHistory"]] == ["Ready", "Sent", "Delivered"]  # GET /Message/{id}'s shape
    # Already there (or past it: Sent): at once, in any case.
    started = time.monotonic()
    again = await server.get(f"/api/v1/message/{message_id}/wait?status=sent&timeout=15", headers=tenant.key)
    assert again.status_code == 200 and again.json()["deliveryStatus"] == "Delivered"
    assert time.monotonic() - started < 1


async def test_a_wait_times_out_with_the_status_and_ends_where_nothing_can_follow(server):
    tenant = await tenant_on(server)
    silent = await send_sms(server, tenant, destination="+447700900001")  # accepted, never reported: stays Sent
    started = time.monotonic()
    answer = await server.get(f"/api/v1/Messages/{silent}/wait?status=Delivered&timeout=1", headers=tenant.key)
    assert 1 <= time.monotonic() - started < 3
    assert assert_problem(answer, 408, "wait_timeout")["deliveryStatus"] in ("Ready", "Sent")
    failed = await send_sms(server, tenant, destination="+447700901027")  # absent subscriber: Failed
    started = time.monotonic()
    answer = await server.get(f"/api/v1/Messages/{failed}/wait?status=Delivered,Read&timeout=30", headers=tenant.key)
    body = assert_problem(answer, 409, "wait_unreachable")
    assert body["deliveryStatus"] == "Failed" and time.monotonic() - started < 10
    delivered = await send_sms(server, tenant)
    answer = await server.get(f"/api/v1/Messages/{delivered}/wait?status=Failed&timeout=30", headers=tenant.key)
    assert assert_problem(answer, 409, "wait_unreachable")["deliveryStatus"] == "Delivered"


async def test_a_wait_answers_the_same_whenever_it_starts(server):
    """Decided by the message's status history, not by its status when the wait starts: a message that was Sent
    and then Failed was Sent, as a wait for Sent under way when it was sent saw."""
    tenant = await tenant_on(server)
    failed = await send_sms(server, tenant, destination="+447700901027")  # Sent, then an absent subscriber
    wait = f"/api/v1/Messages/{failed}/wait?timeout=15&status="
    answer = await server.get(wait + "Failed", headers=tenant.key)
    assert [c["status"] for c in answer.json()["statusHistory"]] == ["Ready", "Sent", "Failed"]
    for wanted in ("Sent", "Ready", "Delivered,Sent"):
        answer = await server.get(wait + wanted, headers=tenant.key)
        assert answer.status_code == 200, (wanted, answer.text)
        assert answer.json()["deliveryStatus"] == "Failed"
    assert assert_problem(await server.get(wait + "Delivered", headers=tenant.key), 409, "wait_unreachable")


async def test_the_waits_name_what_is_wrong(server):
    tenant, other = await tenant_on(server), await tenant_on(server)
    message_id = await send_sms(server, tenant)
    wait = f"/api/v1/Messages/{message_id}/wait"
    for query, named in (
        ("?status=Delivered,Posted", "status"),
        ("?status=", "status"),
        ("", "status"),
        ("?status=Delivered&timeout=121", "timeout"),
        ("?status=Delivered&timeout=-1", "timeout"),
        ("?status=Delivered&timeout=soon", "timeout"),
    ):
        assert_problem(await server.get(wait + query, headers=tenant.key), 400, "validation_error", named)
    assert_problem(await server.get(f"{wait}?status=Read", headers=other.key), 404, "not_found")
    assert_problem(
        await server.get("/api/v1/Messages/wait?after=nope", headers=tenant.key), 400, "validation_error", "after"
    )
    assert_problem(
        await server.get(f"/api/v1/Messages/wait?trafficAccountId={other.accounts['sms']}", headers=tenant.key),
        404,
        "not_found",
        "trafficAccountId",
    )
    assert_problem(
        await server.get("/api/v1/Messages/wait?direction=sideways", headers=tenant.key),
        400,
        "validation_error",
        "direction",
    )


async def test_waiting_for_the_next_user_message(server):
    tenant = await tenant_on(server)
    account = tenant.accounts["sms"]
    await user_writes(server, tenant, "before", "m-0")  # before the wait: not the next one
    wait = f"/api/v1/Messages/wait?trafficAccountId={account}&direction=inbound&timeout=15"
    waiting = asyncio.create_task(server.get(wait, headers=tenant.key, timeout=30))
    await asyncio.sleep(0.5)
    await send_sms(server, tenant)  # outbound: not what it waits for
    await user_writes(server, tenant, "first", "m-1")
    answer = await waiting
    assert answer.status_code == 200, answer.text
    first = answer.json()
    assert first["message"]["text"] == "first" and first["message"]["direction"] == "inbound"
    # From its cursor: one that is already there answers at once, then the wait times out.
    await user_writes(server, tenant, "second", "m-2")
    after = f"/api/v1/Messages/wait?trafficAccountId={account}&direction=inbound&timeout=1&after="
    second = (await server.get(after + first["nextCursor"], headers=tenant.key)).json()
    assert second["message"]["text"] == "second"
    assert_problem(await server.get(after + second["nextCursor"], headers=tenant.key), 408, "wait_timeout")
    # The Messages list's cursor is the same kind of place.
    listed = (await server.get("/api/v1/Messages?direction=inbound&limit=1", headers=tenant.key)).json()
    third = (await server.get(after + listed["nextCursor"], headers=tenant.key)).json()
    assert third["message"]["text"] == "first"


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_more_waiters_than_connections_and_sends_still_go_through(database_url, monkeypatch):
    monkeypatch.setattr(db, "POOL_SIZE", 4)  # the server's engine: 4 connections, no overflow
    async with serve(database_url) as server:
        tenant = await tenant_on(server)
        account = tenant.accounts["sms"]
        silent = await send_sms(server, tenant, destination="+447700900001")
        waits = [f"/api/v1/Messages/wait?trafficAccountId={account}&direction=inbound&timeout=30"] * 6
        waits += [f"/api/v1/Messages/{silent}/wait?status=Delivered&timeout=30"] * 6
        waiting = [asyncio.create_task(server.get(url, headers=tenant.key, timeout=60)) for url in waits]
        runtime = server.app.state.runtime

        def all_waiting_on_nothing() -> None:
            assert runtime.event_tail.subscribers == len(waits)
            # Once they have read what they wait on: none holds a connection (the tail's read, or the worker's
            # loops' might be under way).
            assert runtime.engine.pool.checkedout() <= 1, runtime.engine.pool.status()

        await eventually(all_waiting_on_nothing, seconds=10)
        started = time.monotonic()
        sent = await send_sms(server, tenant)  # needs a connection: the waiters hold none
        assert time.monotonic() - started < 5
        await user_writes(server, tenant, "hello", "w-1")
        answers = await asyncio.gather(*waiting[:6])
        assert {a.json()["message"]["text"] for a in answers} == {"hello"}
        assert not any(task.done() for task in waiting[6:])
        for task in waiting[6:]:
            task.cancel()
        await asyncio.gather(*waiting[6:], return_exceptions=True)
        assert sent


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_status_changed_by_a_worker_process_ends_the_wait(database_url):
    port = free_port()
    callbacks = f"http://127.0.0.1:{port}"
    async with serve(database_url, worker_in_server=False, callback_url=callbacks) as api:
        env = {"GATEWAY_PUBLIC_URL": str(api.base_url).rstrip("/"), "GATEWAY_CALLBACK_URL": callbacks}
        worker = await start_worker(
            database_url, "--callbacks-port", str(port), env=env, stderr=asyncio.subprocess.PIPE
        )
        try:
            await until_healthy(callbacks, worker)
            tenant = await tenant_on(api)
            message_id = await send_sms(api, tenant)  # sent by the worker, reported to the worker
            wait = f"/api/v1/Messages/{message_id}/wait?status=Delivered&timeout=30"
            answer = await api.get(wait, headers=tenant.key, timeout=60)
            assert answer.status_code == 200, answer.text
            assert answer.json()["deliveryStatus"] == "Delivered"
        finally:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
            await asyncio.wait_for(worker.wait(), 30)
