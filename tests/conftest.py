"""Test set-up: every API test runs against SQLite and against the machine's Postgres.

Postgres is mandatory in CI (CI=true): a missing server fails the run. Elsewhere the Postgres
half is skipped with a reason that says so.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.migrate import upgrade
from gateway.settings import Settings
from tests import port_guard, store_guard

T = TypeVar("T")
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ADMIN_TOKEN = "test-admin-token"
IN_CI = os.environ.get("CI", "").lower() == "true"
# Every gateway of the suite not told its own address points at the tripwire (tests/port_guard.py): the
# in-process ones through make_settings, the processes it starts through the environment they inherit.
TRIPWIRE_PORT = port_guard.start()
os.environ["GATEWAY_HOST"], os.environ["GATEWAY_PORT"] = "127.0.0.1", str(TRIPWIRE_PORT)
for _name in ("GATEWAY_PUBLIC_URL", "GATEWAY_CALLBACK_URL"):
    os.environ.pop(_name, None)


def _postgres_unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"Postgres is required in CI: {reason}")
    pytest.skip(f"Postgres not reachable at {POSTGRES_ADMIN_URL}: {reason}")


async def _pg_execute(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await _drop_abandoned_databases(connection)
        await connection.execute(sql)
    finally:
        await connection.close()


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _drop_abandoned_databases(connection: Any) -> None:
    """Test databases of sessions whose process is gone (killed runs) are dropped, not left to pile up."""
    for row in await connection.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'gateway_test_%'"):
        pid = row["datname"].split("_")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _process_alive(int(pid)):
            await connection.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')


@pytest.fixture(autouse=True)
def only_the_store_writes_messages() -> Iterator[None]:
    """Fails the test during which code other than gateway/store/ wrote a message, a message event or
    a webhook event (tests/store_guard.py)."""
    store_guard.install()
    store_guard.violations.clear()
    yield
    found, store_guard.violations[:] = list(store_guard.violations), []
    assert not found, "only gateway/store/ may write these tables:\n" + "\n".join(sorted(set(found)))


@pytest.fixture(autouse=True)
def only_the_servers_a_test_opened_are_called() -> Iterator[None]:
    """Fails the test during which a request reached the tripwire: some gateway's public URL was not its own."""
    port_guard.hits.clear()
    yield
    found, port_guard.hits[:] = list(port_guard.hits), []
    assert not found, f"requests sent to a port no test opened (127.0.0.1:{TRIPWIRE_PORT}): {found[:5]}"


@pytest.fixture(autouse=True)
def fresh_database_config_keys() -> None:
    """advanced-alchemy keeps every SQLAlchemyAsyncConfig's keys in class-level sets, to keep two configs of
    one app apart, and finds a free key by recursing once per key taken: a process that makes an app per
    test (a production process makes one) would reach Python's recursion limit after about 950 apps."""
    from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig

    for registry in (
        "_SESSION_SCOPE_KEY_REGISTRY",
        "_ENGINE_APP_STATE_KEY_REGISTRY",
        "_SESSIONMAKER_APP_STATE_KEY_REGISTRY",
    ):
        getattr(SQLAlchemyAsyncConfig, registry).clear()


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at its smallest cost: the suite hashes and verifies passwords hundreds of times (~0.1 s
    each at the production cost). Each hash stores its parameters, so verification still runs the real
    argon2 code path; tests/unit/test_crypto.py checks the production parameters."""
    from argon2 import PasswordHasher

    from gateway.lib import crypto

    monkeypatch.setattr(crypto, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database of its own for this test session, dropped at the end."""
    name = f"gateway_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg_execute(f'CREATE DATABASE "{name}"'))
    except Exception as error:  # noqa: BLE001
        _postgres_unavailable(f"{type(error).__name__}: {error}")
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}"
    upgrade(make_settings(url))
    yield url
    asyncio.run(_pg_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def redis_client() -> AsyncIterator[Any]:
    """The machine's Redis (mandatory in CI); tests use keys of their own, nothing is flushed."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as error:  # noqa: BLE001
        await client.aclose()
        if IN_CI:
            pytest.fail(f"Redis is required in CI: {type(error).__name__}: {error}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {type(error).__name__}: {error}")
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'gateway.db'}"
    upgrade(make_settings(url))
    return url


def make_settings(database_url: str, **overrides: Any) -> Settings:
    from gateway.settings import normalise_database_url

    values: dict[str, Any] = {
        "database_url": normalise_database_url(database_url),
        "jwt_keys": ("test-jwt-key-1-0123456789abcdefghij",),
        "secret_keys": ("test-secret-key-1-0123456789abcdefgh",),
        "admin_token": ADMIN_TOKEN,
        "allow_private_webhook_urls": False,
        "port": TRIPWIRE_PORT,  # a test serving the app on a port of its own overrides it
        # An app served in-process has no address the sandbox providers could call back: its worker's loops
        # run only where a test asks for them (and serves the app: tests/integration/conftest.py serve()).
        "worker_in_server": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        test_client.tenants = []  # type: ignore[attr-defined]
        yield test_client
        # The tests share one database, and no worker runs here: a test's messages, left due, go with its
        # tenants rather than wait for the next test that runs a worker.
        for tenant_id in test_client.tenants:  # type: ignore[attr-defined]
            await test_client.delete(f"/admin/tenants/{tenant_id}", headers=ADMIN)


ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@dataclass
class TenantFixture:
    """A tenant made through the admin API, with a logged-in customer and an API key."""

    id: str
    email: str
    password: str
    token: str
    api_key: str
    accounts: dict[str, str] = field(default_factory=dict)  # channel -> sandbox traffic account id

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def key(self) -> dict[str, str]:
        return {"X-Mitto-API-Key": self.api_key}


async def new_tenant(client: AsyncTestClient, channels: tuple[str, ...] = ("sms", "whatsapp")) -> TenantFixture:
    tenant = (await client.post("/admin/tenants", json={"name": "acme"}, headers=ADMIN)).json()
    getattr(client, "tenants", []).append(tenant["id"])
    email, password = f"user-{uuid.uuid4().hex[:10]}@example.com", "correct horse battery"
    created = await client.post(
        f"/admin/tenants/{tenant['id']}/customers", json={"email": email, "password": password}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    key = (await client.post(f"/admin/tenants/{tenant['id']}/api-keys", json={"name": "ci"}, headers=ADMIN)).json()[
        "key"
    ]
    login = await client.post("/api/v1/Customer/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    result = TenantFixture(tenant["id"], email, password, login.json()["token"], key)
    for channel in channels:
        account = await client.post(
            f"/admin/tenants/{tenant['id']}/traffic-accounts",
            json={"name": f"{channel} sandbox", "channel": channel, "sandbox": True},
            headers=ADMIN,
        )
        assert account.status_code == 201, account.text
        result.accounts[channel] = account.json()["id"]
    return result


@pytest.fixture
async def tenant(client: AsyncTestClient) -> TenantFixture:
    return await new_tenant(client)


@pytest.fixture
async def other_tenant(client: AsyncTestClient) -> TenantFixture:
    return await new_tenant(client)


def in_app_loop(client: AsyncTestClient, work: Callable[[], Awaitable[T]]) -> T:
    """Run ``work`` on the test client's event loop: the app's engine and its pooled (asyncpg)
    connections belong to that loop, not to the test's."""
    return client.blocking_portal.call(work)


def assert_problem(response: Any, status: int, code: str, *fields: str) -> dict[str, Any]:
    """The response is a problem+json with this status and code, naming at least these fields."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"].endswith(code) and body["title"] and body["detail"], body
    missing = set(fields) - set(error_fields(body))
    assert not missing, f"fields {missing} not named in {body}"
    return body


def error_fields(problem: Any) -> list[str]:
    """The fields a problem's ``errors`` name, in order; ``problem`` is a response or its body."""
    body = problem if isinstance(problem, dict) else problem.json()
    return [error["field"] for error in body.get("errors", [])]


async def eventually(check: Callable[[], Awaitable[T] | T], seconds: float = 10, interval: float = 0.05) -> T:
    """What ``check()`` returns once it passes: it is tried again while it raises AssertionError, until
    ``seconds`` have passed, then its last AssertionError is raised. For waiting on what the system does by
    itself (a worker's send, a provider's report); a fixed sleep is only for proving that something does
    not happen. A check that sees what can't come right any more fails at once with pytest.fail."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        try:
            result = check()
            return await result if inspect.isawaitable(result) else result  # type: ignore[return-value]
        except AssertionError:
            if loop.time() >= deadline:
                raise
        await asyncio.sleep(interval)


async def message_ids(client: Any, tenant: TenantFixture) -> list[str]:
    """The tenant's messages, as the API lists them."""
    page = await client.get("/api/v1/Messages", headers=tenant.key)
    assert page.status_code == 200, page.text
    return [item["messageId"] for item in page.json()["items"]]


CLOSED_PORT = port_guard.closed_port()  # ours, and nothing listens there: connections are refused
CLOSED_PORT_URL = f"http://127.0.0.1:{CLOSED_PORT}/hook"  # a webhook that is never delivered


async def create_webhook(
    client: Any,
    tenant: TenantFixture,
    url: str = CLOSED_PORT_URL,
    triggers: tuple[str, ...] = ("Delivered", "Read"),
    channel: str = "sms",
    **extra: Any,
) -> dict[str, Any]:
    """A webhook of the tenant for ``triggers``, linked to its sandbox account of ``channel``."""
    body = {"url": url, "webhookTriggers": list(triggers), "linkTrafficAccountIds": [tenant.accounts[channel]], **extra}
    response = await client.post("/api/v1/Webhook", json=body, headers=tenant.key)
    assert response.status_code == 201, response.text
    return response.json()
