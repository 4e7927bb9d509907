"""A `gateway serve` told to stop while event streams and long-polls are open ends them at once, rather than
waiting its graceful timeout (10 s) and cutting them."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx

from tests.conftest import ADMIN, assert_problem
from tests.integration.conftest import GATEWAY, free_port
from tests.integration.processes import STARTUP_SECONDS, gateway_environment, run, tail, until_healthy


async def test_a_stopping_server_ends_its_streams_and_waits(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "gateway.log"
    env = gateway_environment(tmp_path, None, port)
    code, _ = await run(GATEWAY, "migrate", env=env, log=log, seconds=STARTUP_SECONDS)
    assert code == 0, tail(log)
    with log.open("ab") as errors:
        server = await asyncio.create_subprocess_exec(GATEWAY, "serve", env=env, stdout=errors, stderr=errors)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_healthy(client, server, log)
            tenant = (await client.post("/admin/tenants", json={"name": "t"}, headers=ADMIN)).json()
            key = (
                await client.post(f"/admin/tenants/{tenant['id']}/api-keys", json={"name": "k"}, headers=ADMIN)
            ).json()
            headers = {"X-Mitto-API-Key": key["key"]}
            waiting = asyncio.create_task(client.get("/api/v1/Messages/wait?timeout=60", headers=headers))
            async with client.stream("GET", "/api/v1/events", headers=headers) as stream:
                lines = stream.aiter_lines()
                assert await anext(lines) == ": listening"
                await asyncio.sleep(0.5)  # the wait listens too
                started = time.monotonic()
                server.send_signal(signal.SIGTERM)
                rest = [line async for line in lines]  # the stream ends
            assert not [line for line in rest if line], rest
            assert_problem(await waiting, 503, "unavailable")
            await asyncio.wait_for(server.wait(), 10)
            assert time.monotonic() - started < 3, tail(log)
    finally:
        if server.returncode is None:
            server.kill()
            await server.wait()
    assert "graceful shutdown exceeded" not in log.read_text(), tail(log)
