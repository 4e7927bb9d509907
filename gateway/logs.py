"""Every process's log lines: our structured events (structlog) and the records of uvicorn, Alembic,
SQLAlchemy and httpx (standard ``logging`` loggers, through structlog's ProcessorFormatter) come out in one
format (GATEWAY_LOG_FORMAT: ``console`` or ``json``) at one level (GATEWAY_LOG_LEVEL), with secrets redacted
from every field; and the access line, one per HTTP request in place of uvicorn's.
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
PLAIN = frozenset({"timestamp", "level", "logger"})  # fields of ours that hold no secret

# A field whose name holds one of these is a secret whatever its value (compared lower-case, without _ and -).
SECRET_NAMES = ("token", "secret", "password", "authorization", "apikey", "credential", "settings")
# Secrets inside any string: each alternative keeps its one group (what precedes the secret) and drops the rest.
SECRET_TEXT = re.compile(
    r"(/bot)[^/\s?#\"']+(?=/)"  # a Telegram bot token in a provider path (/bot<token>/<method>)
    r"|([?&;][\w.-]*(?:token|secret|key|password|signature|auth)[\w.-]*=)[^&\s#\"']+"  # ?token=... in a URL
    r"|((?:authorization|api[-_]?key|password|secret|token)[\"']?\s*[:=]\s*[\"']?(?:bearer\s+|basic\s+)?)"
    r"[^\s\"',;&}]+"  # "Authorization": "Bearer ...", password=..., in a repr or a message
    r"|(bearer\s+)[\w.~+/=-]+"
    r"|(gk_)[\w-]{16,}"  # an API key (gateway.lib.crypto.API_KEY_PREFIX)
    r"|(://[^/\s:@]+:)[^@\s/]+(?=@)",  # a URL's password
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    # The regex costs ~1.5 µs even on a short string; most strings lack every mark that a secret's shape needs.
    if "=" in text or ":" in text or "/bot" in text or "gk_" in text or "earer" in text or "EARER" in text:
        return SECRET_TEXT.sub(lambda match: match.group(match.lastindex or 0) + REDACTED, text)
    return text


def redact_headers(headers: Any) -> dict[str, str]:
    """HTTP headers as ``redact`` leaves them: a header named like a secret (Authorization, X-Mitto-API-Key,
    X-Viber-Auth-Token...) redacted, secrets in known shapes cut out of the others."""
    return {name: REDACTED if _secret_name(name) else redact_text(value) for name, value in headers.items()}


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
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return redact_text(str(value))  # any other object is rendered by its text: redacted as text


def redact(_logger: Any, _method: str, event_dict: EventDict) -> EventDict:
    """The safety net under every line (ours and other libraries'): a field named like a secret is dropped,
    and secrets in known shapes (tokens in URLs, Authorization values, API keys) are cut out of any string,
    the rendered traceback included. The code still logs no secret on purpose; this catches what slips."""
    for key, value in event_dict.items():
        if key in PLAIN or value is None or type(value) is int or type(value) is float:
            continue
        if _secret_name(key):
            event_dict[key] = REDACTED
        elif type(value) is str:
            event_dict[key] = redact_text(value)
        else:
            event_dict[key] = _clean(value)
    return event_dict


def _json(value: Any, **_: Any) -> str:
    return msgspec.json.encode(value, enc_hook=str).decode()


def console(_logger: Any, _method: str, event_dict: EventDict) -> str:
    """GATEWAY_LOG_FORMAT=console: ``time level event [logger] key=value ...``, then the traceback if any.
    Our own, as few lines: structlog's ConsoleRenderer costs ~13 µs a line (measured), about what uvicorn's
    whole access line costs, and the access line is on every request."""
    exception = event_dict.pop("exception", None)
    event = event_dict.pop("event", "")
    event = event if type(event) is not str or event.isprintable() else repr(event)
    head = f"{event_dict.pop('timestamp', '')} {event_dict.pop('level', ''):<7} {event}"
    # Quoted when a value has a space, or a character (a newline, a tab) that could fake another line or
    # field: a client sets the access line's path.
    fields = " ".join(
        f"{key}={value!r}"
        if type(value) is str and (" " in value or not value or not value.isprintable())
        else f"{key}={value}"
        for key, value in event_dict.items()
        if value is not None and key != "logger"
    )
    line = f"{head} [{event_dict.get('logger', '')}] {fields}".rstrip()
    return f"{line}\n{exception}" if exception else line


def configure(format: str = "console", level: str = "INFO", migrations: bool = False) -> None:
    """Route every logger of this process to one format. Called by each process that starts (the CLI, and
    the app factories of processes uvicorn spawns). ``migrations``: Alembic's lines of the revisions it runs,
    wanted by `gateway migrate` only (elsewhere it tells the dialect on every schema check, /health included).

    Our own events (``structlog.get_logger(__name__)``) are rendered by structlog and written at once: a
    standard-library record costs several times more, and the access line is on every request. Other
    libraries' ``logging`` records get the same processors through ProcessorFormatter."""
    renderer = structlog.processors.JSONRenderer(serializer=_json) if format == "json" else console
    stamp = structlog.processors.TimeStamper(fmt="iso", utc=True)
    last = [structlog.processors.format_exc_info, redact, renderer]  # format first: a traceback is redacted too
    structlog.configure(
        processors=[structlog.processors.add_log_level, structlog.stdlib.add_logger_name, stamp, *last],
        logger_factory=_NamedWriter,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level]),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_log_level, structlog.stdlib.add_logger_name, stamp],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last],
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


class _NamedWriter(structlog.WriteLogger):
    """structlog's writer to stderr, with a name for its lines' ``logger`` field (as the standard library's
    records have), which structlog's own writer lacks."""

    def __init__(self, name: str = "gateway") -> None:
        super().__init__(sys.stderr)
        self.name = name


access = structlog.get_logger("gateway.access")


class AccessLog:
    """ASGI middleware around an app: a line per HTTP request (uvicorn's own access line is off), with the
    path as the client sent it (gateway.app.Gateway rewrites it before routing), the query with its
    secrets redacted, the status, the time to the end of the answer, and the client's address."""

    __slots__ = ("app",)

    def __init__(self, app: Any) -> None:
        self.app = app

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
