"""Dependencies and guards shared by the API modules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency, Provide
from litestar.params import SkipValidation
from litestar.types import ASGIApp, Receive, Scope, Send
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from gateway.compatible_api import GatewayCompatibleApi
from gateway.events.tail import EventTail
from gateway.lib.problems import Problem
from gateway.messages.callbacks import ProviderCallbacks
from gateway.messages.reset import SandboxReset
from gateway.messages.service import MessageService
from gateway.tenants.auth import Principal
from gateway.tenants.login import LoginService
from gateway.webhooks.catchers import CatcherService, catchers_at
from gateway.webhooks.service import WebhookService

if TYPE_CHECKING:
    from gateway.runtime import Runtime

API_VERSIONS = ("v1", "v1.0", "v1.1")

DbSession = NamedDependency[AsyncSession]  # the request's session (advanced-alchemy)
Caller = NamedDependency[Principal]  # the authenticated customer or API key
# The services and parts of the runtime a handler takes, injected by name (the providers below).
Messages = NamedDependency[MessageService]
Webhooks = NamedDependency[WebhookService]
Login = NamedDependency[LoginService]
Reset = NamedDependency[SkipValidation[SandboxReset]]
Catchers = NamedDependency[SkipValidation[CatcherService]]
ProviderHttp = NamedDependency[httpx.AsyncClient]
Engine = NamedDependency[AsyncEngine]
RedisClient = NamedDependency[SkipValidation[Redis | None]]  # None: the embedded mode
# The gateway's side of provider callbacks, as the APIs use it (channels see it as channels.base.Callbacks).
GatewayCallbacks = NamedDependency[SkipValidation[ProviderCallbacks]]
Tail = NamedDependency[SkipValidation[EventTail]]  # the process's event tail (gateway.events.tail)
API_PREFIX = "/api/{version:str}"


class VersionCheck:
    """The versioned API's innermost middleware, where a guard would run: an unknown version is a 404. Not a
    guard: Litestar copies the route handler for every guard it calls, 3 % of the API's CPU per send (py-spy)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        version = str(scope["path_params"].get("version", "")).lower()
        if version not in API_VERSIONS:
            raise Problem(
                404,
                "unknown_api_version",
                f"API version {version!r} does not exist; use one of {', '.join(API_VERSIONS)}.",
            )
        await self.app(scope, receive, send)


async def bulk_only_on_v11(connection: ASGIConnection, _handler: Any) -> None:
    """A guard: it answers before the body is read, so version 1 gets this 404 whatever it sent."""
    if str(connection.path_params.get("version", "")).lower() != "v1.1":
        raise Problem(
            404, "bulk_needs_v1_1", "Bulk sending is available from API version 1.1: use /api/v1.1/Messages/..."
        )


def provide_principal(request: Request) -> Principal:
    """The caller authenticated by the middleware."""
    return request.user


def provide_session(request: Request, principal: Caller) -> AsyncSession:  # noqa: ARG001
    """The request's session (advanced-alchemy's, closed by its before-send handler), as ``db_session`` behind
    the customer API's authentication. It takes ``principal`` (unused) so that Litestar resolves the two one
    after the other: dependencies of one level are resolved concurrently, in an anyio task group per
    request, which cost a tenth of a send's CPU in the API (py-spy)."""
    return session_of(request)


def session_of(connection: ASGIConnection) -> AsyncSession:
    """The request's session, made on this first call (advanced-alchemy's, closed by its before-send handler)."""
    return runtime_of(connection).db_config.provide_session(connection.app.state, connection.scope)


def runtime_of(connection: ASGIConnection) -> Runtime:
    """The process's runtime (gateway.runtime), for the providers below and the middleware: handlers get
    what they need injected, never the runtime."""
    return connection.app.state.runtime


# The services are made per request from its session and the runtime's parts (Litestar's Provide, as
# litestar-fullstack wires its services). Those of the customer API take ``principal`` (unused) for the
# reason provide_session takes ``principal``: one dependency per level, no task group.


def provide_message_service(request: Request, principal: Caller) -> MessageService:  # noqa: ARG001
    """Its session made on first use: a send whose traffic account is remembered (gateway.lib.lookups) needs
    none, and making and closing one was 5 % of the API's CPU per send (py-spy)."""
    runtime = runtime_of(request)
    return MessageService(lambda: session_of(request), runtime.acceptor, runtime.lookups)


def provide_webhook_service(request: Request, db_session: DbSession, principal: Caller) -> WebhookService:  # noqa: ARG001
    runtime = runtime_of(request)
    return WebhookService(
        db_session, runtime.settings.allow_private_webhook_urls, runtime.work_due, catchers_at(runtime.settings)
    )


def provide_catcher_service(request: Request, db_session: DbSession, principal: Caller) -> CatcherService:  # noqa: ARG001
    return CatcherService(db_session, runtime_of(request).settings.public_base_url)


def provide_sandbox_reset(request: Request, principal: Caller) -> SandboxReset:  # noqa: ARG001
    runtime = runtime_of(request)
    return SandboxReset(runtime.sessions, runtime.acceptor, runtime.failover_index, runtime.journal)


def provide_compatible(request: Request, db_session: DbSession, principal: Caller) -> GatewayCompatibleApi:  # noqa: ARG001
    runtime = runtime_of(request)
    service = MessageService(lambda: db_session, runtime.acceptor, runtime.lookups)
    settings = runtime.settings
    return GatewayCompatibleApi(
        db_session, service, settings.bulk_max_messages, settings.allow_private_webhook_urls, catchers_at(settings)
    )


def provide_login_service(request: Request, db_session: DbSession) -> LoginService:
    runtime = runtime_of(request)
    return LoginService(db_session, runtime.settings, runtime.token_issuer)


def provide_callbacks(request: Request) -> ProviderCallbacks:
    return runtime_of(request).callbacks


def provide_provider_http(request: Request) -> httpx.AsyncClient:
    return runtime_of(request).provider_http


def provide_engine(request: Request) -> AsyncEngine:
    return runtime_of(request).engine


def provide_redis(request: Request) -> Redis | None:
    return runtime_of(request).redis


def provide_event_tail(request: Request) -> EventTail:
    return runtime_of(request).event_tail


def _provide(function: Any) -> Provide:
    return Provide(function, sync_to_thread=False)


# Every HTTP surface's (the channels' callback and sandbox routes take ``callbacks``).
APP_DEPENDENCIES = {
    "callbacks": _provide(provide_callbacks),
    "provider_http": _provide(provide_provider_http),
    "engine": _provide(provide_engine),
    "redis": _provide(provide_redis),
}
# The customer API's: login without authentication, the rest with it.
LOGIN_DEPENDENCIES = {"login_service": _provide(provide_login_service)}
# A channel's compatible API routes' (channels.base.CompatibleApiDependency).
COMPATIBLE_DEPENDENCIES = {
    "principal": _provide(provide_principal),
    "db_session": _provide(provide_session),
    "compatible": _provide(provide_compatible),
}
CUSTOMER_DEPENDENCIES = {
    **LOGIN_DEPENDENCIES,
    "principal": _provide(provide_principal),
    "db_session": _provide(provide_session),
    "message_service": _provide(provide_message_service),
    "webhook_service": _provide(provide_webhook_service),
    "sandbox_reset": _provide(provide_sandbox_reset),
    "catcher_service": _provide(provide_catcher_service),
    "event_tail": _provide(provide_event_tail),
}
