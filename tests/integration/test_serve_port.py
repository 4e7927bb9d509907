"""`gateway serve --port` is the server's own address when GATEWAY_PUBLIC_URL is unset (issue 18): the sandbox
providers it hands out and the callbacks they make reach this server, not whatever listens on the default
port. A real `gateway serve` on a port of the test's own, with no public URL set; an SMS through its sandbox
is Delivered only if the sandbox's delivery report came back to that port. Alembic's lines are
`gateway migrate`'s alone."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from tests.integration.conftest import GATEWAY, free_port, send_sms, tenant_on, wait_for_status
from tests.integration.processes import STARTUP_SECONDS, gateway_environment, run, stop, tail, until_healthy


async def test_serve_port_is_the_public_url_when_none_is_set(tmp_path: Path) -> None:
    port, log = free_port(), tmp_path / "gateway.log"
    env = gateway_environment(tmp_path, None, port)
    for told in ("GATEWAY_PUBLIC_URL", "GATEWAY_PORT", "GATEWAY_HOST"):  # only --host/--port say where it is
        env.pop(told)
    code, _ = await run(GATEWAY, "migrate", env=env, log=log, seconds=STARTUP_SECONDS)
    assert code == 0, tail(log)
    migrated = log.read_text()
    assert "Running upgrade" in migrated  # `gateway migrate` says what it ran...
    with log.open("ab") as errors:
        server = await asyncio.create_subprocess_exec(
            GATEWAY, "serve", "--host", "127.0.0.1", "--port", str(port), env=env, stderr=errors
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            client.tenants = []  # type: ignore[attr-defined]
            await until_healthy(client, server, log)
            tenant = await tenant_on(client, ("sms",))
            message = await send_sms(client, tenant)
            await wait_for_status(client, tenant, message, "Delivered")
            await client.get("/health")
    finally:
        await stop(server)
        print(tail(log))  # shown by pytest when the test failed
    served = log.read_text()[len(migrated) :]
    assert "alembic" not in served  # ...and nothing else does: no lines on every start and health check
