"""Answering before the request body was read to its end (a 413 over GATEWAY_MAX_BODY_BYTES, a 401).

Many clients write the whole body before they read the answer. A server that answers and then closes
the connection with part of the body unread makes the client's kernel get a reset: the client sees
ECONNRESET or a broken pipe instead of the answer (uvicorn closes after the answer when the client
asked for it, ``Connection: close``, or spoke HTTP/1.0). So the rest of the body is read and dropped
before the answer goes out, up to a bound: beyond ``DRAIN_FACTOR`` times the body limit, or
``DRAIN_SECONDS``, the answer goes out with ``Connection: close`` and the server stops reading.
"""

from __future__ import annotations

import asyncio

from litestar.types import Message, Receive, ReceiveMessage, Scope, Send

DRAIN_FACTOR = 10  # bodies up to ten times the limit are read to their end before answering
DRAIN_SECONDS = 10.0


class Draining:
    """``receive`` and ``send`` for one request: ``send`` reads what ``receive`` left of the body first."""

    def __init__(self, receive: Receive, send: Send, budget: int) -> None:
        self._receive = receive
        self._send = send
        self.budget = budget  # bytes of body read at most, by the app and the drain together
        self.ended = False

    @classmethod
    def wrap(cls, scope: Scope, receive: Receive, send: Send, limit: int) -> tuple[Receive, Send]:
        headers = dict(scope["headers"])
        has_body = headers.get(b"content-length", b"0") != b"0" or b"transfer-encoding" in headers
        # A client that waits for "100 Continue" sends no body unless asked: reading it would ask for it.
        if not has_body or headers.get(b"expect", b"").lower() == b"100-continue":
            return receive, send
        draining = cls(receive, send, DRAIN_FACTOR * limit)
        return draining.receive, draining.send

    async def receive(self) -> ReceiveMessage:
        message = await self._receive()
        self.budget -= len(message.get("body", b""))  # type: ignore[arg-type]
        self.ended = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start" and not self.ended and not await self._drain():
            message["headers"] = [*message.get("headers", ()), (b"connection", b"close")]
        await self._send(message)

    async def _drain(self) -> bool:
        """Read and drop the rest of the body within the bounds; whether it ended."""
        try:
            async with asyncio.timeout(DRAIN_SECONDS):
                while not self.ended and self.budget >= 0:
                    await self.receive()
        except TimeoutError:
            return False
        return self.ended
