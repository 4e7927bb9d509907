"""How the SMS adapter writes the SMS HTTP API's send request and reads its answer (seeds 001 and 004)."""

from __future__ import annotations

import datetime
import uuid

import httpx
import msgspec
import pytest

from channels.base import Outbound
from channels.sms.adapter import parse_response, request_body
from channels.sms.blocks import BLOCK
from wire.shapes import decode

NOW = datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.UTC)
CALLBACK = "http://gateway/callbacks/sms/1?token=t"


def body_of(block: dict, hours: float = 48) -> dict:
    """The upstream request of ``block`` as the gateway stores it (decoded, then its builtins)."""
    decoded = decode(block, BLOCK)
    assert decoded.errors == [], decoded.errors
    stored = msgspec.to_builtins(decoded.value)
    valid_until = NOW + datetime.timedelta(hours=hours)
    return request_body(Outbound(uuid.uuid4(), "+44 7700 900123", stored, valid_until, CALLBACK), NOW)


def test_seed_002_text_goes_upstream_as_seed_004_names_it():
    body = body_of({"text": "Hi, this is test msg.", "sender": "+44123456789123"})
    assert body == {
        "from": "+44123456789123",
        "to": "447700900123",
        "text": "Hi, this is test msg.",
        "type": "GSM",  # left out: the gateway picks
        "callback": CALLBACK,
        "validity": 2880,
    }
    assert body_of({"text": "Łódź", "sender": "MITTO"})["type"] == "Unicode"


@pytest.mark.parametrize(
    ("given", "sent"),
    [("gsm", "GSM"), ("UNICODE", "Unicode"), ("Auto", "auto"), ("Binary", "Byte"), ("byte", "Byte")],
)
def test_type_goes_upstream_in_seed_004s_spelling(given, sent):
    """Seed 004: "For Binary, set type to be Byte"; any case the client wrote is the API's spelling."""
    text = "0A0B" if sent == "Byte" else "hi"
    assert body_of({"text": text, "sender": "MITTO", "type": given})["type"] == sent


def test_binary_with_udh_pid_and_flash_goes_upstream_as_seed_004_names_them():
    block = {"text": "48656c6c6f", "sender": "MITTO", "type": "binary", "udh": "06050415811581", "pid": 0}
    body = body_of({**block, "flash": False, "reference": "Spring campaign", "validity": 60})
    assert body == {
        "from": "MITTO",
        "to": "447700900123",
        "text": "48656c6c6f",  # hex, as the client wrote it
        "type": "Byte",
        "callback": CALLBACK,
        "reference": "Spring campaign",
        "udh": "06050415811581",
        "pid": 0,  # a value, not "left out": sent
        "flash": False,
        "validity": 60,
    }


def test_options_left_out_or_null_are_not_sent():
    body = body_of({"text": "hi", "sender": "MITTO", "udh": None, "pid": None, "flash": None, "reference": None})
    assert not {"udh", "pid", "flash", "reference"} & set(body)


def test_flash_text_goes_upstream():
    body = body_of({"text": "Alarm", "sender": "MITTO", "flash": True, "type": "gsm"})
    assert body["flash"] is True and body["type"] == "GSM"


def test_validity_is_capped_by_the_messages_own():
    assert body_of({"text": "hi", "sender": "MITTO", "validity": 600}, hours=2)["validity"] == 120
    assert body_of({"text": "hi", "sender": "MITTO"}, hours=0.001)["validity"] == 1


# Seed 001's documented answer carries ``ids``; seed 004 and the public OpenAPI show ``id``.
SEED_001 = {
    "ids": ["715118ef01aa4480bbd67324a0459b0b"],
    "timestamp": "2019-04-13T12:07:57.8625574Z",
    "responseCode": 0,
    "responseText": "SMS sent successfully.",
}
SEED_004 = {"id": "4cf4e9a2-7d2e-4b8a", "timestamp": "2021-07-15T11:50:57Z", "responseCode": 0, "responseText": "OK"}


@pytest.mark.parametrize(
    ("answer", "provider_id"),
    [
        (SEED_001, "715118ef01aa4480bbd67324a0459b0b"),
        (SEED_004, "4cf4e9a2-7d2e-4b8a"),
        ({**SEED_001, "ids": ["first", "second"]}, "first"),  # one id per part: the first names the message
        ({**SEED_001, "id": "given"}, "given"),  # both: id wins
        ({"ids": ["no-code"]}, "no-code"),  # responseCode is optional (seed 004): an id is a success
        ({"id": "null-code", "responseCode": None}, "null-code"),
        ({"id": 12345, "responseCode": 0}, "12345"),
        ({**SEED_001, "ids": [None, 7, "", "third"]}, "third"),  # the first that is an id
        # responseCode 0 without a usable id is still a success: reports find the message by the
        # token in its callback URL, not by the provider's id.
        ({**SEED_001, "ids": []}, None),
        ({**SEED_001, "ids": "715118ef"}, None),
        ({**SEED_001, "ids": [1, 2]}, None),
        ({"responseCode": 0, "responseText": "SMS sent"}, None),
        ({"id": "", "responseCode": 0}, None),
        ({"id": True, "responseCode": 0}, None),
    ],
)
def test_response_code_0_is_sent_whatever_carries_the_id(answer, provider_id):
    result = parse_response(httpx.Response(200, json=answer))
    assert (result.status, result.provider_message_id, result.permanent) == ("Sent", provider_id, False), result


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (httpx.Response(200, json={"responseCode": 8, "responseText": "Invalid receiver"}), ("sms.8", True)),
        (httpx.Response(200, json={"ids": ["x"], "responseCode": 6}), ("sms.6", True)),  # an id, but refused
        (httpx.Response(200, json={"responseCode": 1, "responseText": "Internal error"}), (None, False)),
        (httpx.Response(200, json={}), (None, False)),  # neither id nor code: retried
        (httpx.Response(200, json=["715118ef"]), (None, False)),
        (httpx.Response(200, json={"responseCode": [0]}), (None, False)),  # not a code: retried, not a crash
        (httpx.Response(200, json={"responseCode": None}), (None, False)),
        (httpx.Response(200, text="<html>"), (None, False)),
        (httpx.Response(400, json={"responseCode": 0, "ids": ["x"]}), (None, False)),  # success code, no 2xx
        (httpx.Response(401, json={"responseCode": 1}), ("sms.auth", True)),
        (httpx.Response(503, json=SEED_001), (None, False)),
    ],
)
def test_anything_else_is_refused_or_retried(response, expected):
    result = parse_response(response)
    assert not result.accepted and (result.error_code, result.permanent) == expected, result


def test_retry_after_of_a_429_is_kept():
    result = parse_response(httpx.Response(429, headers={"Retry-After": "3"}, json={"responseCode": 1}))
    assert not result.accepted and result.retry_after == 3.0


def test_retry_after_that_is_no_finite_number_is_bounded_or_ignored():
    """`Retry-After: inf` once made an endless backoff, which failed the dispatcher's batch write."""
    for given, kept in (("inf", 3600.0), ("1e12", 3600.0), ("-5", 0.0), ("nan", None), ("soon", None), (" 7 ", 7.0)):
        result = parse_response(httpx.Response(429, headers={"Retry-After": given}, json={"responseCode": 1}))
        assert result.retry_after == kept, given
