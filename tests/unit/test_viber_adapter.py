"""The Viber adapter against recorded REST bot API payloads: the requests it builds for every content
kind, how it reads Viber's answers, and the callbacks it parses (signature, events, malformed bodies)."""

from __future__ import annotations

import datetime
import json
import uuid
from typing import Any

import httpx
import pytest

from channels.base import Account, InboundMessage, Outbound, StatusReport
from channels.registry import all_channels
from channels.viber import adapter, sandbox
from channels.viber.blocks import validate_block
from channels.viber.callbacks import Malformed, parse_callback, signature, signature_matches

TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
ACCOUNT = Account(uuid.UUID(int=7), "https://chatapi.viber.com/pa", {}, {"authToken": TOKEN}, False)
CALLBACK = f"https://gw.example.com/callbacks/viber/{ACCOUNT.id}?token=abc.def.ghi"
# Recorded answers (developers.viber.com/docs/api/rest-bot-api)
SENT = {"status": 0, "status_message": "ok", "message_token": 5741311803571721087, "chat_hostname": "SN-CHAT-05_"}
ACCOUNT_INFO = {
    "status": 0,
    "status_message": "ok",
    "id": "pa:75346594275468546724",
    "name": "Mitto Viber bot with a long name here",
    "uri": "accountUri",
    "icon": "http://example.com",
    "category": "category",
    "webhook": "https://my.site.com",
    "event_types": ["delivered", "seen"],
    "subscribers_count": 35,
    "members": [{"id": "01234567890A=", "name": "my name", "avatar": "http://avatar.example.com", "role": "admin"}],
}


def outbound(block: dict[str, Any], destination: str = "+44 7700 900123") -> Outbound:
    assert validate_block(block) == [], validate_block(block)
    return Outbound(
        uuid.uuid4(), destination, block, datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1), CALLBACK
    )


class Viber:
    """A recorded Viber: answers per method, and every request it got."""

    def __init__(self, **answers: Any) -> None:
        self.answers = {"get_account_info": [ACCOUNT_INFO], "send_message": [SENT], **answers}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        method = request.url.path.rsplit("/", 1)[1]
        queue = self.answers[method]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def bodies(self, method: str) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests if r.url.path.endswith("/" + method)]


@pytest.fixture(autouse=True)
def fresh_sender_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(adapter, "_sender_names", {})


async def send(viber: Viber, block: dict[str, Any], destination: str = "+44 7700 900123"):
    async with httpx.AsyncClient(transport=httpx.MockTransport(viber)) as http:
        return await adapter.send(http, ACCOUNT, outbound(block, destination))


def test_the_channel_is_wired():
    channel = all_channels()["viber"]
    assert channel.send is adapter.send and channel.register_callbacks is adapter.register_callbacks
    assert channel.default_base_url == "https://chatapi.viber.com/pa"
    paths = {path for route in (*channel.callback_routes, *channel.sandbox_routes) for path in route.paths}
    assert paths == {
        "/callbacks/viber/{account_id:str}",
        "/sandbox/viber/send_message",
        "/sandbox/viber/set_webhook",
        "/sandbox/viber/get_account_info",
        "/sandbox/viber/inbound",
    }


async def test_text_request_and_the_sender_name_from_get_account_info():
    viber = Viber()
    result = await send(viber, {"type": "transactional", "ttl": 90, "text": "Hi, how can I help you today?"})
    assert result.status == "Sent" and result.provider_message_id == "5741311803571721087"
    info, message = viber.requests
    assert str(info.url) == "https://chatapi.viber.com/pa/get_account_info" and info.method == "POST"
    assert info.headers["X-Viber-Auth-Token"] == TOKEN and json.loads(info.content) == {}
    assert str(message.url) == "https://chatapi.viber.com/pa/send_message"
    assert message.headers["X-Viber-Auth-Token"] == TOKEN
    assert message.headers["Content-Type"] == "application/json"
    # ttl and the business type have no field in the REST bot API's send_message.
    assert json.loads(message.content) == {
        "receiver": "447700900123",
        "type": "text",
        "text": "Hi, how can I help you today?",
        "sender": {"name": "Mitto Viber bot with a long"},  # cut to Viber's maximum of 28 characters
    }
    await send(viber, {"type": "session", "text": "again"})
    assert len(viber.bodies("get_account_info")) == 1  # the name is remembered


async def test_picture_with_a_url_button_rides_a_one_button_open_url_keyboard():
    viber = Viber()
    block = {
        "type": "promotional",
        "mediaUrl": "https://www.gstatic.com/webp/gallery3/1.png",
        "text": "Hi, how can I help you today?",
        "button": {"caption": "QR Scan", "action": "viber://other/scan"},
    }
    await send(viber, block)
    assert viber.bodies("send_message") == [
        {
            "receiver": "447700900123",
            "type": "picture",
            "text": "Hi, how can I help you today?",
            "media": "https://www.gstatic.com/webp/gallery3/1.png",
            "keyboard": {
                "Type": "keyboard",
                "Buttons": [
                    {
                        "Columns": 6,
                        "Rows": 1,
                        "ActionType": "open-url",
                        "ActionBody": "viber://other/scan",
                        "Text": "QR Scan",
                    }
                ],
            },
            "sender": {"name": "Mitto Viber bot with a long"},
        }
    ]


async def test_picture_alone_has_an_empty_description():
    viber = Viber()
    await send(viber, {"type": "promotional", "mediaUrl": "https://www.gstatic.com/webp/gallery3/1.png"})
    body = viber.bodies("send_message")[0]
    assert body["type"] == "picture" and body["text"] == "" and "keyboard" not in body


async def test_video_and_file_requests():
    viber = Viber()
    video = {
        "mediaUrl": "https://example.com/v/clip.mp4",
        "size": 10000,
        "duration": 10,
        "thumbnail": "https://e.x/t.jpg",
    }
    await send(viber, {"type": "regular", "video": video})
    file = {"mediaUrl": "https://file-examples-com.github.io/uploads/2017/10/file-sample_150kB.pdf", "size": 150000}
    await send(viber, {"type": "promotional", "file": {**file, "fileName": "sample_150kB.pdf"}})
    await send(viber, {"type": "session", "file": {"mediaUrl": "https://example.com/docs/My%20report.pdf"}})
    video_body, named, derived = viber.bodies("send_message")
    sender = {"name": "Mitto Viber bot with a long"}
    assert video_body == {
        "receiver": "447700900123",
        "type": "video",
        "media": "https://example.com/v/clip.mp4",
        "size": 10000,
        "duration": 10,
        "thumbnail": "https://e.x/t.jpg",
        "sender": sender,
    }
    assert named == {
        "receiver": "447700900123",
        "type": "file",
        "media": file["mediaUrl"],
        "size": 150000,
        "file_name": "sample_150kB.pdf",
        "sender": sender,
    }
    # Seed 002: without a fileName the name comes from the URL; no size is invented.
    assert derived == {
        "receiver": "447700900123",
        "type": "file",
        "media": "https://example.com/docs/My%20report.pdf",
        "file_name": "My report.pdf",
        "sender": sender,
    }


async def test_keyboards_alone_and_with_a_button_carry_the_api_level_they_need():
    viber = Viber()
    keyboard = {
        "Type": "keyboard",
        "InputFieldState": "hidden",
        "ButtonsGroupColumns": 3,
        "Buttons": [{"Columns": 3, "Text": "Yes", "ActionBody": "yes"}],
    }
    await send(viber, {"type": "regular", "keyboard": keyboard})
    await send(
        viber,
        {
            "type": "promotional",
            "text": "Pick one",
            "button": {"caption": "Open", "action": "https://example.com"},
            "keyboard": {"Buttons": [{"Text": "Where?", "ActionType": "location-picker", "ActionBody": "loc"}]},
        },
    )
    await send(viber, {"type": "regular", "keyboard": {"Buttons": [{"Text": "Map", "ActionBody": "m", "Map": {}}]}})
    alone, merged, map_button = viber.bodies("send_message")
    assert alone == {
        "receiver": "447700900123",
        "keyboard": keyboard,
        "min_api_version": 4,
        "sender": {"name": "Mitto Viber bot with a long"},
    }
    assert "type" not in alone  # a keyboard on its own is no message type
    assert merged["type"] == "text" and merged["text"] == "Pick one" and merged["min_api_version"] == 3
    assert merged["keyboard"] == {
        "Type": "keyboard",
        "Buttons": [
            {"Text": "Where?", "ActionType": "location-picker", "ActionBody": "loc"},
            {"Columns": 6, "Rows": 1, "ActionType": "open-url", "ActionBody": "https://example.com", "Text": "Open"},
        ],
    }
    assert map_button["min_api_version"] == 6


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (httpx.Response(200, json=SENT), {"status": "Sent", "provider_message_id": "5741311803571721087"}),
        (
            httpx.Response(200, json={"status": 5, "status_message": "receiverNotRegistered"}),
            {
                "permanent": True,
                "error_code": "viber.5",
                "description": "receiverNotRegistered: The receiver is not registered to Viber",
            },
        ),
        (
            httpx.Response(200, json={"status": 6, "status_message": "The receiver is not subscribed to the account"}),
            {"permanent": True, "error_code": "viber.6"},
        ),
        (
            httpx.Response(200, json={"status": 2, "status_message": "invalidAuthToken"}),
            {"permanent": True, "error_code": "viber.2"},
        ),
        (
            httpx.Response(200, json={"status": 3, "status_message": "Invalid JSON"}),
            {"permanent": True, "error_code": "viber.3", "description": "badData: Invalid JSON"},
        ),
        (
            httpx.Response(200, json={"status": 99, "status_message": "General error"}),
            {"permanent": True, "error_code": "viber.99", "description": "generalError: General error"},
        ),
        (
            httpx.Response(200, json={"status": 12, "status_message": "tooManyRequests"}),
            {"permanent": False, "error_code": None, "description": "tooManyRequests: Rate control breach"},
        ),
        (httpx.Response(429, headers={"Retry-After": "7"}, json={}), {"retry_after": 7.0, "permanent": False}),
        (httpx.Response(429, headers={"Retry-After": "inf"}, json={}), {"retry_after": 3600.0}),
        (httpx.Response(503, text="busy"), {"permanent": False, "description": "Viber answered HTTP 503"}),
        (httpx.Response(200, text="<html>"), {"permanent": False, "status": None}),
        (httpx.Response(404, text="not here"), {"permanent": True, "error_code": "viber.http_404"}),
        (
            httpx.Response(200, json={"status": 0, "status_message": "ok"}),
            {"status": "Sent", "provider_message_id": None},
        ),
    ],
)
def test_parse_response(answer, expected):
    result = adapter.parse_response(answer)
    for key, value in expected.items():
        assert getattr(result, key) == value, (key, result)
    assert result.accepted == (expected.get("status") == "Sent")


async def test_rate_limit_status_is_transient_with_retry_after():
    viber = Viber(send_message=[httpx.Response(200, json={"status": 12}, headers={"Retry-After": "2"})])
    result = await send(viber, {"type": "session", "text": "x"})
    assert not result.accepted and not result.permanent and result.retry_after == 2.0


async def test_webhook_not_set_sets_the_webhook_and_sends_again():
    viber = Viber(
        send_message=[{"status": 10, "status_message": "webhookNotSet"}, SENT],
        set_webhook=[{"status": 0, "status_message": "ok", "event_types": list(adapter.EVENT_TYPES)}],
    )
    result = await send(viber, {"type": "session", "text": "x"})
    assert result.status == "Sent" and result.provider_message_id == "5741311803571721087"
    assert [r.url.path.rsplit("/", 1)[1] for r in viber.requests] == [
        "get_account_info",
        "send_message",
        "set_webhook",
        "send_message",
    ]
    assert viber.bodies("set_webhook") == [
        {
            "url": f"https://gw.example.com/callbacks/viber/{ACCOUNT.id}",  # no per-message token: Viber signs
            "event_types": ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"],
            "send_name": True,
            "send_photo": False,
        }
    ]
    assert viber.requests[2].headers["X-Viber-Auth-Token"] == TOKEN


async def test_a_refused_webhook_fails_the_message():
    viber = Viber(
        send_message=[{"status": 10, "status_message": "webhookNotSet"}],
        set_webhook=[{"status": 1, "status_message": "invalidUrl"}],
    )
    result = await send(viber, {"type": "session", "text": "x"})
    assert result.permanent and result.error_code == "viber.10"
    assert result.description.startswith("webhookNotSet: No webhook was set for the account; Viber refused set_webhook")


async def test_get_account_info_failures():
    refused = Viber(get_account_info=[{"status": 2, "status_message": "invalidAuthToken"}])
    result = await send(refused, {"type": "session", "text": "x"})
    assert result.permanent and result.error_code == "viber.2" and not refused.bodies("send_message")
    down = Viber(get_account_info=[httpx.Response(502)])
    result = await send(down, {"type": "session", "text": "x"})
    assert not result.permanent and not result.accepted
    nameless = Viber(get_account_info=[{"status": 0, "status_message": "ok"}])
    await send(nameless, {"type": "session", "text": "x"})
    assert nameless.bodies("send_message")[0]["sender"] == {"name": adapter.SENDER_NAME_FALLBACK}


async def test_an_invalid_token_is_asked_about_again():
    viber = Viber(send_message=[{"status": 2, "status_message": "invalidAuthToken"}, SENT])
    await send(viber, {"type": "session", "text": "x"})
    await send(viber, {"type": "session", "text": "x"})
    assert len(viber.bodies("get_account_info")) == 2


async def test_a_block_that_never_validated_fails_for_good():
    async with httpx.AsyncClient(transport=httpx.MockTransport(Viber())) as http:
        bad = Outbound(
            uuid.uuid4(), "+447700900123", {"text": "no type"}, datetime.datetime.now(datetime.UTC), CALLBACK
        )
        result = await adapter.send(http, ACCOUNT, bad)
    assert result.permanent and result.error_code == "viber.invalid_block"


async def test_register_callbacks():
    viber = Viber(set_webhook=[{"status": 0, "status_message": "ok"}])
    async with httpx.AsyncClient(transport=httpx.MockTransport(viber)) as http:
        await adapter.register_callbacks(http, ACCOUNT, "https://gw.example.com/callbacks/viber/x")
        assert str(viber.requests[0].url) == "https://chatapi.viber.com/pa/set_webhook"
        viber.answers["set_webhook"] = [{"status": 1, "status_message": "invalidUrl"}]
        with pytest.raises(ValueError, match="invalidUrl"):
            await adapter.register_callbacks(http, ACCOUNT, "http://not-https.example.com/")


# --------------------------------------------------------------------------------------------------
# Callbacks (recorded from developers.viber.com/docs/api/rest-bot-api/#callbacks)
# --------------------------------------------------------------------------------------------------

DELIVERED = (
    b'{"event":"delivered","timestamp":1457764197627,"chat_hostname":"SN-376_",'
    b'"message_token":4912661846655238145,"user_id":"01234567890A="}'
)
MESSAGE = {
    "event": "message",
    "timestamp": 1457764197627,
    "chat_hostname": "SN-376_",
    "message_token": 4912661846655238145,
    "sender": {
        "id": "01234567890A=",
        "name": "John McClane",
        "avatar": "http://avatar.example.com",
        "country": "UK",
        "language": "en",
        "api_version": 1,
    },
    "message": {"type": "text", "text": "a message to the service", "tracking_data": "tracking data"},
    "silent": False,
}


def test_signature():
    expected = signature(TOKEN, DELIVERED)
    assert len(expected) == 64 and int(expected, 16) >= 0
    assert signature_matches(TOKEN, DELIVERED, expected)
    assert signature_matches(TOKEN, DELIVERED, expected.upper())  # hex is hex
    assert not signature_matches(TOKEN, DELIVERED, None)
    assert not signature_matches(TOKEN, DELIVERED, "")
    assert not signature_matches(TOKEN, DELIVERED + b" ", expected)
    assert not signature_matches("another-token", DELIVERED, expected)
    assert not signature_matches(None, DELIVERED, expected)
    assert not signature_matches(TOKEN, DELIVERED, "é" * 64)  # non-ASCII never raises


def test_status_events():
    assert parse_callback(DELIVERED) == StatusReport(status="Delivered", provider_message_id="4912661846655238145")
    seen = json.loads(DELIVERED) | {"event": "seen", "an_unknown_field": [1, 2]}
    assert parse_callback(json.dumps(seen).encode()) == StatusReport("Read", provider_message_id="4912661846655238145")
    failed = json.loads(DELIVERED) | {"event": "failed", "desc": "failure description"}
    assert parse_callback(json.dumps(failed).encode()) == StatusReport(
        "Failed",
        provider_message_id="4912661846655238145",
        error_code="viber.failed",
        description="failure description",
    )
    no_desc = json.loads(DELIVERED) | {"event": "failed"}
    assert parse_callback(json.dumps(no_desc).encode()).description == "failed"


@pytest.mark.parametrize(
    "event",
    [
        {"event": "subscribed", "timestamp": 1, "user": {"id": "01234567890A=", "name": "John"}, "message_token": 1},
        {"event": "unsubscribed", "timestamp": 1, "user_id": "01234567890A=", "message_token": 1},
        {"event": "conversation_started", "timestamp": 1, "message_token": 1, "type": "open", "context": "c"},
        {"event": "webhook", "timestamp": 1457764197627, "chat_hostname": "SN-376_", "message_token": 1},
        {"event": "client_status", "timestamp": 1},  # an event added later
    ],
)
def test_events_that_change_nothing(event):
    assert parse_callback(json.dumps(event).encode()) is None


@pytest.mark.parametrize(
    ("message", "content"),
    [
        (MESSAGE["message"], {"type": "text", "text": "a message to the service"}),
        (
            {"type": "picture", "text": "look", "media": "https://x/p.jpg", "thumbnail": "https://x/t.jpg", "size": 5},
            {"type": "image", "url": "https://x/p.jpg", "caption": "look", "thumbnail": "https://x/t.jpg", "size": 5},
        ),
        ({"type": "picture", "text": "", "media": "https://x/p.jpg"}, {"type": "image", "url": "https://x/p.jpg"}),
        (
            {"type": "video", "media": "https://x/v.mp4", "size": 100, "duration": 7},
            {"type": "video", "url": "https://x/v.mp4", "size": 100, "duration": 7},
        ),
        (
            {"type": "file", "media": "https://x/f.pdf", "size": 10000, "file_name": "name_of_file.pdf"},
            {"type": "file", "url": "https://x/f.pdf", "size": 10000, "fileName": "name_of_file.pdf"},
        ),
        (
            {"type": "location", "location": {"lat": 50.76891, "lon": 6.11499}},
            {"type": "location", "latitude": 50.76891, "longitude": 6.11499},
        ),
        (
            {"type": "contact", "contact": {"name": "Itamar", "phone_number": "+972511123123"}},
            {"type": "contact", "name": "Itamar", "phoneNumber": "+972511123123"},
        ),
        (
            {"type": "url", "media": "http://www.website.com/go_here"},
            {"type": "url", "url": "http://www.website.com/go_here"},
        ),
        (
            {"type": "sticker", "sticker_id": 46105, "media": "https://x/s.png"},
            {"type": "sticker", "stickerId": 46105, "url": "https://x/s.png"},
        ),
        ({"type": "rich_media", "rich_media": {}}, {"type": "unsupported", "kind": "rich_media"}),
    ],
)
def test_user_messages(message, content):
    parsed = parse_callback(json.dumps(MESSAGE | {"message": message}).encode())
    assert parsed == InboundMessage(sender="01234567890A=", content=content, provider_message_id="4912661846655238145")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"\xff\xfe", "body"),
        (b"[1, 2]", "body"),
        (b'{"timestamp": 1}', "event"),
        (b'{"event": 5}', "event"),
        (b'{"event": "delivered", "user_id": "u"}', "message_token"),
        (b'{"event": "seen", "message_token": true}', "message_token"),
        (json.dumps(MESSAGE | {"sender": None}).encode(), "sender"),
        (json.dumps(MESSAGE | {"sender": {"name": "x"}}).encode(), "sender.id"),
        (json.dumps(MESSAGE | {"message": "hi"}).encode(), "message"),
        (json.dumps(MESSAGE | {"message": {"text": "hi"}}).encode(), "message.type"),
        (json.dumps(MESSAGE | {"message": {"type": "text"}}).encode(), "message.text"),
        (json.dumps(MESSAGE | {"message": {"type": "picture"}}).encode(), "message.media"),
        (
            json.dumps(MESSAGE | {"message": {"type": "location", "location": {"lat": "1"}}}).encode(),
            "message.location.lat",
        ),
        (json.dumps(MESSAGE | {"message": {"type": "contact"}}).encode(), "message.contact"),
        (json.dumps(MESSAGE | {"message": {"type": "sticker"}}).encode(), "message.sticker_id"),
    ],
)
def test_malformed_callbacks_name_the_field(body, field):
    with pytest.raises(Malformed) as error:
        parse_callback(body)
    assert error.value.field == field


@pytest.mark.parametrize(
    ("receiver", "expected"),
    [
        ("447700900001", ("silent", None)),
        ("447700900002", ("seen", None)),
        ("447700900003", ("failed", None)),
        ("447700901005", ("refused", 5)),
        ("447700901012", ("refused", 12)),
        ("447700900500", ("error", None)),
        ("447700900429", ("throttled", None)),
        ("447700900408", ("timeout", None)),
        ("447700901000", ("delivered", None)),
        ("447700900123", ("delivered", None)),
        ("01234567890A=", ("delivered", None)),
    ],
)
def test_sandbox_magic_receivers(receiver, expected):
    assert sandbox.behaviour(receiver) == expected
