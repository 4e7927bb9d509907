"""Telegram's setWebhook (``register_callbacks``), which no send or callback fixture covers: the request that
points Telegram's Updates at the gateway (with the account's secret token when it has one), and its refusals. The requests
and answers of sends and the webhook's Updates are fixture files (outgoing/, incoming/)."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from channels.base import Account
from channels.telegram import channel
from channels.telegram.adapter import register_callbacks

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "s3cr3t_Token-0123456789"
ACCOUNT = Account(
    id=uuid.UUID("59af552a-e2f2-11eb-b862-482ae3643973"),
    base_url="https://api.telegram.org",
    settings={},
    credentials={"botToken": TOKEN, "webhookSecret": SECRET},
    sandbox=False,
)


def answer(status: int, body: dict) -> httpx.Response:
    return httpx.Response(status, json=body)


async def test_register_callbacks_sets_the_webhook_with_the_secret_token():
    seen = []

    def handler(request):
        seen.append(request)
        return answer(200, {"ok": True, "result": True, "description": "Webhook was set"})

    url = f"https://gateway.example/callbacks/telegram/{ACCOUNT.id}"
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await channel.register_callbacks(http, ACCOUNT, url)
    assert str(seen[0].url) == f"https://api.telegram.org/bot{TOKEN}/setWebhook"
    assert json.loads(seen[0].content) == {
        "url": url,
        "secret_token": SECRET,
        "allowed_updates": ["message", "edited_message", "callback_query", "poll_answer"],
    }


async def test_without_a_webhook_secret_the_url_token_alone_authenticates():
    seen = []
    account = Account(ACCOUNT.id, ACCOUNT.base_url, {}, {"botToken": TOKEN}, False)
    url = f"https://gateway.example/callbacks/telegram/{ACCOUNT.id}?token=account-token"
    ok = {"ok": True, "result": True, "description": "Webhook was set"}
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: seen.append(r) or answer(200, ok))) as http:
        await register_callbacks(http, account, url)
    assert "secret_token" not in json.loads(seen[0].content) and json.loads(seen[0].content)["url"] == url


async def test_register_callbacks_raises_when_telegram_refuses():
    refusal = {"ok": False, "error_code": 400, "description": "Bad Request: bad webhook: HTTPS url must be provided"}
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: answer(400, refusal))) as http:
        with pytest.raises(ValueError, match="HTTPS url must be provided"):
            await register_callbacks(http, ACCOUNT, "http://insecure.example/cb")


async def test_register_callbacks_refuses_a_secret_telegram_would_refuse():
    account = Account(ACCOUNT.id, ACCOUNT.base_url, {}, {"botToken": TOKEN, "webhookSecret": "has spaces!"}, False)
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: pytest.fail("no request"))) as http:
        with pytest.raises(ValueError, match="webhookSecret"):
            await register_callbacks(http, account, "https://gateway.example/cb")
