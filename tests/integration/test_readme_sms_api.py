"""The README's "The SMS API" curl examples work as written against `make run`'s setup (a `gateway serve` with the
demo tenant): each block runs in bash with only the server's address changed to this test's port, the example id
replaced by the id the first send answered, and the callback's https://example.com/ by a receiver this test opened
(nothing goes to a port the test didn't open). Each answer is compared with the comment under its command."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from tests.integration import webhook_fixtures as wf
from tests.integration.conftest import free_port
from tests.integration.processes import STARTUP_SECONDS, gateway_environment, run, stop, tail, until_healthy
from tests.integration.webhook_fixtures import Receiver

README = Path(__file__).parents[2] / "README.md"
GATEWAY = str(Path(sys.executable).with_name("gateway"))
EXAMPLE_ID = "715118ef01aa4480bbd67324a0459b0b"
receiver = wf.receiver


def readme_blocks() -> list[str]:
    """The sh blocks of the section "The SMS API", in order."""
    text = README.read_text()
    section = text[text.index("## The SMS API") : text.index("## Rate limits")]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def answers(output: str) -> list[object]:
    """Each JSON answer curl printed (one per command; curl -s adds no newline of its own)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while at < len(output):
        if output[at].isspace():
            at += 1
            continue
        value, at = decoder.raw_decode(output, at)
        found.append(value)
    return found


@pytest.mark.asyncio
async def test_the_readme_sms_api_examples_answer_as_shown(tmp_path: Path, receiver: Receiver) -> None:
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the README's SMS API examples are curl commands")

    port = free_port()
    log, env = tmp_path / "gateway.log", gateway_environment(tmp_path, None, port)
    env["GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS"] = "true"  # the callback goes to this test's receiver on loopback
    for command in ("migrate", "demo"):
        code, _ = await run(GATEWAY, command, env=env, log=log, seconds=STARTUP_SECONDS)
        assert code == 0, f"gateway {command} exited with {code}:\n{tail(log)}"
    with log.open("ab") as out:
        server = await asyncio.create_subprocess_exec(
            GATEWAY, "serve", "--host", "127.0.0.1", "--port", str(port), env=env, stdout=out, stderr=out
        )
    blocks = readme_blocks()
    assert len(blocks) == 6, "README: the SMS API section's examples changed; update this test"
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await until_healthy(client, server, log)

            async def shell(block: str, message_id: str = EXAMPLE_ID) -> list[object]:
                script = block.replace("localhost:8000", f"127.0.0.1:{port}").replace(EXAMPLE_ID, message_id)
                script = script.replace("https://example.com/", receiver.url("/"))
                key = next(line for line in blocks[0].splitlines() if line.startswith("KEY="))
                code, output = await run("bash", "-euc", f"{key}\n{script}", env=env, log=log, seconds=30)
                assert code == 0, output
                return answers(output)

            sent, message = await shell(blocks[0])
            assert sent["responseCode"] == 0 and sent["responseText"] == "SMS sent" and sent["to"] == "447700900123"
            assert set(sent) == {"id", "timestamp", "to", "textLength", "responseCode", "responseText"}
            assert re.fullmatch(r"[0-9a-f]{32}", sent["id"]) and sent["textLength"] == 13
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", sent["timestamp"])
            message = (await shell(blocks[0].split("\n", 1)[0] + "\n" + blocks[0].splitlines()[-1], sent["id"]))[0]
            assert message["messageId"].replace("-", "") == sent["id"] and message["channel"] == "sms"

            (bulk,) = await shell(blocks[1])
            assert bulk["responseCode"] == 0 and [m["to"] for m in bulk["messages"]] == ["+491775648254"] * 2
            assert len({m["id"] for m in bulk["messages"]}) == 2  # a number given twice: two messages

            (refused,) = await shell(blocks[2])
            assert refused["responseCode"] == 6 and refused["responseText"] == "Invalid sender"
            assert refused["status"] == 400 and refused["errors"][0]["field"] == "from"

            (reported,) = await shell(blocks[3])
            assert reported["responseCode"] == 0
            reports = await receiver.wait_for(2, "/dlr", seconds=30)
            assert [(r.method, parse_qs(r.query), json.loads(r.body)["status"]) for r in reports] == [
                ("POST", {"id": [reported["id"]], "s": [state]}, state) for state in ("SENT", "DELIVERED")
            ]
            assert json.loads(reports[0].body)["msgid"] == reported["id"]
            assert "# then POST https://example.com/dlr?id=" in blocks[3]  # the comment says what arrived

            (conversion,) = await shell(blocks[4], sent["id"])  # the demo's account tracks no conversions
            assert conversion["error"] == "Conversion rate tracking is not enabled for this customer account"

            (usage,) = await shell(blocks[5])
            assert isinstance(usage, list)  # the README's fixed dates: today's messages only on the day it was written
            for entry in usage:
                assert set(entry) == {"country", "messagesCount", "cost"}
    finally:
        await stop(server)
