"""Every process's log lines: structlog over the standard library, so that our structured events and the
lines of uvicorn, Alembic, SQLAlchemy and httpx (plain ``logging`` loggers) come out in one format
(GATEWAY_LOG_FORMAT: ``console`` or ``json``) at one level (GATEWAY_LOG_LEVEL), with secrets redacted
from every field; and the access log, a line per HTTP request in place of uvicorn's.
"""

from __future__ import annotations

import datetime
import functools
import logging
import re
import sys
from time import perf_counter
from typing import Any
from uuid import UUID

import msgspec
import structlog
from structlog.typing import EventDict

MIGRATION_LOG = "alembic.runtime.migration"
REDACTED = "[redacted]"

# A field whose name holds one of these is a secret whatever its value (compared lower-case, without _ and -).
SECRET_NAMES = ("token", "secret", "password", "authorization", "apikey", "credential", "settings")
# Secrets inside any string: each alternative keeps its one group (what precedes the secret) and drops the rest.
SECRET_TEXT = re.compile(
    r"(/bot)[^/\s?#\"']+(?=/)"  # a Telegram bot token in a provider path (/bot<token>/<method>)
    r"|([?&;][\w.-]*(?:token|secret|key|password|signature|auth)[\w.-]*=)[^&\s#\"']+"  # ?token=... in a URL
    r"|([\w-]*(?:authorization|api[-_]?key|password|secret|token)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+|basic\s+)?)"
    r"[^\s\"',;&}]+"  # "Authorization": "Bearer ...", password=..., in a repr or a message
    r"|(bearer\s+)[\w.~+/=-]+"
    r"|(gk_)[\w-]{16,}"  # an API key (gateway.lib.crypto.API_KEY_PREFIX)
    r"|(://[^/\s:@]+:)[^@\s/]+(?=@)",  # a URL's password
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    return SECRET_TEXT.sub(lambda match: match.group(match.lastindex or 0) + REDACTED, text)


@functools.lru_cache(maxsize=1024)  # field names are few; this runs for each field of each line
def _secret_name(name: str) -> bool:
    plain = name.lower().replace("_", "").replace("-", "")
    return any(word in plain for word in SECRET_NAMES)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, UUID):
        return str(value)  # plain in both formats (the console renderer would show UUID('...'))
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: REDACTED if _secret_name(str(key)) else _clean(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(item) for item in value]
    return value


def redact(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """The safety net under every line (ours and other libraries'): a field named like a secret is dropped,
    and secrets in known shapes (tokens in URLs, Authorization values, API keys) are cut out of any string,
    the rendered traceback included. The code still logs no secret on purpose; this catches what slips."""
    for key, value in event_dict.items():
        if type(value) is int or type(value) is float or value is None:
            continue
        event_dict[key] = REDACTED if _secret_name(key) else _clean(value)
    return event_dict


def _json(value: Any, **_: Any) -> str:
    return msgspec.json.encode(value, enc_hook=str).decode()


def configure(format: str = "console", level: str = "INFO", migrations: bool = False) -> None:
    """Route every logger of this process through one formatter. Called by each process that starts
    (the CLI, and the app factories of processes uvicorn spawns). ``migrations``: Alembic's lines of the
    revisions it runs, wanted by `gateway migrate` only (elsewhere it tells the dialect on every schema
    check, /health included)."""
    shared: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    renderer = (
        structlog.processors.JSONRenderer(serializer=_json)
        if format == "json"
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,  # before redact: a traceback's text is redacted too
                redact,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per provider call and callback otherwise
    logging.getLogger(MIGRATION_LOG).setLevel(logging.INFO if migrations else logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's handlers (if a config installed any) give way to ours; its access line to AccessLog's.
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True


access = structlog.get_logger("gateway.access")


class AccessLog:
    """ASGI middleware around an app: a line per HTTP request (uvicorn's own access line is off), with the
    path as the client sent it (gateway.app.Gateway rewrites it before routing), the query with its
    secrets redacted, the status, the time to the end of the answer, and the client's address."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self.app, name)  # the app's own attributes (its runtime, its state) stay at hand

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, query, started = scope["path"], scope["query_string"], perf_counter()
        status = 0

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            access.info(
                "request",
                method=scope["method"],
                path=path,
                query=query.decode("latin-1") if query else None,  # redacted with every string (redact)
                status=status,
                duration_ms=round((perf_counter() - started) * 1000, 1),
                client=f"{client[0]}:{client[1]}" if client else None,
            )
