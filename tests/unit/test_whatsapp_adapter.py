"""The WhatsApp adapter against recorded Cloud API payloads: the request it builds for every content kind
and for templates, how it reads Meta's answers and errors, and the webhooks it parses (verification
handshake, signature, batched statuses and messages, malformed bodies)."""

from __future__ import annotations

import copy
import datetime
import json
import uuid
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from channels.base import RETRY_AFTER_MAX, Account, InboundMessage, Outbound, StatusReport
from channels.registry import all_channels
from channels.whatsapp import adapter, errors
from channels.whatsapp.blocks import validate_block
from channels.whatsapp.callbacks import (
    SIGNATURE_HEADER,
    Malformed,
    challenge_answer,
    parse_notification,
    signature,
    signature_matches,
    whatsapp_verify,
    whatsapp_webhook,
)
from tests.unit.fakes import given_callbacks

TOKEN = "EAAJB3Yx0aBcBAHkZCZBZA9ZCw8sTx1Ff0bQb0ZBZCqj"
APP_SECRET = "614fc2afde15eee07a26b2fe3eaee9b9"
VERIFY_TOKEN = "meatyhamhock"
PHONE_NUMBER_ID = "106540352242922"
CREDENTIALS = {"accessToken": TOKEN, "appSecret": APP_SECRET, "verifyToken": VERIFY_TOKEN}
ACCOUNT = Account(
    uuid.UUID(int=7),
    adapter.DEFAULT_BASE_URL,
    {"phoneNumberId": PHONE_NUMBER_ID, "wabaId": "102290129340398"},
    CREDENTIALS,
    False,
)
CALLBACK = f"https://gw.example.com/callbacks/whatsapp/{ACCOUNT.id}?token=abc.def.ghi"
WAMID = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA"
# Recorded answers (developers.facebook.com/documentation/business-messaging/whatsapp)
SENT = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
    "messages": [{"id": WAMID}],
}
RATE_LIMITED = {
    "error": {
        "message": "(#130429) Rate limit hit",
        "type": "OAuthException",
        "code": 130429,
        "error_data": {
            "messaging_product": "whatsapp",
            "details": "Message failed to send because there were too many messages sent from this phone number "
            "in a short period of time",
        },
        "error_subcode": 2494055,
        "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
    }
}


def graph_error(code: int, message: str, details: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return {"error": error}


def outbound(block: dict[str, Any], destination: str = "+1 (650) 555-1234") -> Outbound:
    assert validate_block(block) == [], validate_block(block)
    return Outbound(
        uuid.uuid4(), destination, block, datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1), CALLBACK
    )


class Meta:
    """A recorded Cloud API: one answer for every request, and the requests it got."""

    def __init__(self, answer: httpx.Response | dict[str, Any] = SENT) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer if isinstance(self.answer, httpx.Response) else httpx.Response(200, json=self.answer)

    @property
    def body(self) -> dict[str, Any]:
        assert len(self.requests) == 1
        return json.loads(self.requests[0].content)


async def send(meta: Meta, block: dict[str, Any], account: Account = ACCOUNT, destination: str = "+1 (650) 555-1234"):
    async with httpx.AsyncClient(transport=httpx.MockTransport(meta)) as http:
        return await adapter.send(http, account, outbound(block, destination))


def regular(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": "regular", "regular": {"type": kind, **fields}}


ENVELOPE = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234"}


def test_the_channel_is_wired():
    channel = all_channels()["whatsapp"]
    assert channel.send is adapter.send and channel.register_callbacks is None
    assert channel.default_base_url == f"https://graph.facebook.com/{adapter.API_VERSION}"
    assert adapter.API_VERSION.startswith("v") and adapter.API_VERSION.endswith(".0")
    callback_paths = {path for route in channel.callback_routes for path in route.paths}
    assert callback_paths == {"/callbacks/whatsapp/{account_id:str}"}
    assert {method for route in channel.callback_routes for method in route.http_methods} == {"GET", "POST"}
    sandbox_paths = {path for route in channel.sandbox_routes for path in route.paths}
    assert sandbox_paths == {"/sandbox/whatsapp/{phone_number_id:str}/messages", "/sandbox/whatsapp/inbound"}
    # The callbacks are in the OpenAPI document; the sandbox imitates Meta's API, which isn't the gateway's.
    assert all(route.include_in_schema is not False for route in channel.callback_routes)
    assert all(route.include_in_schema is False for route in channel.sandbox_routes)


async def test_a_text_message_is_posted_to_the_phone_numbers_messages_edge():
    meta = Meta()
    result = await send(meta, regular("text", text="Hi there https://example.com", preview_url=True))
    request = meta.requests[0]
    assert request.method == "POST"
    assert str(request.url) == f"https://graph.facebook.com/{adapter.API_VERSION}/{PHONE_NUMBER_ID}/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert meta.body == {
        **ENVELOPE,
        "type": "text",
        "text": {"body": "Hi there https://example.com", "preview_url": True},
    }
    assert result.status == "Sent" and result.provider_message_id == WAMID and not result.permanent


async def test_text_without_preview_url_sends_none():
    meta = Meta()
    await send(meta, regular("text", text="Hello"))
    assert meta.body == {**ENVELOPE, "type": "text", "text": {"body": "Hello"}}


@pytest.mark.parametrize(
    ("kind", "media"),
    [
        ("image", {"link": "https://example.com/a.jpg", "caption": "A picture"}),
        ("video", {"link": "https://example.com/a.mp4", "caption": "A clip"}),
        ("audio", {"link": "https://example.com/a.ogg"}),
        ("document", {"link": "https://example.com/r.pdf", "caption": "Report", "filename": "report.pdf"}),
    ],
)
async def test_media_goes_by_link_in_the_cloud_api_media_object(kind, media):
    meta = Meta()
    await send(meta, regular(kind, **{kind: media}))
    assert meta.body == {**ENVELOPE, "type": kind, kind: media}


async def test_interactive_reply_buttons_and_location_are_the_cloud_api_objects():
    interactive = {
        "type": "button",
        "header": {"type": "text", "text": "Your order"},
        "body": {"text": "Change the delivery date?"},
        "footer": {"text": "Reply below"},
        "action": {
            "buttons": [
                {"type": "reply", "reply": {"id": "change", "title": "Change"}},
                {"type": "reply", "reply": {"id": "keep", "title": "Keep"}},
            ]
        },
    }
    meta = Meta()
    await send(meta, regular("interactive", interactive=copy.deepcopy(interactive)))
    assert meta.body == {**ENVELOPE, "type": "interactive", "interactive": interactive}
    location = {"latitude": 46.2044, "longitude": 6.1432, "name": "Office", "address": "1 Rue du Rhône"}
    meta = Meta()
    await send(meta, regular("location", location=location))
    assert meta.body == {**ENVELOPE, "type": "location", "location": location}


async def test_a_template_message_uses_the_send_template_format():
    template = {
        "name": "order_update",
        "language": {"code": "en_US", "policy": "deterministic"},
        "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/h.png"}}]},
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana"},
                    {"type": "currency", "currency": {"fallback_value": "$10", "code": "USD", "amount_1000": 10000}},
                ],
            },
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": 0,
                "parameters": [{"type": "payload", "payload": "P"}],
            },
            {"type": "button", "sub_type": "url", "index": "1", "parameters": [{"type": "text", "text": "A-1"}]},
        ],
    }
    meta = Meta()
    result = await send(meta, {"type": "template", "template": template})
    expected = copy.deepcopy(template)
    expected["components"][2]["index"] = "0"  # Meta's examples give the index as a string
    assert meta.body == {**ENVELOPE, "type": "template", "template": expected}
    assert result.status == "Sent"
    meta = Meta()
    await send(meta, {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}})
    assert meta.body["template"] == {"name": "hello_world", "language": {"code": "en_US"}}


async def test_a_sandbox_account_without_a_phone_number_id_sends_from_its_account_id():
    sandbox = Account(uuid.uuid4(), "http://127.0.0.1:8000/sandbox/whatsapp/", {}, CREDENTIALS, True)
    meta = Meta()
    await send(meta, regular("text", text="hi"), account=sandbox)
    assert str(meta.requests[0].url) == f"http://127.0.0.1:8000/sandbox/whatsapp/{sandbox.id}/messages"
    assert adapter.phone_number_id(ACCOUNT) == PHONE_NUMBER_ID


async def test_a_block_the_validator_refuses_is_never_sent():
    meta = Meta()
    async with httpx.AsyncClient(transport=httpx.MockTransport(meta)) as http:
        bad = Outbound(uuid.uuid4(), "+16505551234", {"type": "regular"}, datetime.datetime.now(datetime.UTC), "")
        result = await adapter.send(http, ACCOUNT, bad)
    assert result.permanent and result.error_code == "whatsapp.invalid_block" and meta.requests == []


@pytest.mark.parametrize(
    ("status", "answer", "code", "text"),
    [
        (
            400,
            graph_error(131047, "(#131047) Re-engagement message", errors.DETAILS[131047]),
            "whatsapp.131047",
            "more than 24 hours",
        ),
        (400, graph_error(131026, "(#131026) Message undeliverable"), "whatsapp.131026", "Message undeliverable"),
        (400, graph_error(132001, "(#132001) Template name does not exist in the translation"), "whatsapp.132001", ""),
        (401, graph_error(190, "Error validating access token: Session has expired"), "whatsapp.190", "expired"),
        (
            400,
            graph_error(100, "(#100) Invalid parameter", "Parameter 'to' is invalid"),
            "whatsapp.100",
            "Parameter 'to' is invalid",
        ),
        (400, graph_error(131051, ""), "whatsapp.131051", "Unsupported message type"),
        (403, b"<html>Forbidden</html>", "whatsapp.http_403", "403"),
    ],
)
async def test_refusals_fail_for_good_with_metas_code_and_text(status, answer, code, text):
    response = (
        httpx.Response(status, content=answer) if isinstance(answer, bytes) else httpx.Response(status, json=answer)
    )
    result = await send(Meta(response), regular("text", text="hi"))
    assert result.permanent and not result.accepted
    assert result.error_code == code and text in result.description


async def test_the_re_engagement_error_says_a_template_is_needed():
    details = errors.DETAILS[131047]
    response = httpx.Response(400, json=graph_error(131047, "(#131047) Re-engagement message", details))
    result = await send(Meta(response), regular("text", text="hi"))
    assert result.description.startswith("(#131047) Re-engagement message: Message failed to send because more than")
    assert "template" in result.description and errors.REENGAGEMENT_HINT in result.description
    # Without Meta's words, the hint is still there.
    assert errors.REENGAGEMENT_HINT in errors.describe(131047)
    assert errors.describe(131047, "x" * 2000).endswith(errors.REENGAGEMENT_HINT)


@pytest.mark.parametrize("code", sorted(errors.TRANSIENT_CODES))
async def test_throttling_and_temporary_codes_are_retried(code):
    response = httpx.Response(400, json=graph_error(code, f"(#{code}) {errors.TITLES[code]}"))
    result = await send(Meta(response), regular("text", text="hi"))
    assert not result.permanent and not result.accepted and result.error_code is None
    assert f"#{code}" in result.description


async def test_429_honours_retry_after_and_5xx_is_transient():
    result = await send(
        Meta(httpx.Response(429, json=RATE_LIMITED, headers={"Retry-After": "7"})), regular("text", text="hi")
    )
    assert not result.permanent and result.retry_after == 7.0 and "Rate limit hit" in result.description
    result = await send(Meta(httpx.Response(429, json=RATE_LIMITED)), regular("text", text="hi"))
    assert not result.permanent and result.retry_after is None
    huge = await send(Meta(httpx.Response(429, headers={"Retry-After": "99999"})), regular("text", text="hi"))
    assert huge.retry_after == RETRY_AFTER_MAX
    for answer in (
        httpx.Response(500, json=graph_error(1, "An unknown error occurred")),
        httpx.Response(503, content=b"Service Unavailable"),
        httpx.Response(502, json=graph_error(100, "(#100) Invalid parameter")),  # a 5xx is retried whatever the code
    ):
        result = await send(Meta(answer), regular("text", text="hi"))
        assert not result.permanent and not result.accepted, answer


async def test_an_answer_without_a_wamid_is_sent_without_an_id():
    result = await send(Meta({"messaging_product": "whatsapp", "messages": []}), regular("text", text="hi"))
    assert result.status == "Sent" and result.provider_message_id is None and result.description


# ---------------------------------------------------------------------------------------------------
# Webhooks
# ---------------------------------------------------------------------------------------------------


def status(wamid: str, state: str, **extra: Any) -> dict[str, Any]:
    return {"id": wamid, "status": state, "timestamp": "1750857384", "recipient_id": "16505551234", **extra}


def notification(*values: dict[str, Any], field: str = "messages") -> dict[str, Any]:
    changes = [
        {
            "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                **value,
            },
            "field": field,
        }
        for value in values
    ]
    return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": changes}]}


def user_message(wamid: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"from": "16505551234", "id": wamid, "timestamp": "1750275992", "type": kind, **fields}


FAILED_STATUS = status(
    "wamid.F",
    "failed",
    errors=[
        {
            "code": 131047,
            "title": "Re-engagement message",
            "message": "Re-engagement message",
            "error_data": {"details": "Message failed to send because more than 24 hours have passed since the "},
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }
    ],
)


def test_the_signature_is_sha256_hmac_of_the_raw_body_with_the_app_secret():
    body = b'{"object":"whatsapp_business_account","entry":[]}'
    good = signature(APP_SECRET, body)
    assert good.startswith("sha256=") and len(good) == 7 + 64
    assert signature_matches(APP_SECRET, body, good)
    assert signature_matches(APP_SECRET, body, good.upper().replace("SHA256=", "sha256="))
    assert not signature_matches(APP_SECRET, body + b" ", good)
    assert not signature_matches("another-secret", body, good)
    assert not signature_matches(APP_SECRET, body, good[7:])  # the bare hex without sha256=
    assert not signature_matches(APP_SECRET, body, None)
    assert not signature_matches(None, body, good) and not signature_matches("", body, signature("", body))


def test_the_verification_handshake_answers_the_challenge_only_for_the_verify_token():
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert challenge_answer(params, VERIFY_TOKEN) == "1158201444"
    assert challenge_answer({**params, "hub.verify_token": "wrong"}, VERIFY_TOKEN) is None
    assert challenge_answer({**params, "hub.mode": "unsubscribe"}, VERIFY_TOKEN) is None
    assert challenge_answer({k: v for k, v in params.items() if k != "hub.verify_token"}, VERIFY_TOKEN) is None
    assert challenge_answer(params, None) is None and challenge_answer(params, "") is None


def test_a_batched_notification_gives_every_status_and_message_in_order():
    body = notification(
        {"statuses": [status("wamid.A", "sent"), status("wamid.A", "delivered"), status("wamid.B", "read")]},
        {
            "contacts": [{"profile": {"name": "Sheena"}, "wa_id": "16505551234"}],
            "messages": [user_message("wamid.IN1", "text", text={"body": "Hello"})],
        },
    )
    body["entry"].append(notification({"statuses": [FAILED_STATUS, status("wamid.C", "played")]})["entry"][0])
    found = parse_notification(json.dumps(body).encode())
    assert found == [
        StatusReport(status="Sent", provider_message_id="wamid.A"),
        StatusReport(status="Delivered", provider_message_id="wamid.A"),
        StatusReport(status="Read", provider_message_id="wamid.B"),
        InboundMessage(
            sender="16505551234", content={"type": "text", "text": "Hello"}, provider_message_id="wamid.IN1"
        ),
        StatusReport(
            status="Failed",
            provider_message_id="wamid.F",
            error_code="whatsapp.131047",
            description=errors.describe(
                131047, "Re-engagement message", FAILED_STATUS["errors"][0]["error_data"]["details"]
            ),
        ),
    ]
    assert "template" in found[-1].description


def test_a_failed_status_without_errors_and_with_only_a_title():
    found = parse_notification(json.dumps(notification({"statuses": [status("wamid.X", "failed")]})).encode())
    assert found == [
        StatusReport(status="Failed", provider_message_id="wamid.X", error_code="whatsapp.failed", description="failed")
    ]
    titled = status("wamid.Y", "failed", errors=[{"code": 131014, "title": "Request for url https://x/a.jpg failed"}])
    (report,) = parse_notification(json.dumps(notification({"statuses": [titled]})).encode())
    assert report.error_code == "whatsapp.131014" and report.description == "Request for url https://x/a.jpg failed"


@pytest.mark.parametrize(
    ("message", "content"),
    [
        (
            user_message(
                "w", "image", image={"caption": "Look", "mime_type": "image/jpeg", "sha256": "abc", "id": "M1"}
            ),
            {"type": "image", "mediaId": "M1", "mimeType": "image/jpeg", "sha256": "abc", "caption": "Look"},
        ),
        (
            user_message("w", "document", document={"filename": "r.pdf", "mime_type": "application/pdf", "id": "M2"}),
            {"type": "document", "mediaId": "M2", "mimeType": "application/pdf", "fileName": "r.pdf"},
        ),
        (
            user_message("w", "audio", audio={"mime_type": "audio/ogg; codecs=opus", "id": "M3", "voice": True}),
            {"type": "audio", "mediaId": "M3", "mimeType": "audio/ogg; codecs=opus", "voice": True},
        ),
        (
            user_message("w", "sticker", sticker={"mime_type": "image/webp", "id": "M4", "animated": False}),
            {"type": "sticker", "mediaId": "M4", "mimeType": "image/webp", "animated": False},
        ),
        (user_message("w", "video", video={"id": "M5"}), {"type": "video", "mediaId": "M5"}),
        (
            user_message(
                "w",
                "location",
                location={"latitude": 37.48, "longitude": -122.14, "name": "HQ", "address": "1 Hacker Way"},
            ),
            {"type": "location", "latitude": 37.48, "longitude": -122.14, "name": "HQ", "address": "1 Hacker Way"},
        ),
        (
            user_message(
                "w",
                "interactive",
                context={"from": "15550783881", "id": "wamid.OURS"},
                interactive={"type": "button_reply", "button_reply": {"id": "change", "title": "Change"}},
            ),
            {"type": "postback", "data": "change", "title": "Change", "replyTo": "wamid.OURS"},
        ),
        (
            user_message(
                "w",
                "interactive",
                interactive={
                    "type": "list_reply",
                    "list_reply": {
                        "id": "priority_express",
                        "title": "Priority Mail Express",
                        "description": "Next Day",
                    },
                },
            ),
            {
                "type": "postback",
                "data": "priority_express",
                "title": "Priority Mail Express",
                "description": "Next Day",
            },
        ),
        (
            user_message(
                "w", "button", context={"id": "wamid.T"}, button={"payload": "STOP_PROMOS", "text": "Stop promotions"}
            ),
            {"type": "postback", "data": "STOP_PROMOS", "title": "Stop promotions", "replyTo": "wamid.T"},
        ),
        (
            user_message("w", "reaction", reaction={"message_id": "wamid.OURS", "emoji": "\U0001f44d"}),
            {"type": "reaction", "emoji": "\U0001f44d", "messageId": "wamid.OURS"},
        ),
        (
            user_message("w", "interactive", interactive={"type": "nfm_reply", "nfm_reply": {}}),
            {"type": "unsupported", "kind": "interactive.nfm_reply"},
        ),
        (
            user_message("w", "unsupported", errors=[{"code": 131051, "title": "Message type unknown"}]),
            {"type": "unsupported", "kind": "unsupported"},
        ),
    ],
)
def test_inbound_content_by_type(message, content):
    (inbound,) = parse_notification(json.dumps(notification({"messages": [message]})).encode())
    assert inbound == InboundMessage(sender="16505551234", content=content, provider_message_id="w")


def test_unknown_fields_and_other_webhook_fields_are_ignored():
    body = notification(
        {"statuses": [status("wamid.A", "delivered", biz_opaque_callback_data="x", new_thing={"a": 1})], "future": 1}
    )
    body["entry"][0]["changes"].append(
        {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 1}}
    )
    body["entry"].append({"id": "1", "time": 1, "changes": [{"field": "account_update", "value": {"event": "X"}}]})
    body["something_new"] = True
    assert parse_notification(json.dumps(body).encode()) == [
        StatusReport(status="Delivered", provider_message_id="wamid.A")
    ]
    assert parse_notification(json.dumps({"object": "whatsapp_business_account", "entry": []}).encode()) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body"),
        (b"[1, 2]", "body"),
        (json.dumps({"object": "page", "entry": []}).encode(), "object"),
        (json.dumps({"object": "whatsapp_business_account"}).encode(), "entry"),
        (json.dumps({"object": "whatsapp_business_account", "entry": [5]}).encode(), "entry[0]"),
        (json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": {}}]}).encode(), "entry[0].changes"),
        (
            json.dumps(
                {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages"}]}]}
            ).encode(),
            "entry[0].changes[0].value",
        ),
        (json.dumps(notification({"statuses": {"id": "x"}})).encode(), "entry[0].changes[0].value.statuses"),
        (
            json.dumps(notification({"statuses": [{"status": "sent"}]})).encode(),
            "entry[0].changes[0].value.statuses[0].id",
        ),
        (
            json.dumps(notification({"statuses": [{"id": "w"}]})).encode(),
            "entry[0].changes[0].value.statuses[0].status",
        ),
        (
            json.dumps(notification({"messages": [{"id": "w", "type": "text", "text": {"body": "x"}}]})).encode(),
            "entry[0].changes[0].value.messages[0].from",
        ),
        (
            json.dumps(notification({"messages": [user_message("w", "text")]})).encode(),
            "entry[0].changes[0].value.messages[0].text",
        ),
        (
            json.dumps(notification({"messages": [user_message("w", "text", text={"body": 5})]})).encode(),
            "entry[0].changes[0].value.messages[0].text.body",
        ),
        (
            json.dumps(notification({"messages": [{"id": "w", "from": "1"}]})).encode(),
            "entry[0].changes[0].value.messages[0].type",
        ),
        (
            json.dumps(notification({"messages": [user_message("w", "image", image={})]})).encode(),
            "entry[0].changes[0].value.messages[0].image.id",
        ),
        (
            json.dumps(notification({"messages": [user_message("w", "location", location={"latitude": 1})]})).encode(),
            "entry[0].changes[0].value.messages[0].location.longitude",
        ),
        (
            json.dumps(
                notification(
                    {
                        "messages": [
                            user_message("w", "interactive", interactive={"type": "button_reply", "button_reply": {}})
                        ]
                    }
                )
            ).encode(),
            "entry[0].changes[0].value.messages[0].interactive.button_reply.id",
        ),
    ],
)
def test_malformed_bodies_name_the_field(body, field):
    with pytest.raises(Malformed) as raised:
        parse_notification(body)
    assert raised.value.field == field


# ---------------------------------------------------------------------------------------------------
# The routes, with a recording pipeline
# ---------------------------------------------------------------------------------------------------


class FakeCallbacks:
    """Known wamids, the reports applied and the messages received (stored once per wamid)."""

    def __init__(self, known: set[str]) -> None:
        self.account_id = uuid.uuid4()
        self.known = known
        self.reports: list[StatusReport] = []
        self.received: dict[str, InboundMessage] = {}
        self.receive_calls = 0

    async def account(self, account_id, channel):
        if account_id != self.account_id or channel != "whatsapp":
            return None
        return Account(account_id, "http://x/sandbox/whatsapp", {}, CREDENTIALS, True)

    async def report(self, account_id, report):
        if account_id != self.account_id or report.provider_message_id not in self.known:
            return False
        self.reports.append(report)
        return True

    async def receive(self, account_id, inbound):
        self.receive_calls += 1
        self.received.setdefault(inbound.provider_message_id, inbound)
        return True


@pytest.fixture
async def routes():
    pipeline = FakeCallbacks({"wamid.A", "wamid.B"})
    app = Litestar(route_handlers=[whatsapp_verify, whatsapp_webhook], dependencies=given_callbacks(pipeline))
    async with AsyncTestClient(app=app) as client:
        yield client, pipeline


async def test_the_handshake_route(routes):
    client, pipeline = routes
    url = f"/callbacks/whatsapp/{pipeline.account_id}"
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
    response = await client.get(url, params={**params, "token": "the account token the gateway adds"})
    assert response.status_code == 200 and response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")
    assert (await client.get(url, params={**params, "hub.verify_token": "nope"})).status_code == 403
    assert (await client.get(url, params={**params, "hub.mode": "other"})).status_code == 403
    assert (await client.get(url)).status_code == 403
    assert (await client.get(f"/callbacks/whatsapp/{uuid.uuid4()}", params=params)).status_code == 403


async def test_the_webhook_route_checks_the_signature_then_applies_a_batch(routes):
    client, pipeline = routes
    url = f"/callbacks/whatsapp/{pipeline.account_id}"
    inbound = user_message("wamid.IN", "text", text={"body": "Hi"})
    body = json.dumps(
        notification(
            {
                "statuses": [
                    status("wamid.A", "delivered"),
                    status("wamid.UNKNOWN", "delivered"),
                    status("wamid.B", "read"),
                ]
            },
            {"messages": [inbound, inbound]},  # Meta delivering the same wamid twice
        )
    ).encode()
    for headers in ({}, {SIGNATURE_HEADER: "sha256=" + "0" * 64}, {SIGNATURE_HEADER: signature("other", body)}):
        assert (await client.post(url, content=body, headers=headers)).status_code == 401
    signed = {SIGNATURE_HEADER: signature(APP_SECRET, body)}
    assert (await client.post(f"/callbacks/whatsapp/{uuid.uuid4()}", content=body, headers=signed)).status_code == 401
    assert pipeline.reports == [] and pipeline.received == {}
    response = await client.post(url, content=body, headers=signed)
    assert response.status_code == 200
    assert response.json() == {"statuses": 2, "messages": 2}  # the pipeline declined wamid.UNKNOWN
    assert [r.provider_message_id for r in pipeline.reports] == ["wamid.A", "wamid.B"]
    assert list(pipeline.received) == ["wamid.IN"] and pipeline.receive_calls == 2
    # A malformed batch changes nothing, even where its first items are good.
    bad = json.dumps(notification({"statuses": [status("wamid.A", "read"), {"status": "read"}]})).encode()
    response = await client.post(url, content=bad, headers={SIGNATURE_HEADER: signature(APP_SECRET, bad)})
    assert response.status_code == 400 and "statuses[1].id" in response.text
    assert len(pipeline.reports) == 2
