"""The Telegram sandbox provider's Bot API surface: answers shaped like Telegram's, magic chat ids, and
the checks Telegram makes (the end-to-end behaviour is in tests/integration/test_telegram_pipeline.py)."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from channels.base import Account
from channels.telegram import sandbox
from channels.telegram.sandbox import bot_api, inbound
from tests.unit.fakes import given_callbacks

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
BASE = f"/sandbox/telegram/bot{TOKEN}"


class FakeCallbacks:
    def __init__(self) -> None:
        self.account_id = uuid.uuid4()

    async def account(self, account_id, channel):
        if account_id != self.account_id or channel != "telegram":
            return None
        return Account(account_id, "http://x/sandbox/telegram", {}, {"botToken": TOKEN, "webhookSecret": "s"}, True)

    def callback_url(self, channel, account_id):
        return f"http://elsewhere.invalid/callbacks/{channel}/{account_id}"

    def is_own_callback(self, url):
        return False  # nothing leaves this test


@pytest.fixture
async def client():
    callbacks = FakeCallbacks()
    app = Litestar(route_handlers=[bot_api, inbound], dependencies=given_callbacks(callbacks))
    async with AsyncTestClient(app=app) as test_client:
        test_client.callbacks = callbacks  # type: ignore[attr-defined]
        yield test_client


async def test_an_accepted_send_answers_a_message(client):
    response = await client.post(
        f"{BASE}/sendMessage", json={"chat_id": 1861312834, "text": "<b>Hi</b> there", "parse_mode": "HTML"}
    )
    body = response.json()
    assert response.status_code == 200 and body["ok"] is True
    message = body["result"]
    assert message["text"] == "Hi there" and message["chat"] == {
        "id": 1861312834,
        "type": "private",
        "first_name": "Sandbox user",
    }
    assert message["from"]["id"] == 110201543 and message["from"]["is_bot"] is True
    assert isinstance(message["message_id"], int) and isinstance(message["date"], int)


@pytest.mark.parametrize(
    ("method", "params", "result_key"),
    [
        ("sendPhoto", {"photo": "https://example.com/a.jpg", "caption": "c"}, "photo"),
        ("sendDocument", {"document": "https://example.com/a.pdf"}, "document"),
        ("sendVideo", {"video": "https://example.com/a.mp4"}, "video"),
        ("sendVoice", {"voice": "https://example.com/a.ogg"}, "voice"),
        ("sendLocation", {"latitude": 46.1, "longitude": 19.66}, "location"),
    ],
)
async def test_each_send_method(client, method, params, result_key):
    body = (await client.post(f"{BASE}/{method}", json={"chat_id": "1861312834", **params})).json()
    assert body["ok"] is True and result_key in body["result"]


@pytest.mark.parametrize(
    ("chat", "status", "description", "parameters"),
    [
        (1861310403, 403, "Forbidden: bot was blocked by the user", None),
        (1861310400, 400, "Bad Request: chat not found", None),
        (1861310500, 500, "Internal Server Error", None),
        (1861310429, 429, "Too Many Requests: retry after 1", {"retry_after": 1}),
    ],
)
async def test_magic_chat_ids(client, chat, status, description, parameters):
    response = await client.post(f"{BASE}/sendMessage", json={"chat_id": chat, "text": "x"})
    expected = {"ok": False, "error_code": status, "description": description}
    assert response.status_code == status and response.json() == expected | (
        {"parameters": parameters} if parameters else {}
    )


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


@pytest.mark.parametrize(
    ("path", "params", "status", "description"),
    [
        ("/sendMessage", {"text": "x"}, 400, "Bad Request: chat_id is empty"),
        ("/sendMessage", {"chat_id": "not a chat", "text": "x"}, 400, "Bad Request: chat not found"),
        ("/sendMessage", {"chat_id": 1, "text": "  "}, 400, "Bad Request: message text is empty"),
        ("/sendMessage", {"chat_id": 1, "text": "x" * 4097}, 400, "Bad Request: message is too long"),
        (
            "/sendMessage",
            {"chat_id": 1, "text": "x", "parse_mode": "Plain"},
            400,
            "Bad Request: unsupported parse_mode",
        ),
        ("/sendPhoto", {"chat_id": 1}, 400, "Bad Request: there is no photo in the request"),
        ("/sendPhoto", {"chat_id": 1, "photo": "file.jpg"}, 400, "Bad Request: wrong HTTP URL specified"),
        (
            "/sendPhoto",
            {"chat_id": 1, "photo": "https://e.com/a.jpg", "caption": "x" * 1025},
            400,
            "Bad Request: message caption is too long",
        ),
        ("/sendLocation", {"chat_id": 1, "latitude": 91, "longitude": 0}, 400, "Bad Request: wrong latitude"),
        ("/sendSticker", {"chat_id": 1}, 404, "Not Found"),
    ],
)
async def test_telegrams_checks(client, path, params, status, description):
    response = await client.post(BASE + path, json=params)
    assert response.status_code == status and response.json()["description"] == description


async def test_html_is_parsed_like_telegram(client):
    response = await client.post(f"{BASE}/sendMessage", json={"chat_id": 1, "text": "<b>x", "parse_mode": "html"})
    assert response.status_code == 400 and response.json()["description"].startswith(
        "Bad Request: can't parse entities"
    )
    long_markup = "<b>" + "x" * 4096 + "</b>"  # 4096 characters once the tags are parsed
    ok = await client.post(f"{BASE}/sendMessage", json={"chat_id": 1, "text": long_markup, "parse_mode": "HTML"})
    assert ok.json()["ok"] is True


async def test_a_path_without_a_token_is_not_found(client):
    response = await client.post("/sandbox/telegram/bot/sendMessage", json={"chat_id": 1, "text": "x"})
    assert response.status_code == 404 and response.json() == {
        "ok": False,
        "error_code": 404,
        "description": "Not Found",
    }


async def test_form_and_query_parameters_like_the_bot_api(client):
    form = await client.post(f"{BASE}/sendMessage", data={"chat_id": "1861312834", "text": "form"})
    assert form.json()["result"]["text"] == "form"
    query = await client.get(f"{BASE}/sendMessage", params={"chat_id": "@mitto_channel", "text": "query"})
    assert query.json()["result"]["chat"]["type"] == "channel"


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


async def test_inbound_never_calls_anything_but_the_gateway(client):
    account_id = str(client.callbacks.account_id)
    response = await client.post(
        "/sandbox/telegram/inbound", json={"trafficAccountId": account_id, "from": 5, "text": "x"}
    )
    assert response.status_code == 200 and response.json()["gatewayStatus"] is None


def test_updates_built_by_the_sandbox_parse_as_telegrams():
    from channels.telegram.callbacks import inbound_of

    for body, kind in (
        ({"from": "7", "text": "hi"}, "text"),
        ({"from": "7", "text": "hi", "editOf": 3}, "text"),
        ({"from": "7", "media": "voice"}, "voice"),
        ({"from": "7", "media": "photo", "caption": "c"}, "photo"),
        ({"from": "-1001234567890", "location": {"latitude": 1, "longitude": 2}}, "location"),
        ({"from": "7", "callbackData": "yes"}, "postback"),
    ):
        message = inbound_of(sandbox.update_of(body, 99, 3))
        assert message.content["type"] == kind and message.sender == str(int(body["from"]))
        assert message.provider_message_id == "update:99"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"from": "7", "text": "x"}, "trafficAccountId"),
        ({"trafficAccountId": "ACCOUNT", "text": "x"}, "from"),
        ({"trafficAccountId": "ACCOUNT", "from": "7"}, "text"),
        ({"trafficAccountId": "ACCOUNT", "from": "7", "text": "x", "media": "photo"}, "text"),
        ({"trafficAccountId": "ACCOUNT", "from": "7", "media": "gif"}, "media"),
        ({"trafficAccountId": "ACCOUNT", "from": "7", "callbackData": "x" * 65}, "callbackData"),
        ({"trafficAccountId": "ACCOUNT", "from": "7", "location": {"latitude": 1}}, "location.longitude"),
        ({"trafficAccountId": "ACCOUNT", "from": "7", "media": "photo", "editOf": 1}, "editOf"),
        ({"trafficAccountId": "ACCOUNT", "from": "7", "text": "x", "updateId": "1"}, "updateId"),
    ],
)
async def test_inbound_input_is_checked(client, body, field):
    body = {k: (str(client.callbacks.account_id) if v == "ACCOUNT" else v) for k, v in body.items()}
    response = await client.post("/sandbox/telegram/inbound", json=body)
    assert response.status_code == 400 and field in response.text
