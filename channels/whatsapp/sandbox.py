"""The WhatsApp sandbox provider: the Cloud API's ``POST /{phone-number-id}/messages`` under
``/sandbox/whatsapp`` (a sandbox account's base URL), with deterministic behaviour chosen by the
recipient, and status webhooks signed like Meta's sent to the account's callback route.

Which account: Meta knows the app (and its secret) behind a phone number id. A sandbox traffic account
that leaves ``phoneNumberId`` unset sends from the phone number id that is its own traffic account id
(``channels.whatsapp.adapter.phone_number_id``), so the sandbox looks the account up by the URL's phone
number id and signs with its (derived) ``appSecret``: nothing but the Cloud API's own request goes over
the wire. A phone number id that is not a sandbox WhatsApp traffic account's id is refused like Meta
refuses an unknown object (HTTP 400, code 100, subcode 33): a sandbox account with a ``phoneNumberId``
of its own can't use the built-in sandbox.

Checked like the Cloud API: ``Authorization: Bearer <token>`` (missing: 401, code 104; not the account's
``accessToken``: 401, code 190); a JSON object with ``messaging_product: "whatsapp"``, ``to``,
``recipient_type`` (if given) ``individual``, a known ``type`` (default ``text``) and its object
(``text.body``; media ``link`` or ``id``; ``template.name`` and ``template.language.code``; ``interactive.type``
and ``interactive.action``; location ``latitude``/``longitude``): code 100 (invalid parameter) or
131008 (required parameter is missing), HTTP 400. Templates are not looked up: the gateway checks them
against the account's stored templates before accepting a message.

Magic endings of the recipient's digits (``to``), documented in the README:
``...0001`` accepted and never reported (the message stays Sent; for failover);
``...0002`` statuses sent, delivered, then read (about 0.1 s apart);
``...0003`` sent, then a ``failed`` status with error 131026 (message undeliverable);
``...1NNN`` refused at send with Cloud API error 131NNN (e.g. ``1047`` -> 131047, the re-engagement
error: more than 24 hours since the user's last message; ``1026`` -> 131026; ``1056`` -> 131056, the
pair rate limit, which is retried), HTTP 400 (500 for 131000, 503 for 131016);
``...0500`` HTTP 500 (code 1, API Unknown); ``...0429`` HTTP 429 with error 130429 (rate limit hit);
``...0408`` answers after 30 s (a timeout);
any other recipient: sent, then delivered about 0.1 s later.

``POST /sandbox/whatsapp/inbound`` ``{"trafficAccountId", "from", "text"}`` makes a simulated user of a
sandbox traffic account write to it: a signed ``messages`` webhook reaches the gateway's callback route.
Instead of ``text``: ``"buttonReply": {"id", "title"}`` (an interactive reply button tapped),
``"button": {"payload", "text"}`` (a template's quick reply), or ``"message"``: a Cloud API message
object of any type the callback route reads, such as ``{"type": "location", "location": {"latitude":
46.2, "longitude": 6.1}}``, ``{"type": "contacts", "contacts": [...]}``, ``{"type": "reaction",
"reaction": {"message_id", "emoji"}}``, ``{"type": "edit", "edit": {"original_message_id", "message"}}``,
``{"type": "revoke", "revoke": {"original_message_id"}}`` or ``{"type": "unsupported", "errors": [...]}``
(a message Meta couldn't deliver). Optional: ``"name"`` (the user's profile name), ``"replyTo"`` (the
wamid the message answers: its context), ``"wamid"`` (deliver a message with this id again),
``"phoneNumberId"`` (the webhook's ``metadata.phone_number_id``: another number than the account's is
ignored by the gateway, as a real webhook of another number would be). The answer is the simulators' one
(channels.sandbox_support.SimulatedMessage): ``providerMessageId`` is the wamid, ``gatewayStatus`` the HTTP
status of the gateway's callback route (null when it couldn't be reached) after retries of a 5xx.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from typing import Any

from litestar import Request, Response, post
from litestar.exceptions import NotFoundException, ValidationException
from litestar.params import FromPath

from channels import kit, openapi
from channels.base import (
    Account,
    Callbacks,
    CallbacksDependency,
    ProviderAnswer,
    SandboxFailures,
    UserReplyBody,
    json_object,
    normalise_phone_number,
)
from channels.openapi import described, object_schema
from channels.sandbox_support import (
    SimulatedMessage,
    in_background,
    post_callback,
    simulated,
    simulated_body,
    simulator,
)
from channels.whatsapp import adapter
from channels.whatsapp.callbacks import OBJECT, SIGNATURE_HEADER, signature
from channels.whatsapp.errors import DETAILS, TITLES

REPORT_DELAY = 0.1
SLOW_SECONDS = 30.0  # how long a ...0408 send hangs
DISPLAY_PHONE_NUMBER = "15550001234"
FAILED_CODE = 131026


def _failure(status: int, code: int, message: str, details: str | None = None, **headers: str) -> ProviderAnswer:
    """A Graph API error answer (as error_answer gives it), for a sandbox account's behaviour."""
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    return ProviderAnswer(status, {"error": error | {"fbtrace_id": "AsandboxBehaviour"}}, headers)


# The answers of ...0500 and ...0429, and of ...1026 (131026 message undeliverable: the message Fails).
FAILURES = SandboxFailures(
    sends=("/messages",),
    transient=_failure(500, 1, "An unknown error occurred"),
    throttled=_failure(429, 130429, f"(#130429) {TITLES[130429]}", DETAILS[130429], **{"Retry-After": "1"}),
    rejected=_failure(400, FAILED_CODE, f"(#{FAILED_CODE}) {TITLES[FAILED_CODE]}", DETAILS.get(FAILED_CODE)),
)
ERROR_CODES_URL = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
MESSAGE_TYPES = (
    "text",
    "image",
    "video",
    "audio",
    "document",
    "sticker",
    "interactive",
    "location",
    "template",
    "contacts",
    "reaction",
)
MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def behaviour(to: str) -> tuple[str, int | None]:
    """(what happens, the Cloud API error code) for a recipient's digits."""
    for ending, kind in (("0001", "silent"), ("0002", "read"), ("0003", "failed")):
        if to.endswith(ending):
            return kind, None
    if len(to) >= 4 and to[-4] == "1" and to[-3:].isdigit():
        return "refused", 131000 + int(to[-3:])
    for ending, kind in (("0500", "error"), ("0429", "throttled"), ("0408", "timeout")):
        if to.endswith(ending):
            return kind, None
    return "delivered", None


def new_wamid() -> str:
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + os.urandom(27)).decode()


def error_answer(
    status: int,
    code: int,
    message: str | None = None,
    details: str | None = None,
    *,
    kind: str = "OAuthException",
    subcode: int | None = None,
    headers: dict[str, str] | None = None,
) -> Response[dict[str, Any]]:
    """A Graph API error answer, as Meta sends it."""
    error: dict[str, Any] = {
        "message": message or f"(#{code}) {TITLES.get(code, 'Unknown error')}",
        "type": kind,
        "code": code,
    }
    if details is not None:
        error["error_data"] = {"messaging_product": "whatsapp", "details": details}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["fbtrace_id"] = base64.urlsafe_b64encode(os.urandom(15)).decode()
    return Response({"error": error}, status_code=status, headers=headers)


async def sandbox_account(request: Request, callbacks: Callbacks, phone_number_id: str) -> Account | None:
    """The sandbox WhatsApp traffic account whose id is this phone number id, or None."""
    try:
        account_id = uuid.UUID(phone_number_id)
    except ValueError:
        return None
    account = await callbacks.account(account_id, "whatsapp")
    return account if account is not None and account.sandbox else None


def body_problem(body: Any) -> Response[dict[str, Any]] | None:
    """The Cloud API's answer to a message object it can't send; None when it is fine."""
    if not isinstance(body, dict):
        return error_answer(400, 100, "(#100) Invalid parameter", "The request body must be a JSON object.")
    if body.get("messaging_product") is None:
        return error_answer(400, 100, "(#100) The parameter messaging_product is required.")
    if body["messaging_product"] != "whatsapp":
        return error_answer(
            400, 100, f'(#100) Param messaging_product must be one of {{WHATSAPP}} - got "{body["messaging_product"]}".'
        )
    if body.get("recipient_type", "individual") != "individual":
        return error_answer(400, 100, "(#100) Invalid parameter", "recipient_type must be individual.")
    to = body.get("to")
    if not isinstance(to, str) or not to.strip():
        return error_answer(400, 100, "(#100) The parameter to is required.")
    if not normalise_phone_number(to):
        return error_answer(400, 131009, None, "Parameter 'to' must be a phone number.")
    kind = body.get("type", "text")
    if kind not in MESSAGE_TYPES:
        return error_answer(
            400, 100, f'(#100) Param type must be one of {{{", ".join(MESSAGE_TYPES).upper()}}} - got "{kind}".'
        )
    content = body.get(kind)
    if not isinstance(content, dict):
        return error_answer(400, 131008, None, f"Parameter '{kind}' is required.")
    missing = _missing(kind, content)
    if missing:
        return error_answer(400, 131008, None, f"Parameter '{kind}.{missing}' is required.")
    return None


def _missing(kind: str, content: dict[str, Any]) -> str | None:
    """The first required field the message type's object lacks."""
    if kind == "text":
        return None if isinstance(content.get("body"), str) and content["body"] else "body"
    if kind in MEDIA_TYPES:
        return None if content.get("link") or content.get("id") else "link"
    if kind == "template":
        if not isinstance(content.get("name"), str) or not content["name"]:
            return "name"
        language = content.get("language")
        return None if isinstance(language, dict) and language.get("code") else "language.code"
    if kind == "interactive":
        return next((key for key in ("type", "action") if not content.get(key)), None)
    if kind == "location":
        return next((key for key in ("latitude", "longitude") if not isinstance(content.get(key), (int, float))), None)
    return None


@post("/{phone_number_id:str}/messages", status_code=200, include_in_schema=False)
async def send_message(
    request: Request, callbacks: CallbacksDependency, phone_number_id: FromPath[str]
) -> Response[dict[str, Any]]:
    authorization = request.headers.get("Authorization", "")
    token = authorization[7:].strip() if authorization[:7].lower() == "bearer " else ""
    if not token:
        return error_answer(401, 104, "An access token is required to request this resource.")
    account = await sandbox_account(request, callbacks, phone_number_id)
    if account is None:
        return error_answer(
            400,
            100,
            f"Unsupported post request. Object with ID '{phone_number_id}' does not exist, cannot be loaded due to "
            "missing permissions, or does not support this operation.",
            "The sandbox's phone number ids are sandbox WhatsApp traffic account ids: leave phoneNumberId unset.",
            kind="GraphMethodException",
            subcode=33,
        )
    if not kit.same_signature(account.credentials.get("accessToken"), token):
        return error_answer(401, 190, "Invalid OAuth access token - Cannot parse access token")
    body = json_object(await request.body())
    if (problem := body_problem(body)) is not None:
        return problem
    to = normalise_phone_number(body["to"])
    what, code = behaviour(to)
    if what == "refused":
        assert code is not None
        status = {131000: 500, 131016: 503}.get(code, 400)
        return error_answer(status, code, None, DETAILS.get(code, TITLES.get(code, "Message failed to send.")))
    if what == "error":
        return error_answer(500, 1, "An unknown error occurred", kind="OAuthException")
    if what == "throttled":
        return error_answer(429, 130429, None, DETAILS[130429], headers={"Retry-After": "1"})
    if what == "timeout":
        await asyncio.sleep(SLOW_SECONDS)
    wamid = new_wamid()
    states = {"delivered": ["sent", "delivered"], "read": ["sent", "delivered", "read"], "failed": ["sent", "failed"]}
    callback = callbacks.callback_url("whatsapp", account.id)
    # Webhooks go only to this gateway's own callback routes: the sandbox is no way to make it call elsewhere.
    if what in states and callbacks.is_own_callback(callback):
        notifications = [
            notification(account, phone_number_id, {"statuses": [status_object(wamid, to, state)]})
            for state in states[what]
        ]
        in_background(_report(callback, account.credentials.get("appSecret", ""), notifications))
    message: dict[str, Any] = {"id": wamid}
    if body.get("type") == "template":
        message["message_status"] = "accepted"
    return Response(
        {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": to}], "messages": [message]}
    )


def notification(account: Account, phone_number_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A ``messages`` webhook notification of the account's business number."""
    waba = account.settings.get("wabaId") or str(account.id.int % 10**15)
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": phone_number_id},
        **fields,
    }
    return {"object": OBJECT, "entry": [{"id": waba, "changes": [{"value": value, "field": "messages"}]}]}


def status_object(wamid: str, recipient: str, state: str) -> dict[str, Any]:
    status: dict[str, Any] = {
        "id": wamid,
        "status": state,
        "timestamp": str(int(time.time())),
        "recipient_id": recipient,
    }
    if state in ("sent", "delivered"):
        status["conversation"] = {"id": uuid.uuid5(uuid.NAMESPACE_OID, recipient).hex, "origin": {"type": "service"}}
        status["pricing"] = {"billable": True, "pricing_model": "PMP", "category": "service"}
    if state == "failed":
        title = TITLES[FAILED_CODE]
        status["errors"] = [
            {
                "code": FAILED_CODE,
                "title": title,
                "message": title,
                "error_data": {"details": DETAILS[FAILED_CODE]},
                "href": ERROR_CODES_URL,
            }
        ]
    return status


INBOUND_BODY = object_schema(
    "A user's message to a sandbox whatsapp traffic account: text, buttonReply, button or message",
    {
        "trafficAccountId": described("A sandbox whatsapp traffic account of yours"),
        "from": described("The user's phone number, e.g. 447700900123"),
        "text": described("The text"),
        "buttonReply": described('An interactive reply button tapped: {"id": "yes", "title": "Yes"}', openapi.OBJECT),
        "button": described('A template\'s quick reply tapped: {"payload": "...", "text": "Yes"}', openapi.OBJECT),
        "message": described(
            'A Cloud API message object, e.g. {"type": "reaction", "reaction": {"message_id": "wamid.X", '
            '"emoji": "👍"}} or {"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]}',
            openapi.OBJECT,
        ),
        "name": described("The user's profile name (default Sandbox user)"),
        "replyTo": described("The wamid (providerMessageId) of the message this one answers"),
        "wamid": described("The providerMessageId of an earlier answer, to deliver that message again"),
        "phoneNumberId": described("The webhook's metadata.phone_number_id: another number's is ignored"),
    },
    ("trafficAccountId", "from"),
)


@simulator("A simulated user writes to a sandbox whatsapp traffic account", INBOUND_BODY)
async def user_sends_message(request: Request, callbacks: CallbacksDependency) -> SimulatedMessage:
    """The Cloud API's signed messages webhook reaches the gateway; ``providerMessageId`` is the wamid."""
    body = await simulated_body(request)
    problems = [
        {"key": key, "message": "is required: a non-empty string"}
        for key in ("trafficAccountId", "from")
        if not isinstance(body.get(key), str) or not body[key].strip()
    ]
    if isinstance(body.get("from"), str) and body["from"].strip() and not normalise_phone_number(body["from"]):
        problems.append({"key": "from", "message": "must be the user's phone number"})
    message, problem = _user_message(body)
    if problem is not None:
        problems.append(problem)
    if problems:
        raise ValidationException("The simulated message is not valid.", extra=problems)
    try:
        account_id = uuid.UUID(body["trafficAccountId"])
    except ValueError:
        raise _bad("trafficAccountId", "must be a UUID") from None
    account = await callbacks.account(account_id, "whatsapp")
    # A live account's app secret is a real secret: the sandbox signs only for sandbox accounts.
    if account is None or not account.sandbox:
        raise NotFoundException("No sandbox whatsapp traffic account with this id.")
    sender = normalise_phone_number(body["from"])
    wamid = body["wamid"] if isinstance(body.get("wamid"), str) and body["wamid"].strip() else new_wamid()
    message = {"from": sender, "id": wamid, "timestamp": str(int(time.time())), **message}
    if isinstance(body.get("replyTo"), str) and body["replyTo"]:
        message["context"] = {"from": DISPLAY_PHONE_NUMBER, "id": body["replyTo"]}
    contact = {"profile": {"name": str(body.get("name") or "Sandbox user")}, "wa_id": sender}
    # Another phone number id than the account's shows what Meta's webhook of another number does: ignored.
    number = body.get("phoneNumberId") if isinstance(body.get("phoneNumberId"), str) else None
    payload = notification(
        account, number or adapter.phone_number_id(account), {"contacts": [contact], "messages": [message]}
    )
    callback = callbacks.callback_url("whatsapp", account_id)
    status = None
    if callbacks.is_own_callback(callback):  # the sandbox calls nobody but this gateway's callback routes
        status = await _deliver(callback, account.credentials["appSecret"], payload)
    return SimulatedMessage(**await simulated(callbacks, "whatsapp", account_id, wamid, status))


def _user_message(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str] | None]:
    """The Cloud API message fields (type and its object) of a simulated message, or what is wrong."""
    if isinstance(body.get("message"), dict):
        message = body["message"]
        kind = message.get("type")
        # Its object (a list for contacts), or Meta's errors instead when Meta couldn't deliver the content.
        if not isinstance(kind, str) or not (
            isinstance(message.get(kind), (dict, list)) or isinstance(message.get("errors"), list)
        ):
            return {}, {
                "key": "message",
                "message": "must be a Cloud API message object with a type and its object (or errors)",
            }
        return {key: value for key, value in message.items() if key not in ("from", "id", "timestamp")}, None
    reply = body.get("buttonReply")
    if reply is not None:
        if not isinstance(reply, dict) or not isinstance(reply.get("id"), str) or not reply["id"]:
            return {}, {"key": "buttonReply", "message": 'must be an object like {"id": "yes", "title": "Yes"}'}
        button_reply = {"id": reply["id"], "title": str(reply.get("title") or reply["id"])}
        return {"type": "interactive", "interactive": {"type": "button_reply", "button_reply": button_reply}}, None
    button = body.get("button")
    if button is not None:
        if not isinstance(button, dict) or not isinstance(button.get("payload"), str) or not button["payload"]:
            return {}, {"key": "button", "message": 'must be an object like {"payload": "...", "text": "Yes"}'}
        return {"type": "button", "button": {"payload": button["payload"], "text": str(button.get("text") or "")}}, None
    text = body.get("text")
    if not isinstance(text, str) or not text:
        return {}, {"key": "text", "message": "is required (or buttonReply, button or a Cloud API message object)"}
    return {"type": "text", "text": {"body": text}}, None


def _bad(field: str, message: str) -> ValidationException:
    return ValidationException("The simulated message is not valid.", extra=[{"key": field, "message": message}])


async def _report(url: str, app_secret: str, notifications: list[dict[str, Any]]) -> None:
    for payload in notifications:
        await asyncio.sleep(REPORT_DELAY)
        await _deliver(url, app_secret, payload)


async def _deliver(url: str, app_secret: str, payload: dict[str, Any], attempts: int = 6) -> int | None:
    """POSTs one signed callback (see channels.sandbox_support.post_callback)."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return await post_callback(url, body, {SIGNATURE_HEADER: signature(app_secret, body)}, attempts)


# What the inbox's "Reply as the user" sends besides text (this module's ``inbound`` fields).
USER_REPLIES: dict[str, UserReplyBody] = {
    "media": lambda reply: {"message": {"type": "image", "image": {"id": "sandbox-image", "caption": reply.text}}},
    "location": lambda reply: {
        "message": {"type": "location", "location": {"latitude": reply.latitude, "longitude": reply.longitude}}
    },
    "button": lambda reply: {"buttonReply": {"id": reply.payload or reply.text, "title": reply.text or reply.payload}},
}
