"""Settings, read once from GATEWAY_* environment variables (every one is listed in the README)."""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wire.http import Proxy

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A GATEWAY_* variable holds a value we can't use."""


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"GATEWAY_{name}")
    return default if value is None or value.strip() == "" else value.strip()


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    if value is None:
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"GATEWAY_{name} must be true or false, got {value!r}")


def _int(name: str, default: int, minimum: int = 1) -> int:
    value = _env(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingsError(f"GATEWAY_{name} must be an integer, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"GATEWAY_{name} must be at least {minimum}, got {number}")
    return number


def _list(name: str) -> list[str]:
    value = _env(name)
    return [item.strip() for item in value.split(",") if item.strip()] if value else []


def _egress_proxy() -> str:
    """GATEWAY_EGRESS_PROXY, checked: a proxy we can't use stops the start, rather than every send later
    (the standard variables, HTTPS_PROXY & co., are wire.http.Proxies' to read, and only warned about).
    The message never shows a URL (it may hold a password)."""
    value = _env("EGRESS_PROXY", "") or ""
    if value:
        try:
            Proxy.parse(value)
        except (ValueError, httpx.InvalidURL) as error:
            raise SettingsError(f"GATEWAY_EGRESS_PROXY: {error}") from None
    return value


LOG_FORMATS = ("console", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _env(name, default) or default
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise SettingsError(f"GATEWAY_{name} must be one of {', '.join(choices)}; got {value!r}")


def log_settings() -> tuple[str, str]:
    """GATEWAY_LOG_FORMAT and GATEWAY_LOG_LEVEL, which every process reads before anything else (its first
    lines, Settings' own warnings included, are in that format)."""
    return _choice("LOG_FORMAT", "console", LOG_FORMATS), _choice("LOG_LEVEL", "INFO", LOG_LEVELS)


MIN_JWT_KEY_LENGTH = 32  # HS256 keys shorter than the hash output are brute-forceable (RFC 7518 3.2)


def check_jwt_keys(keys: tuple[str, ...] | list[str]) -> None:
    """At least one key, and every key long enough; the message never shows a key."""
    if not keys:
        raise SettingsError("GATEWAY_JWT_KEYS must hold at least one key")
    for position, key in enumerate(keys, start=1):
        if not isinstance(key, str) or len(key) < MIN_JWT_KEY_LENGTH:
            length = len(key) if isinstance(key, str) else 0
            raise SettingsError(
                f"GATEWAY_JWT_KEYS: every key must be at least {MIN_JWT_KEY_LENGTH} characters; "
                f"key {position} has {length}"
            )


def normalise_database_url(url: str) -> str:
    """Accept the plain URLs people paste and pick the async driver we ship."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite://", "sqlite+aiosqlite://"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    if url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        return url
    scheme = url.split("://", 1)[0] if "://" in url else url[:20]  # never echo the rest: it may hold a password
    raise SettingsError(f"GATEWAY_DATABASE_URL must be a postgresql:// or sqlite:// URL, not {scheme}://...")


def _instance_secret(data_dir: Path) -> bytes:
    """A random secret kept in the data directory, so a local mock works with no configuration
    and keeps its tokens and encrypted credentials valid across restarts."""
    path = data_dir / "instance.secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip().encode()


@functools.cache  # once per process, however often it reads its settings
def _warn_generated_secret(path: Path) -> None:
    log.warning(
        "GATEWAY_JWT_KEYS or GATEWAY_SECRET_KEY is not set: using a generated secret in %s. Set both in production.",
        path,
    )


def _derived(secret: bytes, label: str) -> str:
    return hmac.new(secret, label.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Settings:
    database_url: str
    jwt_keys: tuple[str, ...]
    secret_keys: tuple[str, ...]
    redis_url: str | None = None
    admin_token: str | None = None
    token_lifetime_seconds: int = 3600
    allow_private_webhook_urls: bool = False
    max_body_bytes: int = 5 * 1024 * 1024
    login_max_failures: int = 5
    login_window_seconds: int = 900
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str = ""  # how providers (and the sandbox) reach this gateway; default http://host:port
    callback_url: str = ""  # where providers' callbacks go instead (`gateway worker --callbacks-port`)
    callback_keys: tuple[str, ...] = ()  # sign per-message callback tokens; default: the JWT keys
    callback_token_lifetime_seconds: int = 7 * 24 * 3600
    sandbox_enabled: bool = True  # mount the sandbox providers under /sandbox
    worker_in_server: bool | None = None  # None: run the dispatch loop in the server when there is no Redis
    webhook_timeout_seconds: int = 15  # a delivery not answered with a 2xx within this is a failed attempt
    webhook_disable_after_seconds: int = 5 * 24 * 3600  # a webhook failing every attempt this long is disabled
    # Deliveries in flight per worker. A delivery holds its slot until its outcome is committed, so the slots, not the
    # CPU, bounded one worker (bench.webhooks: 100 -> 1,316-1,377/s, 200 -> 1,511-1,704/s, 400 -> 1,842-1,887/s).
    webhook_concurrency: int = 400
    webhook_endpoint_concurrency: int = 20  # of which to one webhook at most
    rate_limit_window_seconds: int = 60  # the window of every rate-limit quota below
    rate_limit_quota: int = 120_000  # customer API requests per window and tenant (a tenant may have its own)
    rate_limit_address_quota: int = 6_000  # requests per window and client address not authenticated as a tenant
    rate_limit_provider_quota: int = 600_000  # /callbacks and /sandbox requests per window and client address
    idempotency_ttl_seconds: int = 24 * 3600  # how long an Idempotency-Key is remembered
    data_dir: Path = field(default_factory=lambda: Path(".gateway"))
    access_log: bool = True  # one log line per request (costs ~10% of a busy server's CPU)
    bulk_max_messages: int = 10_000  # destinations (or messages) per bulk request
    created_retention_days: int = 60  # failover steps never triggered (status Created) are purged after this
    lease_seconds: int = 60  # a claimed message (or webhook event) is another worker's after this
    egress_proxy: str = ""  # provider calls and webhook deliveries go through it (before HTTPS_PROXY & co.)
    log_format: str = "console"  # or json: a JSON object per line (gateway.logs)
    log_level: str = "INFO"
    metrics: bool = False  # serve GET /metrics (gateway.metrics); a metrics token turns it on too
    metrics_token: str | None = None  # a scrape must then carry `Authorization: Bearer <token>`
    metrics_tenant_label: bool = False  # accepted messages and sends counted per tenant (small installations)
    sandbox_journal: bool = True  # sandbox accounts' provider exchanges journaled, their behaviour applied

    @property
    def public_base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def callback_base_url(self) -> str:
        """Where providers' reports and inbound messages reach the gateway: the public URL, unless a
        worker serves them (GATEWAY_CALLBACK_URL)."""
        return (self.callback_url or self.public_base_url).rstrip("/")

    @property
    def metrics_enabled(self) -> bool:
        return self.metrics or self.metrics_token is not None

    @property
    def callback_signing_keys(self) -> tuple[str, ...]:
        return self.callback_keys or self.jwt_keys

    @property
    def embedded_worker(self) -> bool:
        """Whether the dispatch loop runs inside the server process (by default: when there is no Redis)."""
        return self.redis_url is None if self.worker_in_server is None else self.worker_in_server

    def __post_init__(self) -> None:
        check_jwt_keys(self.jwt_keys)

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(_env("DATA_DIR", ".gateway"))
        jwt_keys = _list("JWT_KEYS")
        secret_keys = _list("SECRET_KEY")
        if jwt_keys:
            check_jwt_keys(jwt_keys)
        if not jwt_keys or not secret_keys:
            _warn_generated_secret(data_dir / "instance.secret")
            instance = _instance_secret(data_dir)
            jwt_keys = jwt_keys or [_derived(instance, "jwt")]
            secret_keys = secret_keys or [_derived(instance, "encryption")]
        log_format, log_level = log_settings()
        return cls(
            database_url=normalise_database_url(_env("DATABASE_URL", f"sqlite:///{data_dir}/gateway.db")),
            redis_url=_env("REDIS_URL"),
            jwt_keys=tuple(jwt_keys),
            secret_keys=tuple(secret_keys),
            admin_token=_env("ADMIN_TOKEN"),
            token_lifetime_seconds=_int("TOKEN_LIFETIME", 3600),
            allow_private_webhook_urls=_bool("ALLOW_PRIVATE_WEBHOOK_URLS", False),
            max_body_bytes=_int("MAX_BODY_BYTES", 5 * 1024 * 1024),
            login_max_failures=_int("LOGIN_MAX_FAILURES", 5),
            login_window_seconds=_int("LOGIN_WINDOW", 900),
            host=_env("HOST", "127.0.0.1"),
            port=_int("PORT", 8000),
            public_url=_env("PUBLIC_URL", "") or "",
            callback_url=_env("CALLBACK_URL", "") or "",
            callback_keys=tuple(_list("CALLBACK_KEYS")),
            callback_token_lifetime_seconds=_int("CALLBACK_TOKEN_LIFETIME", 7 * 24 * 3600),
            sandbox_enabled=_bool("SANDBOX", True),
            worker_in_server=_bool("WORKER_IN_SERVER", _env("REDIS_URL") is None),
            webhook_timeout_seconds=_int("WEBHOOK_TIMEOUT", 15),
            webhook_disable_after_seconds=_int("WEBHOOK_DISABLE_AFTER", 5 * 24 * 3600),
            webhook_concurrency=_int("WEBHOOK_CONCURRENCY", 400),
            webhook_endpoint_concurrency=_int("WEBHOOK_ENDPOINT_CONCURRENCY", 20),
            rate_limit_window_seconds=_int("RATE_LIMIT_WINDOW", 60),
            rate_limit_quota=_int("RATE_LIMIT_QUOTA", 120_000),
            rate_limit_address_quota=_int("RATE_LIMIT_ADDRESS_QUOTA", 6_000),
            rate_limit_provider_quota=_int("RATE_LIMIT_PROVIDER_QUOTA", 600_000),
            idempotency_ttl_seconds=_int("IDEMPOTENCY_TTL", 24 * 3600),
            data_dir=data_dir,
            access_log=_bool("ACCESS_LOG", True),
            bulk_max_messages=_int("BULK_MAX_MESSAGES", 10_000),
            created_retention_days=_int("CREATED_RETENTION_DAYS", 60),
            # Longer than a provider call may take (15 s), or a slow send's message would be sent twice.
            lease_seconds=_int("LEASE_SECONDS", 60, minimum=20),
            egress_proxy=_egress_proxy(),
            log_format=log_format,
            log_level=log_level,
            metrics=_bool("METRICS", False),
            metrics_token=_env("METRICS_TOKEN"),
            metrics_tenant_label=_bool("METRICS_TENANT_LABEL", False),
            sandbox_journal=_bool("SANDBOX_JOURNAL", True),
        )
