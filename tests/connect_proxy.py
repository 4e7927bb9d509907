"""An HTTP CONNECT proxy for the tests of egress through a proxy: on 127.0.0.1 at a port of its own, it
records each tunnel's target and Proxy-Authorization and forwards the bytes both ways. It tunnels only to
127.0.0.1 and the ports it is given (the test's own servers): nothing else is reached through it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field


@dataclass
class ConnectProxy:
    ports: set[int]
    refuse: int | None = None  # answer every CONNECT with this status
    port: int = 0
    tunnels: list[str] = field(default_factory=list)  # each CONNECT's target, as asked: host:port
    authorizations: list[str | None] = field(default_factory=list)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode("latin-1")
            request, *lines = head.split("\r\n")
            method, target, _ = request.split(" ", 2)
            headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
            self.tunnels.append(target)
            self.authorizations.append(headers.get("proxy-authorization"))
            host, _, port = target.rpartition(":")
            if method != "CONNECT" or self.refuse or host != "127.0.0.1" or int(port) not in self.ports:
                writer.write(b"HTTP/1.1 %d Refused\r\nContent-Length: 0\r\n\r\n" % (self.refuse or 403))
                return
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", int(port))
            self._writers.append(up_writer)
            writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def connect_proxy(*ports: int, refuse: int | None = None) -> AsyncIterator[ConnectProxy]:
    """A proxy that tunnels to these ports of 127.0.0.1 (or refuses every CONNECT with ``refuse``)."""
    proxy = ConnectProxy(set(ports), refuse)
    server = await asyncio.start_server(proxy._tunnel, "127.0.0.1", 0)
    proxy.port = server.sockets[0].getsockname()[1]
    try:
        yield proxy
    finally:
        server.close()
        for writer in proxy._writers:
            writer.close()
