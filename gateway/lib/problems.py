"""Errors as ``application/problem+json`` (RFC 9457) with a stable ``code``; validation errors name every field.

Built on Litestar's ProblemDetailsPlugin: every exception the app can raise is mapped to ``Problem``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from http import HTTPStatus
from typing import Annotated, Any

import msgspec
import structlog
from advanced_alchemy.exceptions import IntegrityError, NotFoundError, RepositoryError
from litestar import Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from gateway.lib.db import database_unavailable
from wire.errors import FieldError

log = logging.getLogger(__name__)
events = structlog.get_logger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:gateway:problem:"
RETRY_UNAVAILABLE_AFTER = 1  # seconds: a database restart takes a few; clients back off from here
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


class ProblemDetails(msgspec.Struct):
    """The body of every error answer (RFC 9457), as the OpenAPI document describes it."""

    type: Annotated[str, msgspec.Meta(description="`urn:gateway:problem:` and the code")]
    title: Annotated[str, msgspec.Meta(description="The HTTP status phrase")]
    status: int
    detail: Annotated[str, msgspec.Meta(description="What went wrong, for people")]
    code: Annotated[str, msgspec.Meta(description="What went wrong, for programs: stable")]
    errors: Annotated[list[FieldError], msgspec.Meta(description="Every field at fault, by its JSON path")] = []


class Problem(ProblemDetailsException):
    """An error answer: ``raise Problem(404, "not_found", "No webhook with this id")``."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: Iterable[FieldError] = (),
        headers: dict[str, str] | None = None,
        members: dict[str, Any] | None = None,
    ) -> None:
        """``members``: extension members of the answer beside ``code`` (RFC 9457), e.g. a current status."""
        extra: dict[str, Any] = {"code": code, **(members or {})}
        if errors := list(errors):
            extra["errors"] = [{"field": error.field, "message": error.message} for error in errors]
        super().__init__(
            detail=detail,
            status_code=status,
            headers=headers,
            extra=extra,
            type_=PROBLEM_TYPE_PREFIX + code,
            title=HTTPStatus(status).phrase,
        )


def invalid(errors: Iterable[FieldError], detail: str = "The request is not valid.") -> Problem:
    return Problem(400, "validation_error", detail, errors=errors)


def not_found(what: str, field: str | None = None) -> Problem:
    errors = [FieldError(field, f"no {what} with this id")] if field else []
    return Problem(404, "not_found", f"No {what} with this id.", errors=errors)


def _from_validation(request: Request, exc: ValidationException) -> Problem:
    from gateway.lib.validation import body_errors  # here, as validation builds on this module

    errors = body_errors(request) or [
        FieldError(
            _wire_name(request, item.get("key")) or item.get("source") or "body", item.get("message", "is not valid")
        )
        for item in (exc.extra if isinstance(exc.extra, list) else [])
    ]
    if not errors and "JSON" in str(exc.detail):
        errors = [FieldError("body", "is not valid JSON")]
    return invalid(errors)


def _wire_name(request: Request, key: str | None) -> str | None:
    """A handler parameter as the client spells it: ``force_delete`` -> the ``forceDelete`` query key,
    the ``webhook_id`` path segment -> ``webhookId``."""
    if not key:
        return key
    try:
        parameter = request.route_handler.parsed_fn_signature.parameters.get(key)
    except Exception:  # noqa: BLE001  (no route handler: keep litestar's name)
        return key
    if alias := getattr(getattr(parameter, "kwarg_definition", None), "name", None):  # QueryParameter(name=...)
        return alias
    if key in request.path_params:
        head, *rest = key.split("_")
        return head + "".join(part.title() for part in rest)
    return key


def _from_http(request: Request, exc: HTTPException) -> Problem:
    status = exc.status_code
    # Litestar's answer to a body that doesn't parse: a ClientException raised from a SerializationException
    # (msgspec's message doesn't always say "JSON", e.g. "Input data was truncated").
    if status == 400 and (isinstance(exc.__cause__, SerializationException) or "JSON" in str(exc.detail)):
        return invalid([FieldError("body", f"is not valid JSON: {exc.detail}")])
    detail = exc.detail if exc.detail and exc.detail != HTTPStatus(status).phrase else _default_detail(status)
    return Problem(
        status, _CODES.get(status, HTTPStatus(status).phrase.lower().replace(" ", "_")), detail, headers=exc.headers
    )


def _default_detail(status: int) -> str:
    return {
        404: "No such resource.",
        405: "This method is not allowed on this resource.",
        413: "The request body is larger than the limit (GATEWAY_MAX_BODY_BYTES).",
    }.get(status, HTTPStatus(status).description)


def _from_repository(request: Request, exc: RepositoryError) -> Problem:
    """Database constraint errors that a service did not turn into a problem of its own: a concurrent
    change (the same unique value, a row deleted meanwhile) that a retry will resolve or explain."""
    if database_unavailable(exc):
        return _unavailable(request, exc)
    if isinstance(exc, NotFoundError):
        return Problem(404, "not_found", "No such resource.")
    if isinstance(exc, IntegrityError):
        return Problem(409, "conflict", "The request conflicts with a concurrent change; retry it.")
    return _from_unexpected(request, exc)


def _from_too_deep(request: Request, exc: RecursionError) -> Problem:
    return invalid([FieldError("body", "is nested too deeply")])


def _unavailable(request: Request, exc: BaseException) -> Problem:
    """The database can't be reached or can't serve now (a restart, an outage, an exhausted pool): the
    request was not carried out, and the same request can be sent again. Logged without a traceback: an
    outage, not a bug."""
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    return Problem(
        503,
        "unavailable",
        "The database can't be reached right now. Retry after Retry-After: a send retried with the same Idempotency-Key "
        "is never carried out twice.",
        headers={"Retry-After": str(RETRY_UNAVAILABLE_AFTER)},
    )


def _from_unexpected(request: Request, exc: Exception) -> Problem:
    if database_unavailable(exc):
        return _unavailable(request, exc)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return Problem(500, "internal_error", "An unexpected error occurred; it has been logged.")


def _handler(convert: Any) -> Any:
    def handle(request: Request, exc: Exception) -> Response:
        return convert(request, exc).to_response(request)

    return handle


def refused_callbacks(channel: str) -> dict[type[Exception], Any]:
    """The exception handlers of a channel's callback routes: the usual answer, and a line saying which check
    refused the provider's callback (its signature or token: 401/403, an unknown account or message: 404, a
    malformed body: 400 with the field); a refused callback is otherwise silent (the provider just retries)."""

    def handle(request: Request, exc: HTTPException) -> Response:
        problem = (_from_validation if isinstance(exc, ValidationException) else _from_http)(request, exc)
        events.warning(
            "callback refused",
            channel=channel,
            traffic_account_id=request.path_params.get("account_id"),
            status=problem.status_code,
            refused=problem.extra["code"],
            why=problem.detail,
            errors=problem.extra.get("errors"),
        )
        return problem.to_response(request)

    return {ValidationException: handle, HTTPException: handle}


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig())


EXCEPTION_HANDLERS = {
    ValidationException: _handler(_from_validation),
    HTTPException: _handler(_from_http),
    RepositoryError: _handler(_from_repository),
    RecursionError: _handler(_from_too_deep),  # msgspec decoding a body nested thousands deep
    Exception: _handler(_from_unexpected),
}
