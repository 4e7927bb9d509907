"""Browser tests: headless Chromium driven by Playwright (its async API) against a real `gateway serve`.

Playwright can't download its own browsers here, so it drives Debian's ``chromium`` (``TEST_CHROMIUM``, or
``chromium`` on the PATH; `make test` installs it when it can). Without it these tests are skipped with a
reason, and fail in CI (CI=true), as Postgres and Redis do (tests/conftest.py).

Fixtures:
- ``gateway``: one `gateway serve` process for the tests of this folder (SQLite, sandbox providers, the demo
  tenant, the worker's loops in the server), on a free port and told its own address; stopped after them;
- ``browser``: one headless Chromium for the tests of this folder;
- ``page``: a page of a fresh browser context (no cookies shared between tests) whose relative URLs are the
  gateway's; every request to anything but the gateway is blocked and recorded, and the test fails at its
  end if there was one (``assert_no_external_requests(page)`` checks it at any point);
- ``api``: an httpx client of the gateway with the demo tenant's API key.

Every test here runs in the session's event loop, where the browser and the server live.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import pytest_asyncio

from tests.conftest import IN_CI
from tests.integration.processes import STARTUP_SECONDS, gateway_environment, run, stop, tail, until_healthy

GATEWAY = str(Path(sys.executable).with_name("gateway"))
HERE = Path(__file__).parent
INSTALL_HINT = (
    "install it with `apt-get install chromium` (`make test` does, as root or with sudo) or set TEST_CHROMIUM"
)
TIMEOUT_MS = 10_000  # of every Playwright action and expectation


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests of this folder run in the session's loop, where the browser and the server live."""
    for item in items:
        if HERE in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.asyncio(loop_scope="session"), append=False)


def chromium_path() -> str | None:
    """TEST_CHROMIUM (a path or a command name) or ``chromium``, when it is an executable."""
    return shutil.which(os.environ.get("TEST_CHROMIUM") or "chromium")


def _missing(what: str) -> None:
    if IN_CI:
        pytest.fail(f"the browser tests are required in CI: {what}")
    pytest.skip(f"browser tests skipped: {what}")


@dataclass(frozen=True)
class Gateway:
    """A `gateway serve` process and the demo tenant it holds."""

    url: str
    email: str
    password: str
    api_key: str
    traffic_accounts: dict[str, str]  # channel -> the demo tenant's sandbox traffic account id
    log: Path  # the server's output (shown by pytest when a test failed)


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def gateway(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Gateway]:
    from tests.integration.conftest import free_port

    tmp_path, port = tmp_path_factory.mktemp("browser-gateway"), free_port()
    log, env = tmp_path / "gateway.log", gateway_environment(tmp_path, None, port)
    for command in ("migrate", "demo"):
        code, output = await run(GATEWAY, command, env=env, log=log, seconds=STARTUP_SECONDS)
        assert code == 0, f"gateway {command} exited with {code}:\n{tail(log)}"
    demo = json.loads(output)
    with log.open("ab") as out:
        server = await _serve(env, port, out)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await until_healthy(client, server, log)
        yield Gateway(url, demo["email"], demo["password"], demo["apiKey"], demo["trafficAccounts"], log)
    finally:
        await stop(server)
        print(tail(log))


async def _serve(env: dict[str, str], port: int, out: Any) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        GATEWAY, "serve", "--host", "127.0.0.1", "--port", str(port), env=env, stdout=out, stderr=out
    )


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def browser() -> AsyncIterator[Any]:
    executable = chromium_path()
    if executable is None:
        _missing(f"chromium not found ({os.environ.get('TEST_CHROMIUM') or 'chromium'}); {INSTALL_HINT}")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _missing("the Python package playwright is not installed (make .venv/.installed)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        await launched.close()


# The requests each browser context blocked: to anything but the gateway under test.
_blocked: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


def assert_no_external_requests(page: Any) -> None:
    """The page (its browser context) asked for nothing but the gateway under test."""
    blocked = _blocked.get(page.context, [])
    assert not blocked, f"requests to other servers than the gateway under test: {blocked}"


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Any, gateway: Gateway) -> AsyncIterator[Any]:
    gateway_origin = urlsplit(gateway.url)
    context = await browser.new_context(base_url=gateway.url)
    context.set_default_timeout(TIMEOUT_MS)
    blocked: list[str] = []
    _blocked[context] = blocked

    async def only_the_gateway(route: Any) -> None:
        url = urlsplit(route.request.url)
        if (url.hostname, url.port) == (gateway_origin.hostname, gateway_origin.port):
            await route.continue_()
        else:  # another server, or the gateway by another name (localhost): no test may depend on it
            blocked.append(f"{route.request.method} {route.request.url}")
            await route.abort("blockedbyclient")

    await context.route("**/*", only_the_gateway)
    opened = await context.new_page()
    try:
        yield opened
        assert_no_external_requests(opened)
    finally:
        await context.close()


@pytest_asyncio.fixture(loop_scope="session")
async def api(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's API as the demo tenant (its API key)."""
    async with httpx.AsyncClient(
        base_url=gateway.url, headers={"X-Mitto-API-Key": gateway.api_key}, timeout=10
    ) as client:
        yield client
