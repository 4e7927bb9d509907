"""The shared HTTP transport (wire/http.py): connections kept per origin, a bounded number in
flight, and a slot given back whatever became of the request. Against a real server on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from wire import http as transport_module
from wire.http import DirectClient, KeepAliveTransport


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


# The wire: answers as servers really send them, written byte for byte.


@dataclass
class Scripted:
    """A server that reads each request and writes the next of ``answers`` in pieces (with a pause
    before each piece), closing the connection after an answer when told to."""

    answers: list[tuple[list[bytes], float, bool]]  # (pieces, pause before each, close after)
    port: int = 0
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    answered: int = 0  # answers written to the end

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while self.answers:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(v) for n, _, v in _lines(head) if n == b"content-length"), 0)
                self.requests.append(head + await reader.readexactly(length))
                pieces, pause, close = self.answers.pop(0)
                for piece in pieces:
                    await asyncio.sleep(pause)
                    writer.write(piece)
                    await writer.drain()
                self.answered += 1
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _lines(head: bytes) -> list[tuple[bytes, bytes, bytes]]:
    return [(line.partition(b":")[0].lower(), b"", line.partition(b":")[2].strip()) for line in head.split(b"\r\n")[1:]]


@pytest.fixture
async def scripted() -> AsyncIterator[Scripted]:
    server = Scripted(answers=[])
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    yield server
    listener.close()


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


async def test_a_chunked_answer_is_put_together_and_its_connection_kept(scripted: Scripted) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    scripted.answers = [([chunked[:40], chunked[40:]], 0.01, False), ([OK], 0, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(4)) as client:
        assert (await client.get(scripted.url)).text == "hello world"
        assert (await client.get(scripted.url)).text == "ok"
    assert scripted.connections == 1


async def test_an_answer_without_a_length_ends_with_its_connection(scripted: Scripted) -> None:
    scripted.answers = [([b"HTTP/1.1 200 OK\r\n\r\nthe whole", b" body"], 0.01, True), ([OK], 0, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(4)) as client:
        assert (await client.get(scripted.url)).text == "the whole body"
        assert (await client.get(scripted.url)).text == "ok"  # on a new connection
    assert scripted.connections == 2


async def test_connection_close_and_a_server_that_hangs_up_are_not_reused(scripted: Scripted) -> None:
    close = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nfirst"
    scripted.answers = [([close], 0, True), ([OK], 0, True), ([OK], 0, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(4)) as client:
        assert (await client.get(scripted.url)).text == "first"
        assert (await client.get(scripted.url)).text == "ok"  # kept, but the server hangs up after it
        await asyncio.sleep(0.05)  # not a poll: the hang-up arrives, and the next request's first try must work
        assert (await client.get(scripted.url)).text == "ok"
    assert scripted.connections == 3


async def test_an_answer_cut_short_or_malformed_is_a_protocol_error(scripted: Scripted) -> None:
    scripted.answers = [
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfour"], 0, True),
        ([b"HTTP/1.1 2OO OK\r\n\r\n"], 0, False),
        ([OK], 0, False),
    ]
    async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
        with pytest.raises(httpx.RemoteProtocolError, match="closed the connection"):
            await client.get(scripted.url)
        with pytest.raises(httpx.RemoteProtocolError, match="malformed"):
            await client.get(scripted.url)
        assert (await asyncio.wait_for(client.get(scripted.url), 5)).text == "ok"  # the one slot was given back


async def test_a_header_that_would_smuggle_another_is_refused_before_sending(scripted: Scripted) -> None:
    scripted.answers = [([OK], 0, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
        with pytest.raises(httpx.LocalProtocolError):
            await client.get(scripted.url, headers={"X-Note": "a\r\nX-Admin: yes"})
        assert (await client.get(scripted.url)).text == "ok"
    assert len(scripted.requests) == 1 and b"X-Admin" not in scripted.requests[0]


async def test_the_request_goes_out_as_given(scripted: Scripted) -> None:
    scripted.answers = [([OK], 0, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
        await client.post(f"{scripted.url}/sms?x=1&y=%20", json={"to": "+4477"}, headers={"X-Mitto-API-Key": "k"})
    sent = scripted.requests[0]
    assert sent.startswith(b"POST /sms?x=1&y=%20 HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{scripted.port}".encode() in sent.lower() and b"x-mitto-api-key: k" in sent.lower()
    assert sent.endswith(b'\r\n\r\n{"to":"+4477"}')


async def test_a_slow_answer_that_keeps_coming_is_not_a_read_timeout(scripted: Scripted) -> None:
    pieces = [b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"a", b"b", b"c", b"d", b"e"]
    scripted.answers = [(pieces, 0.1, False), ([OK], 0.5, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
        assert (await client.get(scripted.url, timeout=0.3)).text == "abcde"  # 0.6 s in all
        with pytest.raises(httpx.ReadTimeout):
            await client.get(scripted.url, timeout=0.2)


async def test_an_informational_answer_is_followed_by_the_real_one(scripted: Scripted) -> None:
    scripted.answers = [([b"HTTP/1.1 100 Continue\r\n\r\n", OK], 0.01, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
        answer = await client.get(scripted.url)
    assert (answer.status_code, answer.text) == (200, "ok")


async def test_a_big_body_is_read_as_it_is_consumed_and_read_in_part_closes_its_connection(
    scripted: Scripted,
) -> None:
    big = b"HTTP/1.1 200 OK\r\nContent-Length: 64000000\r\n\r\n" + b"x" * 64_000_000
    scripted.answers = [([big], 0, False), ([OK], 0, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
        async with client.stream("GET", scripted.url) as response:
            async for _ in response.aiter_bytes():
                break
            await asyncio.sleep(0.3)  # a fixed sleep, not a poll: it proves that nothing is read meanwhile
            assert scripted.answered == 0  # the socket is not read while nobody reads the body
        assert (await asyncio.wait_for(client.get(scripted.url), 5)).text == "ok"
    assert scripted.connections == 2


async def test_https_checks_the_certificate_against_the_trust_store(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    scripted = Scripted(answers=[([OK], 0, False), ([OK], 0, False)])
    listener = await asyncio.start_server(scripted.handle, "127.0.0.1", 0, ssl=server_tls)
    port = listener.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:  # the default store: refused
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await client.get(f"https://localhost:{port}/")
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
            assert (await client.get(f"https://localhost:{port}/a")).text == "ok"
            assert (await client.get(f"https://localhost:{port}/b")).text == "ok"
        assert scripted.connections == 1  # one kept connection (the refused handshake never got this far)
    finally:
        listener.close()


async def test_an_answer_left_unread_does_not_stall_the_next_request_on_its_connection(scripted: Scripted) -> None:
    # The rest of the body (256 KiB) arrives complete while nobody reads it: reading is paused then, and
    # the connection, kept for the next request, must be read again.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (10_000 + 262_144)
    scripted.answers = [([head + b"a" * 10_000, b"b" * 262_144], 0.05, False), ([OK], 0, False)]
    async with httpx.AsyncClient(transport=KeepAliveTransport(1)) as client:
        async with client.stream("GET", scripted.url) as response:
            async for _ in response.aiter_bytes():
                await asyncio.sleep(0.3)
                break
        assert (await asyncio.wait_for(client.get(scripted.url, timeout=2), 5)).text == "ok"
    assert scripted.connections == 1


async def test_a_connection_idle_too_long_is_not_used_again(
    scripted: Scripted, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(transport_module, "IDLE_SECONDS", 0.1)
    scripted.answers = [([OK], 0, False)] * 3
    async with httpx.AsyncClient(transport=KeepAliveTransport(4)) as client:
        await client.get(scripted.url)
        await client.get(scripted.url)  # at once: the same connection
        await asyncio.sleep(0.2)
        await client.get(scripted.url)  # a new one: the server may have closed the old one by now
    assert scripted.connections == 2


# DirectClient: httpx's client API, each request handed straight to the transport.


async def test_the_direct_client_sends_requests_as_httpx_builds_them(scripted: Scripted) -> None:
    scripted.answers = [
        ([b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n{"a": 1}\n'], 0, False)
    ]
    async with DirectClient(4, timeout=5) as client:
        answer = await client.post(f"{scripted.url}/sms?x=1", json={"to": "1"}, headers={"X-Key": "k"})
    assert answer.json() == {"a": 1} and answer.request.url.path == "/sms"
    head, _, body = scripted.requests[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /sms?x=1 HTTP/1.1") and b"x-key: k" in head.lower() and body == b'{"to":"1"}'


async def test_the_direct_client_answers_a_redirect_without_following_it(scripted: Scripted) -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/elsewhere\r\nContent-Length: 0\r\n\r\n"
    scripted.answers = [([moved], 0, False)]
    async with DirectClient(4, timeout=5) as client:
        answer = await client.get(scripted.url)
    assert answer.status_code == 302 and len(scripted.requests) == 1


async def test_the_direct_client_streams_and_refuses_once_closed(servers: list[Server]) -> None:
    client = DirectClient(1, timeout=5)
    async with client.stream("GET", f"{servers[0].url}/streamed") as response:
        assert b"".join([chunk async for chunk in response.aiter_bytes()]) == b"/streamed"
    assert (await client.get(f"{servers[0].url}/next")).text == "/next"  # the one connection came back
    await client.aclose()
    with pytest.raises(RuntimeError):
        await client.get(f"{servers[0].url}/closed")


async def test_the_direct_client_times_out_a_request_built_without_it(servers: list[Server]) -> None:
    servers[0].delay = 5
    async with DirectClient(1, timeout=0.2) as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.send(httpx.Request("GET", f"{servers[0].url}/slow"))
