"""An httpx transport that keeps one connection per request in flight, handed out by origin, for the
clients that send much to few hosts: the worker's provider calls, the webhook deliveries and the
sandbox providers' callbacks.

httpx's own pool (httpcore) walks every pooled connection, with a system call each, and every waiting
request whenever a request starts or ends. At 32 connections and a few hundred requests a second
that bookkeeping took more CPU than the requests themselves (py-spy: 35-45 % of the worker's and
the sandbox's CPU). Here each connection is an httpcore pool of its own of one connection, a request
takes the one last used for its origin (whose connection is likely open), and requests beyond the
limit wait on a semaphore, where waiting costs nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import httpx


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(self, size: int) -> None:
        self._size = size
        self._ssl = httpx.create_ssl_context()  # made once: each transport would load the CA store again
        self._slots = asyncio.Semaphore(size)
        self._made: list[httpx.AsyncHTTPTransport] = []
        self._idle: list[tuple[str, httpx.AsyncHTTPTransport]] = []  # least recently used first

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        origin = f"{request.url.scheme}://{request.url.netloc.decode()}"
        await self._slots.acquire()
        transport = self._take(origin)

        def give_back() -> None:
            self._idle.append((origin, transport))
            self._slots.release()

        try:
            response = await transport.handle_async_request(request)
        except BaseException:
            give_back()
            raise
        response.stream = _GiveBackOnClose(response.stream, give_back)  # type: ignore[arg-type]
        return response

    def _take(self, origin: str) -> httpx.AsyncHTTPTransport:
        # The one last used for this origin, else a new one while there are fewer than ``size``, else the
        # least recently used (httpcore closes its idle connection to open one to this origin).
        index = next((i for i in range(len(self._idle) - 1, -1, -1) if self._idle[i][0] == origin), None)
        if index is not None or len(self._made) >= self._size:
            return self._idle.pop(index or 0)[1]
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        transport = httpx.AsyncHTTPTransport(verify=self._ssl, limits=limits)
        self._made.append(transport)
        return transport

    async def aclose(self) -> None:
        for transport in self._made:
            await transport.aclose()


class _GiveBackOnClose(httpx.AsyncByteStream):
    """The response's body; closing it (httpx always does) frees its connection for the next request."""

    def __init__(self, stream: httpx.AsyncByteStream, give_back: Callable[[], None]) -> None:
        self._stream = stream
        self._give_back: Callable[[], None] | None = give_back

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._give_back is not None:
                self._give_back, give_back = None, self._give_back
                give_back()
