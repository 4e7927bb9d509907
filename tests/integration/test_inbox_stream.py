"""The inbox's live updates (/inbox/events) are GET /api/v1/events's stream, over real HTTP (uvicorn): the same
events, named by kind, after an event "listening" a page's script can see (the API's is a comment)."""

from __future__ import annotations

from gateway.events.stream import KINDS
from tests.api.test_inbox import csrf_token
from tests.conftest import new_tenant
from tests.integration.conftest import send_sms
from tests.integration.test_events_stream import Sse, kinds


async def test_the_inbox_streams_the_apis_events_after_a_listening_event(server):
    tenant = await new_tenant(server, ("sms",))
    page = await server.get("/inbox/login")
    form = {"email": tenant.email, "password": tenant.password, "_csrf_token": csrf_token(page)}
    assert (await server.post("/inbox/login", data=form)).status_code == 303
    home = await server.get("/inbox/")
    assert f'data-events="{" ".join(KINDS)}"' in home.text  # the names the page's script listens for
    async with server.stream("GET", "/inbox/events", timeout=30) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.aiter_lines()
        assert [await anext(lines), await anext(lines)] == ["event: listening", "data: "]
        sse = Sse(lines)
        message_id = await send_sms(server, tenant)
        events = await sse.until(lambda s: len(kinds(s.events, message_id)) >= 3)
    assert kinds(events, message_id) == ["Ready", "Sent", "Delivered"]
    assert events[-1]["data"]["deliveryStatus"] == "Delivered"  # the webhooks' payload, as the API streams it
