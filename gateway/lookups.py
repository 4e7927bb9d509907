"""A few seconds of memory for the lookups every request makes (API keys, customers' token versions,
traffic accounts), so a send doesn't wait on three queries before its own write.

Per process and short-lived: a change made through this process (a revoked key, a changed password,
a deleted traffic account) clears it at once; other processes see the change within ``seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from typing import Any

MISSING = object()


class Lookups:
    def __init__(self, seconds: float = 2.0, max_entries: int = 10_000) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self._entries: dict[Hashable, tuple[float, Any]] = {}

    def get(self, key: Hashable) -> Any:
        entry = self._entries.get(key)
        if entry is None or entry[0] < time.monotonic():
            return MISSING
        return entry[1]

    def put(self, key: Hashable, value: Any) -> None:
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = (time.monotonic() + self.seconds, value)

    def clear(self) -> None:
        self._entries.clear()
