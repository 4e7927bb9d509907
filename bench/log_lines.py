"""The cost of one access line: uvicorn's (its own logging config and formatter, as `gateway serve` had it) and
ours (gateway.logs.AccessLog's, in each GATEWAY_LOG_FORMAT), each written to /dev/null in a process of its
own. Run with `.venv/bin/python -m bench.log_lines` (a few seconds)."""

from __future__ import annotations

import logging
import logging.config
import os
import subprocess
import sys
import time

LINES = 50_000


def measure(kind: str) -> float:
    """Microseconds per line, in this process (whose logging it configures for good)."""
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (this process's end)
    if kind == "uvicorn":
        import uvicorn.config

        logging.config.dictConfig(uvicorn.config.LOGGING_CONFIG)
        access = logging.getLogger("uvicorn.access")
        access.handlers[0].setStream(sys.stderr)
        started = time.perf_counter()
        for _ in range(LINES):  # what uvicorn's httptools protocol logs per request
            access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50000", "POST", "/api/v1/Messages/send", "1.1", 200)
    else:
        from gateway import logs

        logs.configure(kind, "INFO")
        started = time.perf_counter()
        for _ in range(LINES):  # what AccessLog logs per request
            logs.access.info(
                "request",
                method="POST",
                path="/api/v1/Messages/send",
                query=None,
                status=200,
                duration_ms=1.2,
                client="127.0.0.1:50000",
            )
    return (time.perf_counter() - started) / LINES * 1e6


def main() -> None:
    for kind in ("uvicorn", "console", "json"):
        run = [sys.executable, "-m", "bench.log_lines", kind]
        figure = subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()
        print(f"{kind:8} {figure} µs per access line")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        print(f"{measure(sys.argv[1]):.1f}")
    else:
        main()
