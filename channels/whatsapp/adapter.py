"""The upstream request of the WhatsApp Cloud API (Meta): send one message.

``POST {base}/{phoneNumberId}/messages`` (base ``https://graph.facebook.com/<API_VERSION>``) with
``Authorization: Bearer <accessToken>`` and the Cloud API's message object::

    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "<digits>", "type": ..., ...}

built from the block (``channels.whatsapp.blocks``):

- text -> ``{"type": "text", "text": {"body", "preview_url"?}}``
- image / video / audio / document / interactive / location -> ``{"type": t, t: <the block's object>}``
  (the block already holds the Cloud API's own objects)
- template -> ``{"type": "template", "template": {"name", "language": {"code", "policy"?},
  "components"?}}``; a button component's ``index`` is sent as a string, as Meta's examples do.

``to`` is the destination's digits. The phone number id is the account's ``phoneNumberId``; a sandbox
account may leave it unset, and then its traffic account id stands in for it: that is how the sandbox
provider (``channels.whatsapp.sandbox``) knows which account's secrets sign its webhooks, with nothing
on the wire but the Cloud API's own path.

Answers: ``{"messaging_product": "whatsapp", "contacts": [...], "messages": [{"id": "wamid..."}]}`` ->
``Sent`` with ``provider_message_id`` = the wamid (status webhooks name it). An ``{"error": {...}}``
with a throttling code (4, 80007, 130429, 131048, 131056) or a temporary service code (2, 131000,
131016), and a transient HTTP status (``kit.classify``: 408, 425, 429, 5xx) -> transient (after
``Retry-After`` when given); any other code -> permanent ``whatsapp.<code>`` with Meta's message and
details (``channels.whatsapp.errors``). 131047 (more than 24 hours since the user's last message) says
that a template message is needed.
"""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import quote

import httpx

from channels import kit
from channels.base import Account, Outbound, SendResult, normalise_phone_number
from channels.whatsapp.errors import TRANSIENT_CODES, as_code, describe, error_code

# The Graph API version of every call (Meta's current reference uses it); one place to move it.
API_VERSION = "v25.0"
DEFAULT_BASE_URL = f"https://graph.facebook.com/{API_VERSION}"
MEDIA_TYPES = ("image", "video", "audio", "document")


def phone_number_id(account: Account) -> str:
    """The business phone number the account sends from; a sandbox account without one uses its id."""
    configured = account.settings.get("phoneNumberId")
    if isinstance(configured, str) and configured.strip():
        return configured.strip()
    return str(account.id)


def messages_url(account: Account) -> str:
    return f"{account.base_url.rstrip('/')}/{quote(phone_number_id(account), safe='')}/messages"


def auth_headers(account: Account) -> dict[str, str]:
    return {"Authorization": f"Bearer {account.credentials.get('accessToken', '')}"}


def message_body(outbound: Outbound) -> dict[str, Any]:
    """The Cloud API message object for a valid block. Raises ValueError (or KeyError, TypeError) for a
    block the validator refuses."""
    block = outbound.block
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": normalise_phone_number(outbound.destination),
    }
    if block.get("type") == "template":
        return body | {"type": "template", "template": template_object(block["template"])}
    if block.get("type") != "regular":
        raise ValueError("the whatsapp block's type must be regular or template")
    regular = block["regular"]
    kind = regular["type"]
    if kind == "text":
        text: dict[str, Any] = {"body": regular["text"]}
        if "preview_url" in regular:
            text["preview_url"] = bool(regular["preview_url"])
        return body | {"type": "text", "text": text}
    if kind in (*MEDIA_TYPES, "interactive", "location"):
        if not isinstance(regular[kind], dict):
            raise ValueError(f"regular.{kind} must be an object")
        return body | {"type": kind, kind: copy.deepcopy(regular[kind])}
    raise ValueError(f"unknown regular message type {kind!r}")


def template_object(template: dict[str, Any]) -> dict[str, Any]:
    language = {"code": template["language"]["code"]}
    if "policy" in template["language"]:
        language["policy"] = template["language"]["policy"]
    result: dict[str, Any] = {"name": template["name"], "language": language}
    components = template.get("components")
    if components:
        result["components"] = [_component(component) for component in components]
    return result


def _component(component: dict[str, Any]) -> dict[str, Any]:
    result = copy.deepcopy(component)
    if result.get("type") == "button" and "index" in result:
        result["index"] = str(result["index"])
    return result


async def send(http: httpx.AsyncClient, account: Account, outbound: Outbound) -> SendResult:
    try:
        body = message_body(outbound)
    except (ValueError, KeyError, TypeError):
        return SendResult.invalid_block("whatsapp")
    response = await http.post(messages_url(account), json=body, headers=auth_headers(account))
    return parse_response(response)


def parse_response(response: httpx.Response) -> SendResult:
    """The Cloud API's answer to a send: Sent with the wamid, transient, or permanent ``whatsapp.<code>``."""
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return error_result(error, response)
    answer = kit.classify(status)
    if answer == kit.TRANSIENT:
        return SendResult.transient(f"WhatsApp answered HTTP {status}", kit.retry_after_of(response))
    if answer == kit.PERMANENT or not isinstance(data, dict):
        return SendResult.rejected(
            f"whatsapp.http_{status}", f"WhatsApp answered HTTP {status} without an error object"
        )
    messages = data.get("messages")
    first = messages[0] if isinstance(messages, list) and messages else None
    wamid = first.get("id") if isinstance(first, dict) else None
    if not isinstance(wamid, str) or not wamid.strip():
        # Accepted, but nothing to match its status webhooks by; sending again could send twice.
        return SendResult.sent(None, description="WhatsApp accepted the message without a message id")
    return SendResult.sent(wamid.strip())


def error_result(error: dict[str, Any], response: httpx.Response) -> SendResult:
    code = as_code(error.get("code"))
    error_data = error.get("error_data") if isinstance(error.get("error_data"), dict) else {}
    description = describe(code, error.get("message"), error_data.get("details"))
    if code in TRANSIENT_CODES or kit.classify(response.status_code) == kit.TRANSIENT:
        return SendResult.transient(description, kit.retry_after_of(response))
    return SendResult.rejected(error_code(code if code is not None else f"http_{response.status_code}"), description)
