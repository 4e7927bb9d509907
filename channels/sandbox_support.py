"""What every sandbox provider does alike: take a simulated user's request, call the gateway back the way a
provider does."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Coroutine
from typing import Any

import httpx
from litestar import Request
from litestar.exceptions import ValidationException

from channels import kit
from channels.base import json_object
from wire.http import DirectClient

_background: set[asyncio.Task[Any]] = set()  # keeps callback tasks alive until they ran
# One client per event loop: building a client loads the CA store (~20 ms of CPU), which per callback
# made the sandbox the bottleneck of the whole gateway under load.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()
# Callbacks in flight at once, as a provider sends many; the others (a burst of reports) wait in the
# transport. With 32, a gateway answering in 150 ms under load got no more than ~200 reports a second.
IN_FLIGHT = 128


def callback_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    if (client := _clients.get(loop)) is None or client.is_closed:
        client = _clients[loop] = DirectClient(IN_FLIGHT, timeout=10)
    return client


async def close_callback_client() -> None:
    """At shutdown of the app that served the sandbox providers."""
    if (client := _clients.pop(asyncio.get_running_loop(), None)) is not None:
        await client.aclose()


async def simulated_body(request: Request) -> dict[str, Any]:
    """The body of an inbound simulator (``POST /sandbox/<channel>/inbound``): a JSON object, else a 400
    naming ``body``."""
    if (body := json_object(await request.body())) is None:
        raise ValidationException("Give a JSON object.", extra=[{"key": "body", "message": "must be a JSON object"}])
    return body


def in_background(coroutine: Coroutine[Any, Any, Any]) -> None:
    task = asyncio.create_task(coroutine)
    _background.add(task)
    task.add_done_callback(_background.discard)


async def post_callback(url: str, body: bytes, headers: dict[str, str], attempts: int = 6) -> int | None:
    """POST a callback, trying again (like the real providers) while there is no answer or a transient one
    (``kit.classify``: 5xx, 429, ...); any other answer is final. The last HTTP status, None when the gateway couldn't be reached."""
    status: int | None = None
    http = callback_client()
    for attempt in range(attempts):
        try:
            answer = await http.post(url, content=body, headers={"Content-Type": "application/json", **headers})
            status = answer.status_code
            if kit.classify(status) != kit.TRANSIENT:
                return status
        except httpx.HTTPError:
            status = None
        if attempt + 1 < attempts:
            await asyncio.sleep(0.2 * (attempt + 1))
    return status
