"""What every sandbox provider does alike: take a simulated user's request, call the gateway back the way a
provider does, and answer the simulator in one shape for every channel (``SimulatedMessage``)."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from uuid import UUID

import httpx
import msgspec
from litestar import Request, post
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler

from channels import kit
from channels.base import Callbacks, json_object
from channels.openapi import documented, problem
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


class SimulatedMessage(msgspec.Struct, rename="camel"):
    """What ``POST /sandbox/<channel>/inbound`` answers, on every channel (a channel may add fields)."""

    message_id: Annotated[
        UUID | None,
        msgspec.Meta(
            description="The stored user message (GET /api/v1/Message/{id}); null when the gateway didn't store "
            "it (its callback route refused it, or the callback is of a kind that stores nothing)"
        ),
    ]
    traffic_account_id: UUID
    channel: str
    provider_message_id: Annotated[
        str, msgspec.Meta(description="The provider's id of the user's message, as the gateway stores it")
    ]
    gateway_status: Annotated[
        int | None,
        msgspec.Meta(description="The HTTP status the gateway's callback route answered; null: it was not reached"),
    ]


# The answers an inbound simulator documents besides its 200 (the 400 is every route's).
SIMULATOR_RESPONSES = {404: problem("`not_found`: no sandbox traffic account of this channel with this id")}
SIMULATOR_TAG = "sandbox: simulated users"


def simulator(summary: str, body: dict[str, Any]) -> Callable[[Any], HTTPRouteHandler]:
    """The route of a channel's simulated user, ``POST /sandbox/<channel>/inbound``, documented with its request
    ``body`` (a JSON schema) and the one answer shape every channel gives (``SimulatedMessage``)."""
    return post(
        "/inbound",
        status_code=200,
        summary=summary,
        tags=[SIMULATOR_TAG],
        operation_class=documented(body=body),
        responses=SIMULATOR_RESPONSES,
    )


async def simulated(
    callbacks: Callbacks, channel: str, account_id: UUID, provider_message_id: str, gateway_status: int | None
) -> dict[str, Any]:
    """The fields of a ``SimulatedMessage`` once the gateway's callback route answered: the stored message is
    looked up by its provider id (the route stored it before it answered)."""
    stored = None
    if gateway_status is not None and kit.classify(gateway_status) == kit.SUCCESS:
        stored = await callbacks.inbound_message_id(account_id, provider_message_id)
    return {
        "message_id": stored,
        "traffic_account_id": account_id,
        "channel": channel,
        "provider_message_id": provider_message_id,
        "gateway_status": gateway_status,
    }


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
