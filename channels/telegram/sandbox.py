"""The Telegram sandbox provider: the Bot API on loopback, with deterministic behaviour chosen by the chat id.

A sandbox traffic account's base URL is ``{public_url}/sandbox/telegram``, so the real adapter calls
``POST /sandbox/telegram/bot{token}/{method}`` exactly as it calls ``https://api.telegram.org``. The
sandbox answers like the Bot API: ``{"ok": true, "result": Message}`` or ``{"ok": false, "error_code",
"description", "parameters"}``; parameters come as a JSON body, a form or the query string.

Methods: sendMessage, sendPhoto, sendDocument, sendVideo, sendVoice, sendLocation (checked like
Telegram checks them: chat_id, text 1-4096, caption at most 1024, parse_mode, file URLs), setWebhook,
deleteWebhook, getWebhookInfo, getMe; any other method is 404 Not Found.

Magic endings of the chat id (documented in the README). Telegram has no delivery or read receipts,
so an accepted send is the whole story: it is ``Delivered`` at once, never ``Read``, and there is no
"accepted but never delivered":

- ``...0001`` and any other chat id: accepted (the message is Delivered);
- ``...0403``: 403 ``Forbidden: bot was blocked by the user`` (the message Fails, telegram.403);
- ``...0400``: 400 ``Bad Request: chat not found`` (the message Fails, telegram.400);
- ``...0500``: 500 ``Internal Server Error`` (retried);
- ``...0429``: 429 ``Too Many Requests: retry after 1`` with ``parameters.retry_after`` 1 (retried after it);
- ``...0408``: answers after 30 s (a timeout; retried).

``POST /sandbox/telegram/inbound`` makes a simulated user write to the bot::

    {"trafficAccountId": "<sandbox telegram account>", "from": "1861312834", "text": "Hi"}

``from`` is the user's chat id. Instead of ``text``, one of: ``"media": "photo"|"document"|"video"|
"voice"|"audio"|"sticker"|"video_note"`` (with an optional ``caption``), ``"location": {"latitude": 46.1,
"longitude": 19.66}``, ``"venue": {"latitude", "longitude", "title", "address"}``, ``"contact":
{"phoneNumber", "firstName"}``, ``"callbackData": "yes"`` (an inline button pressed: a callback_query) or
``"pollAnswer": {"pollId", "optionIds"}`` (a poll_answer). ``"editOf": <telegramMessageId>`` with ``text``
makes it an edited_message; ``"replyTo": <telegramMessageId>`` a reply to that message.

(``"updateId": N`` delivers Update N again, as Telegram does when a webhook didn't answer 2xx). The
sandbox POSTs the Update to the webhook set with setWebhook for the account's bot token, with the
``X-Telegram-Bot-Api-Secret-Token`` header when setWebhook was given a secret_token; or else to the
account's callbackUrl, with the header when the account has a ``webhookSecret``; retrying a 5xx a few
times like Telegram, and answers the simulators' one shape (channels.sandbox_support.SimulatedMessage:
``messageId`` of the stored message, ``providerMessageId`` as the gateway stores it, ``gatewayStatus`` the
webhook's HTTP status, null when nothing was sent) with Telegram's ``telegramMessageId`` (for ``editOf`` and
``replyTo``), ``updateId`` (for ``updateId``) and ``callbackUrl`` (where the Update went). Updates go only to this gateway's own callback URLs, of the kinds
setWebhook's allowed_updates names, and only for sandbox traffic accounts.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import time
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, route
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath

from channels.base import CallbacksDependency, ProviderAnswer, SandboxFailures, UserReplyBody, is_http_url, json_object
from channels.openapi import INTEGER, OBJECT, described, object_schema
from channels.sandbox_support import (
    SimulatedMessage,
    post_callback,
    simulated,
    simulated_body,
    simulator,
)
from channels.telegram.adapter import SECRET_TOKEN, chat_id
from channels.telegram.callbacks import SECRET_HEADER
from channels.telegram.markup import visible_text

TIMEOUT_SECONDS = 30.0  # how long a ...0408 send hangs
_STATE_KEY = "telegram_sandbox_webhooks"  # app.state: bot token -> (url, secret_token, allowed_updates)
MAX_WEBHOOKS = 10_000  # webhooks (bot tokens) and updates' message ids remembered, oldest forgotten first
_MESSAGE_IDS_KEY = "telegram_sandbox_message_ids"  # app.state: update_id -> the message_id of its message
RETRIES = 4  # deliveries of one Update that got no answer or a 5xx
_message_ids = itertools.count(1)
# Sequential like Telegram's; starting from the clock so a restarted sandbox never repeats an update id
# (the gateway would take a repeat for a redelivery and drop it).
_update_ids = itertools.count(int(time.time() * 1000))

# What a simulated user may send (POST /sandbox/telegram/inbound): one of these keys.
INBOUND_KINDS = ("text", "media", "location", "venue", "contact", "callbackData", "pollAnswer")
INBOUND_MEDIA = ("photo", "document", "video", "voice", "audio", "sticker", "video_note")
SENDS = {
    "sendMessage": "text",
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendVoice": "voice",
    "sendLocation": "location",
}
# Telegram takes parse_mode in any case; the values are the block validator's spelling of each.
PARSE_MODES = {"markdown": "Markdown", "markdownv2": "MarkdownV2", "html": "Html"}
MAGIC = {
    "0403": (403, "Forbidden: bot was blocked by the user", None),
    "0400": (400, "Bad Request: chat not found", None),
    "0500": (500, "Internal Server Error", None),
    "0429": (429, "Too Many Requests: retry after 1", {"retry_after": 1}),
}
TIMEOUT_ENDING = "0408"


def _failure(code: int, description: str, parameters: dict[str, Any] | None = None, **headers: str) -> ProviderAnswer:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    return ProviderAnswer(code, body | ({"parameters": parameters} if parameters else {}), headers)


# The answers of ...0500, ...0429 and ...0403 (the message Fails, telegram.403).
FAILURES = SandboxFailures(
    sends=tuple(f"/{method}" for method in SENDS),
    transient=_failure(*MAGIC["0500"]),
    throttled=_failure(*MAGIC["0429"]),
    rejected=_failure(*MAGIC["0403"]),
)


def behaviour(chat: int | str) -> tuple[int, str, dict[str, Any] | None] | None:
    """The error the sandbox answers for this chat id, or None (accepted, or a timeout first)."""
    return MAGIC.get(str(chat)[-4:])


def _ok(result: Any, description: str | None = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return Response(body, status_code=200)


def _error(code: int, description: str, parameters: dict[str, Any] | None = None) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return Response(body, status_code=code)


def _bot_user(token: str) -> dict[str, Any]:
    prefix = token.split(":", 1)[0]
    bot_id = (
        int(prefix)
        if prefix.isdigit() and len(prefix) < 16
        else int(hashlib.sha256(token.encode()).hexdigest()[:10], 16)
    )
    return {"id": bot_id, "is_bot": True, "first_name": "Sandbox bot", "username": "sandbox_bot"}


def _chat(chat: int | str) -> dict[str, Any]:
    if isinstance(chat, str):
        return {
            "id": -1000000000000 - int(hashlib.sha256(chat.encode()).hexdigest()[:8], 16),
            "type": "channel",
            "username": chat[1:],
        }
    if chat < 0:
        return {"id": chat, "type": "supergroup" if str(chat).startswith("-100") else "group", "title": "Sandbox group"}
    return {"id": chat, "type": "private", "first_name": "Sandbox user"}


async def _parameters(request: Request) -> dict[str, Any] | None:
    """The method's parameters from the query string and a JSON or form body, as the Bot API takes them."""
    params: dict[str, Any] = dict(request.query_params)
    if request.method != "POST":
        return params
    content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        if (body := json_object(await request.body())) is None:
            return None
        params.update(body)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        params.update(dict(await request.form()))
    return params


@route("/{bot:str}/{method:str}", http_method=["GET", "POST"], status_code=200, include_in_schema=False)
async def bot_api(request: Request, bot: FromPath[str], method: FromPath[str]) -> Response[dict[str, Any]]:
    if not bot.startswith("bot") or len(bot) == 3:
        return _error(404, "Not Found")
    token = bot[3:]
    params = await _parameters(request)
    if params is None:
        return _error(400, "Bad Request: can't parse JSON object")
    if method in SENDS:
        return await _send(request, token, SENDS[method], params)
    webhooks: dict[str, Any] = request.app.state.setdefault(_STATE_KEY, {})
    if method == "getMe":
        return _ok(_bot_user(token))
    if method == "setWebhook":
        url = str(params.get("url") or "")
        if not url:
            webhooks.pop(token, None)
            return _ok(True, "Webhook was deleted")
        if not is_http_url(url):
            return _error(400, "Bad Request: bad webhook: Failed to resolve host: Name or service not known")
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(str(secret)):
            return _error(400, "Bad Request: secret token contains unallowed characters")
        allowed = params.get("allowed_updates") or []
        if isinstance(allowed, str):  # a JSON-serialized list in a query string or form
            try:
                allowed = json.loads(allowed)
            except ValueError:
                return _error(400, "Bad Request: can't parse allowed updates JSON object")
        if token not in webhooks and len(webhooks) >= MAX_WEBHOOKS:
            webhooks.pop(next(iter(webhooks)))  # the sandbox takes any token: keep its memory bounded
        webhooks[token] = (
            url,
            None if secret is None else str(secret),
            list(allowed) if isinstance(allowed, list) else [],
        )
        return _ok(True, "Webhook was set")
    if method == "deleteWebhook":
        existed = webhooks.pop(token, None) is not None
        return _ok(True, "Webhook was deleted" if existed else "Webhook is already deleted")
    if method == "getWebhookInfo":
        url, _, allowed = webhooks.get(token, ("", None, []))
        info: dict[str, Any] = {"url": url, "has_custom_certificate": False, "pending_update_count": 0}
        if allowed:
            info["allowed_updates"] = allowed
        return _ok(info)
    return _error(404, "Not Found")


async def _send(request: Request, token: str, kind: str, params: dict[str, Any]) -> Response[dict[str, Any]]:
    raw_chat = params.get("chat_id")
    if raw_chat in (None, ""):
        return _error(400, "Bad Request: chat_id is empty")
    chat = chat_id(str(raw_chat))
    if isinstance(chat, str) and not (chat.startswith("@") and len(chat) > 1):
        return _error(400, "Bad Request: chat not found")
    mode = params.get("parse_mode")
    if mode not in (None, "") and str(mode).lower() not in PARSE_MODES:
        return _error(400, "Bad Request: unsupported parse_mode")
    mode = PARSE_MODES.get(str(mode).lower(), "Default")
    message: dict[str, Any] = {
        "message_id": 0,
        "from": _bot_user(token),
        "chat": _chat(chat),
        "date": int(time.time()),
    }
    caption = params.get("caption")
    if kind == "text":
        text = params.get("text")
        if not isinstance(text, str):
            return _error(400, "Bad Request: message text is empty")
        text, problem = visible_text(text, mode)  # Telegram counts and returns the text after entity parsing
        if problem:
            return _error(400, f"Bad Request: can't parse entities: {problem}")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        message["text"] = text
    elif kind == "location":
        for key, bound in (("latitude", 90), ("longitude", 180)):
            try:
                value = float(params.get(key))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                return _error(400, f"Bad Request: wrong {key}")
            if not -bound <= value <= bound:
                return _error(400, f"Bad Request: wrong {key}")
        message["location"] = {"latitude": float(params["latitude"]), "longitude": float(params["longitude"])}
    else:
        url = params.get(kind)
        if not url:
            return _error(400, f"Bad Request: there is no {kind} in the request")
        if not isinstance(url, str) or not is_http_url(url):
            return _error(400, "Bad Request: wrong HTTP URL specified")
        message[kind] = _file(kind, url)
        if caption not in (None, ""):
            caption, problem = visible_text(str(caption), mode)
            if problem:
                return _error(400, f"Bad Request: can't parse entities: {problem}")
            if len(caption) > 1024:
                return _error(400, "Bad Request: message caption is too long")
            message["caption"] = caption
    if error := behaviour(chat):
        return _error(*error)
    if str(chat).endswith(TIMEOUT_ENDING):
        await asyncio.sleep(TIMEOUT_SECONDS)
    message["message_id"] = next(_message_ids)
    return _ok(message)


def _file(kind: str, url: str) -> Any:
    """A file object as Telegram describes an uploaded one (ids derived from the URL)."""
    digest = hashlib.sha256(url.encode()).hexdigest()
    file = {"file_id": f"SBX{kind[:2].upper()}{digest[:40]}", "file_unique_id": digest[:16], "file_size": 102400}
    if kind == "photo":
        return [
            {**file, "file_id": file["file_id"] + "s", "file_unique_id": digest[16:32], "width": 90, "height": 60},
            {**file, "width": 1280, "height": 853},
        ]
    if kind == "document":
        return {**file, "file_name": url.rsplit("/", 1)[-1] or "file", "mime_type": "application/pdf"}
    if kind == "video":
        return {**file, "width": 640, "height": 360, "duration": 12, "mime_type": "video/mp4"}
    if kind == "audio":
        return {**file, "duration": 215, "mime_type": "audio/mpeg", "file_name": "song.mp3", "title": "Song"}
    if kind == "sticker":
        return {
            **file,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
    if kind == "video_note":
        return {**file, "length": 240, "duration": 5}
    return {**file, "duration": 5, "mime_type": "audio/ogg"}  # voice


# --------------------------------------------------------------------------
# A simulated user writing to the bot
# --------------------------------------------------------------------------


def _bad(field: str, message: str) -> ValidationException:
    return ValidationException("The simulated Update is not valid.", extra=[{"key": field, "message": message}])


def update_of(body: dict[str, Any], update_id: int, message_id: int) -> dict[str, Any]:
    """The Telegram Update for a validated inbound request."""
    chat = int(body["from"])
    user = {"id": chat if chat > 0 else 100000001, "is_bot": False, "first_name": "Sandbox", "language_code": "en"}
    message: dict[str, Any] = {"message_id": message_id, "from": user, "chat": _chat(chat), "date": int(time.time())}
    if "pollAnswer" in body:
        answer = {"poll_id": body["pollAnswer"]["pollId"], "user": user, "option_ids": body["pollAnswer"]["optionIds"]}
        return {"update_id": update_id, "poll_answer": answer}
    if "callbackData" in body:
        message |= {"from": _bot_user("sandbox"), "text": "Choose:"}
        query = {
            "id": str(update_id * 1000 + 7),
            "from": user,
            "message": message,
            "chat_instance": str(abs(chat) * 31 + 7),
            "data": body["callbackData"],
        }
        return {"update_id": update_id, "callback_query": query}
    if "media" in body:
        message[body["media"]] = _file(body["media"], f"https://sandbox.invalid/{update_id}")
        if body.get("caption"):
            message["caption"] = body["caption"]
    elif "location" in body or "venue" in body:
        place = body.get("location") or body["venue"]
        message["location"] = {"latitude": place["latitude"], "longitude": place["longitude"]}
        if "venue" in body:
            message["venue"] = {"location": message["location"], "title": place["title"], "address": place["address"]}
    elif "contact" in body:
        contact = body["contact"]
        message["contact"] = {"phone_number": contact["phoneNumber"], "first_name": contact["firstName"]}
    else:
        message["text"] = body["text"]
    if "replyTo" in body:
        earlier = {"message_id": body["replyTo"], "from": _bot_user("sandbox"), "chat": message["chat"], "date": 1}
        message["reply_to_message"] = earlier | {"text": "..."}
    if "editOf" in body:
        message |= {"message_id": body["editOf"], "edit_date": message["date"]}
        return {"update_id": update_id, "edited_message": message}
    return {"update_id": update_id, "message": message}


def _check_inbound(body: dict[str, Any]) -> UUID:
    try:
        account_id = UUID(str(body.get("trafficAccountId")))
    except ValueError:
        raise _bad("trafficAccountId", "is required: the id of a sandbox telegram traffic account") from None
    sender = body.get("from")
    if isinstance(sender, bool) or not isinstance(sender, (int, str)) or not str(sender).lstrip("-").isdigit():
        raise _bad("from", "is required: the user's chat id, an integer such as 1861312834")
    if not 0 < abs(int(sender)) < 2**52:
        raise _bad("from", "must be a chat id below 2^52")
    contents = [key for key in INBOUND_KINDS if key in body]
    if len(contents) != 1:
        raise _bad("text", f"give exactly one of {', '.join(INBOUND_KINDS)}")
    kind = contents[0]
    if kind in ("text", "callbackData") and (not isinstance(body[kind], str) or not body[kind]):
        raise _bad(kind, "must be a non-empty string")
    if kind == "callbackData" and len(body[kind].encode()) > 64:
        raise _bad(kind, "must be at most 64 bytes (Telegram's limit on callback data)")
    if kind == "media" and body["media"] not in INBOUND_MEDIA:
        raise _bad("media", f"must be one of {', '.join(INBOUND_MEDIA)}")
    if "caption" in body and (
        kind != "media" or body["media"] in ("sticker", "video_note") or not isinstance(body["caption"], str)
    ):
        raise _bad("caption", "is a string, only with media that has one (not a sticker or video note)")
    if kind in ("location", "venue"):
        place = body[kind]
        for key, bound in (("latitude", 90), ("longitude", 180)):
            value = place.get(key) if isinstance(place, dict) else None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not -bound <= value <= bound:
                raise _bad(f"{kind}.{key}", f"must be a number from -{bound} to {bound}")
    for key in {"venue": ("title", "address"), "contact": ("phoneNumber", "firstName")}.get(kind, ()):
        if not isinstance(body[kind], dict) or not isinstance(body[kind].get(key), str) or not body[kind][key]:
            raise _bad(f"{kind}.{key}", "is required: a non-empty string")
    if kind == "pollAnswer":
        answer = body[kind] if isinstance(body[kind], dict) else {}
        if not isinstance(answer.get("pollId"), str) or not answer["pollId"]:
            raise _bad("pollAnswer.pollId", "is required: a non-empty string")
        options = answer.get("optionIds")
        if not isinstance(options, list) or not all(isinstance(o, int) and not isinstance(o, bool) for o in options):
            raise _bad("pollAnswer.optionIds", "is required: an array of integers (empty: the vote taken back)")
    if "replyTo" in body and (
        kind in ("callbackData", "pollAnswer")
        or isinstance(body["replyTo"], bool)
        or not isinstance(body["replyTo"], int)
        or body["replyTo"] < 1
    ):
        raise _bad("replyTo", "is the telegramMessageId of the message replied to, only with a message")
    if "editOf" in body and (
        kind != "text" or isinstance(body["editOf"], bool) or not isinstance(body["editOf"], int) or body["editOf"] < 1
    ):
        raise _bad("editOf", "is the telegramMessageId of the message edited, only with text")
    if "updateId" in body and (
        isinstance(body["updateId"], bool) or not isinstance(body["updateId"], int) or body["updateId"] < 1
    ):
        raise _bad("updateId", "is a positive integer: the update_id of an Update to deliver again")
    return account_id


class TelegramSimulatedMessage(SimulatedMessage):
    telegram_message_id: Annotated[
        int, msgspec.Meta(description="The Bot API message_id of the user's message: give it as editOf or replyTo")
    ]
    update_id: Annotated[
        int, msgspec.Meta(description="The Update's update_id: give it as updateId to deliver it again")
    ]
    callback_url: Annotated[
        str, msgspec.Meta(description="Where the Update was sent (setWebhook's URL, or callbackUrl)")
    ]


INBOUND_BODY = object_schema(
    "A user's Update to a sandbox telegram traffic account's bot: exactly one of text, media, location, venue, "
    "contact, callbackData, pollAnswer",
    {
        "trafficAccountId": described("A sandbox telegram traffic account of yours"),
        "from": described("The user's chat id, e.g. 1861312834 (a string or an integer)"),
        "text": described("The text"),
        "media": described("photo, document, video, voice, audio, sticker or video_note"),
        "caption": described("With media (not a sticker or video note)"),
        "location": described('{"latitude": 46.1, "longitude": 19.66}', OBJECT),
        "venue": described('{"latitude", "longitude", "title", "address"}', OBJECT),
        "contact": described('{"phoneNumber", "firstName"}', OBJECT),
        "callbackData": described("An inline button pressed (a callback_query), at most 64 bytes"),
        "pollAnswer": described(
            '{"pollId", "optionIds": [0]} (a poll_answer; optionIds empty: the vote retracted)', OBJECT
        ),
        "editOf": described("With text: an edit of the message with this telegramMessageId", INTEGER),
        "replyTo": described(
            "A reply to the message with this telegramMessageId (<chat id>:<id> of a sent one)", INTEGER
        ),
        "updateId": described("Deliver the Update with this updateId again", INTEGER),
    },
    ("trafficAccountId", "from"),
)


@simulator("A simulated user writes to a sandbox telegram traffic account's bot", INBOUND_BODY)
async def inbound(request: Request, callbacks: CallbacksDependency) -> TelegramSimulatedMessage:
    """Telegram's Update reaches the gateway's webhook. ``providerMessageId`` is ``<chat id>:<message id>``
    for a message, ``update:<update id>`` for an edit, a pressed button or a poll answer."""
    body = await simulated_body(request)
    account_id = _check_inbound(body)
    account = await callbacks.account(account_id, "telegram")
    if account is None or not account.sandbox:
        raise NotFoundException("No sandbox telegram traffic account with this id.")
    registered = request.app.state.setdefault(_STATE_KEY, {}).get(account.credentials.get("botToken", ""))
    if registered is not None:  # the webhook set with setWebhook, as Telegram would use it
        url, secret, allowed = registered
    else:  # as if the account's callbackUrl had been given to setWebhook, with its webhookSecret if it has one
        url = await callbacks.provider_callback_url("telegram", account_id)
        secret, allowed = account.credentials.get("webhookSecret"), []
    update_id = body.get("updateId") or next(_update_ids)
    # Telegram redelivers the same Update, its message with the same message_id: the update's, remembered.
    message_ids: dict[int, int] = request.app.state.setdefault(_MESSAGE_IDS_KEY, {})
    message_id = body.get("editOf") or message_ids.get(update_id) or next(_message_ids)
    if len(message_ids) >= MAX_WEBHOOKS:
        message_ids.pop(next(iter(message_ids)))
    message_ids[update_id] = message_id
    update = update_of(body, update_id, message_id)
    kind = next(key for key in update if key != "update_id")
    # As the callback route stores it (channels.telegram.callbacks.inbound_of).
    provider_id = f"{int(body['from'])}:{message_id}" if kind == "message" else f"update:{update_id}"
    # Updates go only to this gateway's own callback routes (the sandbox is no way to make it call
    # elsewhere), and only of the kinds setWebhook's allowed_updates asked for.
    status = None
    if (not allowed or kind in allowed) and callbacks.is_own_callback(url):
        status = await _deliver(url, secret, update)
    return TelegramSimulatedMessage(
        **await simulated(callbacks, "telegram", account_id, provider_id, status),
        telegram_message_id=message_id,
        update_id=update_id,
        callback_url=url,
    )


async def _deliver(url: str, secret: str | None, update: dict[str, Any]) -> int | None:
    """POST the Update like Telegram (see channels.sandbox_support.post_callback); the last HTTP status."""
    headers = {SECRET_HEADER: secret} if secret else {}
    return await post_callback(url, json.dumps(update).encode(), headers, RETRIES)


# What the inbox's "Reply as the user" sends besides text (this module's ``inbound`` fields).
USER_REPLIES: dict[str, UserReplyBody] = {
    "media": lambda reply: {"media": "photo", "caption": reply.text},
    "location": lambda reply: {"location": {"latitude": reply.latitude, "longitude": reply.longitude}},
    "button": lambda reply: {"callbackData": reply.payload or reply.text},
}
