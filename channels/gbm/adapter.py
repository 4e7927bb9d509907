"""The upstream request of Google Business Messages (legacy: Google shut the service down on 2024-07-31;
the channel keeps the documented format, the sandbox serves it, and a compatible upstream can be set
as ``baseUrl``).

``conversations.messages.create``: ``POST {base}/conversations/{conversationId}/messages`` (base
``https://businessmessages.googleapis.com/v1``), ``?forceFallback=true`` when the block asks, with
``Authorization: Bearer <access token>`` and the Message resource as the JSON body. The destination
is the conversation id. The body is built from seed 002's block, which flattens two levels of the API:

- ``messageId``: our message id as a string. Google refuses a second message with the same id
  (ALREADY_EXISTS), which makes a retried send idempotent: ALREADY_EXISTS is taken as accepted.
- ``representative``: the block's, else ``{"representativeType": "BOT"}`` (Google requires one).
- ``text.message`` -> ``text``, ``text.containsRichText`` -> ``containsRichText``;
- ``image`` (fileUrl, thumbnailUrl, forceRefresh, altText) -> ``image.contentInfo``;
- ``standaloneCard`` (the card content) -> ``richCard.standaloneCard.cardContent``;
- ``carouselCard`` -> ``richCard.carouselCard`` (``cardWidth``, ``cardContents``) unchanged;
- ``suggestions`` and ``fallback`` unchanged (they are the API's objects).

Authentication (``serviceAccountKey`` credential):

- a live account: the key is a Google service-account JSON key; the access token comes from the
  OAuth 2.0 JWT-bearer grant (``channels.gbm.oauth``), cached until shortly before it expires.
- a sandbox account: no OAuth exchange; the account's (derived) ``serviceAccountKey`` credential
  itself is the bearer token (:func:`sandbox_bearer`), which the sandbox provider checks.

Answers: 200 -> ``Sent`` with provider_message_id = the message's ``messageId`` (the last segment of
its ``name`` ``conversations/{c}/messages/{m}``); receipts name the same message. Google API errors
``{"error": {"code", "message", "status"}}`` (``channels.gbm.errors``): a transient HTTP status
(``kit.classify``: 408, 425, 429, 5xx), RESOURCE_EXHAUSTED, UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED, ABORTED -> transient, after ``Retry-After`` or the
error's RetryInfo ``retryDelay``; UNAUTHENTICATED on a live account -> the cached access token is
dropped and the send tried once more with a new one; any other status (FAILED_PRECONDITION: the
device can't show the message and there is no fallback; NOT_FOUND: no such conversation;
PERMISSION_DENIED; INVALID_ARGUMENT; ...) -> permanent ``gbm.<STATUS>`` with Google's message.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any
from urllib.parse import quote

import httpx

from channels import kit
from channels.base import Account, Outbound, SendResult
from channels.gbm import oauth
from channels.gbm.blocks import content_kind
from channels.gbm.errors import TRANSIENT, google_error, retry_after

DEFAULT_BASE_URL = "https://businessmessages.googleapis.com/v1"
CREDENTIAL = "serviceAccountKey"
DEFAULT_REPRESENTATIVE = {"representativeType": "BOT"}


def messages_url(account: Account, conversation_id: str) -> str:
    return f"{account.base_url.rstrip('/')}/conversations/{quote(conversation_id.strip(), safe='')}/messages"


def sandbox_bearer(credential: str) -> str:
    """The bearer token of a sandbox account: its serviceAccountKey credential itself, or (when the
    operator set one that can't travel in a header, such as a multi-line JSON key) its SHA-256."""
    value = credential.strip()
    if value and all(33 <= ord(char) < 127 for char in value):
        return value
    return "sha256:" + hashlib.sha256(credential.encode()).hexdigest()


def message_body(outbound: Outbound) -> dict[str, Any]:
    """The Message resource for a valid block. Raises KeyError/TypeError/ValueError for a block the
    validator refuses."""
    block = outbound.block
    kind = content_kind(block)
    body: dict[str, Any] = {
        "messageId": str(outbound.message_id),
        "representative": copy.deepcopy(block.get("representative") or DEFAULT_REPRESENTATIVE),
    }
    if kind == "text":
        body["text"] = block["text"]["message"]
        if "containsRichText" in block["text"]:
            body["containsRichText"] = bool(block["text"]["containsRichText"])
    elif kind == "image":
        body["image"] = {"contentInfo": copy.deepcopy(block["image"])}
    elif kind == "richCard":
        body["richCard"] = {"standaloneCard": {"cardContent": copy.deepcopy(block["standaloneCard"])}}
    elif kind == "carousel":
        body["richCard"] = {"carouselCard": copy.deepcopy(block["carouselCard"])}
    else:
        raise ValueError("the gbm block has no content")
    if block.get("suggestions"):
        body["suggestions"] = copy.deepcopy(block["suggestions"])
    if block.get("fallback"):
        body["fallback"] = block["fallback"]
    return body


def query_params(outbound: Outbound) -> dict[str, str]:
    return {"forceFallback": "true"} if outbound.block.get("forceFallback") is True else {}


async def send(http: httpx.AsyncClient, account: Account, outbound: Outbound) -> SendResult:
    try:
        body = message_body(outbound)
    except (KeyError, TypeError, ValueError):
        return SendResult.invalid_block("gbm")
    url = messages_url(account, outbound.destination)
    result = await _post(http, account, url, outbound, body)
    if result.error_code == "gbm.UNAUTHENTICATED" and not account.sandbox:
        # Revoked or expired early: forget the cached access token and try once more with a new one.
        oauth.forget(account.credentials.get(CREDENTIAL, ""))
        result = await _post(http, account, url, outbound, body)
    return result


async def _post(
    http: httpx.AsyncClient, account: Account, url: str, outbound: Outbound, body: dict[str, Any]
) -> SendResult:
    token = await bearer_token(http, account)
    if isinstance(token, SendResult):
        return token
    response = await http.post(
        url, params=query_params(outbound), json=body, headers={"Authorization": f"Bearer {token}"}
    )
    return parse_response(response, body["messageId"])


async def bearer_token(http: httpx.AsyncClient, account: Account) -> str | SendResult:
    """The access token to send with, or the SendResult of failing to get one."""
    key = account.credentials.get(CREDENTIAL, "")
    if not key:
        return SendResult.rejected("gbm.credentials", "serviceAccountKey is not set")
    if account.sandbox:
        return sandbox_bearer(key)
    try:
        return await oauth.access_token(http, key)
    except oauth.CredentialError as error:
        return SendResult.rejected(error.code, error.message)
    except oauth.TokenUnavailable as error:
        return SendResult.transient(str(error), error.retry_after)


def parse_response(response: httpx.Response, message_id: str) -> SendResult:
    """conversations.messages.create's answer: Sent, transient, or permanent ``gbm.<STATUS>``."""
    code = response.status_code
    try:
        data: Any = response.json()
    except ValueError:
        data = None
    answer = kit.classify(code)
    if answer == kit.SUCCESS:
        return SendResult.sent(provider_id(data, message_id))
    status, message = google_error(data, code)
    if status == "ALREADY_EXISTS":
        # Our messageId is taken: an earlier attempt of this very send got through (its answer was lost).
        return SendResult.sent(message_id)
    if answer == kit.TRANSIENT or status in TRANSIENT:
        return SendResult.transient(
            f"Business Messages answered HTTP {code} {status}: {message}", retry_after(response, data)
        )
    return SendResult.rejected(f"gbm.{status}", message)


def provider_id(data: Any, message_id: str) -> str:
    """The message's id as receipts name it: ``messageId``, else the last segment of ``name``."""
    if isinstance(data, dict):
        if isinstance(data.get("messageId"), str) and data["messageId"]:
            return data["messageId"]
        name = data.get("name")
        if isinstance(name, str) and "/messages/" in name and name.rsplit("/messages/", 1)[1]:
            return name.rsplit("/messages/", 1)[1]
    return message_id
