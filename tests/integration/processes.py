"""Gateway processes a test starts (`gateway migrate`, `gateway serve`...) on a port of its own: their
environment, running one to its end, waiting for one to be healthy, stopping it, and its log's tail."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN, eventually, make_settings

STARTUP_SECONDS = 20  # migrate, then serve answering /health
PACKAGE_PARENT = Path(__file__).with_name("sixth_channel")  # holds the package ``pigeon`` (test_sixth_channel)


def gateway_environment(tmp_path: Path, site: Path | None, port: int) -> dict[str, str]:
    """The environment of a gateway process: this test's settings only (no GATEWAY_* of the caller, no
    Redis: the worker loops run in the server), the channel's package on the path, and its distribution
    when ``site`` is given."""
    settings = make_settings(f"sqlite:///{tmp_path / 'gateway.db'}")
    paths = [*([str(site)] if site else []), str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")]
    return {
        **{key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")},
        "PYTHONPATH": os.pathsep.join(path for path in paths if path),
        "GATEWAY_DATABASE_URL": settings.database_url,
        "GATEWAY_JWT_KEYS": settings.jwt_keys[0],
        "GATEWAY_SECRET_KEY": settings.secret_keys[0],
        "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(port),
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",  # the server is told its own address
        "GATEWAY_SANDBOX": "true",
        "GATEWAY_ACCESS_LOG": "false",
    }


async def run(*command: str, env: dict[str, str], log: Path, seconds: float) -> tuple[int, str]:
    """Run ``command`` to its end (killed after ``seconds``): its exit code and standard output."""
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(*command, env=env, stdout=asyncio.subprocess.PIPE, stderr=errors)
        try:
            output, _ = await asyncio.wait_for(process.communicate(), seconds)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"{command} took over {seconds} s:\n{tail(log)}") from None
    return process.returncode or 0, output.decode()


def tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 5)
        except TimeoutError:
            process.kill()
            await process.wait()


async def until_healthy(client: httpx.AsyncClient, process: asyncio.subprocess.Process, log: Path) -> None:
    """Until ``client``'s /health answers 200; fails at once, with the log's tail, when ``process`` exits."""

    async def healthy() -> None:
        if process.returncode is not None:
            pytest.fail(f"the gateway exited with {process.returncode}:\n{tail(log)}")
        try:
            answer = await client.get("/health")
        except httpx.TransportError as error:
            raise AssertionError(f"no healthy gateway: {error!r}") from error
        assert answer.status_code == 200, f"no healthy gateway: {answer.text}"

    await eventually(healthy, STARTUP_SECONDS)
