"""Group commit: what arrives while one transaction is being written is written together in the next.

Under load a transaction (and its fsync, and its round trips) per item is what limits a gateway;
batching keeps each caller's wait short and lets one process write thousands of items a second.
A caller's ``submit`` returns only after the transaction holding its item committed, with the
item's own result. A batch that fails is written again item by item, so only a bad item fails.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")


class GroupCommit(Generic[Item, Result]):
    def __init__(
        self,
        write: Callable[[list[Item]], Awaitable[list[Result]]],
        *,
        max_batch: int = 500,
        size: Callable[[Item], int] = lambda _: 1,
        committed: Callable[[list[Item]], Awaitable[object]] | None = None,
        linger: float = 0.0,
    ) -> None:
        self.write = write  # one transaction for the items; a result per item, in order
        self.max_batch = max_batch  # in units of ``size``
        self.size = size
        self.committed = committed  # after the callers were answered (wake-ups, timers): best effort
        # Seconds an idle writer waits for more items before it writes: fewer, larger transactions under
        # moderate load, for callers that can wait that long (a worker's records, not an API request).
        self.linger = linger
        self._queue: list[tuple[Item, asyncio.Future[Result]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, item: Item) -> Result:
        """Write ``item`` with whatever else is waiting; its result once committed, or what the
        database raised if it could not be written."""
        done: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_queued())
        return await asyncio.shield(done)  # a caller that goes away doesn't undo (or hide) the commit

    async def _write_queued(self) -> None:
        if self.linger:
            await asyncio.sleep(self.linger)
        while self._queue:
            batch, total = [], 0
            while self._queue and (not batch or total + self.size(self._queue[0][0]) <= self.max_batch):
                batch.append(self._queue.pop(0))
                total += self.size(batch[-1][0])
            items = [item for item, _ in batch]
            try:
                outcomes: list[Result | BaseException] = list(await self.write(items))
            except Exception as error:  # noqa: BLE001  (one bad item must not fail the others)
                outcomes = [error] if len(batch) == 1 else [await self._alone(item) for item in items]
            written = []
            for (item, done), outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    done.set_exception(outcome)
                else:
                    done.set_result(outcome)
                    written.append(item)
            if self.committed is not None and written:
                try:
                    await self.committed(written)
                except Exception:  # noqa: BLE001  (the reconcilers find what this missed)
                    log.exception("acting on a committed batch failed")

    async def _alone(self, item: Item) -> Result | BaseException:
        try:
            return (await self.write([item]))[0]
        except Exception as error:  # noqa: BLE001
            return error
