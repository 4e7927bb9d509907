"""The SMS sandbox provider: the SMS HTTP API's ``POST /sms`` on loopback, with deterministic behaviour
chosen by the destination number, and delivery reports sent to the callback URL like the real one.

Magic endings of the destination (``to``), documented in the README:
``...0001`` accepted and never reported (for failover); ``...0002`` reported BUFFERED about 0.1 s after
the send, then DELIVERED 0.1 s later; ``...1NNN`` undelivered with DLR error code NNN; ``...0500``
answers 500; ``...0429`` answers 429 with Retry-After: 1; ``...0408`` answers after 30 s (a timeout);
any other number is delivered about 0.1 s after the send.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import uuid
from typing import Any

from litestar import Request, Response, post
from litestar.exceptions import NotFoundException, ValidationException

from channels.base import CallbacksDependency, Notify, ProviderAnswer, SandboxFailures, json_object
from channels.openapi import STRING, described, object_schema
from channels.sandbox_support import (
    SimulatedMessage,
    in_background,
    post_callback,
    simulated,
    simulated_body,
    simulator,
)
from channels.sms import protocol
from channels.sms.errors import SEND_RESPONSE_CODES
from wire.errors import FieldError

REPORT_DELAY = 0.1
REPORT_DELAY_DELTA = datetime.timedelta(seconds=REPORT_DELAY)
# The answers of ...0500 and ...0429, and a refused receiver (responseCode 8: the message Fails, sms.8).
FAILURES = SandboxFailures(
    sends=("/sms",),
    transient=ProviderAnswer(500, {"responseCode": 1, "responseText": SEND_RESPONSE_CODES[1]}),
    throttled=ProviderAnswer(429, {"responseCode": 1, "responseText": "Too many requests"}, {"Retry-After": "1"}),
    rejected=ProviderAnswer(
        400,
        protocol.refusal(
            8,
            400,
            "validation_error",
            "The SMS is not valid.",
            [FieldError("to", "is not a number this sandbox takes")],
        ),
    ),
)


def behaviour(to: str) -> tuple[str, int | None]:
    """(what happens, DLR error code) for a destination number."""
    if to.endswith("0001"):
        return "silent", None
    if to.endswith("0002"):
        return "buffered", None
    if len(to) >= 4 and to[-4] == "1" and to[-3:].isdigit():
        return "undelivered", int(to[-3:])
    for ending, kind in (("0500", "error"), ("0429", "throttled"), ("0408", "timeout")):
        if to.endswith(ending):
            return kind, None
    return "delivered", None


@post("/sms", status_code=200, include_in_schema=False)
async def send_sms(request: Request, callbacks: CallbacksDependency) -> Response[dict[str, Any]]:
    """The SMS API's /sms, answered by the same code as the gateway's own (channels/sms/protocol.py)."""
    if not request.headers.get("X-Mitto-API-Key"):
        return Response({"responseCode": 1, "responseText": "Missing API key"}, status_code=401)
    try:
        sms = protocol.read_send(json_object(await request.body()), bulk=False)
    except protocol.Invalid as invalid:
        detail = "The SMS is not valid."
        return Response(
            protocol.refusal(invalid.code, 400, "validation_error", detail, invalid.errors), status_code=400
        )
    to, text = sms.to[0], sms.block["text"]
    kind, error_code = behaviour(to)
    if kind == "error":
        return Response({"responseCode": 1, "responseText": SEND_RESPONSE_CODES[1]}, status_code=500)
    if kind == "throttled":
        return Response(
            {"responseCode": 1, "responseText": "Too many requests"}, status_code=429, headers={"Retry-After": "1"}
        )
    if kind == "timeout":
        await asyncio.sleep(30)
    message_id, now = uuid.uuid4(), datetime.datetime.now(datetime.UTC)
    # Reports go only to this gateway's own callback routes: the sandbox is no way to make it call elsewhere.
    if sms.test:  # seed 004: nothing is sent, the answer has no id
        return Response(protocol.sms_answer(protocol.sent_entry(None, now, to, text), test=True))
    if kind != "silent" and sms.callback and callbacks.is_own_callback(sms.callback):
        states = {"undelivered": ["UNDELIVERED"], "buffered": [protocol.BUFFERED, "DELIVERED"]}.get(kind, ["DELIVERED"])
        reports, reference = [], sms.block.get("reference")
        for n, state in enumerate(states, start=1):
            at = now + REPORT_DELAY_DELTA * n
            fields = protocol.dlr_fields(message_id, now, state, to, error_code or 0, at, reference)
            reports.append(protocol.callback_request(Notify(sms.callback), fields))
        in_background(_report(reports))
    return Response(protocol.sms_answer(protocol.sent_entry(message_id, now, to, text), test=False))


async def _report(reports: list[dict[str, Any]]) -> None:
    """Seed 004's Callback API parameters, POSTed as JSON to the message's callback URL (the gateway's, with the
    message's token), each REPORT_DELAY after the one before."""
    for report in reports:
        await asyncio.sleep(REPORT_DELAY)
        await post_callback(report["url"], json.dumps(report["body"]).encode(), {})


INBOUND_BODY = object_schema(
    "A user's SMS to a sandbox sms traffic account",
    {
        "trafficAccountId": described("A sandbox sms traffic account of yours"),
        "from": described("The user's phone number, e.g. 447700900123"),
        "text": STRING,
        "to": described("The number the user texted (default: the account's phoneNumber, else MITTO SMS)"),
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
        "receiver": body.get("to") or account.settings.get("phoneNumber") or "MITTO SMS",
        "content": body["text"],
        "msgid": msgid,
        "coding": "UCS2" if any(ord(char) > 0x7F for char in body["text"]) else "GSM",
    }
    status = await post_callback(
        await callbacks.provider_callback_url("sms", account_id), json.dumps(report).encode(), {}
    )
    return SimulatedMessage(**await simulated(callbacks, "sms", account_id, msgid, status))
