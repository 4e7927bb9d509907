"""Viber business messages (``promotional``, ``transactional``) to a phone number through Infobip's Viber
Business Messages API: its reference https://www.infobip.com/docs/api/channels/viber (the request, answer,
ApiError and the delivery and seen report webhooks, with examples) and guide
https://www.infobip.com/docs/viber/business-messages/api.

Request: ``POST {businessBaseUrl}/viber/2/messages`` with ``Authorization: App <businessApiKey>`` and::

    {"messages": [{"sender": <businessSender>, "destinations": [{"to": <digits>, "messageId": <our id>}],
                   "content": {...}, "options": {"label": "PROMOTIONAL" | "TRANSACTIONAL",
                   "validityPeriod": {"amount": <ttl>, "timeUnit": "SECONDS"}},
                   "webhooks": {"delivery": {"url": <report URL>, "notify": true}, "seen": {"url": <report URL>},
                                "contentType": "application/json"}}]}

Content by the block's parts: text -> ``TEXT`` (``text``, ``button`` ``{title, action}``); picture ->
``IMAGE`` (``mediaUrl``, ``text``?, ``button``?); video -> ``VIDEO`` (``mediaUrl``, ``mediaDuration`` as ISO
8601, ``thumbnailUrl``); file -> ``FILE`` (``mediaUrl``, ``fileName``, from the URL when the block gives
none). The block's ``ttl`` is the validity period (Infobip caps it at 48 h); its type is the label.

Answer 200: ``{"bulkId", "messages": [{"messageId", "status": {"groupName", "name", "description"},
"destination"}]}``: Sent under that ``messageId`` (ours, echoed), or Failed ``viber.<status name>`` when the
status group is REJECTED or UNDELIVERABLE. An error answer is ``{"errorCode": "E400", "description",
"violations": [{"property", "violation"}]}``: 4xx -> Failed ``viber.<errorCode>``; 408, 429, 5xx transient.

Reports (delivery ``{"results": [{"messageId", "status": {"groupName", "name", "description"}, "error":
{"id", "name", "description", "permanent"}, ...}]}`` and seen ``{"results": [{"messageId", "seenAt", ...}]}``)
come to the viber channel's ``/business`` callback route (``callbacks.business_reports``), its URL carrying the
message's callback token.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from channels import kit
from channels.base import Account, Outbound, SendResult, normalise_phone_number
from channels.viber.blocks import content_kind

DEFAULT_BASE_URL = "https://api.infobip.com"  # Infobip's shared base URL (accounts also get their own)
SANDBOX_PREFIX = "/business"  # the sandbox provider's business API, under the account's /sandbox/viber
MESSAGES_PATH = "/viber/2/messages"
REPORTS_PATH = "/business"  # the callback route, below /callbacks/viber/<account id>
SANDBOX_SENDER = "SandboxBrand"
# Settings of a viber traffic account for this upstream (the bot API keeps authToken and baseUrl).
SENDER = "businessSender"  # the Viber business sender (service) name Infobip registered for the account
API_KEY = "businessApiKey"
BASE_URL = "businessBaseUrl"
LABELS = {"promotional": "PROMOTIONAL", "transactional": "TRANSACTIONAL"}
REFUSED_GROUPS = frozenset({"REJECTED", "UNDELIVERABLE"})  # Infobip's status groups of a message not sent


def base_url(account: Account) -> str:
    """The operator's businessBaseUrl, else the sandbox provider's for a sandbox account, else Infobip's."""
    if given := account.settings.get(BASE_URL):
        return str(given).rstrip("/")
    return account.base_url.rstrip("/") + SANDBOX_PREFIX if account.sandbox else DEFAULT_BASE_URL


def reports_url(callback_url: str) -> str:
    """The message's callback URL (with its token) at the business route: ``.../<account id>/business?token=``."""
    parts = urlsplit(callback_url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + REPORTS_PATH, parts.query, ""))


def content(block: dict[str, Any]) -> dict[str, Any]:
    """The ``content`` of a valid business block."""
    kind = content_kind(block)
    button = {"button": {"title": b["caption"], "action": b["action"]}} if (b := block.get("button")) else {}
    text = {"text": block["text"]} if block.get("text") else {}
    if kind == "picture":
        return {"type": "IMAGE", "mediaUrl": block["mediaUrl"], **text, **button}
    if kind == "video":
        video = block["video"]
        # The validator requires duration and thumbnail of a business video: Infobip does.
        return {
            "type": "VIDEO",
            "mediaUrl": video["mediaUrl"],
            "mediaDuration": f"PT{video['duration']}S",
            "thumbnailUrl": video["thumbnail"],
        }
    if kind == "file":
        file = block["file"]
        name = file.get("fileName") or posixpath.basename(unquote(urlsplit(file["mediaUrl"]).path))
        return {"type": "FILE", "mediaUrl": file["mediaUrl"], "fileName": name}
    return {"type": "TEXT", **text, **button}


def request_body(account: Account, outbound: Outbound) -> dict[str, Any]:
    block = outbound.block
    options: dict[str, Any] = {"label": LABELS[str(block["type"]).lower()]}
    if block.get("ttl"):
        options["validityPeriod"] = {"amount": block["ttl"], "timeUnit": "SECONDS"}
    url = reports_url(outbound.callback_url)
    message = {
        "sender": account.settings.get(SENDER) or SANDBOX_SENDER,
        "destinations": [{"to": normalise_phone_number(outbound.destination), "messageId": str(outbound.message_id)}],
        "content": content(block),
        "options": options,
        "webhooks": {"delivery": {"url": url, "notify": True}, "seen": {"url": url}, "contentType": "application/json"},
    }
    return {"messages": [message]}


async def send(http: httpx.AsyncClient, account: Account, outbound: Outbound) -> SendResult:
    if not account.sandbox and not (account.settings.get(SENDER) and account.credentials.get(API_KEY)):
        return SendResult.rejected(
            "viber.business_not_configured",
            f"the traffic account has no {SENDER} and {API_KEY}: it can't send promotional or transactional messages",
        )
    try:
        body = request_body(account, outbound)
    except (ValueError, KeyError, TypeError):
        return SendResult.invalid_block("viber")
    headers = {"Authorization": f"App {account.credentials.get(API_KEY, '')}"}
    return parse_response(await http.post(base_url(account) + MESSAGES_PATH, json=body, headers=headers))


def parse_response(response: httpx.Response) -> SendResult:
    code = response.status_code
    answer = kit.classify(code)
    try:
        data = response.json()
    except ValueError:
        data = None
    data = data if isinstance(data, dict) else {}
    if answer == kit.TRANSIENT:
        return SendResult.transient(f"Infobip answered HTTP {code}: {_error_text(data)}", kit.retry_after_of(response))
    if answer == kit.PERMANENT:
        error_code = data.get("errorCode")
        suffix = error_code if isinstance(error_code, str) and error_code.isalnum() else f"http_{code}"
        return SendResult.rejected(f"viber.{suffix}", f"Infobip answered HTTP {code}: {_error_text(data)}")
    messages = data.get("messages")
    first = messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
    status = first.get("status") if isinstance(first.get("status"), dict) else {}
    if status.get("groupName") in REFUSED_GROUPS:
        return SendResult.rejected(f"viber.{status.get('name') or status['groupName']}", _status_text(status))
    message_id = first.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        # Accepted, but nothing to match its reports by; sending again could send twice.
        return SendResult.sent(None, description="Infobip accepted the message without a messageId")
    return SendResult.sent(message_id)


def _status_text(status: dict[str, Any]) -> str:
    name, description = status.get("name") or status.get("groupName"), status.get("description")
    return f"{name}: {description}" if description else str(name)


def _error_text(data: dict[str, Any]) -> str:
    """Infobip's ApiError: its description and the violations naming the request's fields."""
    text = str(data.get("description") or data.get("errorCode") or "no error description")
    violations = data.get("violations")
    if isinstance(violations, list):
        named = [f"{v.get('property')}: {v.get('violation')}" for v in violations if isinstance(v, dict)]
        text += "".join(f"; {n}" for n in named)
    return text
