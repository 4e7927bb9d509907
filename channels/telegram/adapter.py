"""The upstream requests of the Telegram Bot API (https://core.telegram.org/bots/api).

Every call is ``POST {base}/bot{botToken}/{method}`` with a JSON body; the answer is
``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": 403, "description": "...",
"parameters": {"retry_after": 5, "migrate_to_chat_id": ...}}``.

The seed's block becomes one of sendMessage / sendPhoto / sendDocument / sendVideo / sendVoice /
sendLocation (``blocks.content_kind``); files are sent by URL. Telegram has no delivery or read
receipts, so a message the Bot API accepted is ``Delivered`` at once and never ``Read``.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from channels import kit
from channels.base import Account, Outbound, SendResult
from channels.telegram.blocks import CONTENT_KINDS, content_kind

DEFAULT_BASE_URL = "https://api.telegram.org"
# The updates the gateway turns into inbound messages (setWebhook's allowed_updates).
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "poll_answer")
# Seed 002 spelling -> the Bot API's parse_mode; "Default" (plain text) sends none.
PARSE_MODES = {"Default": None, "Markdown": "Markdown", "Html": "HTML", "MarkdownV2": "MarkdownV2"}
# setWebhook's secret_token: "1-256 characters. Only characters A-Z, a-z, 0-9, _ and - are allowed."
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
# A chat id: "Unique identifier for the target chat or username of the target channel (in the format
# @channelusername)" (https://core.telegram.org/bots/api#sendmessage). Ids have at most 52 significant bits
# (16 digits); usernames are 5-32 characters of a-z, 0-9 and underscores (https://core.telegram.org/method/account.checkUsername).
_CHAT_ID = re.compile(r"-?[1-9][0-9]{0,15}")
_CHANNEL_USERNAME = re.compile(r"@[A-Za-z0-9_]{5,32}")
_KIND_OF_METHOD = {method: kind for kind, method in CONTENT_KINDS.items()}


def method_url(account: Account, method: str) -> str:
    return f"{account.base_url.rstrip('/')}/bot{account.credentials.get('botToken', '')}/{method}"


def chat_id(destination: str) -> int | str:
    """A numeric chat id as the Integer the Bot API documents; ``@channelusername`` stays a string."""
    value = destination.strip()
    return int(value) if _CHAT_ID.fullmatch(value) else value


def address_problem(kind: str, address: str) -> str | None:
    """A destination is a chat id or ``@channelusername``; anything else Telegram answers "chat not found"."""
    if _CHAT_ID.fullmatch(address) or _CHANNEL_USERNAME.fullmatch(address):
        return None
    return "must be a Telegram chat id (an integer such as 1861312834, negative for groups) or @channelusername"


def request_of(outbound: Outbound) -> tuple[str, dict[str, Any]]:
    """(Bot API method, JSON body) for a valid block."""
    block = outbound.block
    method = content_kind(block)  # ValueError for a block the validator refuses
    kind = _KIND_OF_METHOD[method]
    content = block[kind]
    body: dict[str, Any] = {"chat_id": chat_id(outbound.destination)}
    if kind == "text":
        body["text"] = content["message"]
        if content.get("noPreview"):
            # Bot API 7.0 replaced disable_web_page_preview with link_preview_options.
            body["link_preview_options"] = {"is_disabled": True}
    elif kind == "location":
        body["latitude"] = content["latitude"]
        body["longitude"] = content["longitude"]
    else:  # photo, document, video, voice: the file by URL, with an optional caption
        body[kind] = content["url"]
        if content.get("caption"):
            body["caption"] = content["caption"]
    if kind != "location" and (mode := PARSE_MODES.get(content.get("parseMode", "Default"))):
        body["parse_mode"] = mode
    if block.get("silent"):
        body["disable_notification"] = True
    return method, body


async def send(http: httpx.AsyncClient, account: Account, outbound: Outbound) -> SendResult:
    try:
        method, body = request_of(outbound)
    except (ValueError, KeyError, TypeError):
        return SendResult.invalid_block("telegram")
    response = await http.post(method_url(account, method), json=body)
    return parse_response(response)


def parse_response(response: httpx.Response) -> SendResult:
    """Accepted -> Delivered with ``<chat id>:<message id>`` (a message id is unique only within its
    chat); a transient HTTP status or error_code (``kit.classify``: 408, 425, 429, 5xx) -> transient, after
    ``parameters.retry_after``; any other refusal -> permanent
    ``telegram.<error_code>`` with Telegram's description."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return SendResult.transient(
            f"Telegram answered {response.status_code} without a JSON object", kit.retry_after_of(response)
        )
    description = str(data.get("description") or f"Telegram answered {response.status_code}")
    if data.get("ok") is True and kit.classify(response.status_code) == kit.SUCCESS:
        result = data.get("result")
        if isinstance(result, dict) and result.get("message_id") is not None:
            return SendResult.sent(provider_message_id(result), status="Delivered")
        return SendResult.transient("Telegram accepted the request but returned no message")
    code = data.get("error_code")
    if isinstance(code, bool) or not isinstance(code, int):
        code = response.status_code
    parameters = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    if kit.TRANSIENT in (kit.classify(code), kit.classify(response.status_code)):
        return SendResult.transient(description, _retry_after(parameters, response))
    if isinstance(migrated := parameters.get("migrate_to_chat_id"), int):
        description = f"{description} (the group is now chat {migrated})"
    return SendResult.rejected(f"telegram.{code}", description)


def provider_message_id(message: dict[str, Any]) -> str:
    chat = message.get("chat")
    if isinstance(chat, dict) and chat.get("id") is not None:
        return f"{chat['id']}:{message['message_id']}"
    return str(message["message_id"])


def setting_problem(key: str, value: str) -> str | None:
    """Telegram refuses a setWebhook whose secret_token breaks its rule, so the account is refused first."""
    if key == "webhookSecret" and not SECRET_TOKEN.fullmatch(value):
        return "must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's secret_token)"
    return None


async def register_callbacks(http: httpx.AsyncClient, account: Account, callback_url: str) -> None:
    """setWebhook: Updates go to ``callback_url`` (the account's callbackUrl, whose token authenticates
    them), carrying the account's ``webhookSecret`` in X-Telegram-Bot-Api-Secret-Token when it has one.
    Raises ValueError when Telegram (or the secret) is refused."""
    body: dict[str, Any] = {"url": callback_url, "allowed_updates": list(ALLOWED_UPDATES)}
    if secret := account.credentials.get("webhookSecret"):
        if problem := setting_problem("webhookSecret", secret):  # an account stored before the rule was checked
            raise ValueError(f"webhookSecret {problem}")
        body["secret_token"] = secret
    response = await http.post(method_url(account, "setWebhook"), json=body)
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict) or data.get("ok") is not True:
        text = data.get("description") if isinstance(data, dict) else None
        raise ValueError(f"Telegram refused setWebhook: {text or f'HTTP {response.status_code}'}")


def _retry_after(parameters: dict[str, Any], response: httpx.Response) -> float | None:
    """The Bot API's ``parameters.retry_after``, else the Retry-After header."""
    given = kit.retry_after(parameters.get("retry_after"))
    return given if given is not None else kit.retry_after_of(response)
