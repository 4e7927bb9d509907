"""A uvicorn server running beside other loops in a process that handles its own signals: the provider
callback routes that `gateway worker --callbacks-port` serves."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process's own SIGINT/SIGTERM handling stops it; uvicorn's would stop the server alone.
        yield

    async def start(self, stop: asyncio.Event) -> None:
        """Serve in the background until ``stop`` is set; returns once listening. Raises OSError when the
        address can't be bound (a port in use): bound here, as uvicorn would exit the process instead."""
        config = self.config
        family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
        listening = socket.socket(family, socket.SOCK_STREAM)
        try:
            listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listening.bind((config.host, config.port))
        except OSError:
            listening.close()
            raise
        self._serving = asyncio.create_task(self.serve(sockets=[listening]))
        self._stopping = asyncio.create_task(self._stop_on(stop))  # at once: not after the other loops' drain
        while not self.started:
            if self._serving.done():
                self._serving.result()
                raise RuntimeError("the server stopped while starting")
            await asyncio.sleep(0.02)

    async def _stop_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.should_exit = True

    async def stop(self) -> None:
        """Stop accepting, let the requests in progress finish (within timeout_graceful_shutdown)."""
        self.should_exit = True
        self._stopping.cancel()
        await self._serving
