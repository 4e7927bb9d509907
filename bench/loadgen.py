"""A small HTTP/1.1 load generator on raw asyncio streams.

httpx costs more CPU per request than the gateway spends answering one, which on a 2-core machine
would measure the client rather than the server; this speaks just enough HTTP/1.1 (keep-alive,
Content-Length bodies) to drive the gateway hard from one process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # seconds, of the answered requests
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0
    started: float = 0.0
    ended: float = 0.0

    def count(self, status: int) -> int:
        return self.statuses.get(status, 0)

    def rate(self, status: int = 200) -> float:
        return self.count(status) / max(self.ended - self.started, 1e-9)

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


class Connection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        status, _, body = await self.exchange(raw)
        return status, body

    async def exchange(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        """Sends one request; the answer's status, headers (names in lower case) and body."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", 0))
        body = await self.reader.readexactly(length) if length else b""
        return status, headers, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def post(path: str, body: bytes, headers: dict[str, str], host: str = "127.0.0.1") -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def closed_loop(
    host: str, port: int, make_request: Callable[[int], bytes], connections: int, seconds: float
) -> Results:
    """Each connection sends its next request as soon as the previous one is answered: the most the server takes."""
    results = Results(started=time.perf_counter())
    deadline = results.started + seconds
    counter = iter(range(10**12))

    async def one_connection() -> None:
        connection = Connection(host, port)
        while time.perf_counter() < deadline:
            begun = time.perf_counter()
            try:
                status, _ = await connection.request(make_request(next(counter)))
            except (OSError, asyncio.IncompleteReadError):
                results.errors += 1
                connection.close()
                continue
            results.latencies.append(time.perf_counter() - begun)
            results.statuses[status] = results.statuses.get(status, 0) + 1
        connection.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    results.ended = time.perf_counter()
    return results


async def open_loop(
    host: str, port: int, make_request: Callable[[int], bytes], per_second: float, seconds: float, connections: int = 64
) -> Results:
    """Requests start on a fixed schedule whatever the answers do; latency counts from the scheduled
    start, so a stalled server can't hide its queue (no coordinated omission)."""
    results = Results(started=time.perf_counter())
    idle: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        idle.put_nowait(Connection(host, port))
    total = int(per_second * seconds)

    async def one_request(number: int, scheduled: float) -> None:
        connection = await idle.get()
        try:
            status, _ = await connection.request(make_request(number))
        except (OSError, asyncio.IncompleteReadError):
            results.errors += 1
            connection.close()
            return
        finally:
            idle.put_nowait(connection)
        results.latencies.append(time.perf_counter() - scheduled)
        results.statuses[status] = results.statuses.get(status, 0) + 1

    tasks = []
    for number in range(total):
        scheduled = results.started + number / per_second
        if (pause := scheduled - time.perf_counter()) > 0:
            await asyncio.sleep(pause)
        tasks.append(asyncio.create_task(one_request(number, scheduled)))
    await asyncio.gather(*tasks)
    results.ended = time.perf_counter()
    while not idle.empty():
        idle.get_nowait().close()
    return results
