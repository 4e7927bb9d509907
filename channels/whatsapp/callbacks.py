"""The WhatsApp Cloud API's webhooks, at ``/callbacks/whatsapp/{account_id}`` (the traffic account's
``callbackUrl``, configured with its ``verifyToken`` in the Meta app dashboard: Meta has no API for it).

Verification handshake: ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...``. When the
token equals the account's ``verifyToken`` the challenge is answered as ``text/plain`` with 200; anything
else is a 403.

Notifications: ``POST`` with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body keyed with
the app secret>``, checked in constant time against the account's ``appSecret``; a missing or wrong
signature (or an unknown account) is a 401 and changes nothing. The body is
``{"object": "whatsapp_business_account", "entry": [{"id", "changes": [{"field": "messages", "value":
{"metadata": {"phone_number_id", ...}, "contacts"?, "statuses"?, "messages"?, "errors"?}}]}]}``; Meta
batches several entries, changes, statuses and messages in one POST, and delivers the whole POST again
until it is answered 200 (for days). So a signed POST is answered 200 whenever it is a WhatsApp
notification at all, and every entry, change, status and message in it is handled on its own: the good
ones are applied, a malformed one is logged and named in the answer's ``skipped`` (never a 400 that
would make Meta redeliver the good ones beside it forever). Only a body that is no notification (not a
JSON object, another ``object``, no ``entry`` list) is a 400 naming the field.

Routing: a change is for the business phone number of ``metadata.phone_number_id``. A change for another
number than the account's (its ``phoneNumberId``; a sandbox account without one: the id the adapter sends
from, ``channels.whatsapp.adapter.phone_number_id``) is ignored and logged (an app subscribed for several
numbers posts them all to every callback URL), never stored on this account. Changes of other fields
(template status updates and such) are acknowledged and ignored.

- ``statuses[]``: ``sent`` -> Sent, ``delivered`` -> Delivered, ``read`` -> Read, ``failed`` -> Failed
  with ``whatsapp.<code>`` and Meta's title/message and details from ``errors[0]`` (131047 says that a
  template message is needed); matched by ``id`` (the wamid the send answered). Other statuses (Meta
  adds some, e.g. ``played``) change nothing. A status naming no message of the account (sent by another
  system on the same number, or a report that overtakes the recording of the send answer) is handed on
  all the same: the gateway keeps it until the send answer records the wamid.
- ``messages[]``: the user's message from ``from``, stored once per ``id`` (a redelivered wamid is
  harmless), with the user's profile name (``contacts[].profile.name`` of the same ``wa_id``) as the
  sender's name. Its content is one of ``channels.inbound``'s, by ``type``: text; image, video, audio
  (``voice: true``: a voice note), document, sticker with their media id; location; contacts; interactive
  ``button_reply`` / ``list_reply`` -> postback (``source`` names which), ``nfm_reply`` (a Flow) -> form
  with its parsed ``response_json``; ``button`` (a template's quick reply) -> postback; reaction; order;
  system (e.g. ``user_changed_number`` with the new ``wa_id``); ``edit`` and ``revoke`` of an earlier
  message (``{"original_message_id", "message"?}``, as Meta's edit and revoke webhook references and
  pywa's fixtures ``edited_message`` / ``deleted_message`` show) -> edit / revoke; anything else ->
  unsupported with its ``kind``. A message Meta
  flags with ``errors`` (its own, or the change's when the message lacks its content, as in pywa's
  ``interactive_message_with_err``) -> unsupported carrying Meta's error. ``context.id`` (the message
  replied to), a reaction's ``message_id`` and an edit's or revoke's ``original_message_id`` ->
  ``relatesTo``.

The answer: ``{"statuses": <applied>, "messages": <stored>, "ignored": <changes for another number>,
"skipped": [{"field", "message"}]}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import msgspec
from litestar import MediaType, Request, Response, get, post
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath

from channels import inbound
from channels.base import ID_MAX, CallbacksDependency, InboundMessage, StatusReport, json_object
from channels.kit import Malformed, same_signature
from channels.openapi import OBJECT as JSON_OBJECT
from channels.openapi import documented, header, object_schema, problem, query
from channels.whatsapp.adapter import phone_number_id
from channels.whatsapp.errors import as_code, describe, error_code

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
OBJECT = "whatsapp_business_account"
STATUSES = {"sent": "Sent", "delivered": "Delivered", "read": "Read", "failed": "Failed"}
MEDIA = {
    "image": inbound.Image,
    "video": inbound.Video,
    "audio": inbound.Audio,
    "document": inbound.Document,
    "sticker": inbound.Sticker,
}
# Cloud API media object key -> ours (https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/components)
MEDIA_FIELDS = {"id": "media_id", "mime_type": "mime_type", "sha256": "sha256", "caption": "caption", "url": "url"}
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


@dataclass
class Notification:
    """What a webhook body reports for one phone number: its statuses and messages in order, the changes
    for other numbers (ignored) and what couldn't be read (skipped, each a Malformed naming its field)."""

    found: list[StatusReport | InboundMessage] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # the phone number ids of changes not ours
    skipped: list[Malformed] = field(default_factory=list)


def parse_notification(body: bytes, our_number: str) -> Notification:
    """Everything a (verified) webhook body reports for the business phone number ``our_number``. Raises
    :class:`Malformed` only for a body that is no notification; any part of one is read on its own."""
    if (data := json_object(body)) is None:
        raise Malformed("body", "must be a JSON object (a WhatsApp webhook notification)")
    if data.get("object") != OBJECT:
        raise Malformed("object", f"must be {OBJECT}")
    entries = data.get("entry")
    if not isinstance(entries, list):
        raise Malformed("entry", "is required: a list of entries")
    notification = Notification()
    for i, entry in enumerate(entries):
        try:
            changes = _list(_object(entry, f"entry[{i}]"), "changes", f"entry[{i}]")
        except Malformed as error:
            notification.skipped.append(error)
            continue
        for j, change in enumerate(changes):
            path = f"entry[{i}].changes[{j}]"
            try:
                change = _object(change, path)
                if change.get("field") != "messages":
                    continue  # template status updates, account updates...: nothing for the callbacks
                _change(notification, _object(change.get("value"), f"{path}.value"), f"{path}.value", our_number)
            except Malformed as error:
                notification.skipped.append(error)
    return notification


def _change(notification: Notification, value: dict[str, Any], path: str, our_number: str) -> None:
    metadata = _object(value.get("metadata"), f"{path}.metadata")
    number = _string(metadata, "phone_number_id", f"{path}.metadata", "the business phone number id")
    if number != our_number:
        notification.ignored.append(number)
        return
    names = _profile_names(value.get("contacts"))
    change_error = _error(value.get("errors"))  # Meta's errors of the whole change (pywa: interactive_message_with_err)
    for key in ("statuses", "messages"):
        try:
            items = _list(value, key, path)
        except Malformed as error:
            notification.skipped.append(error)
            continue
        for k, item in enumerate(items):
            where = f"{path}.{key}[{k}]"
            try:
                item = _object(item, where)
                parsed = _status(item, where) if key == "statuses" else _message(item, where, names, change_error)
            except Malformed as error:
                notification.skipped.append(error)
                continue
            if parsed is not None:
                notification.found.append(parsed)


def _profile_names(contacts: Any) -> dict[str, str]:
    """wa_id -> the user's profile name, from a change's ``contacts``."""
    names: dict[str, str] = {}
    for contact in contacts if isinstance(contacts, list) else []:
        if not isinstance(contact, dict) or not isinstance(contact.get("profile"), dict):
            continue
        name = _text(contact["profile"].get("name"))
        if isinstance(contact.get("wa_id"), str) and name is not None:
            names[contact["wa_id"].strip()] = name.strip()
    return names


def _first_error(errors: Any) -> tuple[int | None, dict[str, Any], str | None] | None:
    """(code, the error object, its details) of the first of Meta's ``errors``; None when there is none."""
    error = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else None
    if error is None:
        return None
    error_data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    return as_code(error.get("code")), error, _text(error_data.get("details"))


def _error(errors: Any) -> inbound.ProviderError | None:
    """The first of Meta's ``errors`` as what the user message carries; None when there is none."""
    if (first := _first_error(errors)) is None:
        return None
    code, error, details = first
    return inbound.ProviderError(
        code=error_code(code) if code is not None else FAILED_CODE,
        title=_text(error.get("title")),
        message=_text(error.get("message")),
        details=details,
    )


def _status(status: dict[str, Any], path: str) -> StatusReport | None:
    wamid = _string(status, "id", path, "the wamid of the message")
    state = status.get("status")
    if not isinstance(state, str) or not state:
        raise Malformed(f"{path}.status", "is required: sent, delivered, read or failed")
    if state not in STATUSES:
        return None  # a status Meta added later: nothing to change
    if state != "failed":
        return StatusReport(status=STATUSES[state], provider_message_id=wamid)
    if (first := _first_error(status.get("errors"))) is None:
        return StatusReport(status="Failed", provider_message_id=wamid, error_code=FAILED_CODE, description="failed")
    code, error, details = first
    return StatusReport(
        status="Failed",
        provider_message_id=wamid,
        error_code=error_code(code) if code is not None else FAILED_CODE,
        description=describe(code, error.get("message"), details, error.get("title")),
    )


def _message(
    message: dict[str, Any], path: str, names: dict[str, str], change_error: inbound.ProviderError | None
) -> InboundMessage:
    wamid = _string(message, "id", path, "the wamid of the message")
    sender = _string(message, "from", path, "the user's phone number")
    kind = message.get("type")
    if not isinstance(kind, str) or not kind:
        raise Malformed(f"{path}.type", "is required: the message type (text, image, interactive, ...)")
    error = _error(message.get("errors"))
    if error is not None:  # Meta couldn't give us what the user sent
        content: inbound.InboundContent = inbound.Unsupported(kind=_unsupported_kind(message, kind), error=error)
    else:
        try:
            content = _content(message, kind, path)
        except Malformed:
            if change_error is None or isinstance(message.get(kind), dict):
                raise
            content = inbound.Unsupported(kind=kind, error=change_error)  # the change's errors say why it's missing
    context = message.get("context")
    if content.relates_to is None and isinstance(context, dict) and context.get("id") is not None:
        content.relates_to = _relates_to(context, "id", f"{path}.context")
    return InboundMessage(
        sender=sender, content=inbound.content(content), provider_message_id=wamid, sender_name=names.get(sender)
    )


def _unsupported_kind(message: dict[str, Any], kind: str) -> str:
    # Meta names the type it couldn't deliver in ``unsupported.type`` (an edit from an old app, say).
    unsupported = message.get("unsupported")
    inner = unsupported.get("type") if isinstance(unsupported, dict) else None
    return inner if kind == "unsupported" and isinstance(inner, str) and inner else kind


def _content(message: dict[str, Any], kind: str, path: str) -> inbound.InboundContent:
    """The content of a message object (``{"type", <type>: {...}}``). Raises :class:`Malformed`."""
    where = f"{path}.{kind}"
    if kind == "text":
        body = _object(message.get("text"), where).get("body")
        if not isinstance(body, str):
            raise Malformed(f"{where}.body", "is required: the text")
        return inbound.Text(text=body)
    if kind in MEDIA:
        return _media(kind, _object(message.get(kind), where), where)
    if kind == "location":
        location = _object(message.get("location"), where)
        for key in ("latitude", "longitude"):
            if not _number(location.get(key)):
                raise Malformed(f"{where}.{key}", "is required: a number")
        return inbound.Location(
            latitude=location["latitude"],
            longitude=location["longitude"],
            name=_text(location.get("name")),
            address=_text(location.get("address")),
            url=_text(location.get("url")),
        )
    if kind == "contacts":
        contacts = message.get("contacts")
        if not isinstance(contacts, list) or not contacts:
            raise Malformed(where, "is required: a list of contact cards")
        return inbound.Contacts(contacts=[_contact(_object(c, f"{where}[{i}]")) for i, c in enumerate(contacts)])
    if kind == "interactive":
        return _interactive(_object(message.get("interactive"), where), where)
    if kind == "button":
        button = _object(message.get("button"), where)
        payload, text = _text(button.get("payload")), _text(button.get("text"))
        if payload is None and text is None:
            raise Malformed(f"{where}.payload", "is required: the quick reply's payload")
        return inbound.Postback(data=payload or text or "", title=text, source="button")
    if kind == "reaction":
        reaction = _object(message.get("reaction"), where)
        emoji = reaction.get("emoji")
        return inbound.Reaction(
            emoji=emoji if isinstance(emoji, str) else "", relates_to=_relates_to(reaction, "message_id", where)
        )
    if kind == "order":
        return _order(_object(message.get("order"), where), where)
    if kind == "system":
        system = _object(message.get("system"), where)
        return inbound.System(
            text=_text(system.get("body")),
            kind=_text(system.get("type")),
            # Meta's reference names the new number new_wa_id; pywa's fixture (a later payload) wa_id.
            new_address=_text(system.get("new_wa_id")) or _text(system.get("wa_id")),
        )
    if kind == "edit":  # pywa's fixture edited_message: the new message in full
        edit = _object(message.get("edit"), where)
        new = _object(edit.get("message"), f"{where}.message")
        new_kind = new.get("type")
        if not isinstance(new_kind, str) or not new_kind or new_kind in ("edit", "revoke"):
            raise Malformed(f"{where}.message.type", "is required: the edited message's type (not edit or revoke)")
        return inbound.Edit(
            content=inbound.content(_content(new, new_kind, f"{where}.message")),
            relates_to=_relates_to(edit, "original_message_id", where),
        )
    if kind == "revoke":  # pywa's fixture deleted_message
        revoke = _object(message.get("revoke"), where)
        return inbound.Revoke(relates_to=_relates_to(revoke, "original_message_id", where))
    return inbound.Unsupported(kind=_unsupported_kind(message, kind))


def _media(kind: str, media: dict[str, Any], where: str) -> inbound.InboundContent:
    _string(media, "id", where, "the media id")
    given = {ours: media[key] for key, ours in MEDIA_FIELDS.items() if _text(media.get(key)) is not None}
    if _text(media.get("filename")) is not None:
        given["file_name"] = media["filename"]
    if kind == "sticker" and isinstance(media.get("animated"), bool):
        given["animated"] = media["animated"]
    if kind == "audio" and media.get("voice") is True:  # recorded in the app, not a shared file
        return inbound.Voice(**given)
    return MEDIA[kind](**given)


def _contact(card: dict[str, Any]) -> inbound.Contact:
    """A contact card (Meta's ``contacts[]`` of a contacts message: name, phones, emails, org...)."""
    name = card.get("name") if isinstance(card.get("name"), dict) else {}
    org = card.get("org") if isinstance(card.get("org"), dict) else {}
    phones = [
        inbound.ContactPhone(
            phone_number=_text(phone.get("phone")) or phone["wa_id"],
            type=_text(phone.get("type")),
            user_id=_text(phone.get("wa_id")),
        )
        for phone in _items(card.get("phones"))
        if isinstance(phone, dict) and (_text(phone.get("phone")) or _text(phone.get("wa_id")))
    ]
    emails = [
        email["email"] for email in _items(card.get("emails")) if isinstance(email, dict) and _text(email.get("email"))
    ]
    return inbound.Contact(
        name=_text(name.get("formatted_name")),
        first_name=_text(name.get("first_name")),
        last_name=_text(name.get("last_name")),
        phones=phones,
        emails=emails,
        organization=_text(org.get("company")),
    )


def _interactive(interactive: dict[str, Any], where: str) -> inbound.InboundContent:
    reply_type = interactive.get("type")
    if reply_type in ("button_reply", "list_reply"):
        reply = _object(interactive.get(reply_type), f"{where}.{reply_type}")
        return inbound.Postback(
            data=_string(reply, "id", f"{where}.{reply_type}", "its id"),
            title=_text(reply.get("title")),
            description=_text(reply.get("description")),
            source=reply_type,
        )
    if reply_type == "nfm_reply":  # a WhatsApp Flow completed (pywa's fixture flow_completion)
        reply = _object(interactive.get("nfm_reply"), f"{where}.nfm_reply")
        try:
            response = json.loads(reply.get("response_json"))
        except (TypeError, ValueError):
            response = None
        if not isinstance(response, dict):
            raise Malformed(f"{where}.nfm_reply.response_json", "is required: a JSON object in a string")
        return inbound.Form(response=response, name=_text(reply.get("name")), body=_text(reply.get("body")))
    return inbound.Unsupported(kind=f"interactive.{reply_type}" if isinstance(reply_type, str) else "interactive")


def _order(order: dict[str, Any], where: str) -> inbound.Order:
    items = []
    for i, item in enumerate(_items(order.get("product_items"))):
        item = _object(item, f"{where}.product_items[{i}]")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise Malformed(f"{where}.product_items[{i}].quantity", "is required: an integer")
        price = item.get("item_price")
        items.append(
            inbound.OrderItem(
                product_id=_string(item, "product_retailer_id", f"{where}.product_items[{i}]", "the product's id"),
                quantity=quantity,
                price=price if _number(price) else None,
                currency=_text(item.get("currency")),
            )
        )
    return inbound.Order(catalog_id=_text(order.get("catalog_id")), items=items, text=_text(order.get("text")))


def _relates_to(obj: dict[str, Any], key: str, path: str) -> inbound.RelatesTo:
    return inbound.RelatesTo(provider_message_id=_string(obj, key, path, "the wamid of the earlier message"))


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


class WhatsAppSkipped(msgspec.Struct):
    """A part of a notification that couldn't be read: the JSON path at fault and what is wrong."""

    field: str
    message: str


class Applied(msgspec.Struct):
    """What a notification changed: statuses applied, messages stored, changes for another phone number
    ignored, and the parts skipped as malformed (logged too)."""

    statuses: int
    messages: int
    ignored: int = 0
    skipped: list[WhatsAppSkipped] = []


@post(
    "/",
    status_code=200,
    tags=["callbacks"],
    summary="WhatsApp webhook notification (statuses and user messages)",
    description="Every entry, change, status and message is handled on its own: a malformed one is skipped and "
    "named in `skipped`, a change for another phone number id than the account's is ignored, and the answer is "
    "200 (Meta redelivers a whole batch until it is). Only a body that is no WhatsApp notification is a 400.",
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
    if account is None or not signature_matches(
        account.credentials.get("appSecret"), body, request.headers.get(SIGNATURE_HEADER)
    ):
        raise NotAuthorizedException(f"The {SIGNATURE_HEADER} is missing or wrong for this traffic account.")
    try:
        notification = parse_notification(body, phone_number_id(account))
    except Malformed as error:
        raise error.problem("The WhatsApp webhook is not valid.") from None
    for number in notification.ignored:
        log.info("WhatsApp webhook of account %s: a change for phone number id %s ignored", account_id, number)
    for error in notification.skipped:
        log.warning("WhatsApp webhook of account %s: skipped %s", account_id, error)
    # A status on a wamid no message has yet is kept by the gateway until the send answer records it.
    statuses = messages = 0
    for item in notification.found:
        if isinstance(item, StatusReport):
            statuses += await callbacks.report(account_id, item)
        elif await callbacks.receive(account_id, item):
            messages += 1
    skipped = [WhatsAppSkipped(error.field, error.message) for error in notification.skipped]
    return Response(Applied(statuses, messages, len(notification.ignored), skipped))


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


def _list(obj: dict[str, Any], key: str, path: str) -> list[Any]:
    """``obj[key]``: a list, empty when missing."""
    items = obj.get(key, [])
    if not isinstance(items, list):
        raise Malformed(f"{path}.{key}", "must be a list")
    return items


def _items(value: Any) -> list[Any]:
    """An optional list of a message's object: anything else counts as none."""
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    """A non-empty string as given; None for anything else."""
    return value if isinstance(value, str) and value.strip() else None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
