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

``POST /sandbox/viber/inbound`` ``{"trafficAccountId", "from", "text"}`` (optional ``name``: the user's
display name; ``message``: a Viber message object such as ``{"type": "location", "location": {"lat":
1.5, "lon": 2.5}}`` instead of ``text``; ``messageToken``: to repeat a message) makes a simulated user
of a sandbox traffic account send a message: a signed ``message`` callback reaches the gateway's
callback route, and the answer is ``{"messageToken", "gatewayStatus"}``.
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

from channels.base import CallbacksDependency, json_object
from channels.sandbox_support import in_background, post_callback, simulated_body
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


@post("/inbound", status_code=200, include_in_schema=False)
async def user_sends_message(request: Request, callbacks: CallbacksDependency) -> Response[dict[str, Any]]:
    """A simulated user writes to a sandbox traffic account: Viber's signed ``message`` callback."""
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
    message_token = token if isinstance(token, int) and not isinstance(token, bool) else _message_token()
    sender: dict[str, Any] = {"id": body["from"].strip(), "name": str(body.get("name") or "Sandbox user")}
    sender |= {"avatar": "", "language": "en", "country": "GB", "api_version": 10}
    callback = _event("message", message_token=message_token, sender=sender, message=message, silent=False)
    status = await _deliver(callbacks.callback_url("viber", account_id), account.credentials["authToken"], callback)
    return Response({"messageToken": message_token, "gatewayStatus": status})


async def _report(url: str, token: str, events: list[dict[str, Any]]) -> None:
    for event in events:
        await asyncio.sleep(REPORT_DELAY)
        await _deliver(url, token, event)


async def _deliver(url: str, token: str, event: dict[str, Any], attempts: int = 6) -> int | None:
    """POSTs one signed callback (see channels.sandbox_support.post_callback)."""
    body = json.dumps(event, separators=(",", ":")).encode()
    return await post_callback(url, body, {SIGNATURE_HEADER: signature(token, body)}, attempts)
