"""The channel kit (channels/kit.py): the provider chores every adapter and the webhook deliverer share."""

from __future__ import annotations

import datetime

import httpx
import pytest

from channels import kit
from channels.base import DESCRIPTION_MAX, SendResult
from channels.kit import RETRY_AFTER_MAX
from gateway.webhooks.schedule import MAX_RETRY_AFTER

NOW = datetime.datetime(2026, 11, 21, 12, 0, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("given", "seconds"),
    [
        # delay-seconds, as a header or a JSON number
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (3, 3.0),
        (2.5, 2.5),
        # HTTP dates (RFC 9110 10.2.3): IMF-fixdate, the obsolete RFC 850 and asctime forms, counted from now
        ("Sat, 21 Nov 2026 12:10:00 GMT", 600.0),
        ("Saturday, 21-Nov-26 12:10:00 GMT", 600.0),
        ("Sat Nov 21 12:10:00 2026", 600.0),
        ("Sat, 21 Nov 2026 11:00:00 GMT", 0.0),  # in the past: no wait
        ("Sat, 21 Nov 2026 14:00:00 GMT", RETRY_AFTER_MAX),  # 2 hours ahead: capped
        ("Sat, 21 Nov 2026 12:00:30 +0100", 0.0),  # a zone is honoured (11:00:30 GMT is past)
        # no number, or no finite one
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
        (float("nan"), None),
        (True, None),
        ("1,5", None),
        ({"seconds": 1}, None),
        ("Sat, 32 Nov 2026 12:10:00 GMT", None),
        ("inf", RETRY_AFTER_MAX),
        (float("inf"), RETRY_AFTER_MAX),
        ("1e12", RETRY_AFTER_MAX),
        pytest.param(10**400, RETRY_AFTER_MAX, id="10**400"),  # too large for a float: compared, not converted
        ("99999999999999999999999", RETRY_AFTER_MAX),
        ("-5", 0.0),
        (-1e300, 0.0),
        (float("-inf"), 0.0),
    ],
)
def test_retry_after_reads_seconds_dates_and_json_numbers_safely(given, seconds):
    assert kit.retry_after(given, NOW) == seconds


def test_retry_after_counts_a_date_from_the_current_time_by_default():
    in_a_minute = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=61)
    header = in_a_minute.strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 55 <= kit.retry_after(header) <= 61


def test_the_cap_is_the_callers():
    """Channels cap at an hour; the webhook deliverer honours a receiver's Retry-After up to a day."""
    assert kit.retry_after("7200") == RETRY_AFTER_MAX == 3600.0
    assert kit.retry_after("7200", cap=MAX_RETRY_AFTER) == 7200.0
    assert kit.retry_after("Sun, 22 Nov 2026 12:00:00 GMT", NOW, cap=MAX_RETRY_AFTER) == MAX_RETRY_AFTER
    assert kit.retry_after("inf", cap=MAX_RETRY_AFTER) == MAX_RETRY_AFTER


def test_retry_after_of_an_answer_reads_its_header():
    assert kit.retry_after_of(httpx.Response(429, headers={"Retry-After": "7"})) == 7.0
    assert kit.retry_after_of(httpx.Response(429, headers={"retry-after": "inf"})) == RETRY_AFTER_MAX
    assert kit.retry_after_of(httpx.Response(503)) is None


@pytest.mark.parametrize(
    ("status", "meaning"),
    [
        *((status, kit.SUCCESS) for status in (200, 201, 202, 204, 299)),
        *((status, kit.TRANSIENT) for status in (408, 425, 429, 500, 502, 503, 504, 599)),
        *((status, kit.PERMANENT) for status in (100, 301, 302, 304, 400, 401, 403, 404, 409, 410, 413, 422, 451)),
    ],
)
def test_classify_an_http_answer(status, meaning):
    assert kit.classify(status) == meaning


def _adapters():
    from channels.gbm.adapter import parse_response as gbm
    from channels.sms.adapter import parse_response as sms
    from channels.telegram.adapter import parse_response as telegram
    from channels.viber.adapter import parse_response as viber
    from channels.whatsapp.adapter import parse_response as whatsapp

    return {
        "sms": (sms, {"responseCode": 1}),
        "telegram": (telegram, {"ok": False, "description": "busy"}),
        "viber": (viber, {}),
        "whatsapp": (whatsapp, {}),
        "gbm": (lambda response: gbm(response, "m-1"), {}),
    }


@pytest.mark.parametrize("channel", ["sms", "telegram", "viber", "whatsapp", "gbm"])
@pytest.mark.parametrize("status", [408, 425, 429, 500, 503])
def test_every_adapter_takes_a_transient_http_status_as_transient(channel, status):
    parse, body = _adapters()[channel]
    result = parse(httpx.Response(status, json=body, headers={"Retry-After": "7"}))
    assert not result.accepted and not result.permanent, result
    assert result.retry_after == 7.0


def test_same_signature_compares_text_and_bytes_exactly():
    assert kit.same_signature("sha256=abc", "sha256=abc")
    assert kit.same_signature(b"\x00\xff", b"\x00\xff")
    assert kit.same_signature("café", "café".encode())  # text is compared as UTF-8
    assert not kit.same_signature("sha256=abc", "sha256=abd")
    assert not kit.same_signature("abc", "abc ")
    assert not kit.same_signature("abc", "ABC")
    assert not kit.same_signature("abc", "é" * 3)  # non-ASCII never raises


@pytest.mark.parametrize(("expected", "given"), [("", ""), (None, None), (b"", b""), ("", "x"), ("x", ""), (None, "x")])
def test_an_empty_or_missing_secret_matches_nothing(expected, given):
    assert not kit.same_signature(expected, given)


def test_a_malformed_payload_is_a_400_naming_its_field():
    error = kit.Malformed("entry[0].changes", "must be a list of changes")
    assert isinstance(error, ValueError) and str(error) == "entry[0].changes: must be a list of changes"
    problem = error.problem("The WhatsApp webhook is not valid.")
    assert problem.status_code == 400 and problem.detail == "The WhatsApp webhook is not valid."
    assert problem.extra == [{"key": "entry[0].changes", "message": "must be a list of changes"}]


def test_every_channel_raises_the_kits_malformed():
    from channels.gbm import callbacks as gbm
    from channels.telegram import callbacks as telegram
    from channels.viber import callbacks as viber
    from channels.whatsapp import callbacks as whatsapp

    for parse, body in (
        (gbm.decode, b"[]"),
        (telegram.inbound_of, []),
        (viber.parse_callback, b"[]"),
        (lambda body: whatsapp.parse_notification(body, "106540352242922"), b"[]"),
    ):
        with pytest.raises(kit.Malformed) as raised:
            parse(body)
        assert raised.value.field == "body"


def test_send_result_constructors():
    assert SendResult.sent("wamid.1") == SendResult(status="Sent", provider_message_id="wamid.1")
    assert SendResult.sent("7:42", status="Delivered") == SendResult(status="Delivered", provider_message_id="7:42")
    quiet = SendResult.sent(None, description="accepted without an id")
    assert quiet.accepted and quiet.provider_message_id is None and quiet.description == "accepted without an id"
    busy = SendResult.transient("Viber answered HTTP 503", 7.0)
    assert busy == SendResult(description="Viber answered HTTP 503", retry_after=7.0)
    assert not busy.accepted and not busy.permanent
    refused = SendResult.rejected("viber.6", "receiverNotSubscribed")
    assert refused == SendResult(permanent=True, error_code="viber.6", description="receiverNotSubscribed")
    assert SendResult.invalid_block("gbm") == SendResult.rejected("gbm.invalid_block", "the gbm block is not valid")


def test_a_description_is_kept_to_what_a_message_stores():
    assert len(SendResult.transient("x" * 5000).description) == DESCRIPTION_MAX == 1000
    assert len(SendResult.rejected("sms.1", "x" * 5000).description) == DESCRIPTION_MAX
