"""What recording metrics costs per request and per message (gateway.metrics), in this process and in
prometheus-client's multiprocess mode (`serve --workers N`, `worker --processes N`): a micro-benchmark, not
part of `make bench`. `.venv/bin/python -m bench.metrics_overhead`; it runs itself again in multiprocess mode."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from types import SimpleNamespace

from gateway import metrics

ROUNDS = 200_000


async def per_request_microseconds() -> float:
    """A request's two ASGI messages through metrics.observed, to a send that does nothing."""
    handler = SimpleNamespace(opt={})
    scope = {"type": "http", "method": "POST", "path_template": "/api/{version}/Message/send", "route_handler": handler}
    start = {"type": "http.response.start", "status": 200, "headers": []}
    body = {"type": "http.response.body", "body": b"{}", "more_body": False}

    async def send(_message: object) -> None:
        pass

    started = time.perf_counter()
    for _ in range(ROUNDS):
        observed = metrics.observed(scope, send)
        await observed(start)
        await observed(body)
    return (time.perf_counter() - started) / ROUNDS * 1e6


def per_message_microseconds() -> float:
    """A message accepted, sent and its send's latency recorded."""
    message = SimpleNamespace(channel="sms", tenant_id=uuid.uuid4())
    result = SimpleNamespace(accepted=True, permanent=False)
    started = time.perf_counter()
    for _ in range(ROUNDS):
        metrics.accepted([message])
        metrics.sent(message, result, 0.01)
    return (time.perf_counter() - started) / ROUNDS * 1e6


def best(measure: object) -> float:
    runs = [asyncio.run(measure()) if asyncio.iscoroutinefunction(measure) else measure() for _ in range(4)]  # type: ignore[operator]
    return min(runs[1:])  # the first warms up


def main() -> None:
    metrics.configure(SimpleNamespace(metrics_enabled=False, metrics_tenant_label=False), "server")
    off = best(per_request_microseconds)
    metrics.configure(SimpleNamespace(metrics_enabled=True, metrics_tenant_label=False), "server")
    on = best(per_request_microseconds)
    mode = "multiprocess" if metrics.multiprocess_directory() else "one process"
    print(
        f"{mode}: HTTP middleware {on - off:.1f} us per request (off: {off:.2f} us); "
        f"accepted + sent {best(per_message_microseconds):.1f} us per message"
    )
    if not metrics.multiprocess_directory():
        with tempfile.TemporaryDirectory() as directory:
            environment = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
            subprocess.run([sys.executable, "-m", "bench.metrics_overhead"], env=environment, check=True)


if __name__ == "__main__":
    main()
