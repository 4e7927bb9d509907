"""A sixth channel is its package and its entry point, nothing else (issue 16).

``tests/integration/sixth_channel/pigeon`` is a channel the gateway has never heard of: its own block
shape, adapter, callback route and sandbox provider. The test writes a ``pigeon_channel-0.1.dist-info``
whose ``entry_points.txt`` registers it in the ``gateway.channels`` group, puts that and the package on the
``PYTHONPATH`` of a real gateway (``gateway migrate``, then ``gateway serve`` with its embedded worker and
the sandbox providers, on SQLite), and sends and receives a pigeon message through it over HTTP. The send
request's shape is assembled from the registry when the gateway is imported, so the channel must be
registered before: hence a process of its own. Nothing outside the channel's package is changed.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from channels.registry import all_channels
from tests.conftest import ADMIN, assert_problem, eventually
from tests.integration.conftest import GATEWAY, assert_history, free_port
from tests.integration.processes import STARTUP_SECONDS, gateway_environment, run, stop, tail, until_healthy

DISTRIBUTION = "pigeon_channel-0.1.dist-info"
DEADLINE_SECONDS = 10  # for a message to be delivered or received


def install_pigeon(site: Path) -> None:
    """What installing a ``pigeon-channel`` wheel leaves behind for importlib.metadata: its dist-info."""
    info = site / DISTRIBUTION
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pigeon-channel\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gateway.channels]\npigeon = pigeon:channel\n")


async def test_a_sixth_channel_is_its_package_and_its_entry_point(tmp_path: Path) -> None:
    # The gateway of this test process doesn't know the channel: only the entry point below brings it in.
    assert "pigeon" not in all_channels()
    site, log, port = tmp_path / "site", tmp_path / "gateway.log", free_port()
    install_pigeon(site)
    names = "from channels.registry import channel_names; print(*channel_names())"
    # The package alone on the path registers nothing; with its distribution's entry point, it is a channel.
    for with_site, expected in ((None, False), (site, True)):
        code, output = await run(
            sys.executable, "-c", names, env=gateway_environment(tmp_path, with_site, port), log=log, seconds=15
        )
        assert code == 0 and ("pigeon" in output.split()) == expected, (output, tail(log))

    env = gateway_environment(tmp_path, site, port)
    code, _ = await run(GATEWAY, "migrate", env=env, log=log, seconds=STARTUP_SECONDS)
    assert code == 0, tail(log)
    with log.open("ab") as errors:
        server = await asyncio.create_subprocess_exec(
            GATEWAY, "serve", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=errors
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await until_healthy(client, server, log)
            await through_the_pigeon_channel(client)
    finally:
        await stop(server)
        print(tail(log))  # shown by pytest when the test failed


async def through_the_pigeon_channel(client: httpx.AsyncClient) -> None:
    # A tenant with an API key and a sandbox pigeon traffic account, made through the admin API.
    tenant = (await client.post("/admin/tenants", json={"name": "pigeon fanciers"}, headers=ADMIN)).json()
    admin_tenant = f"/admin/tenants/{tenant['id']}"
    key = (await client.post(f"{admin_tenant}/api-keys", json={"name": "loft"}, headers=ADMIN)).json()["key"]
    api = {"X-Mitto-API-Key": key}
    created = await client.post(
        f"{admin_tenant}/traffic-accounts",
        json={"name": "pigeon sandbox", "channel": "pigeon", "sandbox": True},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    account = created.json()["id"]

    # A pigeon message goes out through the adapter to the sandbox provider, whose report makes it Delivered.
    # The ring is matched in any case and stored as declared.
    sent = await client.post(
        "/api/v1/Message/send",
        json={"destination": "pigeon-user-1", "trafficAccountId": account, "pigeon": {"text": "coo", "ring": "LOUD"}},
        headers=api,
    )
    assert sent.status_code == 200, sent.text
    message_id = sent.json()["messageId"]

    async def delivered() -> dict[str, Any]:
        message = (await client.get(f"/api/v1/Message/{message_id}", headers=api)).json()
        if message["deliveryStatus"] in ("Failed", "Expired"):
            pytest.fail(f"the pigeon message was not delivered: {message}")
        assert message["deliveryStatus"] == "Delivered", message
        return message

    message = await eventually(delivered, DEADLINE_SECONDS)
    assert_history(message, "Ready", "Sent", "Delivered")
    assert message["channel"] == "pigeon" and message["requestInfo"] == {"text": "coo", "ring": "Loud"}, message
    assert {"messagingAppIdentifier": "pigeon-user-1"} in message["conversation"]["participants"], message

    # The user sends a note in (through the sandbox provider and the channel's callback route): it is stored
    # in the conversation of the message sent to them.
    note = await client.post(
        "/sandbox/pigeon/inbound", json={"trafficAccountId": account, "from": "pigeon-user-1", "text": "coo coo"}
    )
    assert note.status_code == 200 and note.json()["gatewayStatus"] == 200, note.text

    async def received() -> list[dict[str, Any]]:
        found = await client.get(
            "/api/v1/Messages", params={"direction": "inbound", "trafficAccountId": account}, headers=api
        )
        if found.status_code != 200:
            pytest.fail(found.text)
        assert found.json()["items"], "no inbound pigeon message"
        return found.json()["items"]

    [inbound] = await eventually(received, DEADLINE_SECONDS)
    assert note.json()["messageId"] == inbound["messageId"], note.json()  # the simulators' one answer
    assert inbound["channel"] == "pigeon" and inbound["destination"] == "pigeon-user-1", inbound
    assert inbound["conversationId"] == message["conversation"]["id"], (inbound, message)
    detail = (await client.get(f"/api/v1/Message/{inbound['messageId']}", headers=api)).json()
    assert detail["content"] == {"type": "text", "text": "coo coo"}, detail

    # The OpenAPI document shows the block as the channel declared it, with its example.
    document = (await client.get("/schema/openapi.json")).json()
    schemas = document["components"]["schemas"]
    block = schemas["SendMessage"]["properties"]["pigeon"]
    assert {"$ref": "#/components/schemas/PigeonMessage"} in block.get("allOf", block.get("oneOf", [])), block
    assert schemas["PigeonMessage"]["properties"]["ring"]["enum"] == ["Soft", "Loud"], schemas["PigeonMessage"]
    assert schemas["PigeonMessage"]["description"].startswith("A note carried by pigeon"), schemas["PigeonMessage"]
    examples = document["paths"]["/api/{version}/Message/send"]["post"]["requestBody"]["content"]["application/json"]
    example = examples["examples"]["pigeon: PigeonMessage"]["value"]
    assert example["pigeon"] == {"text": "Meet at noon", "ring": "Loud"}, example
    assert any(path.startswith("/callbacks/pigeon/") for path in document["paths"]), sorted(document["paths"])

    # A block that breaks the channel's shape is refused, naming the field.
    invalid = await client.post(
        "/api/v1/Message/send",
        json={"destination": "pigeon-user-1", "trafficAccountId": account, "pigeon": {"text": ""}},
        headers=api,
    )
    assert_problem(invalid, 400, "validation_error", "pigeon.text")
