"""The Telegram adapter against recorded Bot API payloads: the requests it builds, the answers it parses,
setWebhook, and the webhook's Updates (secret token, content kinds, malformed bodies)."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from channels.base import Account, InboundMessage, Outbound
from channels.telegram import channel
from channels.telegram.adapter import parse_response, register_callbacks, request_of, send
from channels.telegram.callbacks import Malformed, inbound_of, secret_matches, telegram_update, webhook_answer
from tests.unit.fakes import given_callbacks
from wire.shapes import decode

TOKEN = "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "s3cr3t_Token-0123456789"
ACCOUNT = Account(
    id=uuid.UUID("59af552a-e2f2-11eb-b862-482ae3643973"),
    base_url="https://api.telegram.org",
    settings={},
    credentials={"botToken": TOKEN, "webhookSecret": SECRET},
    sandbox=False,
)
CHAT = "1861312834"


def outbound(block: dict[str, Any], destination: str = CHAT) -> Outbound:
    assert decode(block, channel.block_shape).errors == []
    return Outbound(
        message_id=uuid.uuid4(),
        destination=destination,
        block=block,
        valid_until=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
        callback_url="https://gateway.example/callbacks/telegram/x?token=t",
    )


# --------------------------------------------------------------------------
# Recorded Bot API answers
# --------------------------------------------------------------------------

SENT_TEXT = {
    "ok": True,
    "result": {
        "message_id": 4711,
        "from": {"id": 110201543, "is_bot": True, "first_name": "Mitto Telegram", "username": "mitto_bot"},
        "chat": {"id": 1861312834, "first_name": "Ana", "username": "ana", "type": "private"},
        "date": 1626349857,
        "text": "Hi, how can I help you today?",
    },
}
BLOCKED = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
CHAT_NOT_FOUND = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
MIGRATED = {
    "ok": False,
    "error_code": 400,
    "description": "Bad Request: group chat was upgraded to a supergroup chat",
    "parameters": {"migrate_to_chat_id": -1001234567890},
}
FLOOD = {
    "ok": False,
    "error_code": 429,
    "description": "Too Many Requests: retry after 35",
    "parameters": {"retry_after": 35},
}
BAD_GATEWAY = {"ok": False, "error_code": 502, "description": "Bad Gateway"}


def answer(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json", **(headers or {})})


async def run_send(block: dict[str, Any], response: httpx.Response, destination: str = CHAT):
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        result = await send(http, ACCOUNT, outbound(block, destination))
    assert len(seen) == 1
    return seen[0], result


# --------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------

PHOTO_URL = "https://file-examples-com.github.io/uploads/2017/10/file_example_JPG_100kB.jpg"
PDF_URL = "https://file-examples-com.github.io/uploads/2017/10/file-sample_150kB.pdf"
VIDEO_URL = "https://file-examples-com.github.io/uploads/2018/04/file_example_OGG_480_1_7mg.ogg"
VOICE_URL = "https://file-examples-com.github.io/uploads/2017/11/file_example_MP3_700KB.mp3"

REQUESTS = [
    (
        {"silent": True, "text": {"parseMode": "Html", "message": "Hi, <b>how</b> can I help you today?"}},
        "sendMessage",
        {
            "chat_id": 1861312834,
            "text": "Hi, <b>how</b> can I help you today?",
            "parse_mode": "HTML",
            "disable_notification": True,
        },
    ),
    (
        {"text": {"noPreview": True, "message": "https://github.com/TelegramBots/Telegram.Bot"}},
        "sendMessage",
        {
            "chat_id": 1861312834,
            "text": "https://github.com/TelegramBots/Telegram.Bot",
            "link_preview_options": {"is_disabled": True},
        },
    ),
    (
        {"text": {"parseMode": "Default", "message": "plain *text*", "noPreview": False}},
        "sendMessage",
        {"chat_id": 1861312834, "text": "plain *text*"},
    ),
    (
        {"text": {"parseMode": "MarkdownV2", "message": "*bold* text\\!"}},
        "sendMessage",
        {"chat_id": 1861312834, "text": "*bold* text\\!", "parse_mode": "MarkdownV2"},
    ),
    (
        {"photo": {"url": PHOTO_URL, "caption": "Example media (photo)"}},
        "sendPhoto",
        {"chat_id": 1861312834, "photo": PHOTO_URL, "caption": "Example media (photo)"},
    ),
    (
        {"silent": False, "document": {"url": PDF_URL, "caption": "_Sample_ pdf", "parseMode": "Markdown"}},
        "sendDocument",
        {"chat_id": 1861312834, "document": PDF_URL, "caption": "_Sample_ pdf", "parse_mode": "Markdown"},
    ),
    (
        {"video": {"url": VIDEO_URL, "caption": "Example video"}},
        "sendVideo",
        {"chat_id": 1861312834, "video": VIDEO_URL, "caption": "Example video"},
    ),
    (
        {"silent": True, "voice": {"url": VOICE_URL}},
        "sendVoice",
        {"chat_id": 1861312834, "voice": VOICE_URL, "disable_notification": True},
    ),
    (
        {"location": {"latitude": 46.100231, "longitude": 19.664058}},
        "sendLocation",
        {"chat_id": 1861312834, "latitude": 46.100231, "longitude": 19.664058},
    ),
]


@pytest.mark.parametrize(("block", "method", "body"), REQUESTS, ids=[r[1] + str(i) for i, r in enumerate(REQUESTS)])
async def test_the_request_for_each_content_kind(block, method, body):
    request, result = await run_send(block, answer(200, SENT_TEXT))
    assert request.method == "POST"
    assert str(request.url) == f"https://api.telegram.org/bot{TOKEN}/{method}"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.content) == body
    assert result.status == "Delivered"


def stored(block: dict[str, Any]) -> dict[str, Any]:
    """The block as the gateway stores it once decoded against the channel's block shape."""
    return msgspec.to_builtins(decode(block, channel.block_shape).value)


@pytest.mark.parametrize(("block", "method", "body"), REQUESTS, ids=[r[1] + str(i) for i, r in enumerate(REQUESTS)])
def test_the_stored_block_makes_the_same_request(block, method, body):
    assert request_of(outbound(stored(block))) == (method, body)


def test_a_block_in_any_case_is_sent_as_stored():
    block = {"Silent": True, "TEXT": {"Message": "<b>Hi</b>", "parsemode": "HTML", "noPreview": False}}
    assert request_of(outbound(stored(block))) == (
        "sendMessage",
        {"chat_id": 1861312834, "text": "<b>Hi</b>", "parse_mode": "HTML", "disable_notification": True},
    )


def test_chat_ids_numeric_as_integers_usernames_as_strings():
    assert request_of(outbound({"text": {"message": "x"}}, "-1001234567890"))[1]["chat_id"] == -1001234567890
    assert request_of(outbound({"text": {"message": "x"}}, "@mitto_channel"))[1]["chat_id"] == "@mitto_channel"


async def test_base_url_of_the_account_and_trailing_slash():
    account = Account(ACCOUNT.id, "http://127.0.0.1:9/sandbox/telegram/", {}, ACCOUNT.credentials, True)
    seen = []

    def handler(request):
        seen.append(request)
        return answer(200, SENT_TEXT)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        await send(http, account, outbound({"text": {"message": "x"}}))
    assert str(seen[0].url) == f"http://127.0.0.1:9/sandbox/telegram/bot{TOKEN}/sendMessage"


async def test_an_invalid_stored_block_fails_for_good_without_a_request():
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda r: pytest.fail("no request"))) as http:
        block = {"text": {"message": ""}}
        out = Outbound(uuid.uuid4(), CHAT, block, datetime.datetime.now(datetime.UTC), "")
        result = await send(http, ACCOUNT, out)
    assert result.permanent and result.error_code == "telegram.invalid_block"


# --------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------


def test_accepted_is_delivered_with_chat_and_message_id():
    result = parse_response(answer(200, SENT_TEXT))
    assert result.accepted and result.status == "Delivered"
    assert result.provider_message_id == "1861312834:4711"
    assert not result.permanent and result.error_code is None


@pytest.mark.parametrize(
    ("status", "body", "code", "description"),
    [
        (403, BLOCKED, "telegram.403", "Forbidden: bot was blocked by the user"),
        (400, CHAT_NOT_FOUND, "telegram.400", "Bad Request: chat not found"),
        (401, UNAUTHORIZED, "telegram.401", "Unauthorized"),
        (
            400,
            MIGRATED,
            "telegram.400",
            "Bad Request: group chat was upgraded to a supergroup chat (the group is now chat -1001234567890)",
        ),
        (404, {"ok": False, "error_code": 404, "description": "Not Found"}, "telegram.404", "Not Found"),
    ],
)
def test_refusals_are_permanent_with_telegrams_code_and_description(status, body, code, description):
    result = parse_response(answer(status, body))
    assert not result.accepted and result.permanent
    assert result.error_code == code and result.description == description


def test_429_is_transient_after_retry_after():
    result = parse_response(answer(429, FLOOD))
    assert not result.accepted and not result.permanent
    assert result.retry_after == 35.0 and "retry after 35" in result.description


def test_429_without_parameters_falls_back_to_the_retry_after_header():
    body = {"ok": False, "error_code": 429, "description": "Too Many Requests"}
    assert parse_response(answer(429, body, {"Retry-After": "3"})).retry_after == 3.0
    assert parse_response(answer(429, body)).retry_after is None


@pytest.mark.parametrize(
    "response",
    [
        answer(502, BAD_GATEWAY),
        answer(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}),
        answer(502, b"<html>502 Bad Gateway</html>"),
        answer(200, b"not json"),
        answer(200, {"ok": True, "result": True}),
    ],
)
def test_server_errors_and_garbage_are_transient(response):
    result = parse_response(response)
    assert not result.accepted and not result.permanent and result.description


# --------------------------------------------------------------------------
# setWebhook
# --------------------------------------------------------------------------


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
        "allowed_updates": ["message", "edited_message", "callback_query"],
    }


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


# --------------------------------------------------------------------------
# Updates (recorded from the Bot API's webhook)
# --------------------------------------------------------------------------

USER = {"id": 1861312834, "is_bot": False, "first_name": "Ana", "username": "ana", "language_code": "en"}
PRIVATE = {"id": 1861312834, "first_name": "Ana", "username": "ana", "type": "private"}
TEXT_UPDATE = {
    "update_id": 829824026,
    "message": {"message_id": 17, "from": USER, "chat": PRIVATE, "date": 1626349900, "text": "Hello bot"},
}
PHOTO_UPDATE = {
    "update_id": 829824027,
    "message": {
        "message_id": 18,
        "from": USER,
        "chat": PRIVATE,
        "date": 1626349901,
        "photo": [
            {"file_id": "AgACAgQAAxk-small", "file_unique_id": "AQADs", "file_size": 1303, "width": 90, "height": 67},
            {
                "file_id": "AgACAgQAAxk-large",
                "file_unique_id": "AQADl",
                "file_size": 61283,
                "width": 1280,
                "height": 960,
            },
        ],
        "caption": "look",
    },
}
DOCUMENT_UPDATE = {
    "update_id": 829824028,
    "message": {
        "message_id": 19,
        "from": USER,
        "chat": PRIVATE,
        "date": 1626349902,
        "document": {
            "file_name": "invoice.pdf",
            "mime_type": "application/pdf",
            "file_id": "BQACAgQAAxkBAAM",
            "file_unique_id": "AgADkQ",
            "file_size": 152300,
        },
    },
}
VOICE_UPDATE = {
    "update_id": 829824029,
    "message": {
        "message_id": 20,
        "from": USER,
        "chat": PRIVATE,
        "date": 1626349903,
        "voice": {
            "duration": 3,
            "mime_type": "audio/ogg",
            "file_id": "AwACAgQ",
            "file_unique_id": "AgAD",
            "file_size": 9,
        },
    },
}
VIDEO_UPDATE = {
    "update_id": 829824032,
    "message": {
        "message_id": 23,
        "from": USER,
        "chat": PRIVATE,
        "date": 1626349906,
        "video": {"duration": 12, "width": 640, "height": 360, "file_id": "BAACAgQ", "file_unique_id": "AgADv"},
        "caption": "clip",
    },
}
LOCATION_UPDATE = {
    "update_id": 829824030,
    "message": {
        "message_id": 21,
        "from": USER,
        "chat": PRIVATE,
        "date": 1626349904,
        "location": {"latitude": 46.100231, "longitude": 19.664058},
    },
}
EDITED_UPDATE = {
    "update_id": 829824031,
    "edited_message": {
        "message_id": 17,
        "from": USER,
        "chat": PRIVATE,
        "date": 1626349900,
        "edit_date": 1626349990,
        "text": "Hello, bot",
    },
}
CALLBACK_UPDATE = {
    "update_id": 829824033,
    "callback_query": {
        "id": "4382bfdwdsb323b2d9",
        "from": USER,
        "message": {
            "message_id": 24,
            "from": {"id": 110201543, "is_bot": True, "first_name": "Mitto Telegram"},
            "chat": PRIVATE,
            "date": 1626349910,
            "text": "Choose:",
        },
        "chat_instance": "-2219486543123",
        "data": "yes",
    },
}


@pytest.mark.parametrize(
    ("update", "content"),
    [
        (TEXT_UPDATE, {"type": "text", "text": "Hello bot", "telegramMessageId": 17}),
        (
            PHOTO_UPDATE,
            {
                "type": "photo",
                "fileId": "AgACAgQAAxk-large",
                "fileUniqueId": "AQADl",
                "fileSize": 61283,
                "width": 1280,
                "height": 960,
                "caption": "look",
                "telegramMessageId": 18,
            },
        ),
        (
            DOCUMENT_UPDATE,
            {
                "type": "document",
                "fileId": "BQACAgQAAxkBAAM",
                "fileUniqueId": "AgADkQ",
                "fileName": "invoice.pdf",
                "mimeType": "application/pdf",
                "fileSize": 152300,
                "telegramMessageId": 19,
            },
        ),
        (
            VOICE_UPDATE,
            {
                "type": "voice",
                "fileId": "AwACAgQ",
                "fileUniqueId": "AgAD",
                "mimeType": "audio/ogg",
                "fileSize": 9,
                "duration": 3,
                "telegramMessageId": 20,
            },
        ),
        (
            VIDEO_UPDATE,
            {
                "type": "video",
                "fileId": "BAACAgQ",
                "fileUniqueId": "AgADv",
                "width": 640,
                "height": 360,
                "duration": 12,
                "caption": "clip",
                "telegramMessageId": 23,
            },
        ),
        (
            LOCATION_UPDATE,
            {"type": "location", "latitude": 46.100231, "longitude": 19.664058, "telegramMessageId": 21},
        ),
        (EDITED_UPDATE, {"type": "text", "text": "Hello, bot", "edited": True, "telegramMessageId": 17}),
        (
            CALLBACK_UPDATE,
            {"type": "postback", "data": "yes", "callbackQueryId": "4382bfdwdsb323b2d9", "telegramMessageId": 24},
        ),
    ],
    ids=["text", "photo", "document", "voice", "video", "location", "edited", "callback"],
)
def test_updates_become_inbound_messages(update, content):
    inbound = inbound_of(update)
    assert inbound == InboundMessage(
        sender="1861312834", content=content, provider_message_id=f"update:{update['update_id']}"
    )


def test_unknown_fields_are_ignored_and_unmodelled_content_is_kept_as_unsupported():
    update = json.loads(json.dumps(TEXT_UPDATE))
    update["message"] |= {"future_field": {"x": 1}, "entities": [{"type": "bold", "offset": 0, "length": 5}]}
    update["brand_new_top_level"] = True
    assert inbound_of(update).content == {"type": "text", "text": "Hello bot", "telegramMessageId": 17}
    sticker = {"update_id": 5, "message": {"message_id": 1, "chat": PRIVATE, "date": 1, "sticker": {"file_id": "x"}}}
    assert inbound_of(sticker).content == {"type": "unsupported", "kind": "sticker", "telegramMessageId": 1}


def test_updates_without_a_user_message_store_nothing():
    joined = {"update_id": 6, "message": {"message_id": 2, "chat": PRIVATE, "date": 1, "new_chat_members": [USER]}}
    assert inbound_of(joined) is None
    assert inbound_of({"update_id": 7, "my_chat_member": {"chat": PRIVATE}}) is None


def test_a_callback_query_from_an_inline_message_is_from_the_user():
    update = {"update_id": 8, "callback_query": {"id": "q", "from": USER, "inline_message_id": "AAA", "data": "d"}}
    inbound = inbound_of(update)
    assert inbound.sender == "1861312834" and inbound.content == {
        "type": "postback",
        "data": "d",
        "callbackQueryId": "q",
    }
    assert webhook_answer(update) == {"method": "answerCallbackQuery", "callback_query_id": "q"}
    assert webhook_answer(TEXT_UPDATE) == {}


def test_group_chats_are_addressed_by_the_group():
    update = json.loads(json.dumps(TEXT_UPDATE))
    update["message"]["chat"] = {"id": -1001234567890, "title": "Support", "type": "supergroup"}
    assert inbound_of(update).sender == "-1001234567890"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (None, "body"),
        ([TEXT_UPDATE], "body"),
        ({"message": TEXT_UPDATE["message"]}, "update_id"),
        ({"update_id": "829824026", "message": TEXT_UPDATE["message"]}, "update_id"),
        ({"update_id": 1, "message": "hi"}, "message"),
        ({"update_id": 1, "message": {"message_id": 1, "text": "hi"}}, "message.chat"),
        ({"update_id": 1, "message": {"message_id": 1, "chat": {"id": "12"}, "text": "hi"}}, "message.chat.id"),
        ({"update_id": 1, "message": {"message_id": 1, "chat": PRIVATE, "text": 5}}, "message.text"),
        ({"update_id": 1, "message": {"chat": PRIVATE, "photo": []}}, "message.photo"),
        ({"update_id": 1, "message": {"chat": PRIVATE, "document": {"file_name": "a"}}}, "message.document.file_id"),
        ({"update_id": 1, "message": {"chat": PRIVATE, "location": {"latitude": 1}}}, "message.location.longitude"),
        ({"update_id": 1, "callback_query": {"from": USER, "data": "x"}}, "callback_query.id"),
        ({"update_id": 1, "callback_query": {"id": "q", "data": "x"}}, "callback_query.from"),
    ],
)
def test_malformed_updates_name_the_field(body, field):
    with pytest.raises(Malformed) as error:
        inbound_of(body)
    assert error.value.field == field


def test_the_secret_is_compared_exactly():
    assert secret_matches(SECRET, SECRET)
    assert not secret_matches(SECRET, SECRET + "x")
    assert not secret_matches(SECRET, SECRET.upper())
    assert not secret_matches(SECRET, None)
    assert not secret_matches(SECRET, "")
    assert not secret_matches("", "")
    assert not secret_matches(None, "anything")
    assert not secret_matches(SECRET, "sécrét")


# --------------------------------------------------------------------------
# The webhook route, with a stand-in pipeline
# --------------------------------------------------------------------------


class FakeCallbacks:
    def __init__(self) -> None:
        self.received: list[tuple[uuid.UUID, InboundMessage]] = []

    async def account(self, account_id, channel_name):
        return ACCOUNT if account_id == ACCOUNT.id and channel_name == "telegram" else None

    async def receive(self, account_id, inbound):
        self.received.append((account_id, inbound))
        return True


@pytest.fixture
async def webhook():
    callbacks = FakeCallbacks()
    app = Litestar(route_handlers=[telegram_update], dependencies=given_callbacks(callbacks))
    async with AsyncTestClient(app=app) as client:
        yield client, callbacks


URL = f"/callbacks/telegram/{ACCOUNT.id}"
GOOD = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


async def test_route_takes_an_update_with_the_right_secret(webhook):
    client, pipeline = webhook
    response = await client.post(URL, json=TEXT_UPDATE, headers=GOOD)
    assert response.status_code == 200 and response.json() == {}
    assert pipeline.received == [(ACCOUNT.id, inbound_of(TEXT_UPDATE))]
    response = await client.post(URL, json=CALLBACK_UPDATE, headers=GOOD)
    assert response.json() == {"method": "answerCallbackQuery", "callback_query_id": "4382bfdwdsb323b2d9"}


@pytest.mark.parametrize(
    "headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, {"X-Telegram-Bot-Api-Secret-Token": ""}]
)
async def test_route_refuses_a_missing_or_wrong_secret(webhook, headers):
    client, pipeline = webhook
    response = await client.post(URL, json=TEXT_UPDATE, headers=headers)
    assert response.status_code == 401 and pipeline.received == []


async def test_route_refuses_an_unknown_account(webhook):
    client, pipeline = webhook
    response = await client.post(f"/callbacks/telegram/{uuid.uuid4()}", json=TEXT_UPDATE, headers=GOOD)
    assert response.status_code == 401 and pipeline.received == []


async def test_route_malformed_bodies_are_400(webhook):
    client, pipeline = webhook
    response = await client.post(URL, content=b"{not json", headers={**GOOD, "Content-Type": "application/json"})
    assert response.status_code == 400
    response = await client.post(URL, json={"message": {}}, headers=GOOD)
    assert response.status_code == 400 and "update_id" in response.text
    assert pipeline.received == []


async def test_route_ignores_updates_without_a_user_message(webhook):
    client, pipeline = webhook
    response = await client.post(URL, json={"update_id": 9, "my_chat_member": {}}, headers=GOOD)
    assert response.status_code == 200 and pipeline.received == []


def test_a_retry_after_that_is_no_finite_number_is_bounded_or_ignored():
    assert parse_response(answer(429, {"ok": False, "error_code": 429}, {"Retry-After": "inf"})).retry_after == 3600.0
    endless = answer(429, b'{"ok": false, "error_code": 429, "parameters": {"retry_after": Infinity}}')
    assert parse_response(endless).retry_after == 3600.0
    unreadable = {"ok": False, "error_code": 429, "parameters": {"retry_after": "soon"}}
    assert parse_response(answer(429, unreadable, {"Retry-After": "3"})).retry_after == 3.0
