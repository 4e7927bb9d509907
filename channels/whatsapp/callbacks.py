"""The WhatsApp Cloud API's webhooks, at ``/callbacks/whatsapp/{account_id}`` (the traffic account's
``callbackUrl``, configured with its ``verifyToken`` in the Meta app dashboard: Meta has no API for it).

Verification handshake: ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...``. When the
token equals the account's ``verifyToken`` the challenge is answered as ``text/plain`` with 200; anything
else is a 403.

Notifications: ``POST`` with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with
the app secret>``, checked in constant time against the account's ``appSecret``; a missing or wrong
signature (or an unknown account) is a 401 and changes nothing. The body is
``{"object": "whatsapp_business_account", "entry": [{"id", "changes": [{"field": "messages", "value":
{"metadata", "contacts"?, "statuses"?, "messages"?, "errors"?}}]}]}``; Meta batches several entries,
changes, statuses and messages in one POST. Changes of other fields (template status updates and
such) are acknowledged and ignored.

- ``statuses[]``: ``sent`` -> Sent, ``delivered`` -> Delivered, ``read`` -> Read, ``failed`` -> Failed
  with ``whatsapp.<code>`` and Meta's title/message and details from ``errors[0]`` (131047 says that a
  template message is needed); matched by ``id`` (the wamid the send answered). Other statuses (Meta
  adds some, e.g. ``played``) change nothing.
- ``messages[]``: the user's message from ``from``, stored once per ``id`` (a redelivered wamid is
  harmless). Content by ``type``: ``{"type": "text", "text"}``; image/video/audio/document/sticker ->
  ``{"type", "mediaId", "mimeType"?, "sha256"?, "caption"?, "fileName"?, "url"?, "animated"?,
  "voice"?}``; ``{"type": "location", "latitude", "longitude", "name"?, "address"?, "url"?}``;
  interactive ``button_reply`` / ``list_reply`` -> ``{"type": "postback", "data": <id>, "title",
  "description"?}``; ``button`` (a template's quick reply) -> ``{"type": "postback", "data": <payload>,
  "title": <text>}``; ``reaction`` -> ``{"type": "reaction", "emoji", "messageId"}``; anything else ->
  ``{"type": "unsupported", "kind"}``. A reply to one of our messages adds ``"replyTo": <its wamid>``.

The whole body is checked before anything is applied: a malformed one is a 400 naming the field and
changes nothing. A status naming no message of the account (sent by another system on the same number,
or - today, lost - a report that overtakes the recording of the send answer) does not fail the POST:
Meta would redeliver the whole batch. The answer is 200 with what was applied.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from uuid import UUID

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath

from channels.base import ID_MAX, CallbacksDependency, InboundMessage, StatusReport, json_object
from channels.kit import Malformed, same_signature
from channels.openapi import OBJECT as JSON_OBJECT
from channels.openapi import documented, header, object_schema, problem, query
from channels.whatsapp.errors import as_code, describe, error_code

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
OBJECT = "whatsapp_business_account"
STATUSES = {"sent": "Sent", "delivered": "Delivered", "read": "Read", "failed": "Failed"}
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
# Cloud API media object key -> ours
MEDIA_FIELDS = {
    "mime_type": "mimeType",
    "sha256": "sha256",
    "caption": "caption",
    "filename": "fileName",
    "url": "url",
    "animated": "animated",
    "voice": "voice",
}
FAILED_CODE = "whatsapp.failed"


def signature(app_secret: str, body: bytes) -> str:
    """X-Hub-Signature-256: ``sha256=`` and the hex HMAC-SHA256 of the raw body, keyed with the app secret."""
    return SIGNATURE_PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(app_secret: str | None, body: bytes, given: str | None) -> bool:
    """Constant-time check of the signature header; an account without an app secret accepts nothing."""
    return bool(app_secret) and same_signature(signature(app_secret, body), (given or "").strip().lower())


def challenge_answer(params: dict[str, str], verify_token: str | None) -> str | None:
    """The ``hub.challenge`` to echo when the subscription request is right; None when it isn't."""
    if params.get("hub.mode") != "subscribe" or not same_signature(verify_token, params.get("hub.verify_token")):
        return None
    return params.get("hub.challenge")


def parse_notification(body: bytes) -> list[StatusReport | InboundMessage]:
    """Everything a (verified) webhook body reports, in order. Raises :class:`Malformed`."""
    if (data := json_object(body)) is None:
        raise Malformed("body", "must be a JSON object (a WhatsApp webhook notification)")
    if data.get("object") != OBJECT:
        raise Malformed("object", f"must be {OBJECT}")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise Malformed("entry", "is required: a list of entries")
    found: list[StatusReport | InboundMessage] = []
    for i, entry in enumerate(entries):
        entry = _object(entry, f"entry[{i}]")
        changes = entry.get("changes", [])
        if not isinstance(changes, list):
            raise Malformed(f"entry[{i}].changes", "must be a list of changes")
        for j, change in enumerate(changes):
            path = f"entry[{i}].changes[{j}]"
            change = _object(change, path)
            if change.get("field") != "messages":
                continue  # template status updates, account updates...: nothing for the callbacks
            found += _value(_object(change.get("value"), f"{path}.value"), f"{path}.value")
    return found


def _value(value: dict[str, Any], path: str) -> list[StatusReport | InboundMessage]:
    found: list[StatusReport | InboundMessage] = []
    for key, parse in (("statuses", _status), ("messages", _message)):
        items = value.get(key, [])
        if not isinstance(items, list):
            raise Malformed(f"{path}.{key}", "must be a list")
        for k, item in enumerate(items):
            parsed = parse(_object(item, f"{path}.{key}[{k}]"), f"{path}.{key}[{k}]")
            if parsed is not None:
                found.append(parsed)
    return found


def _status(status: dict[str, Any], path: str) -> StatusReport | None:
    wamid = _string(status, "id", path, "the wamid of the message")
    state = status.get("status")
    if not isinstance(state, str) or not state:
        raise Malformed(f"{path}.status", "is required: sent, delivered, read or failed")
    if state not in STATUSES:
        return None  # a status Meta added later: nothing to change
    if state != "failed":
        return StatusReport(status=STATUSES[state], provider_message_id=wamid)
    errors = status.get("errors")
    error = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    if error is None:
        return StatusReport(status="Failed", provider_message_id=wamid, error_code=FAILED_CODE, description="failed")
    code = as_code(error.get("code"))
    error_data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    return StatusReport(
        status="Failed",
        provider_message_id=wamid,
        error_code=error_code(code) if code is not None else FAILED_CODE,
        description=describe(code, error.get("message"), error_data.get("details"), error.get("title")),
    )


def _message(message: dict[str, Any], path: str) -> InboundMessage:
    wamid = _string(message, "id", path, "the wamid of the message")
    sender = _string(message, "from", path, "the user's phone number")
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise Malformed(f"{path}.type", "is required: the message type (text, image, interactive, ...)")
    content = _content(message, kind, path)
    context = message.get("context")
    if isinstance(context, dict) and isinstance(context.get("id"), str) and context["id"]:
        content["replyTo"] = context["id"]
    return InboundMessage(sender=sender, content=content, provider_message_id=wamid)


def _content(message: dict[str, Any], kind: str, path: str) -> dict[str, Any]:
    if kind == "text":
        text = _object(message.get("text"), f"{path}.text")
        body = text.get("body")
        if not isinstance(body, str):
            raise Malformed(f"{path}.text.body", "is required: the text")
        return {"type": "text", "text": body}
    if kind in MEDIA_TYPES:
        media = _object(message.get(kind), f"{path}.{kind}")
        content: dict[str, Any] = {"type": kind, "mediaId": _string(media, "id", f"{path}.{kind}", "the media id")}
        for key, ours in MEDIA_FIELDS.items():
            value = media.get(key)
            if (isinstance(value, str) and value) or isinstance(value, bool):
                content[ours] = value
        return content
    if kind == "location":
        location = _object(message.get("location"), f"{path}.location")
        for key in ("latitude", "longitude"):
            if not _number(location.get(key)):
                raise Malformed(f"{path}.location.{key}", "is required: a number")
        content = {"type": "location", "latitude": location["latitude"], "longitude": location["longitude"]}
        for key in ("name", "address", "url"):
            if isinstance(location.get(key), str) and location[key]:
                content[key] = location[key]
        return content
    if kind == "interactive":
        interactive = _object(message.get("interactive"), f"{path}.interactive")
        reply_type = interactive.get("type")
        if reply_type in ("button_reply", "list_reply"):
            reply = _object(interactive.get(reply_type), f"{path}.interactive.{reply_type}")
            content = {"type": "postback", "data": _string(reply, "id", f"{path}.interactive.{reply_type}", "its id")}
            for key in ("title", "description"):
                if isinstance(reply.get(key), str) and reply[key]:
                    content[key] = reply[key]
            return content
        return {"type": "unsupported", "kind": f"interactive.{reply_type}" if isinstance(reply_type, str) else kind}
    if kind == "button":
        button = _object(message.get("button"), f"{path}.button")
        payload = button.get("payload")
        text = button.get("text")
        if not isinstance(payload, str) and not isinstance(text, str):
            raise Malformed(f"{path}.button.payload", "is required: the quick reply's payload")
        content = {"type": "postback", "data": payload if isinstance(payload, str) else text}
        if isinstance(text, str):
            content["title"] = text
        return content
    if kind == "reaction":
        reaction = _object(message.get("reaction"), f"{path}.reaction")
        content = {"type": "reaction", "emoji": reaction.get("emoji") or ""}
        if isinstance(reaction.get("message_id"), str):
            content["messageId"] = reaction["message_id"]
        return content
    return {"type": "unsupported", "kind": kind}


@get(
    "/",
    status_code=200,
    media_type=MediaType.TEXT,
    tags=["callbacks"],
    summary="WhatsApp webhook verification (Meta's handshake); answers hub.challenge",
    operation_class=documented(
        query("hub.mode", "`subscribe`", required=True),
        query("hub.verify_token", "The account's verifyToken", required=True),
        query("hub.challenge", "Echoed back as the answer", required=True),
    ),
    responses={403: problem("`forbidden`: hub.mode is not subscribe or hub.verify_token not the account's")},
)
async def whatsapp_verify(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[str]:
    """Meta's verification request when the webhook is configured in the app dashboard."""
    account = await callbacks.account(account_id, "whatsapp")
    verify_token = account.credentials.get("verifyToken") if account is not None else None
    params = {key: value for key, value in request.query_params.items() if key.startswith("hub.")}
    challenge = challenge_answer(params, verify_token)
    if challenge is None:
        raise PermissionDeniedException("hub.mode must be subscribe and hub.verify_token this account's verifyToken.")
    return Response(challenge, status_code=200, media_type=MediaType.TEXT)


NOTIFICATION = object_schema(
    "A WhatsApp Cloud API webhook notification: entries of changes carrying statuses and messages",
    {
        "object": Schema(type=OpenAPIType.STRING, enum=[OBJECT]),
        "entry": Schema(type=OpenAPIType.ARRAY, items=JSON_OBJECT),
    },
    ("object", "entry"),
)


class Applied(msgspec.Struct):
    """What a notification changed: statuses applied, messages stored."""

    statuses: int
    messages: int


@post(
    "/",
    status_code=200,
    tags=["callbacks"],
    summary="WhatsApp webhook notification (statuses and user messages)",
    operation_class=documented(
        header(
            SIGNATURE_HEADER,
            "`sha256=` and the hex HMAC-SHA256 of the raw body keyed with the appSecret",
            required=True,
        ),
        body=NOTIFICATION,
    ),
    responses={401: problem(f"`unauthorized`: {SIGNATURE_HEADER} is missing or wrong for this traffic account")},
)
async def whatsapp_webhook(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[Applied]:
    body = await request.body()
    account = await callbacks.account(account_id, "whatsapp")
    app_secret = account.credentials.get("appSecret") if account is not None else None
    if not signature_matches(app_secret, body, request.headers.get(SIGNATURE_HEADER)):
        raise NotAuthorizedException(f"The {SIGNATURE_HEADER} is missing or wrong for this traffic account.")
    try:
        found = parse_notification(body)
    except Malformed as error:
        raise error.problem("The WhatsApp webhook is not valid.") from None
    # A status on a wamid no message has yet is kept by the gateway until the send answer records it.
    statuses = messages = 0
    for item in found:
        if isinstance(item, StatusReport):
            statuses += await callbacks.report(account_id, item)
        elif await callbacks.receive(account_id, item):
            messages += 1
    return Response(Applied(statuses, messages))


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(field, "is required: an object")
    return value


def _string(obj: dict[str, Any], key: str, path: str, what: str) -> str:
    """An id or an address: a non-empty string of at most ID_MAX characters."""
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip() or len(value.strip()) > ID_MAX:
        raise Malformed(f"{path}.{key}", f"is required: {what} (at most {ID_MAX} characters)")
    return value.strip()


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
