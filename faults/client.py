"""The fault suite's load generator: a customer backend that sends at a fixed rate and retries as the
README tells clients to.

Every send carries its own ``Idempotency-Key`` and ``reference``. One that gets no answer (connection
refused, reset, no answer in time), a 5xx, a 429 or a 409 ``idempotency_key_in_flight`` is sent again
with the same key and the same body bytes (``Retry-After`` honoured, else a bounded backoff) until a
2xx or its deadline. Every attempt is recorded, so the suite can show each status clients saw and
each send's final outcome. HTTP/1.1 on raw asyncio streams (bench/loadgen.py): httpx would cost
more CPU than the gateway spends answering.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from bench.loadgen import Connection, post

PATH = "/api/v1.1/Messages/send"
ANSWER_TIMEOUT = 20.0  # seconds an attempt waits for its answer
IDLE_REOPEN = 4.0  # uvicorn closes a keep-alive connection idle for 5 s: reopen before that
MAX_BACKOFF = 5.0
MAX_RETRY_AFTER = 10.0


@dataclass
class Send:
    reference: str  # also its Idempotency-Key
    body: bytes  # the same bytes on every attempt
    attempts: list[tuple[float, float, str]] = field(default_factory=list)  # (started, ended, status or error)
    message_ids: list[str] = field(default_factory=list)  # from the 2xx answer

    @property
    def outcome(self) -> str:
        return self.attempts[-1][2] if self.attempts else "not sent"

    @property
    def accepted(self) -> bool:
        return self.outcome.startswith("2")


def statuses(sends: list[Send]) -> dict[str, int]:
    """How often clients saw each status (or connection error), over every attempt."""
    return dict(sorted(Counter(outcome for send in sends for _, _, outcome in send.attempts).items()))


class Pool:
    """Keep-alive HTTP/1.1 connections to one address, at most ``size`` in use at once (the newest
    idle one first, so the others close and are opened again only when needed)."""

    def __init__(self, port: int, size: int = 64, host: str = "127.0.0.1", patience: float = ANSWER_TIMEOUT) -> None:
        self.host, self.port = host, port
        self.patience = patience  # seconds a request waits for its answer
        self.idle: list[tuple[Connection, float]] = []  # with when each was last used
        self.free = asyncio.Semaphore(size)

    async def request(self, raw: bytes) -> tuple[str, dict[str, str], bytes]:
        """One request: its status (or what went wrong: refused, reset, closed, no answer), headers, body."""
        async with self.free:
            connection, used = self.idle.pop() if self.idle else (Connection(self.host, self.port), 0.0)
            if time.monotonic() - used > IDLE_REOPEN or connection.reader is not None and connection.reader.at_eof():
                connection.close()  # closed by the server while idle: not a request that failed
            try:
                status, headers, body = await asyncio.wait_for(connection.exchange(raw), self.patience)
            except Exception as error:  # noqa: BLE001  (each way a request can fail is an outcome to count)
                connection.close()
                return failure(error), {}, b""
            self.idle.append((connection, time.monotonic()))
            return str(status), headers, body

    def close(self) -> None:
        for connection, _ in self.idle:
            connection.close()
        self.idle.clear()


class Client:
    def __init__(self, port: int, api_key: str, deadline: float, connections: int = 64) -> None:
        self.pool = Pool(port, connections)
        self.headers = {"X-Mitto-API-Key": api_key}
        self.deadline = deadline  # seconds from a send's first attempt until it is given up

    async def run(self, sends: list[Send], per_second: float) -> None:
        """Starts each send on a fixed schedule (whatever the answers do) and waits for all to end."""
        started = time.monotonic()
        tasks = []
        for number, send in enumerate(sends):
            if (pause := started + number / per_second - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            tasks.append(asyncio.create_task(self.send(send)))
        await asyncio.gather(*tasks)
        self.pool.close()

    async def send(self, send: Send) -> None:
        raw = post(PATH, send.body, {**self.headers, "Idempotency-Key": send.reference})
        give_up = time.time() + self.deadline
        for attempt in range(10**6):
            begun = time.time()
            status, headers, answer = await self.pool.request(raw)
            send.attempts.append((begun, time.time(), status))
            if status.startswith("2"):
                send.message_ids = [message["messageId"] for message in json.loads(answer)["messages"]]
                return
            in_flight = status == "409" and b"idempotency_key_in_flight" in answer
            if status.isdigit() and not (status[0] == "5" or status == "429" or in_flight):
                return  # refused for good: retrying would get the same
            delay = min(MAX_BACKOFF, 0.25 * 2**attempt) * random.uniform(0.5, 1.0)
            if (retry_after := headers.get("retry-after", "")).isdigit():
                delay = min(float(retry_after), MAX_RETRY_AFTER)
            if time.time() + delay > give_up:
                return
            await asyncio.sleep(delay)


def failure(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, ConnectionResetError | BrokenPipeError):
        return "reset"
    if isinstance(error, asyncio.IncompleteReadError):
        return "closed"  # the server closed the connection before its answer
    if isinstance(error, TimeoutError):
        return "no answer"
    return type(error).__name__
