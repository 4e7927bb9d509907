"""The Telegram sandbox provider where one request and its answer don't say it all: the hanging chat, the
webhook methods' state across requests, and the Updates it builds parsing as Telegram's. Its answers to
single requests (send methods, magic chat ids, Telegram's checks, the simulated user's input) are fixture
files (sandbox/); the end-to-end behaviour is in tests/integration/test_telegram_pipeline.py."""

from __future__ import annotations

import pytest
from litestar import Litestar, Router
from litestar.testing import AsyncTestClient

from channels.base import Account
from channels.telegram import sandbox
from channels.telegram.sandbox import bot_api, inbound
from channels.testing import ACCOUNT_ID, RecordingCallbacks, given_callbacks

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BASE = f"/sandbox/telegram/bot{TOKEN}"


@pytest.fixture
async def client():
    callbacks = RecordingCallbacks(
        "telegram", Account(ACCOUNT_ID, "http://x/sandbox/telegram", {}, {"botToken": TOKEN}, True)
    )
    routes = Router(path="/sandbox/telegram", route_handlers=[bot_api, inbound])  # as the gateway mounts them
    app = Litestar(route_handlers=[routes], dependencies=given_callbacks(callbacks))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def test_the_timeout_chat_hangs(client, monkeypatch):
    monkeypatch.setattr(sandbox, "TIMEOUT_SECONDS", 0.01)
    slept = []
    real_sleep = sandbox.asyncio.sleep

    async def sleep(seconds):
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(sandbox.asyncio, "sleep", sleep)
    response = await client.post(f"{BASE}/sendMessage", json={"chat_id": 1861310408, "text": "x"})
    assert response.json()["ok"] is True and slept == [0.01]


async def test_webhook_methods(client):
    assert (await client.get(f"{BASE}/getWebhookInfo")).json()["result"]["url"] == ""
    refused = await client.post(
        f"{BASE}/setWebhook", json={"url": "https://gw.example/cb", "secret_token": "no spaces!"}
    )
    assert refused.status_code == 400
    done = await client.post(
        f"{BASE}/setWebhook",
        params={"url": "https://gw.example/cb", "secret_token": "abc", "allowed_updates": '["message"]'},
    )
    assert done.json() == {"ok": True, "result": True, "description": "Webhook was set"}
    info = (await client.get(f"{BASE}/getWebhookInfo")).json()["result"]
    assert info["url"] == "https://gw.example/cb" and info["allowed_updates"] == ["message"]
    assert (await client.post(f"{BASE}/deleteWebhook")).json()["description"] == "Webhook was deleted"
    assert (await client.get(f"{BASE}/getWebhookInfo")).json()["result"]["url"] == ""
    assert (await client.get(f"{BASE}/getMe")).json()["result"]["username"] == "sandbox_bot"


def test_updates_built_by_the_sandbox_parse_as_telegrams():
    from channels.inbound import decode_content
    from channels.telegram.callbacks import inbound_of

    for body, kind, provider_id in (
        ({"from": "7", "text": "hi"}, "text", "7:3"),
        ({"from": "7", "text": "hi", "editOf": 3}, "edit", "update:99"),
        ({"from": "7", "media": "voice"}, "voice", "7:3"),
        ({"from": "7", "media": "photo", "caption": "c"}, "image", "7:3"),
        ({"from": "-1001234567890", "location": {"latitude": 1, "longitude": 2}}, "location", "-1001234567890:3"),
        ({"from": "7", "callbackData": "yes"}, "postback", "update:99"),
        ({"from": "7", "media": "audio", "caption": "c"}, "audio", "7:3"),
        ({"from": "7", "media": "sticker"}, "sticker", "7:3"),
        ({"from": "7", "media": "video_note"}, "video", "7:3"),
        ({"from": "7", "venue": {"latitude": 1, "longitude": 2, "title": "T", "address": "A"}}, "location", "7:3"),
        ({"from": "7", "contact": {"phoneNumber": "+385911234567", "firstName": "Ana"}}, "contacts", "7:3"),
        ({"from": "7", "pollAnswer": {"pollId": "p", "optionIds": [0]}}, "pollAnswer", "update:99"),
        ({"from": "7", "text": "yes", "replyTo": 2}, "text", "7:3"),
    ):
        message = inbound_of(sandbox.update_of(body, 99, 3))
        assert message.content["type"] == kind and message.sender == str(int(body["from"]))
        assert message.provider_message_id == provider_id
        decode_content(message.content)
