"""The README's "Channel messages" are the channels' examples, and each of them, sent as the README shows it
(its traffic account id replaced by a sandbox account of the channel), is stored as written and delivered
by the channel's sandbox provider."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from channels.registry import all_channels
from gateway.messages.requests import EXAMPLE_ACCOUNT, examples
from gateway.readme import BEGIN, END, updated
from tests.integration.conftest import tenant_on, wait_for_status

README = Path(__file__).parents[2] / "README.md"
JSON_BLOCK = re.compile(r"```json\n(.*?)\n```", re.S)


def readme_requests() -> list[dict[str, Any]]:
    section = README.read_text().split(BEGIN, 1)[1].split(END, 1)[0]
    return [json.loads(block) for block in JSON_BLOCK.findall(section)]


def channel_of(request: dict[str, Any]) -> str:
    keys = {channel.block_key or name: name for name, channel in all_channels().items()}
    (name,) = (keys[key] for key in request if key in keys)
    return name


def test_the_readme_shows_every_channels_examples_as_they_are() -> None:
    readme = README.read_text()
    assert readme == updated(readme), "README.md's Channel messages are stale: run `make openapi`"
    assert readme_requests() == [example.request for example in examples()]
    assert {channel_of(request) for request in readme_requests()} == set(all_channels())


async def test_every_readme_request_is_sent_as_written(server: httpx.AsyncClient) -> None:
    tenant = await tenant_on(server, tuple(all_channels()))
    sent = []
    for request in readme_requests():
        channel = channel_of(request)
        body = json.loads(json.dumps(request).replace(EXAMPLE_ACCOUNT, tenant.accounts[channel]))
        response = await server.post("/api/v1/Message/send", json=body, headers=tenant.key)
        assert response.status_code == 200, (request, response.text)
        assert "gateway-ignored-fields" not in response.headers, request
        key = next(key for key in request if key not in ("destination", "trafficAccountId"))
        sent.append((response.json()["messageId"], request[key]))
    for message_id, block in sent:
        message = await wait_for_status(server, tenant, message_id, "Sent", "Delivered", "Read", "Failed")
        assert message["deliveryStatus"] != "Failed", (message["errorCode"], message["description"], block)
        assert message["requestInfo"] == block
