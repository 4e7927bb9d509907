"""The README's "A test against the mock" runs as written: its Python block, saved as a file, passes under
pytest against `make run`'s setup (a `gateway serve` with the demo tenant), twice in a row (each test resets
the sandbox, so a second run starts clean too). Only the server's address is changed to this test's port."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import free_port
from tests.integration.processes import STARTUP_SECONDS, gateway_environment, run, stop, tail, until_healthy

README = Path(__file__).parents[2] / "README.md"
GATEWAY = str(Path(sys.executable).with_name("gateway"))


def readme_test() -> str:
    """The first Python block after the heading "A test against the mock"."""
    text = README.read_text()
    section = text[text.index("### A test against the mock") :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "README: no Python block under 'A test against the mock'"
    return found.group(1)


@pytest.mark.asyncio
async def test_the_readme_test_passes_against_the_demo_tenant(tmp_path: Path) -> None:
    port = free_port()
    log, env = tmp_path / "gateway.log", gateway_environment(tmp_path, None, port)
    for command in ("migrate", "demo"):
        code, output = await run(GATEWAY, command, env=env, log=log, seconds=STARTUP_SECONDS)
        assert code == 0, f"gateway {command} exited with {code}:\n{tail(log)}"
    demo = json.loads(output)
    code = readme_test()
    assert f'SMS = "{demo["trafficAccounts"]["sms"]}"' in code and demo["apiKey"] in code  # the demo's, as printed
    url = f"http://127.0.0.1:{port}"
    (tmp_path / "test_readme.py").write_text(code.replace('"http://127.0.0.1:8000"', f'"{url}"'))
    with log.open("ab") as out:
        server = await asyncio.create_subprocess_exec(
            GATEWAY, "serve", "--host", "127.0.0.1", "--port", str(port), env=env, stdout=out, stderr=out
        )
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await until_healthy(client, server, log)
        for _ in range(2):
            code, output = await run(
                sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                str(tmp_path / "test_readme.py"), env={**env, "PYTHONPATH": ""}, log=log, seconds=150,
            )  # fmt: skip
            assert code == 0 and "2 passed" in output, output + tail(log)
    finally:
        await stop(server)
