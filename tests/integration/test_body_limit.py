"""A body over GATEWAY_MAX_BODY_BYTES, sent whole before the answer is read (as urllib, HTTP/1.0 clients
and most scripts do), against a real server: the client reads the 413 problem, never a reset."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.lib import draining
from tests.integration.conftest import serve

LIMIT = 1_000_000
CHUNK = b"x" * 65536


@pytest.fixture
async def small_limit(sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(sqlite_url, max_body_bytes=LIMIT) as client:
        yield client


def post_whole_body(port: int, size: int, head: str = "", chunked: bool = False, version: str = "1.1") -> tuple:
    """Write a request with a body of ``size`` bytes to the end, then read the answer: (what went wrong
    while writing, status, headers, body)."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}"
    request = (
        f"POST /api/v1/Customer/login HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"{head}{framing}\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        failed, sent = None, 0
        try:
            connection.sendall(request.encode())
            while sent < size:
                part = CHUNK[: size - sent]
                connection.sendall(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
                sent += len(part)
            if chunked:
                connection.sendall(b"0\r\n\r\n")
        except OSError as error:
            failed = f"{error!r} after {sent} bytes"
        answer = b""
        try:
            while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
                if not (received := connection.recv(65536)):
                    break
                answer += received
        except OSError as error:
            failed = f"{failed}; reading: {error!r}"
    head_part, _, body = answer.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    status = int(lines[0].split()[1]) if lines[0] else None
    return failed, status, headers, body


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


def port_of(client: httpx.AsyncClient) -> int:
    return int(str(client.base_url).rsplit(":", 1)[1])


@pytest.mark.parametrize(
    ("size", "head", "chunked", "version"),
    [
        (2 * LIMIT, "", False, "1.1"),
        (2 * LIMIT, "Connection: close\r\n", False, "1.1"),
        (5 * LIMIT, "Connection: close\r\n", False, "1.1"),
        (5 * LIMIT, "", False, "1.0"),
        (2 * LIMIT, "Connection: close\r\n", True, "1.1"),
        (5 * LIMIT, "Connection: close\r\n", True, "1.1"),
    ],
)
async def test_an_oversized_body_sent_whole_gets_the_413_problem(small_limit, size, head, chunked, version):
    answer = await asyncio.to_thread(post_whole_body, port_of(small_limit), size, head, chunked, version)
    failed, status, headers, body = answer
    assert failed is None, answer
    assert status == 413 and headers["content-type"].startswith("application/problem+json"), answer
    assert json.loads(body)["code"] == "body_too_large"
    assert "ratelimit" in headers and "ratelimit-policy" in headers


async def test_the_connection_stays_usable_after_a_413(small_limit) -> None:
    too_large = await small_limit.post("/api/v1/Customer/login", content=b"x" * (2 * LIMIT))
    assert too_large.status_code == 413
    after = await small_limit.post("/api/v1/Customer/login", json={"email": "a@example.com", "password": "x" * 12})
    assert after.status_code == 401


async def test_a_huge_body_is_not_read_to_its_end(small_limit) -> None:
    """Beyond a bound (ten times the limit) the server stops reading: it answers and closes."""
    failed, status, headers, _ = await asyncio.to_thread(post_whole_body, port_of(small_limit), 200 * LIMIT)
    assert failed is not None and "after" in failed  # the server closed before the client was done
    assert int(failed.split(" after ")[1].split()[0]) < 100 * LIMIT, failed


async def test_a_client_that_stops_sending_is_answered_after_a_while(small_limit, monkeypatch) -> None:
    # Long enough for a loaded machine to read all that was sent: data left unread when the server
    # closes would make its kernel reset the connection, which is not what this test is about.
    monkeypatch.setattr(draining, "DRAIN_SECONDS", 2.0)

    def stall() -> tuple[bytes, bytes]:
        with socket.create_connection(("127.0.0.1", port_of(small_limit)), timeout=10) as connection:
            head = f"POST /api/v1/Customer/login HTTP/1.1\r\nHost: x\r\nContent-Length: {2 * LIMIT}\r\n\r\n"
            connection.sendall(head.encode() + b"x" * (LIMIT + 10_000))  # and then nothing more
            answer = b""
            while received := connection.recv(65536):  # to the end: the server closes the connection
                answer += received
            return answer.partition(b"\r\n\r\n")[::2]

    head, body = await asyncio.wait_for(asyncio.to_thread(stall), 10)
    assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower(), head
    assert json.loads(body)["code"] == "body_too_large"
