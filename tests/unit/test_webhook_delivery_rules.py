"""The rules of webhook delivery without a database: the retry schedule and its jitter, Retry-After,
Standard Webhooks signatures (checked with the standardwebhooks library as a consumer would), the
secrets that sign around a rotation, and the payloads against their documented schemas."""

from __future__ import annotations

import datetime
import random
import uuid

import httpx
import msgspec
import pytest
import standardwebhooks

from gateway.lib.crypto import new_webhook_secret
from gateway.models import Conversation, Message, TrafficAccount, Webhook
from gateway.store.outbox import content_fields, status_payload, user_message_payload
from gateway.webhooks.deliverer import _request
from gateway.webhooks.payloads import EXAMPLES, StatusEvent, UserMessageEvent, openapi_webhooks
from gateway.webhooks.schedule import JITTER, MAX_RETRY_AFTER, RETRY_DELAYS, retry_delay
from gateway.webhooks.signing import ROTATION_OVERLAP, signature, signing_secrets

NOW = datetime.datetime(2026, 11, 21, 12, 0, tzinfo=datetime.UTC)


def test_the_schedule_is_svix_s():
    assert RETRY_DELAYS == (5, 300, 1800, 7200, 18000, 36000, 36000)


@pytest.mark.parametrize("attempts", range(1, len(RETRY_DELAYS) + 1))
def test_each_delay_stays_within_20_percent_and_uses_the_whole_range(attempts):
    rng = random.Random(attempts)
    base = RETRY_DELAYS[attempts - 1]
    delays = [retry_delay(attempts, rng=rng) for _ in range(2000)]
    assert all(base * (1 - JITTER) <= delay <= base * (1 + JITTER) for delay in delays)
    assert min(delays) < base * 0.82 and max(delays) > base * 1.18  # jittered, not constant
    assert len(set(delays)) > 1900


def test_after_the_eighth_attempt_there_is_no_next_one():
    assert retry_delay(len(RETRY_DELAYS)) is not None
    assert retry_delay(len(RETRY_DELAYS) + 1) is None


def test_retry_after_is_a_floor_capped_at_a_day():
    rng = random.Random(1)
    assert retry_delay(1, retry_after=120, rng=rng) == 120
    assert 4 <= retry_delay(1, retry_after=1, rng=rng) <= 6  # shorter than the schedule: the schedule
    assert retry_delay(1, retry_after=10**9, rng=rng) == MAX_RETRY_AFTER
    assert retry_delay(len(RETRY_DELAYS) + 1, retry_after=5) is None  # Retry-After does not add attempts


def test_a_signature_verifies_with_the_standardwebhooks_library():
    secret = new_webhook_secret()
    event_id, at = str(uuid.uuid4()), datetime.datetime.now(datetime.UTC)
    body = b'{"event":"Delivered","text":"caf\xc3\xa9"}'
    headers = {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature([secret], event_id, at, body),
    }
    assert standardwebhooks.Webhook(secret).verify(body, headers) == {"event": "Delivered", "text": "café"}
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(new_webhook_secret()).verify(body, headers)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(body + b" ", headers)


@pytest.mark.parametrize("secret", [new_webhook_secret(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "dW5wYWRkZWQ"])
def test_the_signature_is_the_library_s_own(secret):
    """Signed without the library (its key decoding once per secret), byte for byte what it signs, unpadded
    secrets included."""
    at, body = datetime.datetime.now(datetime.UTC), '{"text":"café"}'
    assert signature([secret], "evt_1", at, body.encode()) == standardwebhooks.Webhook(secret).sign("evt_1", at, body)


def test_two_secrets_sign_side_by_side_and_either_verifies():
    old, new = new_webhook_secret(), new_webhook_secret()
    event_id, at, body = "evt", datetime.datetime.now(datetime.UTC), b"{}"
    header = signature([new, old], event_id, at, body)
    assert len(header.split(" ")) == 2 and all(part.startswith("v1,") for part in header.split(" "))
    headers = {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": header}
    for secret in (old, new):
        standardwebhooks.Webhook(secret).verify(body, headers)


def test_the_previous_secret_signs_for_a_day_after_the_rotation():
    webhook = Webhook(secret="whsec_new", previous_secret="whsec_old", secret_rotated_at=NOW)
    assert signing_secrets(webhook, NOW) == ["whsec_new", "whsec_old"]
    assert signing_secrets(webhook, NOW + ROTATION_OVERLAP - datetime.timedelta(seconds=1)) == [
        "whsec_new",
        "whsec_old",
    ]
    assert signing_secrets(webhook, NOW + ROTATION_OVERLAP) == ["whsec_new"]
    assert signing_secrets(Webhook(secret="whsec_only"), NOW) == ["whsec_only"]


# --------------------------------------------------------------------------
# Payloads


def _message(**values) -> tuple[Message, TrafficAccount]:
    account = TrafficAccount(id=uuid.uuid4(), name="Acme SMS", channel="sms")
    message = Message(
        id=uuid.uuid4(),
        traffic_account_id=account.id,
        conversation_id=uuid.uuid4(),
        channel="sms",
        destination="+447700900123",
        sequence=3,
        reference=None,
        created_at=NOW,
        **values,
    )
    return message, account


@pytest.mark.parametrize("status", ["Delivered", "Read", "Failed"])
def test_status_payloads_match_their_documented_schema(status):
    message, account = _message(status=status, error_code="sms.dlr.27", description="Absent subscriber")
    payload = status_payload(message, status, NOW, account)
    event = msgspec.convert(payload, StatusEvent)  # unknown or missing fields would fail here
    assert event.event == status and event.version == 1 and event.sequence == 3
    assert event.conversation.participants == [
        {"id": str(account.id), "name": "Acme SMS"},
        {"phoneNumber": "+447700900123"},
    ]
    assert ("errorCode" in payload) == (status == "Failed") == ("description" in payload)


@pytest.mark.parametrize(
    ("content", "fields"),
    [
        ({"type": "text", "text": "hi"}, {"text": "hi"}),
        (
            {"type": "image", "url": "https://x/y.jpg", "caption": "c"},
            {"media": {"type": "image", "url": "https://x/y.jpg", "caption": "c"}},
        ),
        ({"type": "document", "mediaId": "m1"}, {"media": {"type": "document", "mediaId": "m1"}}),
        ({"type": "video", "fileId": "f1"}, {"media": {"type": "video", "fileId": "f1"}}),
        ({"type": "audio", "url": "https://x/a.mp3"}, {"media": {"type": "audio", "url": "https://x/a.mp3"}}),
        ({"type": "voice", "mediaId": "v1"}, {"media": {"type": "voice", "mediaId": "v1"}}),
        (
            {"type": "sticker", "fileId": "s1", "emoji": "x"},
            {"media": {"type": "sticker", "fileId": "s1", "emoji": "x"}},
        ),
        ({"type": "location", "latitude": 1.5, "longitude": 2.5}, {"location": {"latitude": 1.5, "longitude": 2.5}}),
        (
            {"type": "postback", "data": "yes", "title": "Yes", "relatesTo": {"providerMessageId": "p1"}},
            {"postback": {"data": "yes", "title": "Yes", "relatesTo": {"providerMessageId": "p1"}}},
        ),
        ({"type": "url", "url": "https://x"}, {}),
        ({"type": "contacts", "contacts": [{"name": "Ann"}]}, {}),
        ({"type": "reaction", "emoji": "x", "relatesTo": {"providerMessageId": "p1"}}, {}),
        ({"type": "unsupported", "kind": "game"}, {}),
    ],
)
def test_user_message_payloads_name_text_media_location_or_postback(content, fields):
    message, account = _message(status="Received", content=content)
    message.sequence = 1
    payload = user_message_payload(message, account, Conversation(participant_name=None))
    assert content_fields(content) == fields
    assert payload["content"] == content and {k: payload[k] for k in fields} == fields
    msgspec.convert(payload, UserMessageEvent)  # content typed as channels.inbound's InboundContent


def test_a_user_message_payload_refuses_content_outside_the_vocabulary():
    message, account = _message(status="Received", content={"type": "text", "text": "hi", "coding": "GSM"})
    payload = user_message_payload(message, account, Conversation(participant_name=None))
    with pytest.raises(msgspec.ValidationError, match="coding"):
        msgspec.convert(payload, UserMessageEvent)


def test_the_user_s_name_and_the_account_s_number_are_in_the_payloads():
    message, account = _message(status="Received", content={"type": "text", "text": "hi"}, sender_name="Ann")
    account.settings = {"phoneNumber": "+44 7700 900999"}
    payload = msgspec.convert(
        user_message_payload(message, account, Conversation(participant_name="Ann")), UserMessageEvent
    )
    assert payload.sender == {"phoneNumber": "+447700900123", "name": "Ann"}
    assert payload.conversation.participants == [
        {"id": str(account.id), "phoneNumber": "+447700900999", "name": "Acme SMS"},
        {"phoneNumber": "+447700900123", "name": "Ann"},
    ]
    # A message without a name shows the latest known one (the conversation's); a status event too.
    message.sender_name = None
    assert user_message_payload(message, account, Conversation(participant_name="Bea"))["sender"]["name"] == "Bea"
    status = status_payload(message, "Delivered", NOW, account, "Bea")
    assert status["conversation"]["participants"][1] == {"phoneNumber": "+447700900123", "name": "Bea"}


def test_the_documented_examples_match_the_schemas_and_every_trigger_is_documented():
    for trigger, example in EXAMPLES.items():
        msgspec.convert(example, UserMessageEvent if trigger == "UserMessage" else StatusEvent)
    webhooks = openapi_webhooks()
    assert set(webhooks) == {"Delivered", "Failed", "Read", "UserMessage"}
    schema = webhooks["Failed"].post.request_body.content["application/json"].schema
    assert "$ref" not in str(schema) and "errorCode" in schema["properties"]


@pytest.mark.parametrize(("method", "body"), [("POST", b'{"a":1}'), ("POST", b""), ("GET", b"")])
def test_a_request_is_the_one_httpx_makes(method, body):
    """The deliverer builds its requests itself (httpx encodes the headers twice): the same request line, headers
    in the same order (Host, Content-Length as httpx sets them) and body as ``httpx.Request`` makes."""
    url, headers = "http://receiver.example:8080/hook?x=1", {"x-custom": "a b", "content-type": "application/json"}
    made = _request(method, httpx.URL(url), body, headers, {"timeout": {}})
    expected = httpx.Request(method, url, content=body if method != "GET" else None, headers=headers)
    assert (made.method, made.url, made.headers.raw, made.read()) == (
        expected.method,
        expected.url,
        expected.headers.raw,
        expected.read(),
    )
    assert made.extensions == {"timeout": {}}
