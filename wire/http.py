"""An httpx transport for the clients that send much to few hosts: the worker's provider calls, the
webhook deliveries and the sandbox providers' callbacks. HTTP/1.1 over asyncio protocols, answers
parsed by httptools, one connection per request in flight, kept per origin.

Written here because httpx's own transport (httpcore) costs more CPU than the requests it makes at a
few hundred a second: its pool walks every connection with a system call per request, and each
request goes through anyio streams and h11's pure-Python parser (py-spy: 35-45 % of the worker's and
the sandbox's CPU). The clients keep httpx's API (timeouts, headers, decoding, errors); only the wire
is ours. Requests beyond the limit wait on a semaphore, where waiting costs nothing.

An operator's HTTP proxy (Proxies: GATEWAY_EGRESS_PROXY, or HTTPS_PROXY/HTTP_PROXY/ALL_PROXY/NO_PROXY)
is reached through CONNECT tunnels; httpx's own proxy support lives in the transport we replaced.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import re
import time
import urllib.request
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httptools
import httpx

log = logging.getLogger(__name__)

Origin = tuple[str, str, int]  # scheme, host (ASCII, IDNA-encoded as in the Host header), port

PAUSE_ABOVE = 256 * 1024  # bytes of an answer's body held unread before the socket stops being read
IDLE_SECONDS = 5.0  # a connection unused longer is not used again (servers close theirs; httpx's default too)
_HEADER = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FORBIDDEN_IN_VALUE = re.compile(rb"[\r\n\0]")
# A request extension: the addresses to connect to, the first that answers (directly or through a proxy's
# tunnel), instead of resolving the URL's host, which still names the server in Host and TLS
# (gateway.lib.netguard's check).
CONNECT_TO = "connect_to"


@dataclass(frozen=True, slots=True)
class Proxy:
    host: str
    port: int
    authorization: bytes  # the Proxy-Authorization header line (from the URL's userinfo), or nothing

    @classmethod
    def parse(cls, url: str) -> Proxy:
        """``http://[user:password@]host[:port]`` (no scheme: http, as curl reads it). Errors never show
        the URL: it may hold a password."""
        parsed = httpx.URL(url if "://" in url else f"http://{url}")
        if parsed.scheme != "http" or not parsed.host:
            raise ValueError(f"a proxy must be an http://host:port URL, not {parsed.scheme}://...")
        authorization = b""
        if parsed.username or parsed.password:
            credentials = base64.b64encode(f"{parsed.username}:{parsed.password}".encode())
            authorization = b"Proxy-Authorization: Basic %s\r\n" % credentials
        return cls(parsed.raw_host.decode("ascii"), parsed.port or 80, authorization)


class Proxies:
    """Which requests go through an HTTP proxy, and which one: ``proxy`` (GATEWAY_EGRESS_PROXY) for
    every target when given, else the standard variables as curl and httpx read them (HTTPS_PROXY for
    https targets, HTTP_PROXY for http ones, ALL_PROXY for both; either case). NO_PROXY's hosts go
    direct in both cases. False when no proxy is set: the transport then never asks."""

    def __init__(self, proxy: str | None = None) -> None:
        found = urllib.request.getproxies_environment()  # lower case wins, as curl has it
        self._no_proxy = {"no": found["no"]} if found.get("no") else {}
        self._by_scheme: dict[str, Proxy] = {}
        for scheme in ("http", "https"):
            if url := proxy or found.get(scheme) or found.get("all"):
                try:
                    self._by_scheme[scheme] = Proxy.parse(url)
                except (ValueError, httpx.InvalidURL) as error:
                    if proxy:  # asked for by the operator: a start that can't honour it stops
                        raise ValueError(f"GATEWAY_EGRESS_PROXY: {error}") from None
                    # A variable set for other programs (a socks5:// ALL_PROXY on a developer's machine): ours
                    # go direct rather than every command refusing to start.
                    log.warning(
                        "%s_PROXY (or ALL_PROXY) is ignored, %s requests go direct: %s", scheme.upper(), scheme, error
                    )
        self.route = functools.lru_cache(maxsize=4096)(self._route)

    def __bool__(self) -> bool:
        return bool(self._by_scheme)

    def _route(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy of requests to this origin, or None: direct."""
        proxy = self._by_scheme.get(scheme)
        authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # NO_PROXY may name host:port
        if proxy is None or urllib.request.proxy_bypass_environment(authority, self._no_proxy):
            return None
        return proxy


class DirectClient(httpx.AsyncClient):
    """httpx's client over a KeepAliveTransport that hands each request straight to it.

    ``AsyncClient.send`` wraps every request in an auth flow, a redirect loop, event hooks and a cookie
    jar. These clients (the worker's provider calls, the sandbox providers' callbacks) use none of them,
    and under load that wrapping cost as much CPU as the transport itself: without it the sandbox took
    0.21 of a core instead of 0.25 at 500 messages/s. Requests are built as usual (URL,
    headers, body, timeouts); a redirect is answered as it is, never followed. (Like any httpx client
    given its own transport, httpx reads no proxy from the environment: ``proxies`` says which.)"""

    def __init__(self, connections: int, timeout: httpx.Timeout | float, proxies: Proxies | None = None) -> None:
        self._wire = KeepAliveTransport(connections, proxies)
        super().__init__(timeout=timeout, follow_redirects=False, transport=self._wire)

    async def send(
        self,
        request: httpx.Request,
        *,
        stream: bool = False,
        auth: Any = httpx.USE_CLIENT_DEFAULT,
        follow_redirects: Any = httpx.USE_CLIENT_DEFAULT,
    ) -> httpx.Response:
        if auth is not httpx.USE_CLIENT_DEFAULT or follow_redirects is True:  # asked for: httpx's way
            return await super().send(request, stream=stream, auth=auth, follow_redirects=follow_redirects)
        if self.is_closed:
            raise RuntimeError("Cannot send a request, as the client has been closed.")
        request.extensions.setdefault("timeout", self.timeout.as_dict())  # a request built without the client
        response = await self._wire.handle_async_request(request)
        response.request = request
        if not stream:
            try:
                await response.aread()
            except BaseException:
                await response.aclose()
                raise
        return response


class KeepAliveTransport(httpx.AsyncBaseTransport):
    def __init__(self, size: int, proxies: Proxies | None = None) -> None:
        self._size = size
        self._proxies = proxies or None  # None unless a proxy is set: the direct path asks nothing
        self._ssl = httpx.create_ssl_context()  # made once: each connection would load the CA store again
        self._slots = asyncio.Semaphore(size)
        self._idle: deque[tuple[Origin, _Connection, float]] = deque()  # (.., .., idle since), least recent first
        self._open = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        url = request.url
        origin = (url.scheme, url.raw_host.decode("ascii"), url.port or _default_port(url.scheme))
        head, body = _serialized(request, await request.aread())
        try:
            async with asyncio.timeout(timeouts.get("pool")):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("no connection free in time", request=request) from None
        connection: _Connection | None = None
        try:
            connection = self._idle_connection(origin) or await self._connect(origin, timeouts.get("connect"), request)
            connection.send(head, body, request.method == "HEAD", timeouts.get("read"), request)
            await connection.drained(timeouts.get("write"))
            status, headers = await connection.head()
        except BaseException:
            if connection is not None:
                self._close(connection)
            self._slots.release()
            raise

        def give_back() -> None:
            if connection.reusable:
                connection.drop_unread()
                self._idle.append((origin, connection, time.monotonic()))
            else:
                self._close(connection)
            self._slots.release()

        stream = _Body(connection, give_back)
        return httpx.Response(status, headers=headers, stream=stream, extensions={"http_version": b"HTTP/1.1"})

    def _idle_connection(self, origin: Origin) -> _Connection | None:
        """The one last used for this origin (its server has had the least time to close it); those
        closed or idle too long are let go on the way."""
        too_old = time.monotonic() - IDLE_SECONDS
        for index in range(len(self._idle) - 1, -1, -1):
            if self._idle[index][0] == origin:
                _, connection, since = self._idle[index]
                del self._idle[index]
                if since >= too_old and not connection.closing:
                    return connection
                self._close(connection)
        return None

    async def _connect(self, origin: Origin, seconds: float | None, request: httpx.Request) -> _Connection:
        while self._open >= self._size and self._idle:  # full: the least recently used idle one makes room
            self._close(self._idle.popleft()[1])
        scheme, host, port = origin
        tls = self._ssl if scheme == "https" else None
        addresses = request.extensions.get(CONNECT_TO) or (host,)
        proxy = self._proxies.route(scheme, host, port) if self._proxies is not None else None
        self._open += 1
        try:
            async with asyncio.timeout(seconds):
                for position, address in enumerate(addresses, start=1):
                    try:  # each address in turn, as a connection by name tries each the name resolves to
                        if proxy is None:
                            _, connection = await asyncio.get_running_loop().create_connection(
                                _Connection, address, port, ssl=tls, server_hostname=host if tls else None
                            )
                        else:
                            connection = await _tunnel(proxy, address, port, tls, host, request)
                        break
                    except (OSError, httpx.ProxyError):  # refused or unreachable there: the next one, if any
                        if position == len(addresses):
                            raise
        except TimeoutError:  # ours, or the system's (an OSError too)
            self._open -= 1
            raise httpx.ConnectTimeout(f"no connection to {host}:{port} in time", request=request) from None
        except OSError as error:
            self._open -= 1
            raise httpx.ConnectError(str(error) or type(error).__name__, request=request) from None
        except BaseException:
            self._open -= 1
            raise
        return connection

    def _close(self, connection: _Connection) -> None:
        connection.close()
        self._open -= 1

    async def aclose(self) -> None:
        while self._idle:
            self._close(self._idle.popleft()[1])


async def _tunnel(proxy: Proxy, address: str, port: int, tls: Any, host: str, request: httpx.Request) -> _Connection:
    """A connection to ``address``:``port`` through a CONNECT tunnel of ``proxy``, with TLS for ``host``
    inside it when ``tls``; a proxy that refuses is an httpx.ProxyError (a transport error: transient).

    http targets are tunnelled too, not sent to the proxy in absolute form: the proxy then connects to
    the address we give while the server still sees its name in Host (a proxy replaces Host with an
    absolute-form request's authority, RFC 9112 3.2.2), which keeps the webhooks' address check
    whole; and the connection is the same as a direct one, kept per origin. The proxy must allow
    CONNECT to the target's port (squid's default allows 443 only)."""
    loop = asyncio.get_running_loop()
    transport, answer = await loop.create_connection(lambda: _ProxyAnswer(request), proxy.host, proxy.port)
    try:
        authority = (f"[{address}]:{port}" if ":" in address else f"{address}:{port}").encode("ascii")
        transport.write(b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (authority, authority, proxy.authorization))
        status = await answer.status
        if not 200 <= status < 300:
            why = f"the proxy {proxy.host}:{proxy.port} refused a tunnel to {authority.decode()}: {status}"
            raise httpx.ProxyError(why, request=request)
        connection = _Connection()
        if tls is not None:
            transport = await loop.start_tls(transport, connection, tls, server_hostname=host)
        else:
            transport.set_protocol(connection)
        connection.connection_made(transport)  # start_tls doesn't call it, set_protocol neither
        return connection
    except BaseException:
        transport.close()
        raise


class _ProxyAnswer(asyncio.Protocol):
    """The proxy's answer to CONNECT: its status once its head has arrived (the tunnel's bytes follow)."""

    def __init__(self, request: httpx.Request) -> None:
        self._request = request
        self._parser = httptools.HttpResponseParser(self)
        self.status: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        if self.status.done():
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(f"malformed answer to CONNECT: {error}")

    def on_headers_complete(self) -> None:
        if not self.status.done():
            self.status.set_result(self._parser.get_status_code())

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail("the proxy closed the connection before answering CONNECT")

    def _fail(self, why: str) -> None:
        if not self.status.done():
            self.status.set_exception(httpx.ProxyError(why, request=self._request))


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _serialized(request: httpx.Request, body: bytes) -> tuple[bytes, bytes]:
    """The request's head and body as sent. Header names and values are checked, as h11 did: a value
    with a line break would smuggle headers of its own."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode(), request.url.raw_path)]
    chunked = False
    for name, value in request.headers.raw:
        if not _HEADER.fullmatch(name) or _FORBIDDEN_IN_VALUE.search(value):
            raise httpx.LocalProtocolError(f"illegal header {name!r}", request=request)
        chunked = chunked or (name.lower() == b"transfer-encoding" and b"chunked" in value.lower())
        lines.append(name + b": " + value)
    if chunked:  # a streamed body of unknown length, read whole above: one chunk and the last
        body = (b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)) if body else b"0\r\n\r\n"
    return b"\r\n".join(lines) + b"\r\n\r\n", body


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, one exchange at a time; the answer is parsed as its bytes arrive."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self.closed = False
        self._writing_paused = False  # the transport's write buffer is above its mark
        self._writable: asyncio.Future[None] | None = None
        self._received = 0  # data_received calls, for read timeouts that count from the last bytes
        self._start(None, False, None)

    def _start(self, request: httpx.Request | None, head_only: bool, read_seconds: float | None) -> None:
        self._request = request
        self._head_only = head_only
        self._read_seconds = read_seconds
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._framed = False  # Content-Length or chunked: the answer's end is known without the connection's
        self._head: asyncio.Future[int] = self._loop.create_future()
        self._more: asyncio.Future[None] | None = None
        self._complete = False
        self._informational = False
        self._error: httpx.TransportError | None = None
        self._keep_alive = False

    # What the transport does with it.

    def send(
        self, head: bytes, body: bytes, head_only: bool, read_seconds: float | None, request: httpx.Request
    ) -> None:
        self._start(request, head_only, read_seconds)
        assert self._transport is not None
        if self.closing:
            raise httpx.RemoteProtocolError("the connection was closed before the request", request=request)
        self._transport.write(head + body)

    async def drained(self, seconds: float | None) -> None:
        """Until the socket takes more (at once unless a large body filled the buffer past its mark)."""
        if not self._writing_paused or self.closed:
            return
        self._writable = self._loop.create_future()
        try:
            async with asyncio.timeout(seconds):
                await self._writable
        except TimeoutError:
            raise httpx.WriteTimeout(f"request not sent within {seconds:g} s", request=self._request) from None

    async def head(self) -> tuple[int, list[tuple[bytes, bytes]]]:
        status = await self._waited(self._head)
        return status, self._headers

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._buffered < PAUSE_ABOVE and self._transport is not None and not self.closed:
                    self._transport.resume_reading()
                yield chunk
            elif self._complete:
                return
            elif self._error is not None:
                raise self._error
            else:
                self._more = self._loop.create_future()
                await self._waited(self._more)

    @property
    def closing(self) -> bool:
        """Closed, or closing: the server's end of stream may be seen a loop turn before connection_lost."""
        return self.closed or self._transport is None or self._transport.is_closing()

    def drop_unread(self) -> None:
        """Before the next exchange: what the caller left of this answer goes, and the socket is read again."""
        self._chunks.clear()
        self._buffered = 0
        if self._transport is not None and not self.closing:
            self._transport.resume_reading()

    @property
    def reusable(self) -> bool:
        return self._complete and self._keep_alive and not self.closed and not self._head_only

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            self._transport.close()
        self.closed = True

    async def _waited(self, future: asyncio.Future[object]) -> object:
        if self._read_seconds is None:
            return await future
        timer = self._loop.call_later(self._read_seconds, self._read_timer, future, self._received)
        try:
            return await future
        finally:
            timer.cancel()

    def _read_timer(self, future: asyncio.Future[object], received: int) -> None:
        """Read timeouts count from the last bytes received, as httpcore's do: a slow but moving answer goes on."""
        if future.done():
            return
        if self._received != received:
            self._loop.call_later(self._read_seconds or 0, self._read_timer, future, self._received)
            return
        seconds = self._read_seconds or 0
        future.set_exception(httpx.ReadTimeout(f"no answer within {seconds:g} s", request=self._request))
        self.close()

    # The event loop's side.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._received += 1
        if self._request is None or self._complete:
            self._fail(httpx.RemoteProtocolError("data received while no answer was awaited"))
            self.close()
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols", request=self._request))
            self.close()
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed answer: {error}", request=self._request))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self._request is None or self._complete:
            return
        if self._head.done() and not self._framed and exc is None:
            self.on_message_complete()  # an answer without a length ends with its connection
        else:
            why = f": {exc}" if exc else ""
            self._fail(
                httpx.RemoteProtocolError(f"the server closed the connection mid-answer{why}", request=self._request)
            )

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def _fail(self, error: httpx.TransportError) -> None:
        self._error = error
        for future in (self._head, self._more):
            if future is not None and not future.done():
                future.set_exception(error)
                future.exception()  # seen: nobody may await it any more (the request already failed)

    # httptools' callbacks.

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        lowered = name.lower()
        self._framed = self._framed or lowered == b"content-length" or lowered == b"transfer-encoding"

    def on_headers_complete(self) -> None:
        if 100 <= (status := self._parser.get_status_code()) < 200:  # "100 Continue" and the like: the answer follows
            self._informational = True
            self._headers, self._framed = [], False
            return
        self._keep_alive = self._parser.should_keep_alive()
        if not self._head.done():
            self._head.set_result(status)
        if self._head_only:  # a HEAD answer has no body whatever its headers say
            self.on_message_complete()

    def on_body(self, body: bytes) -> None:
        self._chunks.append(body)
        self._buffered += len(body)
        if self._buffered >= PAUSE_ABOVE and self._transport is not None:
            self._transport.pause_reading()  # nobody reads it: don't hold an unbounded body in memory
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            return
        self._complete = True
        self._wake()

    def _wake(self) -> None:
        if self._more is not None and not self._more.done():
            self._more.set_result(None)


class _Body(httpx.AsyncByteStream):
    """The answer's body as it arrives; closing it (httpx always does) frees its connection for the next
    request, or closes it when the answer was not read to its end."""

    def __init__(self, connection: _Connection, give_back: Callable[[], None]) -> None:
        self._connection = connection
        self._give_back: Callable[[], None] | None = give_back

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._connection.chunks():
            yield chunk

    async def aclose(self) -> None:
        if self._give_back is not None:
            self._give_back, give_back = None, self._give_back
            give_back()
