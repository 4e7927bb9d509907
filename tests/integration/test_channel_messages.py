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


TEMPLATE_BLOCK = re.compile(r"```json template=(\S+)\n(.*?)\n```", re.S)


def section() -> str:
    return README.read_text().split(BEGIN, 1)[1].split(END, 1)[0]


def readme_requests() -> list[dict[str, Any]]:
    return [json.loads(block) for block in JSON_BLOCK.findall(section())]


def readme_templates() -> dict[str, dict[str, Any]]:
    """The templates the README's template messages send, as it shows them being stored."""
    return {name: json.loads(body) for name, body in TEMPLATE_BLOCK.findall(section())}


def channel_of(request: dict[str, Any]) -> str:
    keys = {channel.block_key or name: name for name, channel in all_channels().items()}
    (name,) = (keys[key] for key in request if key in keys)
    return name


def test_the_readme_shows_every_channels_examples_as_they_are() -> None:
    readme = README.read_text()
    assert readme == updated(readme), "README.md's Channel messages are stale: run `make openapi`"
    assert readme_requests() == [example.request for example in examples()]
    assert {channel_of(request) for request in readme_requests()} == set(all_channels())
    assert readme_templates() == {n: t for c in all_channels().values() for n, t in c.template_examples.items()}


async def test_every_readme_request_is_sent_as_written(server: httpx.AsyncClient) -> None:
    tenant = await tenant_on(server, tuple(all_channels()))
    for name, template in readme_templates().items():
        account = next(tenant.accounts[c] for c, channel in all_channels().items() if name in channel.template_examples)
        url = f"/api/v1/trafficAccounts/{account}/WhatsAppTemplates/{name}"
        stored = await server.post(url, json=template, headers=tenant.key)
        assert stored.status_code == 201, stored.text
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
