"""GET /api/v1/events: the tenant's message events as server-sent events, over real HTTP (uvicorn)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import msgspec
import pytest

from channels.base import StatusReport
from gateway.events import stream as stream_module
from gateway.lib.clock import now
from gateway.store import messages as store_messages
from gateway.webhooks.payloads import StatusEvent, UserMessageEvent
from tests.conftest import assert_problem, eventually
from tests.integration.conftest import send_sms, tenant_on


@dataclass
class Sse:
    """What an SSE client saw: the events (type, id, data) and the comments, in order."""

    lines: AsyncIterator[str]
    events: list[dict] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    async def until(self, done, seconds: float = 15) -> list[dict]:
        """Reads until ``done(self)`` holds; the events so far."""
        current: dict = {}
        async with asyncio.timeout(seconds):
            while not done(self):
                line = await anext(self.lines)
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                elif line:
                    name, _, value = line.partition(": ")
                    current[name] = value
                elif current:
                    self.events.append({**current, "data": json.loads(current["data"])})
                    current = {}
        return self.events


@contextlib.asynccontextmanager
async def listening(client: httpx.AsyncClient, headers: dict, query: str = "", **extra: str) -> AsyncIterator[Sse]:
    """An open stream, once it said it listens."""
    async with client.stream("GET", f"/api/v1/events{query}", headers={**headers, **extra}, timeout=30) as answer:
        assert answer.status_code == 200, await answer.aread()
        assert answer.headers["content-type"].startswith("text/event-stream")
        sse = Sse(answer.aiter_lines())
        await sse.until(lambda s: "listening" in s.comments)
        yield sse


def kinds(events: list[dict], message_id: str | None = None) -> list[str]:
    return [e["event"] for e in events if message_id in (None, e["data"]["messageId"])]


async def test_a_tenant_sees_its_messages_change_and_its_users_write(server):
    tenant, other = await tenant_on(server), await tenant_on(server)
    async with listening(server, tenant.key) as sse:
        await send_sms(server, other)
        message_id = await send_sms(server, tenant)
        user = {"trafficAccountId": tenant.accounts["sms"], "from": "447700900123", "text": "STOP", "msgid": "u-1"}
        assert (await server.post("/sandbox/sms/inbound", json=user)).status_code == 200
        events = await sse.until(lambda s: len(s.events) >= 4)
    assert kinds(events, message_id) == ["Ready", "Sent", "Delivered"]
    [said] = [e for e in events if e["event"] == "UserMessage"]
    assert msgspec.convert(said["data"], UserMessageEvent).text == "STOP"
    for event in events:  # the webhooks' payloads, each with an id of its own
        if event["event"] != "UserMessage":
            assert event["data"]["deliveryStatus"] == event["event"]
            msgspec.convert({**event["data"], "event": "Read", "deliveryStatus": "Read"}, StatusEvent)
    assert len({e["id"] for e in events}) == len(events)
    assert {e["data"]["trafficAccountId"] for e in events} == {tenant.accounts["sms"]}  # not the other tenant's


async def test_resuming_with_last_event_id_replays_what_came_after(server):
    tenant = await tenant_on(server)
    async with listening(server, tenant.key) as sse:
        first = await send_sms(server, tenant)
        events = await sse.until(lambda s: kinds(s.events, first)[-1:] == ["Delivered"])
    ready = events[0]
    # Away: a message goes through while nobody listens.
    second = await send_sms(server, tenant)
    await eventually(lambda: _delivered(server, tenant, second))
    for resume in ({"Last-Event-ID": ready["id"]}, {}):
        query = "" if resume else f"?lastEventId={ready['id']}"
        async with listening(server, tenant.key, query, **resume) as again:
            replayed = await again.until(lambda s: kinds(s.events, second)[-1:] == ["Delivered"])
        # At least once: what came after the event named, the earlier ones (of the seconds before) again, same ids.
        assert kinds(replayed, first) == ["Ready", "Sent", "Delivered"] and kinds(replayed, second)[0] == "Ready"
        assert {e["id"]: e["data"] for e in events} == {
            e["id"]: e["data"] for e in replayed if e["data"]["messageId"] == first
        }


async def _delivered(server, tenant, message_id: str) -> None:
    answer = await server.get(f"/api/v1/Message/{message_id}", headers=tenant.key)
    assert answer.json()["deliveryStatus"] == "Delivered"


async def test_a_resume_gets_an_event_committed_after_the_one_it_names(server, monkeypatch):
    """The event of a transaction that began before the last event the client saw, committed after it."""
    tenant = await tenant_on(server)
    async with listening(server, tenant.key) as sse:
        message_id = await send_sms(server, tenant, destination="+447700900001")  # never reported: stays Sent
        last = (await sse.until(lambda s: kinds(s.events) == ["Ready", "Sent"]))[-1]
    late = datetime.datetime.fromisoformat(last["data"]["occurredAt"][:26] + "+00:00") - datetime.timedelta(seconds=2)
    monkeypatch.setattr(store_messages, "now", lambda: late)
    runtime = server.app.state.runtime
    report = StatusReport("Delivered", uuid.UUID(message_id))
    assert await runtime.callbacks.report(uuid.UUID(tenant.accounts["sms"]), report)
    monkeypatch.setattr(store_messages, "now", now)
    async with listening(server, tenant.key, **{"Last-Event-ID": last["id"]}) as again:
        replayed = await again.until(lambda s: len(s.events) >= 3)
    assert kinds(replayed) == ["Delivered", "Ready", "Sent"]  # in order of occurrence


async def test_a_traffic_account_s_events_only(server):
    tenant = await tenant_on(server, ("sms", "telegram"))
    other = await tenant_on(server)
    assert_problem(
        await server.get(f"/api/v1/events?trafficAccountId={other.accounts['sms']}", headers=tenant.key),
        404,
        "not_found",
        "trafficAccountId",
    )
    async with listening(server, tenant.key, f"?trafficAccountId={tenant.accounts['sms']}") as sse:
        chat = {"trafficAccountId": tenant.accounts["telegram"], "destination": "123456789"}
        sent = await server.post(
            "/api/v1/Message/send", json={**chat, "telegram": {"text": {"message": "hi"}}}, headers=tenant.key
        )
        assert sent.status_code == 200, sent.text
        message_id = await send_sms(server, tenant)
        events = await sse.until(lambda s: kinds(s.events)[-1:] == ["Delivered"])
    assert {e["data"]["messageId"] for e in events} == {message_id}


async def test_bad_resume_points_are_400s_naming_them(server):
    tenant = await tenant_on(server)
    for query, headers, named in (
        ("", {"Last-Event-ID": "nope"}, "Last-Event-ID"),
        ("?lastEventId=x", {}, "lastEventId"),
    ):
        answer = await server.get(f"/api/v1/events{query}", headers={**tenant.key, **headers})
        assert_problem(answer, 400, "validation_error", named)
    assert_problem(await server.get("/api/v1/events"), 401, "unauthorized")


async def test_a_quiet_stream_keeps_alive_and_a_client_that_goes_away_leaves_nothing_behind(server, monkeypatch):
    monkeypatch.setattr(stream_module, "KEEP_ALIVE_SECONDS", 0.2)
    tenant = await tenant_on(server)
    tail = server.app.state.runtime.event_tail
    async with listening(server, tenant.key) as sse:
        await sse.until(lambda s: s.comments.count("keep-alive") >= 2, seconds=5)
        assert tail.subscribers == 1
    # The client closed its connection: the stream's subscription goes, and the tail stops reading.
    await eventually(lambda: _assert_equal(tail.subscribers, 0), seconds=5)
    await eventually(lambda: _assert_equal(tail._task, None), seconds=5)  # noqa: SLF001
    tasks = {t.get_name() for t in asyncio.all_tasks()}
    assert "event tail" not in tasks


def _assert_equal(value, expected) -> None:
    assert value == expected, value


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_many_streams_at_once_hold_no_connection(server):
    tenant = await tenant_on(server)
    engine = server.app.state.runtime.engine
    async with contextlib.AsyncExitStack() as stack:
        streams = [await stack.enter_async_context(listening(server, tenant.key)) for _ in range(20)]
        message_id = await send_sms(server, tenant)
        for sse in streams:
            await sse.until(lambda s: kinds(s.events, message_id)[-1:] == ["Delivered"])

        def few_connections() -> None:  # the tail's read, the worker's loops' perhaps; never one per stream
            assert engine.pool.checkedout() <= 1, engine.pool.status()

        await eventually(few_connections, seconds=5)
