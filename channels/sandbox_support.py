"""What every sandbox provider does alike: call the gateway back the way a provider does."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import httpx

_background: set[asyncio.Task[Any]] = set()  # keeps callback tasks alive until they ran


def in_background(coroutine: Coroutine[Any, Any, Any]) -> None:
    task = asyncio.create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def post_callback(url: str, body: bytes, headers: dict[str, str], attempts: int = 6) -> int | None:
    """POST a callback, trying again (like the real providers) while there is no answer, a 5xx or a 429;
    any other answer is final. The last HTTP status, None when the gateway couldn't be reached."""
    status: int | None = None
    async with httpx.AsyncClient(timeout=10) as http:
        for attempt in range(attempts):
            try:
                status = (
                    await http.post(url, content=body, headers={"Content-Type": "application/json", **headers})
                ).status_code
                if status < 500 and status != 429:
                    return status
            except httpx.HTTPError:
                status = None
            if attempt + 1 < attempts:
                await asyncio.sleep(0.2 * (attempt + 1))
    return status
