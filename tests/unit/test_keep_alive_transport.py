"""The shared HTTP transport (channels/transport.py): connections kept per origin, a bounded number in
flight, and a slot given back whatever became of the request. Against a real server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from channels.transport import KeepAliveTransport


@dataclass
class Server:
    port: int
    connections: int = 0  # accepted so far
    open_now: int = 0
    most_open: int = 0
    delay: float = 0.0
    writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def serve(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """HTTP/1.1 with keep-alive: answers every request on the connection with 200 and its path."""
    server.connections += 1
    server.open_now += 1
    server.most_open = max(server.most_open, server.open_now)
    server.writers.append(writer)
    try:
        while head := await reader.readuntil(b"\r\n\r\n"):
            path = head.split(b" ", 2)[1]
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            await reader.readexactly(length)
            await asyncio.sleep(server.delay)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(path), path))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        server.open_now -= 1
        writer.close()


@pytest.fixture
async def servers() -> AsyncIterator[list[Server]]:
    made, listening = [], []
    for _ in range(2):
        server = Server(port=0)
        listener = await asyncio.start_server(lambda r, w, s=server: serve(s, r, w), "127.0.0.1", 0)
        server.port = listener.sockets[0].getsockname()[1]
        made.append(server)
        listening.append(listener)
    yield made
    for listener in listening:
        listener.close()
    for server in made:
        for writer in server.writers:
            writer.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_one_connection_serves_every_request_to_an_origin(servers: list[Server]) -> None:
    async with httpx.AsyncClient(transport=KeepAliveTransport(8)) as client:
        for number in range(20):
            answer = await client.post(f"{servers[0].url}/n{number}", content=b"x")
            assert answer.text == f"/n{number}"
    assert servers[0].connections == 1


async def test_requests_beyond_the_size_wait_for_a_connection(servers: list[Server]) -> None:
    servers[0].delay = 0.02
    async with httpx.AsyncClient(transport=KeepAliveTransport(3)) as client:
        answers = await asyncio.gather(*(client.get(f"{servers[0].url}/{n}") for n in range(12)))
    assert sorted(a.text for a in answers) == sorted(f"/{n}" for n in range(12))
    assert servers[0].most_open == 3 and servers[0].connections == 3


async def test_failed_requests_give_their_slot_back(servers: list[Server]) -> None:
    async with httpx.AsyncClient(transport=KeepAliveTransport(2)) as client:
        for _ in range(5):  # more failures than slots: a leaked slot would hang the request after them
            with pytest.raises(httpx.ConnectError):
                await asyncio.wait_for(client.get(f"http://127.0.0.1:{closed_port()}/"), 5)
        servers[0].delay = 5
        with pytest.raises(httpx.ReadTimeout):  # a timeout mid-request, too
            await client.get(f"{servers[0].url}/slow", timeout=0.1)
        servers[0].delay = 0
        answer = await asyncio.wait_for(client.get(f"{servers[1].url}/after"), 5)
    assert answer.text == "/after"


async def test_a_response_read_in_part_gives_its_connection_back_once_closed(servers: list[Server]) -> None:
    transport = KeepAliveTransport(1)
    async with httpx.AsyncClient(transport=transport) as client:
        async with client.stream("GET", f"{servers[0].url}/streamed") as response:
            async for _ in response.aiter_bytes():
                break
        answer = await asyncio.wait_for(client.get(f"{servers[0].url}/next"), 5)
    assert answer.text == "/next"


async def test_a_full_transport_moves_an_idle_connection_to_another_origin(servers: list[Server]) -> None:
    async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
        for number in range(3):
            for server in servers:
                assert (await client.get(f"{server.url}/{number}")).text == f"/{number}"
    assert servers[0].connections == 3 and servers[1].connections == 3
