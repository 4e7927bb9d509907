"""Telegram's webhook: Updates POSTed to ``/callbacks/telegram/{account_id}`` (the URL given to setWebhook).

Authenticity: setWebhook's ``secret_token`` (the account's ``webhookSecret`` credential) comes back in
the ``X-Telegram-Bot-Api-Secret-Token`` header of every Update; anything else is refused with 401 and
changes nothing. Telegram has no delivery or read receipts, so Updates are only user messages:

- ``message`` and ``edited_message`` -> an inbound message whose content is one of
  ``{"type": "text", "text"}``, ``{"type": "photo"|"document"|"video"|"voice", "fileId", "fileUniqueId",
  "caption"?, ...}``, ``{"type": "location", "latitude", "longitude"}``, or
  ``{"type": "unsupported", "kind": "sticker"}`` for content the gateway doesn't model; an edit carries
  ``"edited": true``. Every content names Telegram's ``telegramMessageId`` so an edit can be matched
  to the message it edits. Service messages (members joining, pins...) store nothing.
- ``callback_query`` (an inline button pressed) -> ``{"type": "postback", "data", "callbackQueryId"}``,
  answered in the webhook response with answerCallbackQuery so the user's client stops waiting.

The sender is the chat id as a string. The provider id is ``update:<update_id>``: Telegram redelivers
an Update it got no 2xx for with the same update_id, and the gateway stores it once.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, post
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath

from channels.base import CallbacksDependency, InboundMessage, json_object
from channels.kit import Malformed, same_signature
from channels.openapi import INTEGER, OBJECT, documented, header, object_schema, problem

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MESSAGE_UPDATES = ("message", "edited_message")
# Message fields the gateway models, in the order they are looked for ("venue" messages carry a location too).
MEDIA = ("photo", "document", "video", "voice")
# User content the gateway stores as {"type": "unsupported", "kind": ...} rather than dropping silently.
UNSUPPORTED = ("sticker", "audio", "animation", "video_note", "contact", "poll", "dice", "game", "story", "invoice")


def inbound_of(update: Any) -> InboundMessage | None:
    """The user's message in an Update; None for an Update that stores nothing (service messages,
    update types the webhook wasn't registered for). Raises :class:`Malformed`. Unknown fields are
    ignored: the Bot API adds fields in every version."""
    if not isinstance(update, dict):
        raise Malformed("body", "must be a JSON object (a Telegram Update)")
    provider_id = f"update:{_integer(update.get('update_id'), 'update_id')}"
    for key in MESSAGE_UPDATES:
        if key in update:
            message = _object(update[key], key)
            content = _content(message, key)
            if content is None:
                return None
            if key == "edited_message":
                content["edited"] = True
            return InboundMessage(sender=_chat_id(message, key), content=content, provider_message_id=provider_id)
    if "callback_query" in update:
        query = _object(update["callback_query"], "callback_query")
        query_id = query.get("id")
        if not isinstance(query_id, str) or not query_id:
            raise Malformed("callback_query.id", "is required: a string")
        if isinstance(query.get("message"), dict):
            sender = _chat_id(query["message"], "callback_query.message")
        else:  # a button under an inline-mode message: the user's private chat id is the user id
            user = _object(query.get("from"), "callback_query.from")
            sender = str(_integer(user.get("id"), "callback_query.from.id"))
        data = query.get("data")
        content: dict[str, Any] = {
            "type": "postback",
            "data": data if isinstance(data, str) else None,
            "callbackQueryId": query_id,
        }
        if isinstance(query.get("message"), dict) and isinstance(query["message"].get("message_id"), int):
            content["telegramMessageId"] = query["message"]["message_id"]
        return InboundMessage(sender=sender, content=content, provider_message_id=provider_id)
    return None


def webhook_answer(update: dict[str, Any]) -> dict[str, Any]:
    """The webhook response: a Bot API call Telegram makes on our behalf (answerCallbackQuery for a
    pressed button), or an empty object."""
    query = update.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("id"), str):
        return {"method": "answerCallbackQuery", "callback_query_id": query["id"]}
    return {}


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(field, "must be an object")
    return value


def _chat_id(message: dict[str, Any], field: str) -> str:
    chat = _object(message.get("chat"), f"{field}.chat")
    return str(_integer(chat.get("id"), f"{field}.chat.id"))


def _integer(value: Any, field: str) -> int:
    """A Telegram id: an integer of 64 bits at most (Telegram's have at most 52 significant bits)."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise Malformed(field, "is required: an integer of at most 64 bits")
    return value


def _content(message: dict[str, Any], field: str) -> dict[str, Any] | None:
    content: dict[str, Any]
    if "text" in message and not isinstance(message["text"], str):
        raise Malformed(f"{field}.text", "must be a string")
    if "text" in message:
        content = {"type": "text", "text": message["text"]}
    elif "location" in message:
        location = _object(message["location"], f"{field}.location")
        for key in ("latitude", "longitude"):
            value = location.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Malformed(f"{field}.location.{key}", "is required: a number")
        content = {"type": "location", "latitude": location["latitude"], "longitude": location["longitude"]}
        if isinstance(venue := message.get("venue"), dict):
            content |= {k: venue[k] for k in ("title", "address") if isinstance(venue.get(k), str)}
    elif kind := next((k for k in MEDIA if k in message), None):
        content = _media(kind, message[kind], f"{field}.{kind}")
        if isinstance(message.get("caption"), str):
            content["caption"] = message["caption"]
    elif kind := next((k for k in UNSUPPORTED if k in message), None):
        content = {"type": "unsupported", "kind": kind}
    else:
        return None  # a service message: nothing the user wrote
    if isinstance(message.get("message_id"), int) and not isinstance(message["message_id"], bool):
        content["telegramMessageId"] = message["message_id"]
    return content


def _media(kind: str, value: Any, field: str) -> dict[str, Any]:
    if kind == "photo":
        # An array of PhotoSize, smallest first: the largest is the photo.
        if not isinstance(value, list) or not value or not all(isinstance(size, dict) for size in value):
            raise Malformed(field, "must be a non-empty array of PhotoSize objects")
        value, field = value[-1], f"{field}[{len(value) - 1}]"
    file = _object(value, field)
    if not isinstance(file.get("file_id"), str) or not file["file_id"]:
        raise Malformed(f"{field}.file_id", "is required: a string")
    content: dict[str, Any] = {"type": kind, "fileId": file["file_id"]}
    for source, target in (
        ("file_unique_id", "fileUniqueId"),
        ("file_name", "fileName"),
        ("mime_type", "mimeType"),
        ("file_size", "fileSize"),
        ("width", "width"),
        ("height", "height"),
        ("duration", "duration"),
    ):
        if isinstance(file.get(source), (str, int)) and not isinstance(file.get(source), bool):
            content[target] = file[source]
    return content


UPDATE = object_schema(
    "A Telegram Update (Bot API): a message, an edited message or a pressed inline button",
    {"update_id": INTEGER, "message": OBJECT, "edited_message": OBJECT, "callback_query": OBJECT},
    ("update_id",),
)


@post(
    "/",
    status_code=200,
    tags=["callbacks"],
    summary="Telegram webhook (setWebhook's URL): an Update",
    operation_class=documented(
        header(SECRET_HEADER, "setWebhook's secret_token: the account's webhookSecret", required=True), body=UPDATE
    ),
    responses={401: problem(f"`unauthorized`: {SECRET_HEADER} is missing or not the account's webhookSecret")},
)
async def telegram_update(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[dict[str, Any]]:
    account = await callbacks.account(account_id, "telegram")
    given = request.headers.get(SECRET_HEADER)
    if account is None or not same_signature(account.credentials.get("webhookSecret"), given):
        raise NotAuthorizedException(f"The {SECRET_HEADER} header is missing or wrong.")
    update = json_object(await request.body())
    try:
        inbound = inbound_of(update)
    except Malformed as error:
        raise error.problem("The body is not a valid Telegram Update.") from None
    if inbound is not None and not await callbacks.receive(account_id, inbound):
        raise NotFoundException("No such traffic account.")
    return Response(webhook_answer(update))
