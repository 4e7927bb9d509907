"""The application factory."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar, Request, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import Receive, Scope, Send
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from channels.registry import all_channels
from channels.sandbox_support import close_callback_client
from gateway import openapi
from gateway.api import admin, customers, messages, templates, traffic_accounts, webhooks
from gateway.api.deps import API_PREFIX, provide_principal, version_guard
from gateway.api.health import health
from gateway.auth import API_KEY_HEADER, CustomerAuthMiddleware, TokenIssuer, admin_guard
from gateway.crypto import configure_encryption
from gateway.db import check_schema, create_engine, session_maker
from gateway.delivery.payloads import openapi_webhooks
from gateway.draining import Draining
from gateway.idempotency import IdempotencyKeys, IdempotencyMiddleware
from gateway.lookups import Lookups
from gateway.paths import PathNormaliser
from gateway.pipeline.acceptor import Acceptor
from gateway.pipeline.callbacks import CallbackTokens, GatewayPipeline
from gateway.problems import EXCEPTION_HANDLERS, problem_details_plugin
from gateway.rate_limits import (
    TENANT_OPT,
    AddressRateLimit,
    RateLimits,
    TenantRateLimit,
    counter_for,
    with_rate_limit_headers,
)
from gateway.redis_client import redis_client
from gateway.settings import Settings
from gateway.validation import refuse_nul_characters
from gateway.work_due import WorkDue
from gateway.workers import Workers

log = logging.getLogger(__name__)
VERSION = "0.1.0"


class Gateway(Litestar):
    """Litestar, with the customer API's fixed path segments matched case-insensitively."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.normalise_path = PathNormaliser("/api/", (route.path for route in self.routes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = self.normalise_path(scope["path"])
            if path != scope["path"]:
                scope["path"] = path
                scope["raw_path"] = path.encode()
        if scope["type"] == "http":  # every response carries the RateLimit fields, a 404 of no route too
            send = with_rate_limit_headers(scope, send, self.state.rate_limits)
            receive, send = Draining.wrap(scope, receive, send, self.state.settings.max_body_bytes)
        await super().__call__(scope, receive, send)


async def forget_changed_lookups(request: Request) -> None:
    """A change made through the API (a revoked key, a new password, an edited traffic account) is
    seen at once by this process's next request; sends and provider callbacks change none of them."""
    path = request.url.path.lower()
    if request.method not in ("GET", "HEAD", "OPTIONS") and not any(
        part in path for part in ("/message", "/callbacks/", "/sandbox/")
    ):
        request.app.state.lookups.clear()


def create_app(settings: Settings | None = None) -> Gateway:
    settings = settings or Settings.from_env()
    configure_encryption(settings.secret_keys)
    engine = create_engine(settings.database_url)
    db_config = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_maker=session_maker(engine),
        session_dependency_key="db_session",
        create_all=False,
        set_default_exception_handler=False,  # repository errors are problems too (gateway.problems)
    )

    tokens = CallbackTokens(settings.callback_signing_keys, settings.callback_token_lifetime_seconds)
    redis = redis_client(settings.redis_url)
    workers = Workers.build(settings, engine, tokens, redis)
    acceptor = Acceptor(engine, on_committed=workers.accepted)
    lookups = Lookups()
    pipeline = GatewayPipeline.from_settings(engine, tokens, settings, lookups, workers.work_due)
    idempotency_keys = IdempotencyKeys(engine, settings.idempotency_ttl_seconds)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await check_schema(engine, wait=True)  # refuses to start on a schema that is behind
        stop = asyncio.Event()
        jobs = [idempotency_keys.run_purger(stop)]
        if settings.embedded_worker:  # the worker's loops, in the server (see `gateway worker`)
            jobs.append(workers.run(stop))
        running = [asyncio.create_task(job) for job in jobs]
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*running)
            await workers.aclose()
            await close_callback_client()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    customer_api = Router(
        path=API_PREFIX,
        guards=[version_guard],
        middleware=[DefineMiddleware(CustomerAuthMiddleware), TenantRateLimit, IdempotencyMiddleware],
        opt={TENANT_OPT: "tenant"},  # counted per tenant by TenantRateLimit, not per address
        dependencies={"principal": Provide(provide_principal, sync_to_thread=False)},
        security=[{"bearer": []}, {"apiKey": []}],
        route_handlers=[
            customers.PasswordController,
            traffic_accounts.TrafficAccountController,
            webhooks.WebhookController,
            webhooks.WebhookTrafficAccountController,
            templates.TemplateController,
            messages.MessageController,
            messages.ConversationController,
        ],
    )
    public_api = Router(path=API_PREFIX, guards=[version_guard], route_handlers=[customers.LoginController])
    channel_routes = [
        route
        for channel in all_channels().values()
        for route in (*channel.callback_routes, *(channel.sandbox_routes if settings.sandbox_enabled else ()))
    ]
    handlers: list = [health, public_api, customer_api, *channel_routes]
    if settings.admin_token:
        handlers.append(
            Router(
                path="/",
                guards=[admin_guard],
                security=[{"adminToken": []}],
                route_handlers=[admin.TenantController, admin.AdminTrafficAccountController],
            )
        )

    app = _gateway(
        settings,
        handlers,
        {
            "settings": settings,
            "engine": engine,
            "db_config": db_config,
            "token_issuer": TokenIssuer(settings.jwt_keys, settings.token_lifetime_seconds),
            "dispatcher": workers.dispatcher,
            "deliverer": workers.deliverer,
            "acceptor": acceptor,
            "failover_timers": workers.timers,
            "work_due": workers.work_due,
            "lookups": lookups,
            "pipeline": pipeline,
            "rate_limits": RateLimits(settings, counter_for(redis)),
            "idempotency_keys": idempotency_keys,
        },
        lifespan=[lifespan],
        after_response=forget_changed_lookups,
        plugins=[SQLAlchemyPlugin(config=db_config), problem_details_plugin()],
        openapi_config=OpenAPIConfig(
            title="Omnichannel gateway",
            version=VERSION,
            description=(
                "The Chat API (customers, messages, webhooks, traffic accounts, WhatsApp templates) and the operator "
                "API. `{version}` is v1, v1.0 or v1.1; fixed path segments match case-insensitively and in singular "
                "or plural form (`Message`/`Messages`). Every response carries the `RateLimit-Policy` and "
                "`RateLimit` fields (IETF draft); over the quota the answer is 429 `rate_limited` with `Retry-After`."
            ),
            path="/schema",
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


def create_worker_app(settings: Settings | None = None) -> Gateway:
    """A `gateway worker` process: the dispatch, webhook delivery and failover-timer loops, run by the app's
    lifespan, and the providers' callback routes (with /health), served when the worker is given a port:
    delivery reports and inbound messages then cost the customer API's process nothing (BENCHMARKS.md).
    Several such processes can share one callback socket (`gateway worker --processes N`)."""
    settings = settings or Settings.from_env()
    configure_encryption(settings.secret_keys)
    engine = create_engine(settings.database_url)
    tokens = CallbackTokens(settings.callback_signing_keys, settings.callback_token_lifetime_seconds)
    redis = redis_client(settings.redis_url)
    workers = Workers.build(settings, engine, tokens, redis)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await check_schema(engine, wait=True)
        stop = asyncio.Event()
        log.info("worker %s dispatching", workers.dispatcher.owner)
        running = asyncio.create_task(workers.run(stop))
        # A loop that fails ends the process (its supervisor starts another) rather than leave it serving
        # callbacks without dispatching: SIGTERM stops it as an operator would.
        running.add_done_callback(lambda _: stop.is_set() or os.kill(os.getpid(), signal.SIGTERM))
        try:
            yield
        finally:
            stop.set()
            failed = await asyncio.gather(running, return_exceptions=True)
            await workers.aclose()
            if redis is not None:
                await redis.aclose()
            await engine.dispose()
            if isinstance(failed[0], Exception):
                log.critical("the worker's loops failed; exiting", exc_info=failed[0])
                os._exit(1)
            log.info("worker %s stopped", workers.dispatcher.owner)

    return _callback_app(settings, engine, tokens, redis, workers.work_due, lifespan=[lifespan])


def _callback_app(
    settings: Settings,
    engine: AsyncEngine,
    tokens: CallbackTokens,
    redis: Redis | None,
    work_due: WorkDue,
    **options: Any,
) -> Gateway:
    """The providers' callback routes and /health."""
    lookups = Lookups()
    pipeline = GatewayPipeline.from_settings(engine, tokens, settings, lookups, work_due)
    routes = [route for channel in all_channels().values() for route in channel.callback_routes]
    state = {
        "settings": settings,
        "engine": engine,
        "lookups": lookups,
        "pipeline": pipeline,
        "rate_limits": RateLimits(settings, counter_for(redis)),
    }
    return _gateway(
        settings, [health, *routes], state, plugins=[problem_details_plugin()], openapi_config=None, **options
    )


def _gateway(settings: Settings, handlers: list[Any], state: dict[str, Any], **options: Any) -> Gateway:
    """What every HTTP surface of the gateway shares: counted by client address (with the RateLimit
    fields on every answer), NUL characters refused, errors as problem+json, the body size limit."""
    return Gateway(
        route_handlers=handlers,
        middleware=[AddressRateLimit],
        before_request=refuse_nul_characters,
        exception_handlers=EXCEPTION_HANDLERS,
        request_max_body_size=settings.max_body_bytes,
        state=State(state),
        debug=False,
        **options,
    )
