"""The port every test server that was not told its own address would use: a tripwire.

A gateway built by a test without a port of its own (``make_settings``), and a `gateway` process started
without GATEWAY_PORT or a public URL, point their public URL (where the dispatcher reaches the sandbox
providers, and providers call back) here rather than at 127.0.0.1:8000, where a developer's `make run`
may be listening; and 8000 itself is guarded when free. Whatever arrives is recorded and answered 421
Misdirected Request; the suite's autouse fixture fails the test during which it arrived (tests/conftest.py;
a request still under way when its test ends is blamed on the next one)."""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

hits: list[str] = []
_held: list[socket.socket] = []


class _Tripwire(BaseHTTPRequestHandler):
    def _refuse(self) -> None:
        hits.append(f"{self.command} {self.server.server_address[1]}{self.path}")
        self.send_response(421)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _refuse

    def log_message(self, *_args: object) -> None:  # the hits are reported by the fixture
        pass


DEFAULT_PORT = 8000  # GATEWAY_PORT's default: where a URL written into code by mistake would point


def start() -> int:
    """Serve the tripwire on a free loopback port, for the rest of the process, and on the default port
    too when it is free (in CI it is; beside a developer's `make run` it isn't); the free port's number."""
    port = _serve(0)
    try:
        _serve(DEFAULT_PORT)
    except OSError:
        pass
    return port


def _serve(port: int) -> int:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Tripwire)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"port-guard-{port}", daemon=True).start()
    return server.server_address[1]


def closed_port() -> int:
    """A loopback port of the suite's own that refuses every connection (bound, never listening), for the
    tests of an unreachable webhook, provider or Redis: no other program's port is ever tried."""
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    _held.append(held)  # kept open for the rest of the process, so no other program is given the port
    return held.getsockname()[1]
