"""Telegram's webhook: Updates POSTed to ``/callbacks/telegram/{account_id}`` (the URL given to setWebhook).

Authenticity: an account with a ``webhookSecret`` takes only Updates carrying it in the
``X-Telegram-Bot-Api-Secret-Token`` header (setWebhook's ``secret_token``); an account without one takes
Updates whose URL carries the account's token (``?token=``, the ``callbackUrl`` the gateway shows for the
account, which a customer may give setWebhook themselves, as seed 002 tells them to). Anything else is
refused with 401 and changes nothing. Telegram has no delivery or read receipts, so Updates are only what
users send, as ``channels.inbound`` contents:

- ``message``: text, photo (its largest size) -> image, document, video, video_note -> video, voice, audio,
  sticker, contact -> contacts, location, venue -> location with its name and address; a poll, dice, game...
  -> unsupported naming its kind; service messages (members joining, pins...) store nothing. A reply
  (``reply_to_message``) relates to the message replied to.
- ``edited_message`` -> an edit of the earlier message, with what it says now.
- ``callback_query`` (an inline button pressed) -> a postback relating to the message with the button,
  answered in the webhook response with answerCallbackQuery so the user's client stops waiting.
- ``poll_answer`` -> the user's answer to a poll (the user is the sender: their private chat).

The sender is the chat id as a string, and their name is the user's (``from``) first and last name, or
username. Provider ids: a message is ``<chat id>:<message_id>``, the form the adapter records for a sent
message (Telegram numbers messages per chat, both ways), so a reply, an edit or a pressed button names the
earlier message, inbound or sent, by the id the gateway has for it. An Update that isn't a new message (an
edit, a button, a poll answer) is ``update:<update_id>``. Telegram redelivers an Update it got no 2xx for
with the same update_id and message: either way the gateway stores it once.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, post
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath

from channels import inbound
from channels.base import CallbacksDependency, InboundMessage, json_object
from channels.kit import Malformed, same_signature
from channels.openapi import INTEGER, OBJECT, documented, header, object_schema, problem, query

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# User content the gateway stores as {"type": "unsupported", "kind": ...} rather than dropping silently.
UNSUPPORTED = ("animation", "poll", "dice", "game", "story", "invoice", "paid_media", "giveaway")
# Media fields of a message (https://core.telegram.org/bots/api#message) -> the vocabulary's content.
MEDIA: dict[str, type[inbound._Media]] = {
    "photo": inbound.Image,
    "document": inbound.Document,
    "video": inbound.Video,
    "video_note": inbound.Video,
    "voice": inbound.Voice,
    "audio": inbound.Audio,
    "sticker": inbound.Sticker,
}


def inbound_of(update: Any) -> InboundMessage | None:
    """The user's message in an Update; None for an Update that stores nothing (service messages,
    update types the webhook wasn't registered for). Raises :class:`Malformed`. Unknown fields are
    ignored: the Bot API adds fields in every version."""
    if not isinstance(update, dict):
        raise Malformed("body", "must be a JSON object (a Telegram Update)")
    update_key = f"update:{_integer(update.get('update_id'), 'update_id')}"
    if "message" in update:
        message = _object(update["message"], "message")
        content = _content(message, "message")
        if content is None:
            return None
        chat = _chat_id(message, "message")
        return _inbound(chat, message, content, f"{chat}:{_message_id(message, 'message')}")
    if "edited_message" in update:
        message = _object(update["edited_message"], "edited_message")
        content = _content(message, "edited_message")
        if content is None:
            return None
        chat = _chat_id(message, "edited_message")
        edited = inbound.RelatesTo(f"{chat}:{_message_id(message, 'edited_message')}")
        return _inbound(chat, message, inbound.Edit(content=inbound.content(content), relates_to=edited), update_key)
    if "callback_query" in update:
        return _postback(_object(update["callback_query"], "callback_query"), update_key)
    if "poll_answer" in update:
        return _poll_answer(_object(update["poll_answer"], "poll_answer"), update_key)
    return None


def webhook_answer(update: dict[str, Any]) -> dict[str, Any]:
    """The webhook response: a Bot API call Telegram makes on our behalf (answerCallbackQuery for a
    pressed button), or an empty object."""
    query = update.get("callback_query")
    if isinstance(query, dict) and isinstance(query.get("id"), str):
        return {"method": "answerCallbackQuery", "callback_query_id": query["id"]}
    return {}


def _inbound(sender: str, message: dict[str, Any], content: Any, provider_id: str) -> InboundMessage:
    """The user's message (or tapped button: ``message`` is then the callback query) with its sender's name."""
    return InboundMessage(
        sender=sender,
        content=inbound.content(content),
        provider_message_id=provider_id,
        sender_name=_name(message.get("from")),
    )


def _postback(query: dict[str, Any], update_key: str) -> InboundMessage:
    query_id = query.get("id")
    if not isinstance(query_id, str) or not query_id:
        raise Malformed("callback_query.id", "is required: a string")
    message = query.get("message")
    relates_to = None
    if isinstance(message, dict):  # the message with the button (the bot's)
        sender = _chat_id(message, "callback_query.message")
        relates_to = inbound.RelatesTo(f"{sender}:{_message_id(message, 'callback_query.message')}")
    else:  # a button under an inline-mode message: the user's private chat id is the user id
        user = _object(query.get("from"), "callback_query.from")
        sender = str(_integer(user.get("id"), "callback_query.from.id"))
    data = query.get("data")  # absent for a game's button (game_short_name)
    content = inbound.Postback(
        data=data if isinstance(data, str) else "",
        source="callback_query",
        callback_query_id=query_id,
        relates_to=relates_to,
    )
    return _inbound(sender, query, content, update_key)  # the query's ``from`` is the user who tapped


def _poll_answer(answer: dict[str, Any], update_key: str) -> InboundMessage:
    """https://core.telegram.org/bots/api#pollanswer: ``user`` (or ``voter_chat`` for an anonymous
    chat's vote), ``poll_id`` and ``option_ids`` (empty when the vote was retracted)."""
    poll_id = answer.get("poll_id")
    if not isinstance(poll_id, str) or not poll_id:
        raise Malformed("poll_answer.poll_id", "is required: a string")
    options = answer.get("option_ids")
    if not isinstance(options, list) or not all(isinstance(o, int) and not isinstance(o, bool) for o in options):
        raise Malformed("poll_answer.option_ids", "is required: an array of integers")
    voter = answer.get("user") if "user" in answer else answer.get("voter_chat")
    voter = _object(voter, "poll_answer.user")
    return InboundMessage(
        sender=str(_integer(voter.get("id"), "poll_answer.user.id")),
        content=inbound.content(inbound.PollAnswer(poll_id=poll_id, option_ids=options)),
        provider_message_id=update_key,
        sender_name=_name(voter),
    )


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(field, "must be an object")
    return value


def _chat_id(message: dict[str, Any], field: str) -> str:
    chat = _object(message.get("chat"), f"{field}.chat")
    return str(_integer(chat.get("id"), f"{field}.chat.id"))


def _message_id(message: dict[str, Any], field: str) -> int:
    return _integer(message.get("message_id"), f"{field}.message_id")


def _integer(value: Any, field: str) -> int:
    """A Telegram id: an integer of 64 bits at most (Telegram's have at most 52 significant bits)."""
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**63) <= value < 2**63:
        raise Malformed(field, "is required: an integer of at most 64 bits")
    return value


def _name(user: Any) -> str | None:
    """A User's (or Chat's) name as Telegram shows it: first and last name, else the username."""
    if not isinstance(user, dict):
        return None
    parts = [user.get(key) for key in ("first_name", "last_name")]
    name = " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())
    return (
        name or _string(user.get("username")) or _string(user.get("title"))
    )  # a chat's title: an anonymous group's vote


def _text(message: dict[str, Any], key: str, field: str) -> str | None:
    value = message.get(key)
    if value is not None and not isinstance(value, str):
        raise Malformed(f"{field}.{key}", "must be a string")
    return value


def _content(message: dict[str, Any], field: str) -> Any:
    """The message's content as a ``channels.inbound`` Struct; None for a service message."""
    content: Any
    caption = _text(message, "caption", field)
    if (text := _text(message, "text", field)) is not None:
        content = inbound.Text(text=text)
    elif "location" in message:  # a venue's message carries its location too
        location = _object(message["location"], f"{field}.location")
        for key in ("latitude", "longitude"):
            value = location.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise Malformed(f"{field}.location.{key}", "is required: a number")
        venue = message.get("venue") if isinstance(message.get("venue"), dict) else {}
        content = inbound.Location(
            latitude=location["latitude"],
            longitude=location["longitude"],
            name=_string(venue.get("title")),
            address=_string(venue.get("address")),
        )
    elif "contact" in message:
        content = inbound.Contacts(contacts=[_contact(_object(message["contact"], f"{field}.contact"), field)])
    elif kind := next((k for k in MEDIA if k in message), None):
        content = _media(kind, message[kind], f"{field}.{kind}", caption)
    elif kind := next((k for k in UNSUPPORTED if k in message), None):
        content = inbound.Unsupported(kind=kind)
    else:
        return None  # a service message: nothing the user wrote
    if isinstance(reply := message.get("reply_to_message"), dict):
        chat = _chat_id(reply, f"{field}.reply_to_message") if "chat" in reply else _chat_id(message, field)
        content.relates_to = inbound.RelatesTo(f"{chat}:{_message_id(reply, f'{field}.reply_to_message')}")
    return content


def _contact(contact: dict[str, Any], field: str) -> inbound.Contact:
    """https://core.telegram.org/bots/api#contact: phone_number, first_name, last_name?, user_id?, vcard?"""
    phone = contact.get("phone_number")
    if not isinstance(phone, str) or not phone:
        raise Malformed(f"{field}.contact.phone_number", "is required: a string")
    user_id = contact.get("user_id")
    first, last = _string(contact.get("first_name")), _string(contact.get("last_name"))
    return inbound.Contact(
        name=" ".join(part for part in (first, last) if part) or None,
        first_name=first,
        last_name=last,
        phones=[
            inbound.ContactPhone(
                phone_number=phone, user_id=str(user_id) if isinstance(user_id, int) and user_id else None
            )
        ],
    )


def _media(kind: str, value: Any, field: str, caption: str | None) -> inbound._Media:
    """A file Telegram describes (https://core.telegram.org/bots/api#available-types): its file_id, to be
    fetched with getFile, and what the Bot API says of it."""
    if kind == "photo":
        # An array of PhotoSize, smallest first: the largest is the photo.
        if not isinstance(value, list) or not value or not all(isinstance(size, dict) for size in value):
            raise Malformed(field, "must be a non-empty array of PhotoSize objects")
        value, field = value[-1], f"{field}[{len(value) - 1}]"
    file = _object(value, field)
    if not isinstance(file.get("file_id"), str) or not file["file_id"]:
        raise Malformed(f"{field}.file_id", "is required: a string")
    fields: dict[str, Any] = {
        "file_id": file["file_id"],
        "file_unique_id": _string(file.get("file_unique_id")),
        "file_name": _string(file.get("file_name")),
        "mime_type": _string(file.get("mime_type")),
        "size": _number(file.get("file_size"), int),
        "duration": _number(file.get("duration"), (int, float)),
        "width": _number(file.get("width") or file.get("length"), int),  # a video note is a square of ``length``
        "height": _number(file.get("height") or file.get("length"), int),
        "caption": caption,
    }
    thumbnail = file.get("thumbnail") or file.get("thumb")  # ``thumb`` before Bot API 6.6
    if isinstance(thumbnail, dict):
        fields["thumbnail"] = _string(thumbnail.get("file_id"))
    if kind == "sticker":
        animated = file.get("is_animated") is True or file.get("is_video") is True
        return inbound.Sticker(**fields, emoji=_string(file.get("emoji")), animated=animated)
    return MEDIA[kind](**fields)


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: Any, kinds: type | tuple[type, ...]) -> Any:
    return value if isinstance(value, kinds) and not isinstance(value, bool) else None


UPDATE = object_schema(
    "A Telegram Update (Bot API): a message, an edited message, a pressed inline button or a poll answer",
    {
        "update_id": INTEGER,
        "message": OBJECT,
        "edited_message": OBJECT,
        "callback_query": OBJECT,
        "poll_answer": OBJECT,
    },
    ("update_id",),
)


@post(
    "/",
    status_code=200,
    tags=["callbacks"],
    summary="Telegram webhook (setWebhook's URL): an Update",
    operation_class=documented(
        header(SECRET_HEADER, "setWebhook's secret_token: required when the account has a webhookSecret"),
        query("token", "The account's URL token (its callbackUrl): required when it has no webhookSecret"),
        body=UPDATE,
    ),
    responses={
        401: problem(
            f"`unauthorized`: {SECRET_HEADER} is not the account's webhookSecret, or (an account without one) "
            "the URL's token is not the account's"
        )
    },
)
async def telegram_update(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[dict[str, Any]]:
    account = await callbacks.account(account_id, "telegram")
    secret = account.credentials.get("webhookSecret") if account is not None else None
    if secret:  # set: Telegram sends it with every Update, and nothing else will do
        authentic = same_signature(secret, request.headers.get(SECRET_HEADER))
    else:  # the account's callbackUrl, which a customer may give setWebhook without a secret
        token = request.query_params.get("token")
        authentic = account is not None and await callbacks.account_of_token(token) == account_id
    if not authentic:
        raise NotAuthorizedException(f"The {SECRET_HEADER} header or the URL's token is missing or wrong.")
    update = json_object(await request.body())
    try:
        message = inbound_of(update)
    except Malformed as error:
        raise error.problem("The body is not a valid Telegram Update.") from None
    if message is not None and not await callbacks.receive(account_id, message):
        raise NotFoundException("No such traffic account.")
    return Response(webhook_answer(update))  # type: ignore[arg-type]  (inbound_of refused anything else)
