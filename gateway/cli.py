"""The ``gateway`` command: migrate, serve, and the operator's tenant operations, printing JSON."""

from __future__ import annotations

import asyncio
import atexit
import io
import json
import logging
import os
import secrets
import shutil
import socket
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from uuid import UUID

import click
import msgspec
import structlog

from gateway import logs
from gateway.lib.gc_tuning import settle_after_startup
from gateway.lib.validation import parse
from gateway.settings import Settings, SettingsError, log_settings

LOOPBACK = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
DEFAULT_PORTS = {"http": 80, "https": 443}
T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None


def server_app() -> Any:
    """`gateway serve`'s app factory: the app, then the objects it was built of kept out of the
    garbage collector's way (gateway.lib.gc_tuning)."""
    from gateway.app import create_app

    configure_logging()  # a process uvicorn spawned (--workers N) did not run main()
    app = create_app()
    settle_after_startup()
    return _access_logged(app, app.runtime.settings)


def worker_app() -> Any:
    """`gateway worker`'s app factory (in each of its processes), settled like the server's."""
    from gateway.app import create_worker_app

    configure_logging()  # a process the supervisor spawned did not run main()
    app = create_worker_app()
    settle_after_startup()
    return _access_logged(app, app.runtime.settings)


def worker_app_without_callbacks() -> Any:
    """`gateway worker --metrics-port` without --callbacks-port: /health and /metrics only."""
    from gateway.app import create_worker_app

    configure_logging()
    app = create_worker_app(callbacks=False)
    settle_after_startup()
    return app


def sandbox_app() -> Any:
    """`gateway sandbox`'s app factory, settled like the server's."""
    from gateway.sandbox_app import create_sandbox_app

    app = create_sandbox_app()
    settle_after_startup()
    return _access_logged(app, app.state.runtime.settings)


def _access_logged(app: Any, settings: Settings) -> Any:
    """The app with our access line (GATEWAY_ACCESS_LOG); uvicorn's own is off (it would log the path the
    app rewrote, and tokens in query strings)."""
    return logs.AccessLog(app) if settings.access_log else app


def _print(value: Any) -> None:
    from gateway.schemas import format_timestamp

    click.echo(
        msgspec.json.encode(value, enc_hook=lambda v: format_timestamp(v) if hasattr(v, "astimezone") else str(v))
    )


def _with_session(work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run ``work(session, runtime)`` against the configured database, turning API problems into CLI errors."""
    from advanced_alchemy.exceptions import RepositoryError

    from gateway.lib.db import SchemaBehind, check_schema
    from gateway.lib.problems import Problem
    from gateway.runtime import Runtime

    settings = _settings()

    async def run() -> T:
        async with Runtime(settings) as runtime:
            await check_schema(runtime.engine)
            async with runtime.sessions() as session:
                return await work(session, runtime)

    try:
        return asyncio.run(run())
    except SchemaBehind as error:
        raise click.ClickException(str(error)) from None
    except Problem as error:
        raise click.ClickException(f"{error.detail} {json.dumps((error.extra or {}).get('errors', []))}") from None
    except RepositoryError as error:
        raise click.ClickException(f"the database refused the change: {error.detail}") from None


async def _noop(_session: Any, _runtime: Any) -> None:
    return None


@click.group()
def main() -> None:
    """Omnichannel messaging gateway."""
    configure_logging()


def configure_logging(migrations: bool = False) -> None:
    """This process's log lines, as GATEWAY_LOG_FORMAT and GATEWAY_LOG_LEVEL say (gateway.logs)."""
    try:
        log_format, log_level = log_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    logs.configure(log_format, log_level, migrations=migrations)


@main.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    from gateway.migrate import upgrade

    settings = _settings()
    configure_logging(migrations=True)  # the revisions it runs
    upgrade(settings)
    database = settings.database_url.split("@")[-1]  # never the password
    structlog.get_logger("gateway.cli").info("database at the newest schema revision", database=database)


@main.command()
@click.option("--host", default=None, help="Interface to bind (GATEWAY_HOST, default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (GATEWAY_PORT, default 8000).")
@click.option("--workers", default=1, show_default=True, help="Server processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from gateway.lib.coalesced_writes import CoalescingHttpToolsProtocol

    settings = _served_at(host, port)
    _with_session(_noop)  # fails with a clear message when the schema is behind, before any worker starts
    _metrics_across(workers, settings)
    uvicorn.run(
        "gateway.cli:server_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=workers,
        http=CoalescingHttpToolsProtocol,  # an answer's head and body in one system call
        proxy_headers=True,
        timeout_graceful_shutdown=10,  # a hung provider call (or the sandbox's timeout case) must not block a restart
        log_config=None,  # our formatter (gateway.logs), in every process
        log_level=None,  # uvicorn's loggers at GATEWAY_LOG_LEVEL
        access_log=False,  # gateway.logs.AccessLog's line instead
    )


def _served_at(host: str | None, port: int | None) -> Settings:
    """The settings of a server told ``--host``/``--port``: they go to the environment its app factory reads
    (in every process uvicorn starts), so that an unset GATEWAY_PUBLIC_URL is this server's own address and
    the sandbox providers and callbacks never talk to whatever else listens on the default port. A public
    URL on this machine but another port is warned about: nothing of ours answers there."""
    if host:
        os.environ["GATEWAY_HOST"] = host
    if port:
        os.environ["GATEWAY_PORT"] = str(port)
    settings = _settings()
    public = urlsplit(settings.public_base_url)
    if public.hostname in LOOPBACK and (public.port or DEFAULT_PORTS.get(public.scheme, 80)) != settings.port:
        logging.getLogger("gateway.cli").warning(
            "GATEWAY_PUBLIC_URL %s is on this machine but not on the port served (%s): providers' callbacks and "
            "the sandbox providers will reach another program there, or nothing",
            settings.public_base_url,
            settings.port,
        )
    return settings


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8001, show_default=True, type=int, help="Port.")
def sandbox(host: str, port: int) -> None:
    """Serve the sandbox providers on their own (point traffic accounts at them with baseUrl
    http://HOST:PORT/sandbox/<channel>); they call the gateway back at GATEWAY_CALLBACK_URL (by default
    GATEWAY_PUBLIC_URL)."""
    import uvicorn

    _settings()  # a clear message for a bad setting, before uvicorn starts
    uvicorn.run(
        "gateway.cli:sandbox_app",
        factory=True,
        host=host,
        port=port,
        timeout_graceful_shutdown=5,
        log_config=None,  # our formatter (gateway.logs), in every process
        log_level=None,  # uvicorn's loggers at GATEWAY_LOG_LEVEL
        access_log=False,  # gateway.logs.AccessLog's line instead
    )


@main.command()
@click.option(
    "--callbacks-port",
    default=None,
    type=int,
    help="Also serve the providers' callback routes on this port; GATEWAY_CALLBACK_URL says where it is reached "
    "(default http://HOST:PORT of this option).",
)
@click.option(
    "--callbacks-host", default=None, help="Interface for --callbacks-port (GATEWAY_HOST, default 127.0.0.1)."
)
@click.option(
    "--processes",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Worker processes under one supervisor, sharing the callback port; one that dies is replaced.",
)
@click.option(
    "--metrics-port",
    default=None,
    type=int,
    help="Serve GET /metrics (and /health) on this port too; it needs GATEWAY_METRICS=true or GATEWAY_METRICS_TOKEN.",
)
@click.option("--metrics-host", default=None, help="Interface for --metrics-port (default: as --callbacks-host).")
def worker(
    callbacks_port: int | None,
    callbacks_host: str | None,
    processes: int,
    metrics_port: int | None,
    metrics_host: str | None,
) -> None:
    """Dispatch messages: claim due ones with a lease, send them through their channel, record the outcome;
    deliver webhook events the same way, and fire failover timers. Run several against one database; stop with SIGINT or
    SIGTERM (the current round finishes). With --callbacks-port it also takes the providers' delivery reports and
    inbound messages, which then cost the customer API's process nothing. With --processes N the processes share the
    callback port (one socket, bound here): while one is killed or restarting the others take its callbacks, and the
    metrics port likewise (any process answers a scrape with the sum of all)."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    settings = _settings()
    host = callbacks_host or settings.host
    if callbacks_port is not None and not settings.callback_url:
        # The callback routes are here: per-message callback URLs name this port unless told where it is reached
        # (the processes uvicorn starts read it from the environment).
        os.environ["GATEWAY_CALLBACK_URL"] = f"http://{f'[{host}]' if ':' in host else host}:{callbacks_port}"
        settings = _settings()
    if metrics_port is not None and not settings.metrics_enabled:
        raise click.BadParameter("needs GATEWAY_METRICS=true or GATEWAY_METRICS_TOKEN", param_hint="--metrics-port")
    _with_session(_noop)  # a clear message when the schema is behind
    _metrics_across(processes, settings)
    sockets = [] if callbacks_port is None else [_listening_socket(host, callbacks_port)]
    if metrics_port is not None:  # the same app on both ports (uvicorn serves every socket it is given)
        sockets.append(_listening_socket(metrics_host or host, metrics_port, "metrics"))
    config = uvicorn.Config(
        "gateway.cli:worker_app"
        if callbacks_port is not None or metrics_port is None
        else "gateway.cli:worker_app_without_callbacks",
        factory=True,
        host=host,
        port=callbacks_port or 0,
        workers=processes,
        loop="uvloop",  # the worker is mostly socket work
        lifespan="on",  # the app's lifespan runs the loops
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        log_config=None,  # our formatter (gateway.logs), in every process
        log_level=None,  # uvicorn's loggers at GATEWAY_LOG_LEVEL
        access_log=False,  # gateway.logs.AccessLog's line instead
    )
    if processes > 1:
        Multiprocess(config, sockets=sockets).run()  # uvicorn's supervisor: replaces a process that died
    else:
        uvicorn.Server(config).run(sockets=sockets)


def _metrics_across(processes: int, settings: Settings) -> None:
    """With metrics on and several processes, prometheus-client's multiprocess mode: each process writes its
    values to files in a directory of this supervisor's own (fresh, so empty), which a scrape of any of them
    sums. Set before the processes start (the client reads it when imported); removed when the supervisor ends."""
    if processes > 1 and settings.metrics_enabled:
        directory = tempfile.mkdtemp(prefix="gateway-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
        atexit.register(shutil.rmtree, directory, ignore_errors=True)


def _listening_socket(host: str, port: int, serving: str = "callbacks") -> socket.socket:
    """The callback routes' (or the metrics') socket, bound and listening in this (the supervisor's) process: it
    stays open while any worker process lives, and connections wait in its queue, rather than being refused, while
    none does."""
    listening = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as error:
        listening.close()
        raise click.ClickException(f"can't serve the {serving} on {host}:{port}: {error}") from None
    listening.set_inheritable(True)
    return listening


@main.command()
def openapi() -> None:
    """Print the OpenAPI document the app serves at /schema."""
    from gateway.app import openapi_json

    sys.stdout.write(openapi_json())


@main.command()
def demo() -> None:
    """Create the demo tenant of a local mock once, and print its credentials with the inbox's address."""
    from gateway.demo import ensure_demo

    async def credentials(session: Any, runtime: Any) -> dict[str, Any]:
        found = await ensure_demo(session)
        # Beside the email and password it signs in with (`make run` passes the port it serves on).
        inbox = f"{runtime.settings.public_base_url}/inbox"
        return {**{key: found[key] for key in ("tenantId", "email", "password")}, "inbox": inbox, **found}

    _print(_with_session(credentials))


# What `gateway init` writes once, with the random bytes of each (hex: twice as many characters).
INIT_SECRETS = {"GATEWAY_JWT_KEYS": 32, "GATEWAY_SECRET_KEY": 32, "GATEWAY_ADMIN_TOKEN": 24}


@main.command()
@click.option(
    "--env-file",
    "path",
    default=".env",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file docker compose reads (./.env beside docker-compose.yml).",
)
def init(path: Path) -> None:
    """Write the JWT keys, the secret key and the admin token into an .env file, once: run again, it
    keeps the values there and adds only those missing (new keys would leave the stored credentials
    unreadable). The file is made readable by its owner only; no value is printed."""
    from dotenv import dotenv_values

    text = path.read_text() if path.exists() else ""
    present = dotenv_values(stream=io.StringIO(text))  # an empty value is kept too: the operator's choice
    missing = [name for name in INIT_SECRETS if name not in present]
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)  # a file that was there already holds keys now
    with os.fdopen(fd, "a") as handle:
        if text and not text.endswith("\n"):
            handle.write("\n")
        for name in missing:
            handle.write(f"{name}={secrets.token_hex(INIT_SECRETS[name])}\n")
    kept = [name for name in INIT_SECRETS if name in present]
    click.echo(f"{path}: added {', '.join(missing) or 'nothing'}; kept {', '.join(kept) or 'nothing'}", err=True)


@main.group()
def tenant() -> None:
    """Tenants."""


@tenant.command("create")
@click.option("--name", required=True)
@click.option(
    "--rate-limit-quota", type=int, default=None, help="API requests per window (default: GATEWAY_RATE_LIMIT_QUOTA)."
)
def tenant_create(name: str, rate_limit_quota: int | None) -> None:
    from gateway.api.admin import TenantIn, TenantOut
    from gateway.tenants.service import TenantService

    async def work(session: Any, runtime: Any) -> Any:
        # The same rules as the operator API.
        data = parse({"name": name, "rateLimitQuota": rate_limit_quota}, TenantIn)
        return TenantOut.of(await TenantService(session).create(data.name, rate_limit_quota=data.rate_limit_quota))

    _print(_with_session(work))


@main.group()
def customer() -> None:
    """Customers (login users) of a tenant."""


@customer.command("create")
@click.option("--tenant", "tenant_id", required=True, type=click.UUID)
@click.option("--email", required=True)
@click.password_option(confirmation_prompt=False, envvar="GATEWAY_CUSTOMER_PASSWORD")
def customer_create(tenant_id: UUID, email: str, password: str) -> None:
    from gateway.api.admin import CustomerIn, CustomerOut
    from gateway.tenants.service import TenantService

    async def work(session: Any, runtime: Any) -> Any:
        data = parse({"email": email, "password": password}, CustomerIn)
        created = await TenantService(session).create_customer(tenant_id, data.email, data.password)
        return CustomerOut(created.id, created.email)

    _print(_with_session(work))


@main.group("api-key")
def api_key() -> None:
    """API keys of a tenant."""


def _bound_account_options(command: Any) -> Any:
    """``--<channel>-traffic-account ID`` for each channel that serves a compatible API: the traffic account the key
    sends through there (the admin API's ``<channel>TrafficAccountId``)."""
    from gateway.tenants.service import compatible_channels

    for channel in compatible_channels():
        command = click.option(
            f"--{channel}-traffic-account",
            f"bound_{channel}",
            type=click.UUID,
            help=f"The {channel} traffic account the key sends through on its compatible API.",
        )(command)
    return command


@api_key.command("create")
@click.option("--tenant", "tenant_id", required=True, type=click.UUID)
@click.option("--name", required=True)
@_bound_account_options
def api_key_create(tenant_id: UUID, name: str, **bound: UUID | None) -> None:
    from gateway.api.admin import ApiKeyIn, api_key_out, bound_accounts
    from gateway.tenants.service import TenantService, bound_key_field

    given = {
        bound_key_field(option.removeprefix("bound_")): str(account_id)
        for option, account_id in bound.items()
        if account_id is not None
    }

    async def work(session: Any, runtime: Any) -> Any:
        data = parse({"name": name, **given}, ApiKeyIn)
        return api_key_out(*await TenantService(session).create_api_key(tenant_id, data.name, bound_accounts(data)))

    _print(_with_session(work))


@main.group("traffic-account")
def traffic_account() -> None:
    """Traffic accounts of a tenant."""


@traffic_account.command("create")
@click.option("--tenant", "tenant_id", required=True, type=click.UUID)
@click.option("--name", required=True)
@click.option("--channel", required=True)
@click.option("--sandbox/--live", default=False, show_default=True)
@click.option("--settings", "settings_json", default="{}", help="Provider settings as a JSON object.")
def traffic_account_create(tenant_id: UUID, name: str, channel: str, sandbox: bool, settings_json: str) -> None:
    from gateway.api.admin import AdminTrafficAccountOut, TrafficAccountIn
    from gateway.tenants.service import TenantService
    from gateway.tenants.traffic_accounts import TrafficAccountService

    try:
        provider_settings = json.loads(settings_json)
    except json.JSONDecodeError as error:
        raise click.BadParameter(f"not valid JSON: {error}", param_hint="--settings") from None
    if not isinstance(provider_settings, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--settings")

    async def work(session: Any, runtime: Any) -> Any:
        await TenantService(session).get(tenant_id)
        data = parse(
            {"name": name, "channel": channel, "sandbox": sandbox, "settings": provider_settings}, TrafficAccountIn
        )
        account = await TrafficAccountService(session).create(
            tenant_id, data.name, data.channel, data.sandbox, data.settings
        )
        return AdminTrafficAccountOut.of(account, runtime.callbacks.account_callback_url(account))

    _print(_with_session(work))
