"""A uvicorn server running beside other loops in a process that handles its own signals: the provider
callback routes that `gateway worker --callbacks-port` serves."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn


class EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # The process's own SIGINT/SIGTERM handling stops it; uvicorn's would stop the server alone.
        yield

    async def start(self) -> None:
        """Serve in the background; returns once listening, raises if it could not start (a port in use)."""
        self._serving = asyncio.create_task(self.serve())
        while not self.started:
            if self._serving.done():
                self._serving.result()  # uvicorn's SystemExit, after it logged why
                raise RuntimeError("the server stopped while starting")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop accepting, let the requests in progress finish (within timeout_graceful_shutdown)."""
        self.should_exit = True
        await self._serving
