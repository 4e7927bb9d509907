"""The Business Messages sandbox provider: ``conversations.messages.create`` under ``/sandbox/gbm`` (a
sandbox account's base URL), answering like the API, with deterministic behaviour chosen by the
conversation id, and signed webhook payloads (receipts, user messages) sent to the gateway like Google's.

``POST /sandbox/gbm/conversations/{conversationId}/messages[?forceFallback=true]`` takes the Message
resource as Google does: ``Authorization: Bearer <token>`` (else 401 UNAUTHENTICATED), a JSON object
with ``messageId``, ``representative.representativeType`` (BOT or HUMAN) and exactly one of ``text``,
``image.contentInfo.fileUrl`` and ``richCard`` (``standaloneCard.cardContent``, or ``carouselCard`` with
2-10 ``cardContents``), at most 13 ``suggestions``, and ``fallback`` when forceFallback is set (else 400
INVALID_ARGUMENT); a ``messageId`` already used in the conversation is 409 ALREADY_EXISTS. Accepted, it
answers 200 with the message and its ``name`` (``conversations/{c}/messages/{m}``). Errors are Google's
``{"error": {"code", "message", "status"}}``.

Which agent (traffic account) is sending: at Google the bearer token names the partner's service
account, and the agent's webhook is configured in the Business Communications console. A sandbox
account's bearer token is its derived ``serviceAccountKey`` credential (``adapter.sandbox_bearer``),
so the sandbox keeps a map from bearer token to sandbox gbm traffic account, learned lazily: a token
it doesn't know makes it look through the gateway's sandbox gbm accounts (their ids from the gateway's
database, their credentials through ``callbacks.account``) for the one whose credential it is. The
request on the wire stays exactly Google's; a token that belongs to no sandbox gbm account is
UNAUTHENTICATED. The account's "webhook" is its gateway callback URL
(``callbacks.callback_url("gbm", id)``): payloads go to this gateway's own callback routes only.
Payloads carry ``X-Goog-Signature`` (base64 HMAC-SHA512 of the body keyed with the account's
``clientToken`` credential, see ``channels.gbm.callbacks``) and are retried a few times when
they get no 2xx (a 400/401/403 is final).

Magic endings of the conversation id (documented in the README):
``...0001`` accepted and never reported (for failover);
``...0002`` delivered about 0.1 s after the send, then read (READ receipt) 0.1 s later;
``...0400`` a device that shows nothing but fallback text: a message without ``fallback`` is refused
with 400 FAILED_PRECONDITION (the message Fails, ``gbm.FAILED_PRECONDITION``); with ``fallback`` it is
accepted and delivered, as Google does;
``...0403`` refused with 403 PERMISSION_DENIED (``gbm.PERMISSION_DENIED``);
``...0404`` refused with 404 NOT_FOUND, no such conversation (``gbm.NOT_FOUND``);
``...0500`` answers 500 INTERNAL (retried); ``...0429`` answers 429 RESOURCE_EXHAUSTED with
Retry-After: 1 and a RetryInfo of 1 s (retried after it); ``...0408`` takes the message at once but
answers after 30 s (a timeout): the adapter's retry meets 409 ALREADY_EXISTS, which it takes as sent,
and the DELIVERED receipt follows the late answer;
any other conversation: delivered (DELIVERED receipt) about 0.1 s after the send.

``POST /sandbox/gbm/inbound`` ``{"trafficAccountId", "from": <conversation id>, "text"}`` makes the user
of a conversation with a sandbox traffic account's agent send a message: a signed ``message`` payload
reaches the gateway's callback route. Optional: ``messageId`` (to repeat a message), ``name`` (the
user's display name, in ``context.userInfo``), and instead of ``text`` a tapped suggestion
``"suggestionResponse": {"postbackData", "text", "type"?: "REPLY"|"ACTION", "message"?: <the agent
message's name>}`` (with optional ``requestId`` to repeat it). The answer is the simulators' one
(channels.sandbox_support.SimulatedMessage): ``providerMessageId`` is the message id, or
``request:<requestId>`` for a tapped suggestion, as the gateway stores them; ``gatewayStatus`` the webhook's
HTTP status (null when it couldn't be reached).
"""

from __future__ import annotations

import asyncio
import collections
import datetime
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from litestar import Request, Response, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath

from channels import kit
from channels.base import (
    ID_MAX,
    Account,
    Callbacks,
    CallbacksDependency,
    ProviderAnswer,
    SandboxFailures,
    UserReplyBody,
    json_object,
)
from channels.gbm.adapter import CREDENTIAL, sandbox_bearer
from channels.gbm.blocks import CAROUSEL_CARDS, REPRESENTATIVE_TYPES, SUGGESTIONS_MAX
from channels.gbm.callbacks import CLIENT_TOKEN, SIGNATURE_HEADER, signature
from channels.gbm.errors import RETRY_INFO, error_body
from channels.openapi import OBJECT, described, object_schema
from channels.sandbox_support import (
    SimulatedMessage,
    in_background,
    post_callback,
    simulated,
    simulated_body,
    simulator,
)

REPORT_DELAY = 0.1
SLOW_SECONDS = 30.0  # the "timeout" conversation's wait
RESCAN_SECONDS = 1.0  # a token it doesn't know makes the sandbox re-read every account at most this often
SENT_MEMORY = 100_000  # (conversation, messageId) pairs remembered for ALREADY_EXISTS
_AGENTS_KEY = "gbm_sandbox_agents"  # app.state: bearer token -> sandbox traffic account id
_SCAN_KEY = "gbm_sandbox_scan"  # app.state: _Scan
_SENT_KEY = "gbm_sandbox_sent"  # app.state: OrderedDict of (conversation, messageId)

MAGIC = {
    "0001": "silent",
    "0002": "read",
    "0400": "fallback_only",
    "0403": "permission_denied",
    "0404": "not_found",
    "0500": "error",
    "0429": "throttled",
    "0408": "timeout",
}


def _failure(status: str, message: str, details: list[dict[str, Any]] | None = None, **headers: str) -> ProviderAnswer:
    body = error_body(status, message, details)
    return ProviderAnswer(body["error"]["code"], body, headers)


# The answers of ...0500, ...0429 and ...0403 (the message Fails, gbm.PERMISSION_DENIED).
FAILURES = SandboxFailures(
    sends=("/messages",),
    transient=_failure("INTERNAL", "Internal error encountered."),
    throttled=_failure(
        "RESOURCE_EXHAUSTED",
        "Quota exceeded for quota metric 'Messages' of service 'businessmessages.googleapis.com'.",
        [{"@type": RETRY_INFO, "retryDelay": "1s"}],
        **{"Retry-After": "1"},
    ),
    rejected=_failure("PERMISSION_DENIED", "The caller does not have permission to message this conversation."),
)


def behaviour(conversation_id: str) -> str:
    """What happens to a message sent to this conversation (see the module docstring)."""
    return MAGIC.get(conversation_id.strip()[-4:], "delivered")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _error(
    status: str, message: str, headers: dict[str, str] | None = None, details: list[dict[str, Any]] | None = None
) -> Response[Any]:
    body = error_body(status, message, details)
    return Response(body, status_code=body["error"]["code"], headers=headers)


def _invalid(message: str) -> Response[Any]:
    return _error("INVALID_ARGUMENT", f"Invalid message: {message}")


@post("/conversations/{conversation_id:str}/messages", status_code=200, include_in_schema=False)
async def create_message(
    request: Request, callbacks: CallbacksDependency, conversation_id: FromPath[str]
) -> Response[Any]:
    authorization = request.headers.get("Authorization", "")
    token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
    account = await _account_of_bearer(request, callbacks, token) if token else None
    if account is None:
        return _error(
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
            "other valid authentication credential.",
        )
    body = json_object(await request.body())
    if body is None:
        return _invalid("the request body must be a Message object")
    force_fallback = request.query_params.get("forceFallback", "").lower() in ("true", "1")
    problem = message_problem(body, force_fallback)
    if problem:
        return _invalid(problem)
    what = behaviour(conversation_id)
    if what == "error":
        return _error("INTERNAL", "Internal error encountered.")
    if what == "throttled":
        details = [{"@type": RETRY_INFO, "retryDelay": "1s"}]
        return _error(
            "RESOURCE_EXHAUSTED",
            "Quota exceeded for quota metric 'Messages' of service 'businessmessages.googleapis.com'.",
            headers={"Retry-After": "1"},
            details=details,
        )
    if what == "not_found":
        return _error("NOT_FOUND", f"Conversation {conversation_id} not found.")
    if what == "permission_denied":
        return _error("PERMISSION_DENIED", "The caller does not have permission to message this conversation.")
    if what == "fallback_only" and not body.get("fallback"):
        return _error(
            "FAILED_PRECONDITION",
            "The user's device does not support this message type, and the message has no fallback text.",
        )
    sent: collections.OrderedDict[tuple[str, str], None] = request.app.state.setdefault(
        _SENT_KEY, collections.OrderedDict()
    )
    key = (conversation_id, body["messageId"])
    if key in sent:
        return _error("ALREADY_EXISTS", f"Message with ID {body['messageId']} already exists.")
    sent[key] = None
    while len(sent) > SENT_MEMORY:
        sent.popitem(last=False)
    if what == "timeout":
        # The message is taken, the answer is late: a retry meets ALREADY_EXISTS (which the adapter takes as sent).
        await asyncio.sleep(SLOW_SECONDS)
    name = f"conversations/{conversation_id}/messages/{body['messageId']}"
    receipts = {"silent": [], "read": ["DELIVERED", "READ"]}.get(what, ["DELIVERED"])
    if receipts:
        in_background(_report(callbacks, account, conversation_id, name, receipts))
    return Response({**body, "name": name, "createTime": _now()}, status_code=200)


def message_problem(body: dict[str, Any], force_fallback: bool) -> str | None:
    """Why Google would refuse this Message resource (INVALID_ARGUMENT), or None."""
    message_id = body.get("messageId")
    if not isinstance(message_id, str) or not message_id.strip():
        return "messageId is required"
    representative = body.get("representative")
    if not isinstance(representative, dict) or representative.get("representativeType") not in REPRESENTATIVE_TYPES:
        return "representative.representativeType is required (BOT or HUMAN)"
    contents = [key for key in ("text", "image", "richCard") if body.get(key) is not None]
    if len(contents) != 1:
        return "exactly one of text, image and richCard is required"
    content = contents[0]
    if content == "text" and (not isinstance(body["text"], str) or not body["text"]):
        return "text must be a non-empty string"
    if content == "image":
        image = body["image"]
        info = image.get("contentInfo") if isinstance(image, dict) else None
        if not (isinstance(info, dict) and isinstance(info.get("fileUrl"), str)) and not (
            isinstance(image, dict) and isinstance(image.get("imageId"), str)
        ):
            return "image needs contentInfo.fileUrl or imageId"
    if content == "richCard" and (problem := _rich_card_problem(body["richCard"])):
        return problem
    suggestions = body.get("suggestions", [])
    if not isinstance(suggestions, list) or len(suggestions) > SUGGESTIONS_MAX:
        return f"suggestions must be a list of at most {SUGGESTIONS_MAX}"
    if "containsRichText" in body and not isinstance(body["containsRichText"], bool):
        return "containsRichText must be a boolean"
    if force_fallback and not body.get("fallback"):
        return "forceFallback needs fallback text"
    return None


def _rich_card_problem(card: Any) -> str | None:
    if not isinstance(card, dict) or len([key for key in ("standaloneCard", "carouselCard") if key in card]) != 1:
        return "richCard needs exactly one of standaloneCard and carouselCard"
    if "standaloneCard" in card:
        standalone = card["standaloneCard"]
        if not isinstance(standalone, dict) or not isinstance(standalone.get("cardContent"), dict):
            return "richCard.standaloneCard.cardContent is required"
        return None
    carousel = card["carouselCard"]
    low, high = CAROUSEL_CARDS
    contents = carousel.get("cardContents") if isinstance(carousel, dict) else None
    if not isinstance(contents, list) or not low <= len(contents) <= high:
        return f"richCard.carouselCard.cardContents must hold {low} to {high} cards"
    if carousel.get("cardWidth") not in ("SMALL", "MEDIUM"):
        return "richCard.carouselCard.cardWidth must be SMALL or MEDIUM"
    return None


INBOUND_BODY = object_schema(
    "A message of the user of a conversation with a sandbox gbm traffic account's agent: text or suggestionResponse",
    {
        "trafficAccountId": described("A sandbox gbm traffic account of yours"),
        "from": described("The conversation id"),
        "text": described("The text"),
        "suggestionResponse": described(
            'A tapped suggestion: {"postbackData", "text", "type"?: "REPLY"|"ACTION", "message"?: <the agent '
            "message's name>}",
            OBJECT,
        ),
        "name": described("The user's display name (context.userInfo)"),
        "messageId": described("The message id of an earlier text message, to deliver it again"),
        "requestId": described("The request id of an earlier suggestionResponse, to deliver it again"),
    },
    ("trafficAccountId", "from"),
)


@simulator("A simulated user writes to a sandbox gbm traffic account's agent", INBOUND_BODY)
async def user_sends_message(request: Request, callbacks: CallbacksDependency) -> SimulatedMessage:
    """Google's signed payload reaches the gateway; ``providerMessageId`` is the message's id, or
    ``request:<requestId>`` for a tapped suggestion (as the gateway stores them)."""
    body = await simulated_body(request)
    problems = [
        {"key": key, "message": f"is required: a string of 1-{ID_MAX} characters without spaces"}
        for key in ("trafficAccountId", "from")
        if not isinstance(body.get(key), str)
        or not body[key].strip()
        or len(body[key].strip()) > ID_MAX
        or any(c.isspace() for c in body[key].strip())
    ]
    suggestion = body.get("suggestionResponse")
    if suggestion is None:
        if not isinstance(body.get("text"), str) or not body["text"]:
            problems.append({"key": "text", "message": "is required (or a tapped suggestion in suggestionResponse)"})
    elif not isinstance(suggestion, dict) or not isinstance(suggestion.get("postbackData"), str):
        problems.append({"key": "suggestionResponse", "message": "must be an object with postbackData and text"})
    if problems:
        raise ValidationException("The simulated message is not valid.", extra=problems)
    try:
        account_id = uuid.UUID(body["trafficAccountId"])
    except ValueError:
        raise ValidationException(
            "The simulated message is not valid.", extra=[{"key": "trafficAccountId", "message": "must be a UUID"}]
        ) from None
    account = await callbacks.account(account_id, "gbm")
    # A live account's users are real people and its key a real secret: the sandbox signs for sandbox accounts only.
    if account is None or not account.sandbox:
        raise NotFoundException("No sandbox gbm traffic account with this id.")
    request.app.state.setdefault(_AGENTS_KEY, {})[sandbox_bearer(account.credentials.get(CREDENTIAL, ""))] = account.id
    conversation_id = body["from"].strip()
    payload = _envelope(account, conversation_id)
    if suggestion is None:
        message_id = str(body.get("messageId") or uuid.uuid4())
        payload["message"] = {
            "messageId": message_id,
            "name": f"conversations/{conversation_id}/messages/{message_id}",
            "text": body["text"],
            "createTime": _now(),
        }
        payload["context"] = _context(body)
        provider_message_id = message_id
    else:
        # The providerMessageId of an earlier answer ("request:<id>") names its request too.
        payload["requestId"] = str(body.get("requestId") or payload["requestId"]).removeprefix("request:")
        response: dict[str, Any] = {
            "postbackData": suggestion["postbackData"],
            "text": str(suggestion.get("text") or suggestion["postbackData"]),
            "createTime": _now(),
            "type": str(suggestion.get("type") or "REPLY"),
        }
        if isinstance(suggestion.get("message"), str):
            response["message"] = suggestion["message"]
        payload["suggestionResponse"] = response
        payload["context"] = _context(body)
        provider_message_id = f"request:{payload['requestId']}"  # as the callback route stores it
    status = await _deliver(
        callbacks.callback_url("gbm", account.id), account.credentials.get(CLIENT_TOKEN, ""), payload
    )
    return SimulatedMessage(**await simulated(callbacks, "gbm", account.id, provider_message_id, status))


def _envelope(account: Account, conversation_id: str) -> dict[str, Any]:
    """The fields every webhook payload of Google's carries."""
    agent = account.settings.get("agentId") or f"sandbox-{account.id}"
    return {
        "agent": f"brands/sandbox/agents/{agent}",
        "conversationId": conversation_id,
        "customAgentId": "",
        "requestId": str(uuid.uuid4()),
        "sendTime": _now(),
    }


def _context(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "entryPoint": "ENTRY_POINT_UNSPECIFIED",
        "userInfo": {"displayName": str(body.get("name") or "Sandbox user"), "userDeviceLocale": "en-US"},
        "resolvedLocale": "en",
    }


@dataclass
class _Scan:
    """The lazily learned accounts: one look through them at a time."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    read: set[UUID] = field(default_factory=set)  # accounts whose bearer token is known
    last_full: float = 0.0  # monotonic time all accounts were last read again


async def _account_of_bearer(request: Request, callbacks: Callbacks, token: str) -> Account | None:
    """The sandbox gbm traffic account whose bearer token this is, or None (see the module docstring)."""
    state = request.app.state
    agents: dict[str, UUID] = state.setdefault(_AGENTS_KEY, {})
    if (account := await _checked(callbacks, agents.get(token), token)) is not None:
        return account
    scan: _Scan = state.setdefault(_SCAN_KEY, _Scan())
    async with scan.lock:
        if (account := await _checked(callbacks, agents.get(token), token)) is not None:
            return account
        agents.pop(token, None)
        # Accounts not read yet; all of them at most every RESCAN_SECONDS (a credential may have changed).
        full = time.monotonic() - scan.last_full >= RESCAN_SECONDS
        if full:
            scan.last_full = time.monotonic()
        found = None
        for account_id in await callbacks.sandbox_account_ids("gbm"):
            if account_id in scan.read and not full:
                continue
            scan.read.add(account_id)
            candidate = await callbacks.account(account_id, "gbm")
            if candidate is None or not candidate.sandbox:
                continue
            bearer = sandbox_bearer(candidate.credentials.get(CREDENTIAL, ""))
            agents[bearer] = candidate.id
            if kit.same_signature(bearer, token):
                found = candidate
        return found


async def _checked(callbacks: Any, account_id: UUID | None, token: str) -> Account | None:
    """The account when it (still) exists, is a sandbox account and ``token`` is its bearer token."""
    if account_id is None:
        return None
    account = await callbacks.account(account_id, "gbm")
    if account is None or not account.sandbox:
        return None
    bearer = sandbox_bearer(account.credentials.get(CREDENTIAL, ""))
    return account if kit.same_signature(bearer, token) else None


async def _report(callbacks: Any, account: Account, conversation_id: str, name: str, receipt_types: list[str]) -> None:
    url = callbacks.callback_url("gbm", account.id)
    if not callbacks.is_own_callback(url):
        return
    key = account.credentials.get(CLIENT_TOKEN, "")
    for receipt_type in receipt_types:
        await asyncio.sleep(REPORT_DELAY)
        payload = _envelope(account, conversation_id)
        payload["receipts"] = {"receipts": [{"message": name, "receiptType": receipt_type}], "createTime": _now()}
        await _deliver(url, key, payload)


async def _deliver(url: str, key: str, payload: dict[str, Any], attempts: int = 6) -> int | None:
    """POSTs one signed callback (see channels.sandbox_support.post_callback)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return await post_callback(url, body, {SIGNATURE_HEADER: signature(key, body)}, attempts)


# What the inbox's "Reply as the user" sends besides text (this module's ``inbound`` fields): a tapped suggestion.
USER_REPLIES: dict[str, UserReplyBody] = {
    "button": lambda reply: {"suggestionResponse": {"postbackData": reply.payload or reply.text, "text": reply.text}},
}
