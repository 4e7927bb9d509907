"""Viber's callbacks: JSON POSTed to ``/callbacks/viber/{account_id}``, the URL given to set_webhook.

Authenticity: every callback carries ``X-Viber-Content-Signature``, the hex HMAC-SHA256 of the raw
body keyed with the account's ``authToken``. A missing or wrong signature (or an unknown traffic
account) is refused with 401 and changes nothing.

Events (``event``):

- ``delivered`` -> Delivered, ``seen`` -> Read, ``failed`` -> Failed (``viber.failed`` with Viber's
  ``desc``), matched by ``message_token`` (the token send_message answered). A report on a token no
  message has yet is kept by the gateway and applied once the send answer is recorded (it can
  overtake it).
- ``message`` -> an inbound message from ``sender.id`` (the Viber user id a reply is sent to), with
  ``sender.name`` as the sender's name, stored once per ``message_token``; its content one of
  channels.inbound's by ``message.type``: text -> ``text``; picture -> ``image`` (``url``, ``caption``?,
  ``thumbnail``?, ``fileName``?, ``size``?); video -> ``video``; file -> ``document``; location ->
  ``location`` (``lat``/``lon`` as numbers or numeric strings, as viber-bot-python sends them); contact ->
  ``contacts`` with one contact (``name``, ``phones``, ``avatar``); url -> ``url``; sticker -> ``sticker``
  (``stickerId``, ``url``); any other type -> ``unsupported`` naming it. The REST bot API's message
  callback names no earlier message (no quoted reply), so none carries ``relatesTo``.
- ``subscribed``, ``unsubscribed``, ``conversation_started``, ``webhook`` (set_webhook's check) and
  any event Viber adds later: acknowledged with 200, nothing changes.

Business message reports (Infobip's Viber Business Messages API, ``channels.viber.business``) come to
``/callbacks/viber/{account_id}/business?token=<the message's callback token>``: delivery reports
``{"results": [{"messageId", "status": {"groupName", "name", "description"}, "error": {"name",
"description"}}]}`` (DELIVERED -> Delivered, EXPIRED -> Expired, UNDELIVERABLE and REJECTED -> Failed with
``viber.<error name>``, or ``viber.<status name>`` when the error is NO_ERROR; PENDING and ACCEPTED change
nothing) and seen reports ``{"results": [{"messageId", "seenAt"}]}`` (-> Read), matched by ``messageId`` (the
id the send gave each message: ours). Every entry is taken on its own: a bad one is named in the answer and
the good ones beside it are applied. A missing or forged token (the message's, or the account's
provider-callback token for reports configured at Infobip) is a 401.

Repeats are harmless: statuses only move forward and an inbound message is stored once per provider
id. Unknown fields are ignored; a body that isn't a Viber callback is a 400 naming the field.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from uuid import UUID

import msgspec
from litestar import MediaType, Request, Response, post
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath

from channels import inbound
from channels.base import ID_MAX, CallbacksDependency, InboundMessage, StatusReport, json_object
from channels.kit import Malformed, same_signature
from channels.openapi import INTEGER, OBJECT, STRING, documented, header, object_schema, problem, query
from channels.viber import business
from channels.viber.addresses import VIBER_ID, address_problem

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
        # The id a reply is sent to: one the gateway would refuse as a destination can't be kept.
        problem = address_problem(VIBER_ID, sender_id.strip()) if isinstance(sender_id, str) else "a string"
        if problem is not None:
            raise Malformed("sender.id", f"is required: the Viber user's id; it {problem}")
        content = _content(_object(data.get("message"), "message"))
        try:
            inbound.decode_content(content)
        except msgspec.ValidationError as error:  # a field of the wrong type (a size that isn't an integer)
            raise Malformed("message", f"is not a Viber message the gateway can keep: {error}") from None
        name = sender.get("name")
        name = name.strip()[:ID_MAX] if isinstance(name, str) and name.strip() else None
        return InboundMessage(sender=sender_id, content=content, provider_message_id=token, sender_name=name)
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


# Infobip's status groups (https://www.infobip.com/docs/essentials/response-status-and-error-codes) -> ours;
# PENDING and ACCEPTED: still on its way, nothing changes.
BUSINESS_GROUPS = {"DELIVERED": "Delivered", "EXPIRED": "Expired", "UNDELIVERABLE": "Failed", "REJECTED": "Failed"}
NO_ERROR = "NO_ERROR"


def business_report(entry: Any, token_message: UUID | None) -> StatusReport | None:
    """One entry of an Infobip delivery or seen report; None for one that changes nothing. Raises
    :class:`Malformed` (paths relative to the entry)."""
    entry = _object(entry, "")
    message_id = entry.get("messageId")
    if not isinstance(message_id, str) or not 0 < len(message_id.strip()) <= ID_MAX:
        raise Malformed("messageId", f"is required: the id of the message reported on (at most {ID_MAX} characters)")
    message_id = message_id.strip()
    ours = token_message if token_message is not None and str(token_message) == message_id else None
    if "status" not in entry and isinstance(entry.get("seenAt"), str):
        return StatusReport(status="Read", message_id=ours, provider_message_id=message_id)
    status = _object(entry.get("status"), "status")
    group = status.get("groupName")
    if not isinstance(group, str) or not group:
        raise Malformed("status.groupName", "is required: the status group (DELIVERED, UNDELIVERABLE, ...)")
    if (ours_status := BUSINESS_GROUPS.get(group.upper())) is None:
        return None
    if ours_status == "Delivered":
        return StatusReport(status="Delivered", message_id=ours, provider_message_id=message_id)
    error = entry.get("error") if isinstance(entry.get("error"), dict) else {}
    named = error if error.get("name") not in (None, "", NO_ERROR) else status
    code = str(named.get("name") or group.upper())[:100]
    description = named.get("description")
    return StatusReport(
        status=ours_status,
        message_id=ours,
        provider_message_id=message_id,
        error_code=f"viber.{code}",
        description=(f"{code}: {description}" if isinstance(description, str) and description else code)[:1000],
    )


BUSINESS_REPORTS = object_schema(
    "Infobip's Viber delivery or seen reports: {results: [{messageId, status, error} or {messageId, seenAt}]}",
    {"results": Schema(type=OpenAPIType.ARRAY, items=OBJECT)},
    ("results",),
)


@post(
    business.REPORTS_PATH,
    status_code=200,
    tags=["callbacks"],
    summary="Viber business message reports (Infobip delivery and seen reports)",
    operation_class=documented(
        query("token", "The message's callback token (or the account's provider-callback token)", required=True),
        body=BUSINESS_REPORTS,
    ),
    responses={401: problem("`unauthorized`: the token is missing, forged, expired or not this account's")},
)
async def business_reports(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[dict[str, Any]]:
    token = request.query_params.get("token")
    token_message = callbacks.message_of_token(token)
    if token_message is None and callbacks.account_of_token(token) != account_id:
        raise NotAuthorizedException("The callback token is missing, forged, expired or not this account's.")
    results = (json_object(await request.body()) or {}).get("results")
    if not isinstance(results, list):
        raise Malformed("results", "is required: the list of reports").problem("The Viber reports are not valid.")
    refused: list[dict[str, str]] = []
    for index, entry in enumerate(results):
        try:
            report = business_report(entry, token_message)
        except Malformed as error:  # named in the answer; the good reports beside it are applied
            refused.append({"key": f"results[{index}].{error.field}".rstrip("."), "message": error.message})
            continue
        if report is not None and not await callbacks.report(account_id, report):
            refused.append({"key": f"results[{index}].messageId", "message": "names no message of this account"})
    return Response({"accepted": len(results) - len(refused), "refused": refused})


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
    """The message as one of channels.inbound's contents."""
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise Malformed("message.type", "is required: the message type (text, picture, video, file, ...)")
    if kind == "text":
        text = message.get("text")
        if not isinstance(text, str):
            raise Malformed("message.text", "is required: a string")
        return inbound.content(inbound.Text(text=text))
    if kind in MEDIA:
        media = {"url": _string(message, "media", "media")}
        fields = {"text": "caption", "thumbnail": "thumbnail", "file_name": "file_name", "size": "size"}
        fields |= {"duration": "duration"} if kind == "video" else {}
        return inbound.content(MEDIA[kind](**_optional(message, fields, media)))
    if kind == "location":
        location = message.get("location")
        if not isinstance(location, dict):
            raise Malformed("message.location", "is required: an object with lat and lon")
        latitude, longitude = (_coordinate(location, key, limit) for key, limit in (("lat", 90), ("lon", 180)))
        return inbound.content(inbound.Location(latitude=latitude, longitude=longitude))
    if kind == "contact":
        contact = message.get("contact")
        if not isinstance(contact, dict):
            raise Malformed("message.contact", "is required: an object with name and phone_number")
        card = _optional(contact, {"name": "name", "avatar": "avatar"}, {})
        if isinstance(phone := contact.get("phone_number"), str) and phone.strip():
            card["phones"] = [inbound.ContactPhone(phone_number=phone.strip())]
        return inbound.content(inbound.Contacts(contacts=[inbound.Contact(**card)]))
    if kind == "url":
        return inbound.content(inbound.Url(url=_string(message, "media", "media")))
    if kind == "sticker":
        sticker_id = message.get("sticker_id")
        if not _number(sticker_id) and not (isinstance(sticker_id, str) and sticker_id):
            raise Malformed("message.sticker_id", "is required: the sticker's id")
        sticker = _optional(message, {"media": "url"}, {"sticker_id": str(sticker_id)})
        return inbound.content(inbound.Sticker(**sticker))
    return inbound.content(inbound.Unsupported(kind=kind))


# Viber's media message types and the content each becomes.
MEDIA: dict[str, type[inbound.Image | inbound.Video | inbound.Document]] = {
    "picture": inbound.Image,
    "video": inbound.Video,
    "file": inbound.Document,
}


def _coordinate(location: dict[str, Any], key: str, limit: int) -> float:
    """A latitude or longitude: a number, or a numeric string as viber-bot-python sends them
    (its ``Location`` model types lat and lon as strings)."""
    value = location.get(key)
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if not _number(value) or not -limit <= value <= limit:
        raise Malformed(f"message.location.{key}", f"is required: a number from -{limit} to {limit}")
    return float(value)
