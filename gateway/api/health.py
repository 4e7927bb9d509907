"""GET /health: 200 when the database answers and its schema is current, else 503."""

from __future__ import annotations

from litestar import get
from litestar.openapi import ResponseSpec
from litestar.response import Response

from gateway.api.deps import Engine
from gateway.lib.db import SchemaBehind, check_schema
from gateway.schemas import Out


class Health(Out):
    status: str
    database: str


@get(
    "/health",
    tags=["operations"],
    summary="Liveness and readiness",
    responses={503: ResponseSpec(Health, description="The database can't be reached or its schema is behind")},
)
async def health(engine: Engine) -> Response[Health]:
    try:
        await check_schema(engine)
    except SchemaBehind as error:
        return Response(Health("unavailable", str(error)), status_code=503)
    except Exception as error:  # noqa: BLE001  (any failure to reach the database means not ready)
        return Response(Health("unavailable", f"database unreachable: {type(error).__name__}"), status_code=503)
    return Response(Health("ok", "ok"), status_code=200)
