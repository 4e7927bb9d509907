"""Viber's callbacks: JSON POSTed to ``/callbacks/viber/{account_id}``, the URL given to set_webhook.

Authenticity: every callback carries ``X-Viber-Content-Signature``, the hex HMAC-SHA256 of the raw
body keyed with the account's ``authToken``. A missing or wrong signature (or an unknown traffic
account) is refused with 401 and changes nothing.

Events (``event``):

- ``delivered`` -> Delivered, ``seen`` -> Read, ``failed`` -> Failed (``viber.failed`` with Viber's
  ``desc``), matched by ``message_token`` (the token send_message answered). A report on a token no
  message has yet is kept by the gateway and applied once the send answer is recorded (it can
  overtake it).
- ``message`` -> an inbound message from ``sender.id``, stored once per ``message_token``; its content
  by ``message.type``: ``{"type": "text", "text"}``, ``{"type": "image", "url", "caption"?,
  "thumbnail"?, "fileName"?, "size"?}`` (picture), ``{"type": "video", "url", "size"?, "duration"?,
  "thumbnail"?}``, ``{"type": "file", "url", "fileName"?, "size"?}``, ``{"type": "location",
  "latitude", "longitude"}``, ``{"type": "contact", "name"?, "phoneNumber"?, "avatar"?}``,
  ``{"type": "url", "url"}``, ``{"type": "sticker", "stickerId", "url"?}``, and
  ``{"type": "unsupported", "kind"}`` for any other type.
- ``subscribed``, ``unsubscribed``, ``conversation_started``, ``webhook`` (set_webhook's check) and
  any event Viber adds later: acknowledged with 200, nothing changes.

Repeats are harmless: statuses only move forward and an inbound message is stored once per provider
id. Unknown fields are ignored; a body that isn't a Viber callback is a 400 naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from uuid import UUID

from litestar import MediaType, Request, Response, post
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath

from channels.base import ID_MAX, CallbacksDependency, InboundMessage, StatusReport, json_object
from channels.kit import Malformed, same_signature
from channels.openapi import INTEGER, OBJECT, STRING, documented, header, object_schema, problem

SIGNATURE_HEADER = "X-Viber-Content-Signature"
STATUS_EVENTS = {"delivered": "Delivered", "seen": "Read", "failed": "Failed"}
FAILED_CODE = "viber.failed"


def signature(token: str, body: bytes) -> str:
    """X-Viber-Content-Signature: hex HMAC-SHA256 of the raw body, keyed with the auth token."""
    return hmac.new(token.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(token: str | None, body: bytes, given: str | None) -> bool:
    """Constant-time check of the signature header; an account without a token accepts nothing."""
    return bool(token) and same_signature(signature(token, body), (given or "").strip().lower())


def parse_callback(body: bytes) -> StatusReport | InboundMessage | None:
    """What a (verified) callback body means for the gateway: a status report, a user's message, or
    None for an event that changes nothing. Raises :class:`Malformed`."""
    if (data := json_object(body)) is None:
        raise Malformed("body", "must be a JSON object (a Viber callback)")
    event = data.get("event")
    if not isinstance(event, str) or not event:
        raise Malformed("event", "is required: the callback's event type")
    if event in STATUS_EVENTS:
        token = _message_token(data)
        if event != "failed":
            return StatusReport(status=STATUS_EVENTS[event], provider_message_id=token)
        desc = data.get("desc")
        return StatusReport(
            status="Failed",
            provider_message_id=token,
            error_code=FAILED_CODE,
            description=(desc.strip()[:1000] if isinstance(desc, str) and desc.strip() else "failed"),
        )
    if event == "message":
        token = _message_token(data)
        sender = _object(data.get("sender"), "sender")
        sender_id = sender.get("id")
        if not isinstance(sender_id, str) or not sender_id.strip() or len(sender_id) > ID_MAX:
            raise Malformed("sender.id", f"is required: the Viber user's id (at most {ID_MAX} characters)")
        content = _content(_object(data.get("message"), "message"))
        return InboundMessage(sender=sender_id, content=content, provider_message_id=token)
    return None  # subscribed, unsubscribed, conversation_started, webhook, and events added later


CALLBACK = object_schema(
    "A Viber callback: delivered, seen, failed, message, subscribed, conversation_started, webhook...",
    {
        "event": STRING,
        "timestamp": INTEGER,
        "message_token": INTEGER,
        "sender": OBJECT,
        "message": OBJECT,
        "desc": STRING,
    },
    ("event",),
)


@post(
    "/",
    status_code=200,
    media_type=MediaType.TEXT,
    tags=["callbacks"],
    summary="Viber callback (set_webhook's URL); answered with an empty body",
    operation_class=documented(
        header(SIGNATURE_HEADER, "Hex HMAC-SHA256 of the raw body keyed with the account's authToken", required=True),
        body=CALLBACK,
    ),
    responses={401: problem(f"`unauthorized`: {SIGNATURE_HEADER} is missing or wrong for this traffic account")},
)
async def viber_callback(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[bytes]:
    body = await request.body()
    account = await callbacks.account(account_id, "viber")
    token = account.credentials.get("authToken") if account is not None else None
    if not signature_matches(token, body, request.headers.get(SIGNATURE_HEADER)):
        raise NotAuthorizedException(f"The {SIGNATURE_HEADER} is missing or wrong for this traffic account.")
    try:
        parsed = parse_callback(body)
    except Malformed as error:
        raise error.problem("The Viber callback is not valid.") from None
    if isinstance(parsed, StatusReport):
        if not await callbacks.report(account_id, parsed):
            raise NotFoundException("No such traffic account.")
    elif isinstance(parsed, InboundMessage) and not await callbacks.receive(account_id, parsed):
        raise NotFoundException("No such traffic account.")
    # An empty 200: a body answering conversation_started would be sent to the user as a welcome message.
    return Response(b"", status_code=200, media_type=MediaType.TEXT)


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(field, "is required: an object")
    return value


def _message_token(data: dict[str, Any]) -> str:
    token = data.get("message_token")
    if isinstance(token, bool) or not isinstance(token, (int, str)) or not 0 < len(str(token).strip()) <= ID_MAX:
        raise Malformed("message_token", "is required: the message's token (an integer)")
    return str(token).strip()


def _string(message: dict[str, Any], key: str, field: str) -> str:
    value = message.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Malformed(f"message.{field}", "is required: a non-empty string")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _optional(message: dict[str, Any], names: dict[str, str], content: dict[str, Any]) -> dict[str, Any]:
    """Copies the optional Viber fields (Viber name -> ours) that have a usable value."""
    for key, ours in names.items():
        value = message.get(key)
        if (isinstance(value, str) and value) or _number(value):
            content[ours] = value
    return content


def _content(message: dict[str, Any]) -> dict[str, Any]:
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise Malformed("message.type", "is required: the message type (text, picture, video, file, ...)")
    if kind == "text":
        text = message.get("text")
        if not isinstance(text, str):
            raise Malformed("message.text", "is required: a string")
        return {"type": "text", "text": text}
    if kind == "picture":
        content = {"type": "image", "url": _string(message, "media", "media")}
        return _optional(
            message, {"text": "caption", "thumbnail": "thumbnail", "file_name": "fileName", "size": "size"}, content
        )
    if kind == "video":
        content = {"type": "video", "url": _string(message, "media", "media")}
        return _optional(message, {"size": "size", "duration": "duration", "thumbnail": "thumbnail"}, content)
    if kind == "file":
        content = {"type": "file", "url": _string(message, "media", "media")}
        return _optional(message, {"file_name": "fileName", "size": "size"}, content)
    if kind == "location":
        location = message.get("location")
        if not isinstance(location, dict):
            raise Malformed("message.location", "is required: an object with lat and lon")
        for key in ("lat", "lon"):
            if not _number(location.get(key)):
                raise Malformed(f"message.location.{key}", "is required: a number")
        return {"type": "location", "latitude": location["lat"], "longitude": location["lon"]}
    if kind == "contact":
        contact = message.get("contact")
        if not isinstance(contact, dict):
            raise Malformed("message.contact", "is required: an object with name and phone_number")
        return _optional(
            contact, {"name": "name", "phone_number": "phoneNumber", "avatar": "avatar"}, {"type": "contact"}
        )
    if kind == "url":
        return {"type": "url", "url": _string(message, "media", "media")}
    if kind == "sticker":
        sticker_id = message.get("sticker_id")
        if not _number(sticker_id) and not (isinstance(sticker_id, str) and sticker_id):
            raise Malformed("message.sticker_id", "is required: the sticker's id")
        return _optional(message, {"media": "url"}, {"type": "sticker", "stickerId": sticker_id})
    return {"type": "unsupported", "kind": kind}
