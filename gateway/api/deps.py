"""Dependencies and guards shared by the API modules."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import Principal
from gateway.problems import Problem

API_VERSIONS = ("v1", "v1.0", "v1.1")

DbSession = NamedDependency[AsyncSession]  # the request's session (advanced-alchemy)
Caller = NamedDependency[Principal]  # the authenticated customer or API key
API_PREFIX = "/api/{version:str}"


async def version_guard(connection: ASGIConnection, _handler: Any) -> None:
    version = str(connection.path_params.get("version", "")).lower()
    if version not in API_VERSIONS:
        raise Problem(
            404, "unknown_api_version", f"API version {version!r} does not exist; use one of {', '.join(API_VERSIONS)}."
        )


async def bulk_only_on_v11(connection: ASGIConnection, _handler: Any) -> None:
    """A guard: it answers before the body is read, so version 1 gets this 404 whatever it sent."""
    if str(connection.path_params.get("version", "")).lower() != "v1.1":
        raise Problem(
            404, "bulk_needs_v1_1", "Bulk sending is available from API version 1.1: use /api/v1.1/Messages/..."
        )


def provide_principal(request: Request, db_session: DbSession) -> Principal:  # noqa: ARG001
    """The caller authenticated by the middleware. It takes ``db_session`` (unused) so that Litestar
    resolves the two one after the other: dependencies of one level are resolved concurrently, in an
    anyio task group per request, which cost a tenth of a send's CPU in the API (py-spy)."""
    return request.user
