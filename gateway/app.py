"""The application factory."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar, Request, Router
from litestar.datastructures import State
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import Receive, Scope, Send

from channels.registry import all_channels
from gateway import docs, metrics, openapi
from gateway.api import (
    admin,
    catchers,
    customers,
    export,
    messages,
    sandbox_data,
    status,
    templates,
    traffic_accounts,
    webhooks,
)
from gateway.api.deps import (
    API_PREFIX,
    APP_DEPENDENCIES,
    COMPATIBLE_DEPENDENCIES,
    CUSTOMER_DEPENDENCIES,
    LOGIN_DEPENDENCIES,
    VersionCheck,
    runtime_of,
)
from gateway.api.events import EventController, WaitController
from gateway.api.health import health
from gateway.api.metrics import metrics_routes
from gateway.api.sandbox_journal import SandboxJournalController
from gateway.channel_routes import (
    COMPATIBLE_OPT,
    PROVIDER_PREFIXES,
    callback_routers,
    compatible_routers,
    sandbox_routers,
)
from gateway.idempotency import IdempotencyMiddleware
from gateway.inbox import pages as inbox
from gateway.lib.db import check_schema
from gateway.lib.draining import Draining
from gateway.lib.paths import PathNormaliser
from gateway.lib.problems import EXCEPTION_HANDLERS, problem_details_plugin
from gateway.lib.validation import refuse_nul_characters
from gateway.rate_limits import (
    TENANT_OPT,
    AddressRateLimit,
    TenantRateLimit,
    with_rate_limit_headers,
)
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.tenants.auth import API_KEY_HEADER, CustomerAuthMiddleware, admin_guard
from gateway.webhooks.payloads import openapi_webhooks

log = logging.getLogger(__name__)
events = structlog.get_logger(__name__)
VERSION = "0.1.0"


class Gateway(Litestar):
    """Litestar, with the customer API's fixed path segments matched case-insensitively, over one
    runtime (the app's one ``state`` entry: its middleware and dependency providers read it)."""

    def __init__(self, runtime: Runtime, **kwargs: Any) -> None:
        super().__init__(state=State({"runtime": runtime}), **kwargs)
        self.runtime = runtime
        self.normalise_path = PathNormaliser("/api/", (route.path for route in self.routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = self.normalise_path(scope["path"])
            if path != scope["path"]:
                scope["path"] = path
                scope["raw_path"] = path.encode()
        if scope["type"] == "http":  # every response carries the RateLimit fields, a 404 of no route too
            send = metrics.observed(scope, send)
            send = with_rate_limit_headers(scope, send, self.runtime.rate_limits)
            receive, send = Draining.wrap(scope, receive, send, self.runtime.settings.max_body_bytes)
        await super().__call__(scope, receive, send)


async def forget_changed_lookups(request: Request) -> None:
    """A change made through the API (a revoked key, a new password, an edited traffic account) is
    seen at once by this process's next request; sends and provider callbacks change none of them."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    path = request.scope["path"].lower()  # not request.url: built for this alone
    if (
        not any(part in path for part in ("/message", *PROVIDER_PREFIXES))
        and not request.route_handler.opt.get(COMPATIBLE_OPT)  # sends, conversions and usage change none
    ):
        runtime_of(request).lookups.clear()


def create_app(settings: Settings | None = None) -> Gateway:
    """The API server (`gateway serve`): the customer and operator APIs, the providers' callback routes,
    the sandbox providers (GATEWAY_SANDBOX), and in the embedded mode the worker's loops."""
    settings = settings or Settings.from_env()
    runtime = Runtime(settings)
    metrics.configure(settings, "server")

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        async with runtime:
            await check_schema(runtime.engine, wait=True)  # refuses to start on a schema that is behind
            _end_streams_when_told_to_stop(runtime)
            stop = asyncio.Event()
            jobs = [runtime.idempotency_keys.run_purger(stop)]
            if settings.embedded_worker:  # the worker's loops, in the server (see `gateway worker`)
                jobs.append(runtime.run_loops(stop, embedded=True))
                events.info("worker started", worker=runtime.dispatcher.owner, embedded=True)
            running = [asyncio.create_task(job) for job in jobs]
            try:
                yield
            finally:
                stop.set()
                await asyncio.gather(*running)
                if settings.embedded_worker:
                    events.info("worker stopped", worker=runtime.dispatcher.owner, embedded=True)

    # What every customer-facing route is behind: the Chat API's and the channels' compatible APIs'.
    customer_layers: dict[str, Any] = {
        "middleware": [DefineMiddleware(CustomerAuthMiddleware), TenantRateLimit, IdempotencyMiddleware],
        "opt": {TENANT_OPT: "tenant"},  # counted per tenant by TenantRateLimit, not per address
        "security": [{"bearer": []}, {"apiKey": []}],
    }
    customer_api = Router(
        path=API_PREFIX,
        dependencies=CUSTOMER_DEPENDENCIES,
        # The version checked innermost, where a guard would be (gateway.api.deps.VersionCheck).
        **(customer_layers | {"middleware": [*customer_layers["middleware"], VersionCheck]}),
        route_handlers=[
            customers.PasswordController,
            traffic_accounts.TrafficAccountController,
            webhooks.WebhookController,
            webhooks.WebhookTrafficAccountController,
            templates.TemplateController,
            messages.MessageController,
            messages.ConversationController,
            export.ExportController,
            SandboxJournalController,
            sandbox_data.SandboxDataController,
            *([catchers.CatcherController] if settings.sandbox_enabled else []),
            EventController,
            WaitController,
        ],
    )
    public_api = Router(
        path=API_PREFIX,
        middleware=[VersionCheck],
        dependencies=LOGIN_DEPENDENCIES,
        route_handlers=[customers.LoginController],
    )
    channels = all_channels().values()
    channel_routes = [
        *callback_routers(channels),
        # Behind the customer API's authentication, tenant rate limit and Idempotency-Key handling (on the
        # handlers marked ``opt={"idempotent": True}``), taking the ``compatible`` dependency.
        *compatible_routers(channels, {**customer_layers, "dependencies": COMPATIBLE_DEPENDENCIES}),
        *(sandbox_routers(channels) if settings.sandbox_enabled else ()),
    ]
    if settings.sandbox_enabled:
        channel_routes.append(catchers.catch)  # a webhook catcher's URL
    handlers: list = [health, public_api, customer_api, *channel_routes, *docs.static_routes()]
    handlers += metrics_routes(settings, queues=True)
    handlers += inbox.routes(settings)  # the web inbox (/inbox), out of the OpenAPI document
    if settings.admin_token:
        handlers.append(
            Router(
                path="/",
                guards=[admin_guard],
                security=[{"adminToken": []}],
                route_handlers=[admin.TenantController, admin.AdminTrafficAccountController, status.status],
            )
        )

    app = _gateway(
        runtime,
        handlers,
        lifespan=[lifespan],
        after_response=forget_changed_lookups,
        plugins=[SQLAlchemyPlugin(config=runtime.db_config), problem_details_plugin(), openapi.DescribedStructs()],
        template_config=inbox.template_config(),
        openapi_config=OpenAPIConfig(
            title="Omnichannel gateway",
            version=VERSION,
            description=(
                "The Chat API (customers, messages, webhooks, traffic accounts, message templates) and the operator "
                "API. `{version}` is v1, v1.0 or v1.1; fixed path segments match case-insensitively and in singular "
                "or plural form (`Message`/`Messages`). Every response carries the `RateLimit-Policy` and "
                "`RateLimit` fields (IETF draft); over the quota the answer is 429 `rate_limited` with `Retry-After`."
            ),
            path=docs.SCHEMA_PATH,
            render_plugins=docs.render_plugins(),  # pages whose scripts and styles the gateway serves (offline)
            webhooks=openapi_webhooks(),  # the payloads a customer's webhook receives
            components=[
                Components(
                    security_schemes={
                        "bearer": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                        "apiKey": SecurityScheme(type="apiKey", name=API_KEY_HEADER, security_scheme_in="header"),
                        "adminToken": SecurityScheme(type="http", scheme="bearer", description="GATEWAY_ADMIN_TOKEN"),
                    }
                ),
                openapi.components(),
            ],
        ),
    )
    openapi.document(app)
    return app


def _end_streams_when_told_to_stop(runtime: Runtime) -> None:
    """Told to stop (SIGINT, SIGTERM), uvicorn waits for the open requests (up to its graceful timeout) before
    the lifespan ends; the event streams and long-polls would hold it up until they are cut. So its handlers,
    installed in the main thread before the lifespan starts, are wrapped to end them first."""
    if threading.current_thread() is not threading.main_thread():
        return  # served in a thread (a test): uvicorn handles no signals there
    loop = asyncio.get_running_loop()
    for number in (signal.SIGINT, signal.SIGTERM):
        told = signal.getsignal(number)
        if callable(told):

            def ending(signum: int, frame: Any, told: Any = told) -> None:
                if "event_tail" in runtime.__dict__:  # someone listened
                    loop.call_soon_threadsafe(runtime.event_tail.close)
                told(signum, frame)

            signal.signal(number, ending)


def create_worker_app(settings: Settings | None = None, callbacks: bool = True) -> Gateway:
    """A `gateway worker` process: the dispatch, webhook delivery and failover-timer loops, run by the app's
    lifespan, and the providers' callback routes (with /health, and /metrics when on), served when the worker
    is given a port: delivery reports and inbound messages then cost the customer API's process nothing
    (BENCHMARKS.md). Several such processes can share one callback socket (`gateway worker --processes N`).
    Without ``callbacks``: /health and /metrics only (a worker given a metrics port and no callbacks port)."""
    runtime = Runtime(settings or Settings.from_env())
    metrics.configure(runtime.settings, "worker")

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        async with runtime:
            await check_schema(runtime.engine, wait=True)
            stop = asyncio.Event()
            owner = runtime.dispatcher.owner
            events.info("worker started", worker=owner)
            running = asyncio.create_task(runtime.run_loops(stop))
            # A loop that fails ends the process (its supervisor starts another) rather than leave it serving
            # callbacks without dispatching: SIGTERM stops it as an operator would.
            running.add_done_callback(lambda _: stop.is_set() or os.kill(os.getpid(), signal.SIGTERM))
            try:
                yield
            finally:
                stop.set()
                failed = await asyncio.gather(running, return_exceptions=True)
        if isinstance(failed[0], Exception):
            log.critical("the worker's loops failed; exiting", exc_info=failed[0])
            os._exit(1)
        events.info("worker stopped", worker=owner)

    routes = [health, *(callback_routers(all_channels().values()) if callbacks else ())]
    return _gateway(
        runtime,
        [*routes, *metrics_routes(runtime.settings, queues=False)],
        lifespan=[lifespan],
        plugins=[problem_details_plugin()],
        openapi_config=None,
    )


def _gateway(runtime: Runtime, handlers: list[Any], **options: Any) -> Gateway:
    """What every HTTP surface of the gateway shares: counted by client address (with the RateLimit
    fields on every answer), NUL characters refused, errors as problem+json, the body size limit, the
    dependencies its handlers take."""
    return Gateway(
        runtime,
        route_handlers=handlers,
        middleware=[AddressRateLimit],
        before_request=refuse_nul_characters,
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=runtime.settings.max_body_bytes,
        dependencies=APP_DEPENDENCIES,
        debug=False,
        logging_config=None,  # every process's logging is gateway.logs'
        **options,
    )


def openapi_json() -> str:
    """The OpenAPI document the app serves at /schema, as committed in openapi/ (`make openapi`)."""
    # Fixed settings: the document must not depend on the environment it is generated in.
    settings = Settings(
        database_url="sqlite+aiosqlite:///:memory:", jwt_keys=("x" * 32,), secret_keys=("x",), admin_token="x"
    )
    schema = create_app(settings).openapi_schema.to_schema()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"
