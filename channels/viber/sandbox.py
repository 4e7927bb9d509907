"""The Viber sandbox provider: the REST bot API's ``send_message``, ``set_webhook`` and
``get_account_info`` under ``/sandbox/viber`` (a sandbox account's base URL), with deterministic
behaviour chosen by the receiver, and signed callbacks sent to the account's webhook like Viber's.

Like Viber: every call needs ``X-Viber-Auth-Token`` (else status 2, invalidAuthToken); a malformed body
is status 3 (badData) and a missing required field status 4 (missingData: ``receiver``,
``sender.name``, and per type ``text``; ``media``; ``media`` + ``size`` for video; ``media`` + ``size``
+ ``file_name`` for file); ``send_message`` needs a webhook set for the token first (else status 10,
webhookNotSet: the adapter then calls set_webhook and sends again). ``set_webhook`` takes only this
gateway's own callback URLs (else status 1, invalidUrl) and checks the URL with a signed ``webhook``
callback that must answer 200. Callbacks carry ``X-Viber-Content-Signature``, the hex HMAC-SHA256 of
the body keyed with the ``X-Viber-Auth-Token`` of the call, and are retried a few times when they get
no 2xx. Webhooks are remembered per gateway process (a restart forgets them; the adapter sets them
again on webhookNotSet).

Magic endings of the receiver (its digits; the Chat API's destination is a phone number):
``...0001`` accepted and never reported (for failover);
``...0002`` delivered about 0.1 s after the send, then seen (Read) 0.1 s later;
``...0003`` accepted, then a ``failed`` callback (desc "Message could not be delivered to the receiver");
``...1NNN`` refused: send_message answers status NNN with Viber's status_message (e.g. ``1005``
receiverNotRegistered, ``1006`` receiverNotSubscribed, ``1012`` tooManyRequests, which is retried);
``...0500`` answers HTTP 500; ``...0429`` answers HTTP 429 with Retry-After: 1 (and status 12);
``...0408`` answers after 30 s (a timeout);
any other receiver is delivered about 0.1 s after the send.

The receiver's ending decides for business messages too: ``POST /sandbox/viber/business/viber/2/messages``
speaks Infobip's Viber Business Messages API (``channels.viber.business``; a sandbox account's business base
URL). It needs ``Authorization: App <key>`` (else 401 ``E401``), checks the request (a 400 ``E400`` naming
the fields at fault in ``violations``), answers each destination ``PENDING_ACCEPTED`` under its
``messageId``, and POSTs delivery and seen reports to the message's ``webhooks`` URLs (only this gateway's
callback routes): by the digits of ``to``, ``...0001`` never reported; ``...0002`` DELIVERED, then a seen
report; ``...0003`` UNDELIVERABLE (``EC_UNKNOWN_SUBSCRIBER``); ``...0004`` EXPIRED; ``...1NNN`` refused with
HTTP NNN (a 4xx; ``E<NNN>``); ``...0500``, ``...0429`` (Retry-After: 1) and ``...0408`` as for bot messages;
any other number DELIVERED.

``POST /sandbox/viber/inbound`` ``{"trafficAccountId", "from", "text"}`` (optional ``name``: the user's
display name; ``message``: a Viber message object such as ``{"type": "location", "location": {"lat":
1.5, "lon": 2.5}}`` instead of ``text``; ``messageToken``: to repeat a message) makes a simulated user
of a sandbox traffic account send a message: a signed ``message`` callback reaches the gateway's
callback route, and the answer is the simulators' one (channels.sandbox_support.SimulatedMessage) with
the message token as ``providerMessageId``.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from litestar import Request, Response, post
from litestar.exceptions import NotFoundException, ValidationException

from channels.base import CallbacksDependency, ProviderAnswer, SandboxFailures, UserReplyBody, json_object
from channels.openapi import OBJECT, described, object_schema
from channels.sandbox_support import (
    SimulatedMessage,
    in_background,
    post_callback,
    simulated,
    simulated_body,
    simulator,
)
from channels.viber import business
from channels.viber.adapter import AUTH_HEADER, EVENT_TYPES
from channels.viber.callbacks import SIGNATURE_HEADER, signature
from channels.viber.errors import STATUSES, status_name

REPORT_DELAY = 0.1
SLOW_SECONDS = 30.0  # the "timeout" receiver's wait
FAILED_DESC = "Message could not be delivered to the receiver"
CHAT_HOSTNAME = "SN-SANDBOX_"
BOT_NAME = "Sandbox Viber bot"
MESSAGE_TYPES = ("text", "picture", "video", "file", "location", "contact", "sticker", "url", "rich_media")
REQUIRED = {
    "text": ("text",),
    "picture": ("media",),
    "video": ("media", "size"),
    "file": ("media", "size", "file_name"),
    "location": ("location",),
    "contact": ("contact",),
    "sticker": ("sticker_id",),
    "url": ("media",),
    "rich_media": ("rich_media",),
}
_STATE_KEY = "viber_sandbox_webhooks"
# The answers of ...0500 and ...0429, and a receiver not subscribed (status 6: the message Fails, viber.6).
FAILURES = SandboxFailures(
    sends=("/send_message",),  # bot messages (business messages, in Infobip's format, are left alone)
    transient=ProviderAnswer(500, {"status": 1000, "status_message": "Internal error"}),
    throttled=ProviderAnswer(429, {"status": 12, "status_message": "tooManyRequests"}, {"Retry-After": "1"}),
    rejected=ProviderAnswer(200, {"status": 6, "status_message": STATUSES[6][0]}),
)


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    event_types: tuple[str, ...]


def behaviour(receiver: str) -> tuple[str, int | None]:
    """(what happens, the status send_message answers) for a receiver."""
    for ending, kind in (("0001", "silent"), ("0002", "seen"), ("0003", "failed")):
        if receiver.endswith(ending):
            return kind, None
    if len(receiver) >= 4 and receiver[-4] == "1" and receiver[-3:].isdigit() and int(receiver[-3:]) > 0:
        return "refused", int(receiver[-3:])
    for ending, kind in (("0500", "error"), ("0429", "throttled"), ("0408", "timeout")):
        if receiver.endswith(ending):
            return kind, None
    return "delivered", None


def _answer(status: int, **extra: Any) -> Response[dict[str, Any]]:
    return Response({"status": status, "status_message": status_name(status), **extra})


def _webhooks(request: Request) -> dict[str, Webhook]:
    """The webhooks set in this gateway process, by auth token."""
    return request.app.state.setdefault(_STATE_KEY, {})


def _message_token() -> int:
    return random.randint(10**18, 2**63 - 1)  # noqa: S311  (an id, not a secret)


def _event(event: str, **fields: Any) -> dict[str, Any]:
    return {"event": event, "timestamp": int(time.time() * 1000), "chat_hostname": CHAT_HOSTNAME, **fields}


@post("/send_message", status_code=200, include_in_schema=False)
async def send_message(request: Request, callbacks: CallbacksDependency) -> Response[dict[str, Any]]:
    token = request.headers.get(AUTH_HEADER)
    if not token:
        return _answer(2)
    body = json_object(await request.body())
    if body is None:
        return _answer(3)
    sender = body.get("sender")
    receiver = body.get("receiver")
    if not isinstance(receiver, str) or not receiver or not isinstance(sender, dict) or not sender.get("name"):
        return _answer(4)
    kind = body.get("type")
    if kind is None and "keyboard" not in body:
        return _answer(4)
    if kind is not None and kind not in MESSAGE_TYPES:
        return _answer(3)
    if kind is not None and any(body.get(field) in (None, "") for field in REQUIRED[kind]):
        return _answer(4)
    webhook = _webhooks(request).get(token)
    if webhook is None or not callbacks.is_own_callback(webhook.url):
        return _answer(10)
    what, status = behaviour(receiver)
    if what == "refused":
        assert status is not None
        return (
            _answer(status) if status in STATUSES else Response({"status": status, "status_message": "General error"})
        )
    if what == "error":
        return Response({"status": 1000, "status_message": "Internal error"}, status_code=500)
    if what == "throttled":
        return Response(
            {"status": 12, "status_message": "tooManyRequests"}, status_code=429, headers={"Retry-After": "1"}
        )
    if what == "timeout":
        await asyncio.sleep(SLOW_SECONDS)
    message_token = _message_token()
    events: list[dict[str, Any]] = []
    if what in ("delivered", "seen"):
        events.append(_event("delivered", message_token=message_token, user_id=receiver))
    if what == "seen":
        events.append(_event("seen", message_token=message_token, user_id=receiver))
    if what == "failed":
        events.append(_event("failed", message_token=message_token, user_id=receiver, desc=FAILED_DESC))
    events = [event for event in events if event["event"] in webhook.event_types]
    if events:
        in_background(_report(webhook.url, token, events))
    return _answer(0, message_token=message_token, chat_hostname=CHAT_HOSTNAME)


@post("/set_webhook", status_code=200, include_in_schema=False)
async def set_webhook(request: Request, callbacks: CallbacksDependency) -> Response[dict[str, Any]]:
    token = request.headers.get(AUTH_HEADER)
    if not token:
        return _answer(2)
    body = json_object(await request.body())
    if body is None:
        return _answer(3)
    url = body.get("url")
    if not isinstance(url, str):
        return _answer(4)
    webhooks = _webhooks(request)
    if url == "":  # "Removing the webhook is done by Posting a set_webhook request with an empty webhook string"
        webhooks.pop(token, None)
        return _answer(0)
    event_types = body.get("event_types", list(EVENT_TYPES))
    if not isinstance(event_types, list) or any(event not in EVENT_TYPES for event in event_types):
        return _answer(3)
    # The sandbox calls nobody but this gateway's callback routes.
    if not callbacks.is_own_callback(url):
        return _answer(1)
    check = _event("webhook", message_token=_message_token())
    if await _deliver(url, token, check, attempts=1) != 200:
        return _answer(1)
    webhooks[token] = Webhook(url, tuple(event_types))
    return _answer(0, event_types=event_types)


@post("/get_account_info", status_code=200, include_in_schema=False)
async def get_account_info(request: Request) -> Response[dict[str, Any]]:
    token = request.headers.get(AUTH_HEADER)
    if not token:
        return _answer(2)
    webhook = _webhooks(request).get(token)
    return _answer(
        0,
        id=f"pa:sandbox-{uuid.uuid5(uuid.NAMESPACE_OID, token).hex[:16]}",
        name=BOT_NAME,
        uri="sandboxviberbot",
        icon="",
        background="",
        category="Sandbox",
        subcategory="",
        location={"lon": 0.0, "lat": 0.0},
        country="",
        webhook=webhook.url if webhook else "",
        event_types=list(webhook.event_types) if webhook else [],
        subscribers_count=0,
        members=[],
    )


INBOUND_BODY = object_schema(
    "A user's message to a sandbox viber traffic account (its bot)",
    {
        "trafficAccountId": described("A sandbox viber traffic account of yours"),
        "from": described("The user's Viber user id, e.g. 01234567890A="),
        "text": described("The text (or give message)"),
        "message": described(
            'A Viber message object instead of text, e.g. {"type": "location", "location": {"lat": 1.5, "lon": 2.5}}',
            OBJECT,
        ),
        "name": described("The user's display name (default Sandbox user)"),
        "messageToken": described(
            "The providerMessageId of an earlier answer, to deliver that message again (default: a new token)"
        ),
    },
    ("trafficAccountId", "from"),
)


@simulator("A simulated user writes to a sandbox viber traffic account", INBOUND_BODY)
async def user_sends_message(request: Request, callbacks: CallbacksDependency) -> SimulatedMessage:
    """Viber's signed ``message`` callback reaches the gateway; ``providerMessageId`` is its message token."""
    body = await simulated_body(request)
    problems = [
        {"key": key, "message": "is required: a non-empty string"}
        for key in ("trafficAccountId", "from")
        if not isinstance(body.get(key), str) or not body[key].strip()
    ]
    message = body.get("message")
    if message is None:
        if not isinstance(body.get("text"), str) or not body["text"]:
            problems.append({"key": "text", "message": "is required (or a Viber message object in message)"})
        message = {"type": "text", "text": body.get("text")}
    elif not isinstance(message, dict) or not isinstance(message.get("type"), str):
        problems.append({"key": "message", "message": "must be a Viber message object with a type"})
    if problems:
        raise ValidationException("The simulated message is not valid.", extra=problems)
    try:
        account_id = uuid.UUID(body["trafficAccountId"])
    except ValueError:
        raise ValidationException(
            "The simulated message is not valid.", extra=[{"key": "trafficAccountId", "message": "must be a UUID"}]
        ) from None
    account = await callbacks.account(account_id, "viber")
    # A live account's token is a real secret: the sandbox signs only for sandbox accounts.
    if account is None or not account.sandbox:
        raise NotFoundException("No sandbox viber traffic account with this id.")
    token = body.get("messageToken")
    if isinstance(token, str) and token.isdigit():  # as the answer's providerMessageId gives it
        token = int(token)
    message_token = token if isinstance(token, int) and not isinstance(token, bool) else _message_token()
    sender: dict[str, Any] = {"id": body["from"].strip(), "name": str(body.get("name") or "Sandbox user")}
    sender |= {"avatar": "", "language": "en", "country": "GB", "api_version": 10}
    callback = _event("message", message_token=message_token, sender=sender, message=message, silent=False)
    status = await _deliver(callbacks.callback_url("viber", account_id), account.credentials["authToken"], callback)
    return SimulatedMessage(**await simulated(callbacks, "viber", account_id, str(message_token), status))


BUSINESS_CONTENT = {  # Infobip's content types and their required fields
    "TEXT": ("text",),
    "IMAGE": ("mediaUrl",),
    "VIDEO": ("mediaUrl", "mediaDuration", "thumbnailUrl"),
    "FILE": ("mediaUrl", "fileName"),
}
PENDING = {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED"}
NO_ERROR = {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR", "description": "No Error", "permanent": False}
BUSINESS_REPORTS = {  # the receiver's behaviour -> (status, error) of its delivery report
    "delivered": ({"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}, NO_ERROR),
    "seen": ({"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"}, NO_ERROR),
    "failed": (
        {"groupId": 2, "groupName": "UNDELIVERABLE", "id": 4, "name": "UNDELIVERABLE_NOT_DELIVERED"},
        {
            "groupId": 1,
            "groupName": "HANDSET_ERRORS",
            "id": 1,
            "name": "EC_UNKNOWN_SUBSCRIBER",
            "description": "The recipient is not a Viber user",
            "permanent": True,
        },
    ),
    "expired": ({"groupId": 4, "groupName": "EXPIRED", "id": 15, "name": "EXPIRED_EXPIRED"}, NO_ERROR),
}


def _api_error(status: int, description: str, violations: list[dict[str, str]] = ()) -> Response[dict[str, Any]]:
    """Infobip's ApiError answer."""
    body = {"errorCode": f"E{status}", "description": description, "action": "", "violations": list(violations)}
    return Response({**body, "resources": []}, status_code=status)


def _business_violations(body: dict[str, Any] | None, callbacks: CallbacksDependency) -> list[dict[str, str]]:
    if body is None or not isinstance(body.get("messages"), list) or not body["messages"]:
        return [{"property": "messages", "violation": "must be a non-empty list"}]
    violations = []
    for n, message in enumerate(body["messages"]):
        where = f"messages[{n}]"
        if not isinstance(message, dict):
            violations.append({"property": where, "violation": "must be an object"})
            continue
        if not isinstance(message.get("sender"), str) or not message["sender"]:
            violations.append({"property": f"{where}.sender", "violation": "must not be blank"})
        destinations = message.get("destinations")
        if not isinstance(destinations, list) or not destinations:
            violations.append({"property": f"{where}.destinations", "violation": "must be a non-empty list"})
        else:
            for d, destination in enumerate(destinations):
                to = destination.get("to") if isinstance(destination, dict) else None
                if not isinstance(to, str) or not to.isdigit():
                    violations.append({"property": f"{where}.destinations[{d}].to", "violation": "invalid number"})
        content = message.get("content")
        kind = content.get("type") if isinstance(content, dict) else None
        if kind not in BUSINESS_CONTENT:
            violations.append({"property": f"{where}.content.type", "violation": "must be TEXT, IMAGE, VIDEO or FILE"})
        else:
            violations += [
                {"property": f"{where}.content.{field}", "violation": "must not be blank"}
                for field in BUSINESS_CONTENT[kind]
                if not content.get(field)
            ]
        webhooks = message.get("webhooks") if isinstance(message.get("webhooks"), dict) else {}
        for key in ("delivery", "seen"):  # the sandbox calls nobody but this gateway's callback routes
            url = webhooks.get(key, {}).get("url") if isinstance(webhooks.get(key), dict) else None
            if url is not None and not (isinstance(url, str) and callbacks.is_own_callback(url)):
                violations.append({"property": f"{where}.webhooks.{key}.url", "violation": "must be the gateway's"})
    return violations


@post(f"{business.SANDBOX_PREFIX}{business.MESSAGES_PATH}", status_code=200, include_in_schema=False)
async def business_messages(request: Request, callbacks: CallbacksDependency) -> Response[dict[str, Any]]:
    """Infobip's ``POST /viber/2/messages``, answered and reported on by the receivers' endings."""
    key = request.headers.get("Authorization", "")
    if not key.startswith("App ") or not key[4:].strip():
        return _api_error(401, "The request lacks valid authentication credentials for the requested resource.")
    body = json_object(await request.body())
    if violations := _business_violations(body, callbacks):
        return _api_error(400, "Request cannot be processed.", violations)
    assert body is not None
    answers, reports = [], []
    for message in body["messages"]:
        webhooks = message.get("webhooks") or {}
        for destination in message["destinations"]:
            to = destination["to"]
            what, status = behaviour(to)
            if what == "refused":
                code = status if status is not None and 400 <= status < 500 else 400
                return _api_error(code, f"The sandbox refuses {to} (its ending asks for HTTP {code}).")
            if what == "error":
                return _api_error(500, "Something went wrong.")
            if what == "throttled":
                answer = _api_error(429, "Too many requests.")
                answer.headers["Retry-After"] = "1"
                return answer
            if what == "timeout":
                await asyncio.sleep(SLOW_SECONDS)
            what = "expired" if to.endswith("0004") else what
            message_id = destination.get("messageId") or str(uuid.uuid4())
            answers.append({"messageId": message_id, "status": PENDING, "destination": to})
            reports.append((what, message_id, to, message["sender"], webhooks))
    for what, message_id, to, sender, webhooks in reports:
        if what in BUSINESS_REPORTS and isinstance(url := (webhooks.get("delivery") or {}).get("url"), str):
            status, error = BUSINESS_REPORTS[what]
            entry = {"messageId": message_id, "to": to, "sender": sender, "status": status, "error": error}
            in_background(_report_business(url, {"results": [{**entry, "messageCount": 1}]}))
        if what == "seen" and isinstance(url := (webhooks.get("seen") or {}).get("url"), str):
            seen = {"messageId": message_id, "from": sender, "to": to, "seenAt": _now()}
            in_background(_report_business(url, {"results": [seen]}, delay=2 * REPORT_DELAY))
    return Response({"bulkId": str(uuid.uuid4()), "messages": answers})


def _now() -> str:
    """Infobip's timestamps: yyyy-MM-dd'T'HH:mm:ss.SSSZ."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())


async def _report_business(url: str, report: dict[str, Any], delay: float = REPORT_DELAY) -> None:
    await asyncio.sleep(delay)
    await post_callback(url, json.dumps(report).encode(), {})


async def _report(url: str, token: str, events: list[dict[str, Any]]) -> None:
    for event in events:
        await asyncio.sleep(REPORT_DELAY)
        await _deliver(url, token, event)


async def _deliver(url: str, token: str, event: dict[str, Any], attempts: int = 6) -> int | None:
    """POSTs one signed callback (see channels.sandbox_support.post_callback)."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return await post_callback(url, body, {SIGNATURE_HEADER: signature(token, body)}, attempts)


# What the inbox's "Reply as the user" sends besides text (this module's ``inbound`` fields). The picture's
# address is never fetched: the gateway stores the message, not the file.
USER_REPLIES: dict[str, UserReplyBody] = {
    "media": lambda reply: {
        "message": {"type": "picture", "text": reply.text, "media": "https://sandbox.invalid/picture.jpg"}
    },
    "location": lambda reply: {
        "message": {"type": "location", "location": {"lat": reply.latitude, "lon": reply.longitude}}
    },
}
