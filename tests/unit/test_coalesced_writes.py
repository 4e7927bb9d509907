"""The API server's transport: what one turn of the event loop writes goes out in one write."""

from __future__ import annotations

import asyncio

import httpx
import uvicorn

from gateway.lib.coalesced_writes import CoalescingHttpToolsProtocol, CoalescingTransport


class Recorded:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"info {name}"


async def test_the_writes_of_one_turn_are_one_write() -> None:
    recorded = Recorded()
    transport = CoalescingTransport(recorded)  # type: ignore[arg-type]
    transport.write(b"head ")
    transport.write(b"body")
    assert recorded.writes == [] and transport.get_write_buffer_size() == 9
    await asyncio.sleep(0)
    assert recorded.writes == [b"head body"]
    transport.write(b"next")
    await asyncio.sleep(0)
    assert recorded.writes == [b"head body", b"next"]
    assert transport.get_extra_info("peername") == "info peername"  # the rest is the transport's


async def test_closing_writes_what_was_written_first() -> None:
    recorded = Recorded()
    transport = CoalescingTransport(recorded)  # type: ignore[arg-type]
    transport.write(b"last answer")
    transport.close()
    assert recorded.writes == [b"last answer"] and recorded.closed
    await asyncio.sleep(0)
    assert recorded.writes == [b"last answer"]  # not again


async def test_a_server_answers_through_it() -> None:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body = b'{"ok":true}'
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"11")]})
        await send({"type": "http.response.body", "body": body})

    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=CoalescingHttpToolsProtocol, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            answers = [await client.get("/"), await client.post("/", content=b"x"), await client.get("/")]
        assert [(a.status_code, a.json()) for a in answers] == [(200, {"ok": True})] * 3
    finally:
        server.should_exit = True
        await serving
