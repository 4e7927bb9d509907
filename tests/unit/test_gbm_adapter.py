"""The Business Messages adapter against recorded API payloads: the requests it builds for every content
kind (and the OAuth 2.0 JWT-bearer grant of a live account), how it reads Google's answers and
errors, and the webhook payloads it parses (signature, receipts, user messages, malformed bodies)."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from channels.base import Account, InboundMessage, Outbound, StatusReport
from channels.gbm import adapter, oauth, sandbox
from channels.gbm.blocks import validate_block
from channels.gbm.callbacks import (
    Malformed,
    Verification,
    decode,
    parse_callback,
    signature,
    signature_matches,
    verification_of,
)

_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PRIVATE_PEM = _PRIVATE.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
).decode()
PUBLIC_PEM = (
    _PRIVATE.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
# A Google service-account JSON key (the shape the IAM console downloads).
KEY = json.dumps(
    {
        "type": "service_account",
        "project_id": "bm-partner-123",
        "private_key_id": "4f1c0e9a2b",
        "private_key": PRIVATE_PEM,
        "client_email": "bm-agent@bm-partner-123.iam.gserviceaccount.com",
        "client_id": "101010101010101010101",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    },
    indent=2,
)
LIVE = Account(
    uuid.UUID(int=9), "https://businessmessages.googleapis.com/v1", {"agentId": "a1"}, {"serviceAccountKey": KEY}, False
)
SANDBOX = Account(uuid.UUID(int=10), "http://127.0.0.1:9/sandbox/gbm", {}, {"serviceAccountKey": "ab" * 32}, True)
CONVERSATION = "bb8ceef0-90b4-4876-9467-c8c9ecc1c4e0"
MESSAGE_ID = uuid.UUID("5b3a1c2e-8d4f-4e6a-9b7c-0d1e2f3a4b5c")
REPRESENTATIVE = {
    "avatarImage": "https://www.w3schools.com/howto/img_avatar.png",
    "displayName": "Mark Marcus",
    "representativeType": "HUMAN",
}
TOKEN_ANSWER = {"access_token": "ya29.c.b0Aaek-recorded", "expires_in": 3599, "token_type": "Bearer"}


def outbound(block: dict[str, Any], destination: str = CONVERSATION) -> Outbound:
    assert validate_block(block) == [], validate_block(block)
    return Outbound(
        MESSAGE_ID,
        destination,
        block,
        datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
        f"https://gw.example.com/callbacks/gbm/{LIVE.id}?token=abc",
    )


def sent_answer(request: httpx.Request) -> dict[str, Any]:
    """Google's answer to conversations.messages.create: the message with its name."""
    body = json.loads(request.content)
    return {**body, "name": f"conversations/{CONVERSATION}/messages/{body['messageId']}"}


class Google:
    """A recorded Google: the token endpoint and the Business Messages API, and every request they got."""

    def __init__(self, *answers: Any, token: Any = None) -> None:
        self.answers = list(answers)
        self.token = token or [TOKEN_ANSWER]
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "oauth2.googleapis.com":
            answer = self.token.pop(0) if len(self.token) > 1 else self.token[0]
        elif not self.answers:
            return httpx.Response(200, json=sent_answer(request))
        else:
            answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return answer if isinstance(answer, httpx.Response) else httpx.Response(200, json=answer)

    def sends(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host != "oauth2.googleapis.com"]

    def token_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.host == "oauth2.googleapis.com"]


@pytest.fixture(autouse=True)
def fresh_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth, "_tokens", {})
    monkeypatch.setattr(oauth, "_locks", {})


async def send(google: Google, block: dict[str, Any], account: Account = LIVE, destination: str = CONVERSATION):
    async with httpx.AsyncClient(transport=httpx.MockTransport(google)) as http:
        return await adapter.send(http, account, outbound(block, destination))


def error(status_code: int, status: str, message: str, **headers: str) -> httpx.Response:
    body = {"error": {"code": status_code, "message": message, "status": status}}
    return httpx.Response(status_code, json=body, headers=headers)


# --------------------------------------------------------------------------
# Wiring
# --------------------------------------------------------------------------


def test_the_channel_is_wired():
    from channels.registry import all_channels

    channel = all_channels()["gbm"]
    assert channel.send is adapter.send and channel.register_callbacks is None
    assert channel.default_base_url == "https://businessmessages.googleapis.com/v1"
    paths = {path for route in (*channel.callback_routes, *channel.sandbox_routes) for path in route.paths}
    assert paths == {
        "/callbacks/gbm/{account_id:str}",
        "/sandbox/gbm/conversations/{conversation_id:str}/messages",
        "/sandbox/gbm/inbound",
    }


# --------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------


async def test_text_with_rich_text_and_the_oauth_jwt_bearer_grant():
    google = Google()
    block = {
        "text": {"message": "Hi, this is **test** message.", "containsRichText": True},
        "representative": REPRESENTATIVE,
    }
    result = await send(google, block)
    assert result.status == "Sent" and result.provider_message_id == str(MESSAGE_ID)
    token_request, message = google.requests
    # The grant: an RS256 JWT signed with the key's private_key, POSTed as a form to its token_uri.
    assert str(token_request.url) == "https://oauth2.googleapis.com/token" and token_request.method == "POST"
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = parse_qs(token_request.content.decode())
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:jwt-bearer"]
    assertion = form["assertion"][0]
    assert jwt.get_unverified_header(assertion) == {"alg": "RS256", "typ": "JWT", "kid": "4f1c0e9a2b"}
    claims = jwt.decode(assertion, PUBLIC_PEM, algorithms=["RS256"], audience="https://oauth2.googleapis.com/token")
    assert claims["iss"] == "bm-agent@bm-partner-123.iam.gserviceaccount.com"
    assert claims["scope"] == "https://www.googleapis.com/auth/businessmessages"
    assert claims["exp"] - claims["iat"] == 3600
    # The message: conversations.messages.create with the access token.
    assert message.method == "POST"
    assert str(message.url) == f"https://businessmessages.googleapis.com/v1/conversations/{CONVERSATION}/messages"
    assert message.headers["Authorization"] == "Bearer ya29.c.b0Aaek-recorded"
    assert message.headers["Content-Type"] == "application/json"
    assert json.loads(message.content) == {
        "messageId": str(MESSAGE_ID),
        "representative": REPRESENTATIVE,
        "text": "Hi, this is **test** message.",
        "containsRichText": True,
    }
    # The access token is cached: a second send asks for none.
    await send(google, {"text": {"message": "again"}})
    assert len(google.token_requests()) == 1 and len(google.sends()) == 2


async def test_the_default_representative_is_a_bot_and_suggestions_and_fallback_pass_through():
    google = Google()
    suggestions = [
        {"reply": {"text": "Reply one", "postbackData": "hello-reply-1"}},
        {"action": {"text": "Website", "postbackData": "site", "openUrlAction": {"url": "https://example.com"}}},
        {"action": {"text": "Call us", "postbackData": "call", "dialAction": {"phoneNumber": "+15556767888"}}},
    ]
    block = {"text": {"message": "Trying replies!"}, "suggestions": suggestions, "fallback": "Reply one, or call"}
    await send(google, block)
    assert json.loads(google.sends()[0].content) == {
        "messageId": str(MESSAGE_ID),
        "representative": {"representativeType": "BOT"},
        "text": "Trying replies!",
        "suggestions": suggestions,
        "fallback": "Reply one, or call",
    }


async def test_image_with_force_fallback_sets_the_query_parameter():
    google = Google()
    image = {
        "fileUrl": "https://file-examplescom.github.io/uploads/2017/10/file_example_JPG_100kB.jpg",
        "thumbnailUrl": "https://picsum.photos/200/300?random=1",
        "forceRefresh": True,
        "altText": "alternative text for image",
    }
    block = {"forceFallback": True, "fallback": "This is just a fallback message", "image": image}
    await send(google, block)
    request = google.sends()[0]
    assert request.url.path == f"/v1/conversations/{CONVERSATION}/messages"
    assert dict(request.url.params) == {"forceFallback": "true"}
    assert json.loads(request.content) == {
        "messageId": str(MESSAGE_ID),
        "representative": {"representativeType": "BOT"},
        "image": {"contentInfo": image},
        "fallback": "This is just a fallback message",
    }


async def test_standalone_card_becomes_a_rich_card_with_its_card_content():
    google = Google()
    card = {
        "title": "card 1",
        "description": "This is a card",
        "media": {
            "height": "SHORT",
            "contentInfo": {"fileUrl": "https://picsum.photos/1920/1080?random=1", "altText": "card image"},
        },
        "suggestions": [{"reply": {"text": "Hello", "postbackData": "hello-formal"}}],
    }
    await send(google, {"standaloneCard": card, "representative": REPRESENTATIVE})
    body = json.loads(google.sends()[0].content)
    assert body["richCard"] == {"standaloneCard": {"cardContent": card}}
    assert set(body) == {"messageId", "representative", "richCard"}


async def test_carousel_becomes_a_rich_card_carousel():
    google = Google()
    cards = [
        {"title": f"card {n}", "media": {"height": "SHORT", "contentInfo": {"fileUrl": f"https://picsum.photos/{n}"}}}
        for n in (1, 2, 3)
    ]
    carousel = {"cardWidth": "SMALL", "cardContents": cards}
    await send(google, {"carouselCard": carousel, "fallback": "three cards"})
    body = json.loads(google.sends()[0].content)
    assert body["richCard"] == {"carouselCard": carousel} and body["fallback"] == "three cards"
    assert "forceFallback" not in google.sends()[0].url.params


async def test_a_sandbox_account_sends_its_credential_as_the_bearer_token_without_oauth():
    google = Google()
    result = await send(google, {"text": {"message": "hi"}}, account=SANDBOX, destination=" conv/1?x ")
    assert result.status == "Sent"
    (request,) = google.requests
    assert request.headers["Authorization"] == "Bearer " + "ab" * 32
    assert request.url.raw_path == b"/sandbox/gbm/conversations/conv%2F1%3Fx/messages"
    # A credential that can't travel in a header (a pasted JSON key) goes as its digest.
    assert adapter.sandbox_bearer("a b\n") == "sha256:" + hashlib.sha256(b"a b\n").hexdigest()


# --------------------------------------------------------------------------
# Answers
# --------------------------------------------------------------------------


async def test_the_provider_id_comes_from_message_id_or_name():
    assert adapter.provider_id({"name": "conversations/c/messages/m-1"}, "ours") == "m-1"
    assert adapter.provider_id({"messageId": "m-2", "name": "conversations/c/messages/x"}, "ours") == "m-2"
    assert adapter.provider_id({}, "ours") == "ours" and adapter.provider_id(None, "ours") == "ours"


async def test_already_exists_means_an_earlier_attempt_got_through():
    result = await send(
        Google(error(409, "ALREADY_EXISTS", "Message with ID x already exists.")), {"text": {"message": "x"}}
    )
    assert result.status == "Sent" and result.provider_message_id == str(MESSAGE_ID)


@pytest.mark.parametrize(
    ("status_code", "status", "message"),
    [
        (400, "FAILED_PRECONDITION", "The user's device does not support this message type."),
        (404, "NOT_FOUND", "Requested entity was not found."),
        (403, "PERMISSION_DENIED", "The caller does not have permission"),
        (400, "INVALID_ARGUMENT", 'Invalid JSON payload received. Unknown name "foo"'),
    ],
)
async def test_rejections_are_permanent_with_googles_status_and_message(status_code, status, message):
    result = await send(Google(error(status_code, status, message)), {"text": {"message": "x"}})
    assert result.permanent and not result.accepted
    assert result.error_code == f"gbm.{status}" and result.description == message


async def test_an_error_without_a_body_is_named_by_its_http_status():
    result = await send(Google(httpx.Response(404, text="<html>Not Found</html>")), {"text": {"message": "x"}})
    assert result.permanent and result.error_code == "gbm.NOT_FOUND"


@pytest.mark.parametrize(
    ("answer", "retry_after"),
    [
        (error(429, "RESOURCE_EXHAUSTED", "Quota exceeded", **{"Retry-After": "7"}), 7.0),
        (
            httpx.Response(
                429,
                json={
                    "error": {
                        "code": 429,
                        "message": "Quota exceeded",
                        "status": "RESOURCE_EXHAUSTED",
                        "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2.5s"}],
                    }
                },
            ),
            2.5,
        ),
        (error(503, "UNAVAILABLE", "The service is currently unavailable."), None),
        (error(500, "INTERNAL", "Internal error encountered."), None),
        (error(409, "ABORTED", "Concurrency conflict"), None),
        (httpx.Response(502, text="Bad Gateway"), None),
    ],
)
async def test_throttling_and_server_errors_are_transient(answer, retry_after):
    result = await send(Google(answer), {"text": {"message": "x"}})
    assert not result.permanent and not result.accepted and result.retry_after == retry_after
    assert str(answer.status_code) in result.description


async def test_unauthenticated_gets_a_new_access_token_once():
    unauthenticated = error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
    google = Google(unauthenticated, {"name": f"conversations/{CONVERSATION}/messages/{MESSAGE_ID}"})
    google.token = [TOKEN_ANSWER, {**TOKEN_ANSWER, "access_token": "ya29.fresh"}]
    result = await send(google, {"text": {"message": "x"}})
    assert result.status == "Sent"
    assert [r.headers["Authorization"] for r in google.sends()] == [
        "Bearer ya29.c.b0Aaek-recorded",
        "Bearer ya29.fresh",
    ]
    # Refused again: permanent (a sandbox account is never retried).
    google = Google(unauthenticated)
    result = await send(google, {"text": {"message": "x"}})
    assert result.permanent and result.error_code == "gbm.UNAUTHENTICATED" and len(google.sends()) == 2
    google = Google(unauthenticated)
    result = await send(google, {"text": {"message": "x"}}, account=SANDBOX)
    assert result.error_code == "gbm.UNAUTHENTICATED" and len(google.sends()) == 1


async def test_a_refused_service_account_is_permanent_and_a_failing_token_endpoint_transient():
    refused = httpx.Response(400, json={"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    google = Google(token=[refused])
    result = await send(google, {"text": {"message": "x"}})
    assert result.permanent and result.error_code == "gbm.auth.invalid_grant"
    assert "Invalid JWT Signature." in result.description and google.sends() == []
    google = Google(token=[httpx.Response(503, text="unavailable", headers={"Retry-After": "3"})])
    result = await send(google, {"text": {"message": "x"}})
    assert not result.permanent and result.retry_after == 3.0 and google.sends() == []


@pytest.mark.parametrize(
    "key",
    ["not json", json.dumps({"client_email": "a@b"}), json.dumps({"client_email": "a@b", "private_key": "nope"}), ""],
)
async def test_a_key_that_is_not_a_service_account_key_is_permanent(key):
    account = Account(LIVE.id, LIVE.base_url, {}, {"serviceAccountKey": key}, False)
    google = Google()
    result = await send(google, {"text": {"message": "x"}}, account=account)
    assert result.permanent and result.error_code == "gbm.credentials" and google.requests == []


# --------------------------------------------------------------------------
# Webhook payloads (recorded shapes of developers.google.com/business-communications/business-messages)
# --------------------------------------------------------------------------

RECEIPTS = {
    "agent": "brands/1234/agents/5678",
    "conversationId": CONVERSATION,
    "customAgentId": "",
    "requestId": "req-1",
    "receipts": {
        "receipts": [
            {"message": f"conversations/{CONVERSATION}/messages/{MESSAGE_ID}", "receiptType": "DELIVERED"},
            {"message": f"conversations/{CONVERSATION}/messages/other-id", "receiptType": "READ"},
            {"message": f"conversations/{CONVERSATION}/messages/x", "receiptType": "RECEIPT_TYPE_UNSPECIFIED"},
        ],
        "createTime": "2021-04-01T10:00:00.123456Z",
    },
    "sendTime": "2021-04-01T10:00:00.223456Z",
}
USER_MESSAGE = {
    "agent": "brands/1234/agents/5678",
    "conversationId": CONVERSATION,
    "customAgentId": "",
    "requestId": "req-2",
    "message": {
        "messageId": "4f7c9f0e-user",
        "name": f"conversations/{CONVERSATION}/messages/4f7c9f0e-user",
        "text": "Hello there",
        "createTime": "2021-04-01T10:00:01Z",
    },
    "context": {
        "entryPoint": "PLACESHEET",
        "placeId": "ChIJ...",
        "userInfo": {"displayName": "Jane", "userDeviceLocale": "en-US"},
        "resolvedLocale": "en",
    },
    "sendTime": "2021-04-01T10:00:01.1Z",
}
SUGGESTION = {
    "agent": "brands/1234/agents/5678",
    "conversationId": CONVERSATION,
    "requestId": "req-3",
    "suggestionResponse": {
        "message": f"conversations/{CONVERSATION}/messages/{MESSAGE_ID}",
        "postbackData": "hello-reply-1",
        "createTime": "2021-04-01T10:00:02Z",
        "text": "Reply one",
        "type": "REPLY",
    },
    "context": {},
    "sendTime": "2021-04-01T10:00:02.1Z",
}


def test_signature_is_base64_hmac_sha512_of_the_raw_body():
    body = json.dumps(USER_MESSAGE).encode()
    expected = base64.b64encode(hmac.new(b"partner-key", body, hashlib.sha512).digest()).decode()
    assert signature("partner-key", body) == expected
    assert signature_matches("partner-key", body, expected) and signature_matches("partner-key", body, f" {expected} ")
    assert not signature_matches("partner-key", body + b" ", expected)
    assert not signature_matches("another-key", body, expected)
    assert not signature_matches("partner-key", body, None) and not signature_matches(None, body, expected)
    assert not signature_matches("", body, signature("", body))


def test_receipts_become_status_reports_by_message_id():
    reports = parse_callback(RECEIPTS)
    assert reports == [
        StatusReport(status="Delivered", message_id=MESSAGE_ID, provider_message_id=str(MESSAGE_ID)),
        StatusReport(status="Read", message_id=None, provider_message_id="other-id"),
    ]


def test_user_message_and_suggestion_response_become_inbound_messages():
    assert parse_callback(USER_MESSAGE) == InboundMessage(
        sender=CONVERSATION, content={"type": "text", "text": "Hello there"}, provider_message_id="4f7c9f0e-user"
    )
    assert parse_callback(SUGGESTION) == InboundMessage(
        sender=CONVERSATION,
        content={
            "type": "postback",
            "data": "hello-reply-1",
            "text": "Reply one",
            "suggestionType": "REPLY",
            "inReplyTo": str(MESSAGE_ID),
        },
        provider_message_id="request:req-3",
    )
    image = {**USER_MESSAGE, "message": {"messageId": "m", "image": {"contentInfo": {"fileUrl": "https://x/y.jpg"}}}}
    assert parse_callback(image).content == {"type": "image", "url": "https://x/y.jpg"}


def test_other_payloads_and_unknown_fields_change_nothing():
    assert parse_callback({"conversationId": CONVERSATION, "userStatus": {"isTyping": True, "createTime": "x"}}) is None
    assert parse_callback({"conversationId": CONVERSATION, "surveyResponse": {"survey": "s"}}) is None
    assert parse_callback({"conversationId": CONVERSATION, "somethingNew": {}}) is None
    extended = {**USER_MESSAGE, "brandNewField": 1, "message": {**USER_MESSAGE["message"], "extra": {"a": 1}}}
    assert parse_callback(extended).content == {"type": "text", "text": "Hello there"}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({**RECEIPTS, "receipts": []}, "receipts"),
        ({**RECEIPTS, "receipts": {"receipts": "x"}}, "receipts.receipts"),
        ({**RECEIPTS, "receipts": {"receipts": ["x"]}}, "receipts.receipts[0]"),
        ({**RECEIPTS, "receipts": {"receipts": [{"receiptType": "READ"}]}}, "receipts.receipts[0].message"),
        (
            {**RECEIPTS, "receipts": {"receipts": [{"message": "m-1", "receiptType": "READ"}]}},
            "receipts.receipts[0].message",
        ),
        ({**USER_MESSAGE, "message": "hi"}, "message"),
        ({**USER_MESSAGE, "message": {"text": "hi"}}, "message.messageId"),
        ({**USER_MESSAGE, "message": {"messageId": "m", "text": 5}}, "message.text"),
        ({**USER_MESSAGE, "conversationId": None}, "conversationId"),
        ({**USER_MESSAGE, "conversationId": "c" * 257}, "conversationId"),
        ({**USER_MESSAGE, "conversationId": "a b"}, "conversationId"),
        ({**USER_MESSAGE, "message": {"messageId": "m" * 257, "text": "hi"}}, "message.messageId"),
        ({**SUGGESTION, "requestId": "r" * 250}, "requestId"),
        ({**SUGGESTION, "requestId": ""}, "requestId"),
        ({**SUGGESTION, "suggestionResponse": {"postbackData": 5}}, "suggestionResponse.postbackData"),
    ],
)
def test_malformed_payloads_name_the_field(payload, field):
    with pytest.raises(Malformed) as caught:
        parse_callback(payload)
    assert caught.value.field == field


def test_decode_and_the_verification_request():
    with pytest.raises(Malformed) as caught:
        decode(b"[1, 2]")
    assert caught.value.field == "body"
    with pytest.raises(Malformed):
        decode(b"\xff")
    assert verification_of({"secret": "1234567890", "clientToken": "SJENCPGJESMGUFPY"}) == Verification(
        "1234567890", "SJENCPGJESMGUFPY"
    )
    assert verification_of(USER_MESSAGE) is None
    assert verification_of({**USER_MESSAGE, "secret": "s", "clientToken": "t"}) is None
    with pytest.raises(Malformed):
        verification_of({"secret": 1, "clientToken": "t"})


# --------------------------------------------------------------------------
# The sandbox's checks of a Message resource
# --------------------------------------------------------------------------


def test_the_sandbox_refuses_what_google_refuses():
    good = {"messageId": "1", "representative": {"representativeType": "BOT"}, "text": "hi"}
    assert sandbox.message_problem(good, False) is None
    assert sandbox.message_problem({**good, "fallback": "f"}, True) is None
    assert "forceFallback" in sandbox.message_problem(good, True)
    assert "messageId" in sandbox.message_problem({**good, "messageId": ""}, False)
    assert "representative" in sandbox.message_problem({**good, "representative": None}, False)
    assert "exactly one" in sandbox.message_problem({**good, "image": {"imageId": "i"}}, False)
    no_text = {k: v for k, v in good.items() if k != "text"}
    assert "exactly one" in sandbox.message_problem(no_text, False)
    assert sandbox.message_problem({**no_text, "image": {"contentInfo": {"fileUrl": "https://x"}}}, False) is None
    assert "image" in sandbox.message_problem({**no_text, "image": {"contentInfo": {}}}, False)
    card = {"standaloneCard": {"cardContent": {"title": "t"}}}
    assert sandbox.message_problem({**no_text, "richCard": card}, False) is None
    assert "cardContent" in sandbox.message_problem({**no_text, "richCard": {"standaloneCard": {"title": "t"}}}, False)
    carousel = {"carouselCard": {"cardWidth": "MEDIUM", "cardContents": [{"title": "a"}]}}
    assert "2 to 10" in sandbox.message_problem({**no_text, "richCard": carousel}, False)
    assert "13" in sandbox.message_problem({**good, "suggestions": [{}] * 14}, False)
    assert sandbox.behaviour("bb8ceef0-0002") == "read" and sandbox.behaviour(CONVERSATION) == "delivered"
