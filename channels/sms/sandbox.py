"""The SMS sandbox provider: the SMS HTTP API's ``POST /sms`` on loopback, with deterministic behaviour
chosen by the destination number, and delivery reports sent to the callback URL like the real one.

Magic endings of the destination (``to``), documented in the README:
``...0001`` accepted and never reported (for failover); ``...1NNN`` undelivered with DLR error code
NNN; ``...0500`` answers 500; ``...0429`` answers 429 with Retry-After: 1; ``...0408`` answers after
30 s (a timeout); any other number is delivered about 0.1 s after the send.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import uuid
from typing import Any

from litestar import Request, Response, post
from litestar.exceptions import NotFoundException, ValidationException

from channels.base import CallbacksDependency, ProviderAnswer, SandboxFailures, json_object
from channels.openapi import STRING, described, object_schema
from channels.sandbox_support import (
    SimulatedMessage,
    in_background,
    post_callback,
    simulated,
    simulated_body,
    simulator,
)
from channels.sms.encoding import TYPE_ENCODINGS, segment_count
from channels.sms.errors import SEND_RESPONSE_CODES

REPORT_DELAY = 0.1
# The answers of ...0500 and ...0429, and a refused receiver (responseCode 8: the message Fails, sms.8).
FAILURES = SandboxFailures(
    sends=("/sms",),
    transient=ProviderAnswer(500, {"responseCode": 1, "responseText": SEND_RESPONSE_CODES[1]}),
    throttled=ProviderAnswer(429, {"responseCode": 1, "responseText": "Too many requests"}, {"Retry-After": "1"}),
    rejected=ProviderAnswer(200, {"responseCode": 8, "responseText": SEND_RESPONSE_CODES[8]}),
)


def behaviour(to: str) -> tuple[str, int | None]:
    """(what happens, DLR error code) for a destination number."""
    if to.endswith("0001"):
        return "silent", None
    if len(to) >= 4 and to[-4] == "1" and to[-3:].isdigit():
        return "undelivered", int(to[-3:])
    for ending, kind in (("0500", "error"), ("0429", "throttled"), ("0408", "timeout")):
        if to.endswith(ending):
            return kind, None
    return "delivered", None


@post("/sms", status_code=200, include_in_schema=False)
async def send_sms(request: Request, callbacks: CallbacksDependency) -> Response[dict[str, Any]]:
    if not request.headers.get("X-Mitto-API-Key"):
        return Response({"responseCode": 1, "responseText": "Missing API key"}, status_code=401)
    body = json_object(await request.body())
    if body is None:
        return Response({"responseCode": 1, "responseText": "Internal error"}, status_code=400)
    if code := refusal(body):
        return Response({"responseCode": code, "responseText": SEND_RESPONSE_CODES[code]})
    to = str(body["to"])
    kind, error_code = behaviour(to)
    if kind == "error":
        return Response({"responseCode": 1, "responseText": SEND_RESPONSE_CODES[1]}, status_code=500)
    if kind == "throttled":
        return Response(
            {"responseCode": 1, "responseText": "Too many requests"}, status_code=429, headers={"Retry-After": "1"}
        )
    if kind == "timeout":
        await asyncio.sleep(30)
    message_id = str(uuid.uuid4())
    callback = str(body.get("callback") or "")
    # Reports go only to this gateway's own callback routes: the sandbox is no way to make it call elsewhere.
    if kind != "silent" and callbacks.is_own_callback(callback):
        status = "UNDELIVERED" if kind == "undelivered" else "DELIVERED"
        report = {"messageId": message_id, "status": status, "errorcode": str(error_code or 0)}
        in_background(_report(callback, report))
    return Response(
        {
            "id": message_id,
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
            "responseCode": 0,
            "responseText": "SMS sent",
            "textLength": len(body["text"]),
        }
    )


def refusal(body: dict[str, Any]) -> int | None:
    """The responseCode (seed 004, "Status Codes") of a send the SMS API refuses, or None: a field missing
    (3, 5, 7), of the wrong type (4, 6), a receiver that isn't digits (8), an unknown type (2), a text its
    type can't carry (4: GSM with other characters, Binary or Byte with text that is no hex). ``udh``,
    ``pid`` and ``flash`` are taken as given."""
    for code, field in ((3, "text"), (5, "from"), (7, "to")):
        if not body.get(field):
            return code
    for code, field in ((4, "text"), (6, "from")):
        if not isinstance(body[field], str):
            return code
    if not str(body["to"]).isdigit():
        return 8
    sms_type = "auto" if body.get("type") is None else str(body["type"]).lower()
    if sms_type not in TYPE_ENCODINGS:
        return 2
    try:
        segment_count(body["text"], TYPE_ENCODINGS[sms_type])
    except ValueError:
        return 4
    return None


async def _report(callback: str, report: dict[str, str]) -> None:
    await asyncio.sleep(REPORT_DELAY)
    await post_callback(callback, json.dumps(report).encode(), {})


INBOUND_BODY = object_schema(
    "A user's SMS to a sandbox sms traffic account",
    {
        "trafficAccountId": described("A sandbox sms traffic account of yours"),
        "from": described("The user's phone number, e.g. 447700900123"),
        "text": STRING,
        "to": described("The number the user texted (default MITTO SMS)"),
        "msgid": described("The provider's message id (default: a new one; an id given before: a repeat)"),
    },
    ("trafficAccountId", "from", "text"),
)


@simulator("A simulated user texts a sandbox sms traffic account", INBOUND_BODY)
async def user_sends_sms(request: Request, callbacks: CallbacksDependency) -> SimulatedMessage:
    """The 2-way callback of the SMS API reaches the gateway (its callbackUrl); the answer names the stored
    message (``messageId``) and the provider id (``providerMessageId``, the msgid)."""
    body = await simulated_body(request)
    problems = [
        {"key": key, "message": "is required: a non-empty string"}
        for key in ("trafficAccountId", "from", "text")
        if not isinstance(body.get(key), str) or not body[key].strip()
    ]
    problems += [
        {"key": key, "message": "must be a non-empty string when given"}
        for key in ("to", "msgid")
        if body.get(key) is not None and (not isinstance(body[key], str) or not body[key])
    ]
    if problems:
        raise ValidationException("The simulated message is not valid.", extra=problems)
    try:
        account_id = uuid.UUID(body["trafficAccountId"])
    except ValueError:
        raise ValidationException(
            "The simulated message is not valid.", extra=[{"key": "trafficAccountId", "message": "must be a UUID"}]
        ) from None
    account = await callbacks.account(account_id, "sms")
    if account is None or not account.sandbox:  # a live account's users are real people: no simulating them
        raise NotFoundException("No sandbox sms traffic account with this id.")
    msgid = body.get("msgid") or str(uuid.uuid4())
    report = {
        "sender": body["from"],
        "receiver": body.get("to") or "MITTO SMS",
        "content": body["text"],
        "msgid": msgid,
        "coding": "UCS2" if any(ord(char) > 0x7F for char in body["text"]) else "GSM",
    }
    status = await post_callback(
        await callbacks.provider_callback_url("sms", account_id), json.dumps(report).encode(), {}
    )
    return SimulatedMessage(**await simulated(callbacks, "sms", account_id, msgid, status))
