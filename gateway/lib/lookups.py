"""A few seconds of memory for the lookups every request makes (API keys, customers' token versions,
traffic accounts), so a send doesn't wait on three queries before its own write.

Per process and short-lived: a change made through this process (a revoked key, a changed password,
a deleted traffic account) clears it at once; other processes see the change within ``seconds``.

A value that is missing is loaded once however many requests want it at that moment: under load an
entry that expired was otherwise read again by every request in flight (hundreds of the same query
every two seconds, each holding a connection of the pool).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

_MISSING = object()  # nothing remembered, or a load that failed


class Lookups:
    def __init__(self, seconds: float = 2.0, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}

    def _get(self, key: Hashable) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return _MISSING
        return entry[1]

    def _put(self, key: Hashable, value: Any) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.seconds, value)

    async def remember(self, key: Hashable, load: Callable[[], Awaitable[Any]]) -> Any:
        """The value of ``key``: remembered, or being loaded for another caller, or loaded now by ``load``.
        A load that fails fails only its own caller; the others waiting for it load for themselves."""
        if (value := self._get(key)) is not _MISSING:
            return value
        if (loading := self._loading.get(key)) is not None:
            if (value := await asyncio.shield(loading)) is not _MISSING:
                return value
            return await load()
        loading = self._loading[key] = asyncio.get_running_loop().create_future()
        value = _MISSING
        try:
            value = await load()
            if self._loading.get(key) is loading:  # not cleared meanwhile: what was read may be stale
                self._put(key, value)
            return value
        finally:
            if self._loading.get(key) is loading:
                del self._loading[key]
            loading.set_result(value)

    def clear(self) -> None:
        self._entries.clear()
        self._loading.clear()
