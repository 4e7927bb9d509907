"""The upstream request: POST {base}/sms of the SMS HTTP API (seeds 001 and 004)."""

from __future__ import annotations

import datetime
import math

import httpx

from channels import kit
from channels.base import Account, Outbound, SendResult, normalise_phone_number
from channels.sms.encoding import UCS2, encoding_for
from channels.sms.errors import RETRYABLE_RESPONSE_CODES, SEND_RESPONSE_CODES
from channels.sms.protocol import TYPES

DEFAULT_BASE_URL = "https://rest.mittoapi.net"
# Seed 004's `type`: GSM, Unicode, auto, and "for Binary, set type to be Byte": binary goes up as Byte. Left out,
# the gateway picks GSM or Unicode.
_UPSTREAM_TYPES = {**TYPES, "binary": "Byte"}
# The block's options that go upstream under the same name (seed 004): udh as hex, pid an int, flash a bool.
_OPTIONS = ("reference", "udh", "pid", "flash")


def request_body(outbound: Outbound, now: datetime.datetime) -> dict[str, object]:
    block = outbound.block
    text = block["text"]
    body: dict[str, object] = {
        "from": block["sender"],
        "to": normalise_phone_number(outbound.destination),
        "text": text,
        "type": _UPSTREAM_TYPES.get(str(block.get("type")).lower())
        or ("Unicode" if encoding_for(text) == UCS2 else "GSM"),
        "callback": outbound.callback_url,
    }
    body.update((key, block[key]) for key in _OPTIONS if block.get(key) is not None)
    # The provider should not try for longer than the message is valid (whole minutes, at least one).
    minutes_left = max(1, math.floor((outbound.valid_until - now).total_seconds() / 60))
    body["validity"] = min(block.get("validity") or minutes_left, minutes_left)
    return body


async def send(http: httpx.AsyncClient, account: Account, outbound: Outbound) -> SendResult:
    response = await http.post(
        f"{account.base_url.rstrip('/')}/sms",
        json=request_body(outbound, datetime.datetime.now(datetime.UTC)),
        headers={"X-Mitto-API-Key": account.credentials.get("apiKey", "")},
    )
    return parse_response(response)


def parse_response(response: httpx.Response) -> SendResult:
    answer = kit.classify(response.status_code)
    if answer == kit.TRANSIENT:
        return SendResult.transient(f"provider answered {response.status_code}", kit.retry_after_of(response))
    if response.status_code in (401, 403):
        return SendResult.rejected("sms.auth", "the provider refused the API key")
    try:
        data = response.json()
    except ValueError:
        return SendResult.transient(f"provider answered {response.status_code} without JSON")
    if not isinstance(data, dict):
        data = {}
    message_id = provider_message_id(data)
    code = data.get("responseCode")
    if code is None:  # optional (seed 004): an answer naming the message is a success
        code = 0 if message_id else 1
    if isinstance(code, bool) or not isinstance(code, int):
        return SendResult.transient(f"provider answered responseCode {code!r}")
    text = data.get("responseText") or SEND_RESPONSE_CODES.get(code, "")
    if code == 0 and answer == kit.SUCCESS:
        # Sent whatever carries the id, or with none: reports find the message by the token in the
        # callback URL it was sent with, not by the provider's id.
        return SendResult.sent(message_id)
    if code == 0 or code in RETRYABLE_RESPONSE_CODES:
        return SendResult.transient(f"provider answered {response.status_code}: {text}")
    return SendResult.rejected(f"sms.{code}", str(text))


def provider_message_id(answer: dict[str, object]) -> str | None:
    """The provider's id of the message: ``id`` (seed 004, the OpenAPI), else the first of ``ids``
    (seed 001's answer; a long text may get one per part)."""
    given = answer.get("id")
    if isinstance(given, (str, int)) and not isinstance(given, bool) and given != "":
        return str(given)
    ids = answer.get("ids")
    return next((i for i in ids if isinstance(i, str) and i), None) if isinstance(ids, list) else None
