"""The upstream requests of the Viber REST bot API (https://developers.viber.com/docs/api/rest-bot-api/), for
bot messages (``session`` and ``regular``) to a Viber user id. Business messages (``promotional``,
``transactional``) to a phone number go through ``channels.viber.business`` instead (:func:`send` picks).

Every call is ``POST {base}/<method>`` (base ``https://chatapi.viber.com/pa``) with a JSON body and
the account's ``authToken`` in the ``X-Viber-Auth-Token`` header. Viber answers HTTP 200 with
``{"status": 0, "status_message": "ok", ...}``, or a non-zero ``status`` (``channels.viber.errors``).

``send_message`` is built from the seed's block (``blocks.content_kind``):

- text -> ``{"type": "text", "text"}``
- picture (``mediaUrl``, its ``text`` as the description) -> ``{"type": "picture", "text", "media"}``
- video -> ``{"type": "video", "media", "size", "duration"?, "thumbnail"?}``
- file -> ``{"type": "file", "media", "size", "file_name"}``; the file name is taken from the URL
  when the block gives none (seed 002). Viber documents ``size`` as required, but seed 002's block
  doesn't require it: a block without ``file.size`` is sent without it (the adapter doesn't fetch
  customers' URLs), and Viber's answer decides (``missingData`` -> Failed ``viber.4``).
- a keyboard on its own -> no ``type``, only the ``keyboard``.
- the block's URL ``button`` (caption + action) -> a one-button ``open-url`` keyboard attached to the
  message (appended to the block's own keyboard when it has one): the REST bot API has no button on
  a text or picture message, and a keyboard rides along with any message type.
- a ``keyboard`` -> Viber's keyboard object with ``"Type": "keyboard"``; ``min_api_version`` is set
  when it uses parameters of a later API level than 1 (``API_LEVELS``).

Every request carries ``receiver`` (the destination: the Viber user id, as the user's messages name
them in ``sender.id``) and ``sender.name`` (required by Viber, max 28 characters): the bot's own name
from ``get_account_info``, asked once an hour per account. The block's ``ttl`` and its ``type`` have no
field in the REST bot API's send_message (whose ``type`` is the content type): they are not sent.

Answers: status 0 -> ``Sent`` with ``provider_message_id = str(message_token)`` (delivered/seen/failed
callbacks name the same token); a transient HTTP status (``kit.classify``: 408, 425, 429, 5xx) and
status 12 (tooManyRequests) -> transient, after ``Retry-After`` when given; status 10 (webhookNotSet)
-> the adapter sets the webhook (``register_callbacks``) and sends once more; any other status ->
permanent ``viber.<status>`` with Viber's status message.
"""

from __future__ import annotations

import copy
import hashlib
import posixpath
import time
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from channels import kit
from channels.base import Account, Outbound, SendResult
from channels.viber import business
from channels.viber.addresses import is_business
from channels.viber.blocks import content_kind
from channels.viber.errors import TRANSIENT_STATUSES, WEBHOOK_NOT_SET, status_description

DEFAULT_BASE_URL = "https://chatapi.viber.com/pa"
AUTH_HEADER = "X-Viber-Auth-Token"
# set_webhook's event_types: every callback the gateway uses or acknowledges ("message" can't be
# left out: Viber always sends user messages).
EVENT_TYPES = ("delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started")
SENDER_NAME_MAX = 28  # send_message: "sender.name ... Max 28 characters"
SENDER_NAME_FALLBACK = "Viber bot"
ACCOUNT_INFO_SECONDS = 3600.0

# Keyboard and button parameters Viber's keyboards documentation gives a later API level than 1:
# a message using them carries that min_api_version (older clients would draw it wrongly).
KEYBOARD_API_LEVELS = {
    "CustomDefaultHeight": 3,
    "HeightScale": 3,
    "ButtonsGroupColumns": 4,
    "ButtonsGroupRows": 4,
    "InputFieldState": 4,
    "FavoritesMetadata": 6,
}
BUTTON_API_LEVELS = {
    "InternalBrowser": 3,
    "Silent": 4,
    "TextBgGradientColor": 4,
    "BgMediaScaleType": 6,
    "ImageScaleType": 6,
    "TextShouldFit": 6,
    "Map": 6,
    "Frame": 6,
    "MediaPlayer": 6,
}
ACTION_TYPE_API_LEVELS = {"location-picker": 3, "share-phone": 3}

# (base URL, digest of the token) -> (the bot's name, when to ask again)
_sender_names: dict[tuple[str, str], tuple[str, float]] = {}


def method_url(account: Account, method: str) -> str:
    return f"{account.base_url.rstrip('/')}/{method}"


def auth_headers(account: Account) -> dict[str, str]:
    return {AUTH_HEADER: account.credentials.get("authToken", "")}


def message_body(outbound: Outbound) -> dict[str, Any]:
    """send_message's body for a valid block, without ``sender`` (see :func:`send`). Raises ValueError
    for a block the validator refuses."""
    block = outbound.block
    kind = content_kind(block)
    body: dict[str, Any] = {"receiver": outbound.destination.strip()}
    if kind == "text":
        body |= {"type": "text", "text": block["text"]}
    elif kind == "picture":
        body |= {"type": "picture", "text": block.get("text", ""), "media": block["mediaUrl"]}
    elif kind == "video":
        video = block["video"]
        body |= {"type": "video", "media": video["mediaUrl"], "size": video["size"]}
        body |= {key: video[key] for key in ("duration", "thumbnail") if key in video}
    elif kind == "file":
        file = block["file"]
        body |= {"type": "file", "media": file["mediaUrl"]}
        if "size" in file:
            body["size"] = file["size"]
        body["file_name"] = file.get("fileName") or url_file_name(file["mediaUrl"])
    if (keyboard := keyboard_of(block)) is not None:
        body["keyboard"] = keyboard
        if (level := min_api_version(keyboard)) > 1:
            body["min_api_version"] = level
    return body


def keyboard_of(block: dict[str, Any]) -> dict[str, Any] | None:
    """The keyboard sent with the message: the block's own, plus its URL button as an open-url button."""
    keyboard: dict[str, Any] | None = None
    if isinstance(block.get("keyboard"), dict):
        keyboard = {"Type": "keyboard", **copy.deepcopy(block["keyboard"])}
    if isinstance(block.get("button"), dict):
        columns = keyboard.get("ButtonsGroupColumns", 6) if keyboard else 6
        button = {
            "Columns": columns,
            "Rows": 1,
            "ActionType": "open-url",
            "ActionBody": block["button"]["action"],
            "Text": block["button"]["caption"],
        }
        if keyboard is None:
            keyboard = {"Type": "keyboard", "Buttons": [button]}
        else:
            keyboard["Buttons"] = [*keyboard.get("Buttons", []), button]
    return keyboard


def min_api_version(keyboard: dict[str, Any]) -> int:
    level = max([1, *(KEYBOARD_API_LEVELS[key] for key in keyboard if key in KEYBOARD_API_LEVELS)])
    for button in keyboard.get("Buttons") or []:
        if not isinstance(button, dict):
            continue
        level = max([level, *(BUTTON_API_LEVELS[key] for key in button if key in BUTTON_API_LEVELS)])
        level = max(level, ACTION_TYPE_API_LEVELS.get(button.get("ActionType"), 1))
    return level


def url_file_name(url: str) -> str:
    """The last segment of the URL's path, percent-decoded (seed 002: the name "from the URL")."""
    return posixpath.basename(unquote(urlsplit(url).path))


def webhook_url(callback_url: str) -> str:
    """The account's callback URL without the per-message query: Viber signs its callbacks instead."""
    parts = urlsplit(callback_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


async def send(http: httpx.AsyncClient, account: Account, outbound: Outbound) -> SendResult:
    if is_business(outbound.block):
        return await business.send(http, account, outbound)
    try:
        body = message_body(outbound)
    except (ValueError, KeyError, TypeError):
        return SendResult.invalid_block("viber")
    name = await sender_name(http, account)
    if isinstance(name, SendResult):
        return name
    body["sender"] = {"name": name}
    result = parse_response(
        await http.post(method_url(account, "send_message"), json=body, headers=auth_headers(account))
    )
    if result.error_code == f"viber.{WEBHOOK_NOT_SET}":
        # Viber sends nothing to a bot without a webhook: set ours, then send again (once).
        try:
            await register_callbacks(http, account, webhook_url(outbound.callback_url))
        except ValueError as error:
            return SendResult.rejected(f"viber.{WEBHOOK_NOT_SET}", f"{result.description}; {error}")
        result = parse_response(
            await http.post(method_url(account, "send_message"), json=body, headers=auth_headers(account))
        )
    if result.error_code == "viber.2":
        _sender_names.pop(_cache_key(account), None)
    return result


def parse_response(response: httpx.Response) -> SendResult:
    """send_message's answer: Sent with the message token, transient, or permanent ``viber.<status>``."""
    answer = _answer(response)
    if isinstance(answer, SendResult):
        return answer
    token = answer.get("message_token")
    if isinstance(token, bool) or not isinstance(token, (int, str)) or str(token) == "":
        # Accepted, but nothing to match its callbacks by; sending again could send twice.
        return SendResult.sent(None, description="Viber accepted the message without a message_token")
    return SendResult.sent(str(token))


async def sender_name(http: httpx.AsyncClient, account: Account) -> str | SendResult:
    """The bot's name from get_account_info (cached), or why it couldn't be had."""
    key = _cache_key(account)
    cached = _sender_names.get(key)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    response = await http.post(method_url(account, "get_account_info"), json={}, headers=auth_headers(account))
    answer = _answer(response)
    if isinstance(answer, SendResult):
        return answer
    name = answer.get("name")
    name = name.strip()[:SENDER_NAME_MAX].rstrip() if isinstance(name, str) and name.strip() else SENDER_NAME_FALLBACK
    _sender_names[key] = (name, time.monotonic() + ACCOUNT_INFO_SECONDS)
    return name


async def register_callbacks(http: httpx.AsyncClient, account: Account, callback_url: str) -> None:
    """set_webhook: Viber checks the URL (a signed ``webhook`` callback that must answer 200), then sends
    the account's callbacks there. Raises ValueError when Viber refuses."""
    body = {"url": callback_url, "event_types": list(EVENT_TYPES), "send_name": True, "send_photo": False}
    response = await http.post(method_url(account, "set_webhook"), json=body, headers=auth_headers(account))
    answer = _answer(response)
    if isinstance(answer, SendResult):
        raise ValueError(f"Viber refused set_webhook: {answer.description}")


def _answer(response: httpx.Response) -> dict[str, Any] | SendResult:
    """A successful answer's JSON object, or the SendResult of a failed one."""
    code = response.status_code
    answer = kit.classify(code)
    if answer == kit.TRANSIENT:
        return SendResult.transient(f"Viber answered HTTP {code}", kit.retry_after_of(response))
    try:
        data = response.json()
    except ValueError:
        data = None
    status = data.get("status") if isinstance(data, dict) else None
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if isinstance(status, bool) or not isinstance(status, int):
        if answer == kit.PERMANENT:
            return SendResult.rejected(f"viber.http_{code}", f"Viber answered HTTP {code} without a status")
        return SendResult.transient(f"Viber answered HTTP {code} without a status")
    assert isinstance(data, dict)
    if status == 0:
        if answer == kit.SUCCESS:
            return data
        return SendResult.rejected(f"viber.http_{code}", f"Viber answered HTTP {code}")
    description = status_description(status, data.get("status_message"))
    if status in TRANSIENT_STATUSES:
        return SendResult.transient(description, kit.retry_after_of(response))
    return SendResult.rejected(f"viber.{status}", description)


def _cache_key(account: Account) -> tuple[str, str]:
    token = account.credentials.get("authToken", "")
    return account.base_url, hashlib.sha256(token.encode()).hexdigest()
