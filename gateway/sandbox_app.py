"""The sandbox providers on their own: the same fake providers the gateway mounts under /sandbox,
served by a process of their own (`gateway sandbox`), for when the gateway's process should spend
nothing on imitating providers (load tests, or a mock shared by several gateways).

Traffic accounts reach it through their ``baseUrl`` setting (``http://host:port/sandbox/<channel>``);
it calls the gateway back at GATEWAY_PUBLIC_URL, and reads the traffic accounts it must recognise
(and their derived credentials) from the gateway's database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State

from channels.registry import all_channels
from gateway.api.deps import APP_DEPENDENCIES
from gateway.channel_routes import sandbox_routers
from gateway.runtime import Runtime
from gateway.settings import Settings


def create_sandbox_app(settings: Settings | None = None) -> Litestar:
    runtime = Runtime(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        async with runtime:
            yield

    return Litestar(
        route_handlers=sandbox_routers(all_channels().values()),
        lifespan=[lifespan],
        state=State({"runtime": runtime}),
        dependencies={"callbacks": APP_DEPENDENCIES["callbacks"]},
        openapi_config=None,
        logging_config=None,  # every process's logging is gateway.logs'
    )
