"""Business Messages webhook: JSON POSTed by Google to ``/callbacks/gbm/{account_id}`` (the webhook URL
configured for the agent, or the partner, in the Business Communications console).

Authenticity: Google signs every webhook POST with ``X-Goog-Signature``, the base64 HMAC-SHA512 of the
raw body keyed with the webhook's client token (the "partner key" of older documentation), which the
Business Communications console shows: the account's ``clientToken`` credential (a sandbox account's
is derived, and its sandbox provider signs with it). A missing or wrong signature, or an unknown
traffic account, is refused with 401 and changes nothing.

Webhook verification: when a webhook is set, Google POSTs ``{"secret": ..., "clientToken": ...}`` and
expects ``200`` with the secret as plain text when the client token is the one it showed. It is
answered when ``clientToken`` equals the account's ``clientToken`` credential, or when the request carries a
valid ``X-Goog-Signature``; otherwise 401.

Payloads (the UserMessage object; exactly one of):

- ``receipts: {receipts: [{message: "conversations/{c}/messages/{m}", receiptType}]}`` -> DELIVERED ->
  Delivered, READ -> Read, matched by ``{m}`` (the ``messageId`` the adapter sent: our message id, so a
  receipt that overtakes the recording of the send answer still finds its message). A receipt naming
  no message of the account makes the answer 404, so that Google tries again; other receipt types are
  ignored.
- ``message: {messageId, name, text, createTime}`` -> an inbound message from ``conversationId``
  (the sender), content ``{"type": "text", "text"}`` (``{"type": "image", "url", "thumbnail"?}`` when the
  message carries ``image.contentInfo.fileUrl``), stored once per ``messageId``.
- ``suggestionResponse: {message, postbackData, text, type}`` (a suggested reply or action tapped) ->
  an inbound ``{"type": "postback", "data", "title"?, "source": "suggestion", "relatesTo"?}`` from
  ``conversationId`` (``relatesTo`` names the message whose suggestion it was), stored once per ``requestId``
  (Google's de-duplication key for user messages).
- Either way ``context.userInfo.displayName``, when the user shares it, is the sender's name.
- ``userStatus`` (typing, live agent requested), ``surveyResponse``, ``authenticationResponse`` and
  anything Google adds later: acknowledged with 200, nothing changes.

Unknown fields are ignored; a body that isn't a Business Messages webhook is a 400 naming the field.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import MediaType, Request, Response, post
from litestar.exceptions import NotAuthorizedException, NotFoundException
from litestar.params import FromPath

from channels import inbound
from channels.base import ID_MAX, CallbacksDependency, InboundMessage, StatusReport, json_object
from channels.kit import Malformed, same_signature
from channels.openapi import OBJECT, STRING, documented, header, object_schema, problem

SIGNATURE_HEADER = "X-Goog-Signature"
CLIENT_TOKEN = "clientToken"  # the credential that keys X-Goog-Signature
RECEIPT_STATUSES = {"DELIVERED": "Delivered", "READ": "Read"}
INVALID = "The Business Messages webhook payload is not valid."
PAYLOADS = ("message", "receipts", "suggestionResponse", "userStatus", "surveyResponse", "authenticationResponse")


@dataclass(frozen=True, slots=True)
class Verification:
    """Google's webhook verification request."""

    secret: str
    client_token: str


def signature(key: str, body: bytes) -> str:
    """X-Goog-Signature: base64 HMAC-SHA512 of the raw body, keyed with the webhook key."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha512).digest()).decode()


def signature_matches(key: str | None, body: bytes, given: str | None) -> bool:
    """Constant-time check of the signature header; an account without a key accepts nothing."""
    return bool(key) and same_signature(signature(key, body), (given or "").strip())


def verification_of(data: Any) -> Verification | None:
    """The webhook verification request in a decoded body, or None when it is another payload."""
    if not isinstance(data, dict) or "secret" not in data or "clientToken" not in data:
        return None
    if any(key in data for key in PAYLOADS):
        return None
    secret, token = data.get("secret"), data.get("clientToken")
    if not isinstance(secret, str) or not isinstance(token, str):
        raise Malformed("secret", "the verification request needs string secret and clientToken")
    return Verification(secret, token)


def decode(body: bytes) -> dict[str, Any]:
    if (data := json_object(body)) is None:
        raise Malformed("body", "must be a JSON object (a Business Messages webhook payload)")
    return data


def parse_callback(data: dict[str, Any]) -> list[StatusReport] | InboundMessage | None:
    """What a (verified) webhook payload means for the gateway: status reports, a user's message, or
    None for a payload that changes nothing. Raises :class:`Malformed`."""
    if "receipts" in data:
        return _receipts(data["receipts"])
    if "message" in data:
        message = _object(data["message"], "message")
        message_id = _id(message.get("messageId"), "message.messageId", "the message's unique id")
        return InboundMessage(
            sender=_conversation_id(data),
            content=inbound.content(_content(message)),
            provider_message_id=message_id,
            sender_name=_display_name(data),
        )
    if "suggestionResponse" in data:
        response = _object(data["suggestionResponse"], "suggestionResponse")
        request_id = _id(data.get("requestId"), "requestId", "the user message's unique id", ID_MAX - len("request:"))
        postback = response.get("postbackData")
        text = response.get("text")
        if postback is not None and not isinstance(postback, str):
            raise Malformed("suggestionResponse.postbackData", "must be a string")
        if text is not None and not isinstance(text, str):
            raise Malformed("suggestionResponse.text", "must be a string")
        in_reply_to = _message_id_of(response.get("message"))
        content = inbound.Postback(
            data=postback or "",
            title=text or None,  # the suggestion's text, as the user saw it
            source="suggestion",
            relates_to=inbound.RelatesTo(provider_message_id=in_reply_to) if in_reply_to else None,
        )
        return InboundMessage(
            sender=_conversation_id(data),
            content=inbound.content(content),
            provider_message_id=f"request:{request_id}",
            sender_name=_display_name(data),
        )
    return None  # userStatus, surveyResponse, authenticationResponse, and payloads added later


PAYLOAD = object_schema(
    "A Business Messages webhook payload (one of receipts, message, suggestionResponse, userStatus...), or the "
    "webhook verification request {secret, clientToken}",
    {
        "conversationId": STRING,
        "requestId": STRING,
        "receipts": OBJECT,
        "message": OBJECT,
        "suggestionResponse": OBJECT,
        "userStatus": OBJECT,
        "secret": STRING,
        "clientToken": STRING,
    },
)


@post(
    "/",
    status_code=200,
    media_type=MediaType.TEXT,
    tags=["callbacks"],
    summary="Google Business Messages webhook; a verification request is answered with its secret",
    operation_class=documented(
        header(SIGNATURE_HEADER, "Base64 HMAC-SHA512 of the raw body keyed with the account's clientToken"),
        body=PAYLOAD,
    ),
    responses={401: problem(f"`unauthorized`: {SIGNATURE_HEADER} (or a verification's clientToken) is wrong")},
)
async def gbm_callback(request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]) -> Response[bytes]:
    body = await request.body()
    account = await callbacks.account(account_id, "gbm")
    key = account.credentials.get(CLIENT_TOKEN) if account is not None else None
    signed = signature_matches(key, body, request.headers.get(SIGNATURE_HEADER))
    try:
        data = decode(body)
        verification = verification_of(data)
    except Malformed as error:
        if not signed:
            raise NotAuthorizedException(
                f"The {SIGNATURE_HEADER} is missing or wrong for this traffic account."
            ) from None
        raise error.problem(INVALID) from None
    if verification is not None:
        if not (signed or same_signature(key, verification.client_token)):
            raise NotAuthorizedException("The clientToken is not this traffic account's.")
        return Response(verification.secret.encode(), status_code=200, media_type=MediaType.TEXT)
    if not signed:
        raise NotAuthorizedException(f"The {SIGNATURE_HEADER} is missing or wrong for this traffic account.")
    try:
        parsed = parse_callback(data)
    except Malformed as error:
        raise error.problem(INVALID) from None
    if isinstance(parsed, list):
        found = [await callbacks.report(account_id, report) for report in parsed]
        if not all(found):
            raise NotFoundException("A receipt names no message of this traffic account.")
    elif isinstance(parsed, InboundMessage) and not await callbacks.receive(account_id, parsed):
        raise NotFoundException("No such traffic account.")
    return Response(b"", status_code=200, media_type=MediaType.TEXT)


def _object(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(field, "must be an object")
    return value


def _id(value: Any, field: str, what: str, max_len: int = ID_MAX) -> str:
    """A non-empty id of at most ``max_len`` characters, without spaces."""
    if not isinstance(value, str) or not value.strip():
        raise Malformed(field, f"is required: {what}")
    value = value.strip()
    if len(value) > max_len or any(char.isspace() for char in value):
        raise Malformed(field, f"must be {what}: at most {max_len} characters, no spaces")
    return value


def _conversation_id(data: dict[str, Any]) -> str:
    return _id(data.get("conversationId"), "conversationId", "the conversation's unique id (the user's address)")


def _message_id_of(name: Any) -> str | None:
    """``{m}`` of ``conversations/{c}/messages/{m}``; None for anything else."""
    if not isinstance(name, str) or "/messages/" not in name:
        return None
    message_id = name.rsplit("/messages/", 1)[1].strip()
    return message_id if message_id and "/" not in message_id else None


def _receipts(value: Any) -> list[StatusReport]:
    receipts = _object(value, "receipts").get("receipts")
    if not isinstance(receipts, list):
        raise Malformed("receipts.receipts", "is required: a list of receipts")
    reports: list[StatusReport] = []
    for i, receipt in enumerate(receipts):
        receipt = _object(receipt, f"receipts.receipts[{i}]")
        message_id = _message_id_of(receipt.get("message"))
        if message_id is None:
            raise Malformed(
                f"receipts.receipts[{i}].message", 'is required: "conversations/{conversationId}/messages/{messageId}"'
            )
        status = (
            RECEIPT_STATUSES.get(receipt.get("receiptType")) if isinstance(receipt.get("receiptType"), str) else None
        )
        if status is None:
            continue  # RECEIPT_TYPE_UNSPECIFIED and types added later
        reports.append(StatusReport(status=status, message_id=_our_id(message_id), provider_message_id=message_id))
    return reports


def _our_id(message_id: str) -> UUID | None:
    """Our message id when the messageId is one (the adapter sends ours)."""
    try:
        return uuid.UUID(message_id)
    except ValueError:
        return None


def _content(message: dict[str, Any]) -> inbound.Text | inbound.Image | inbound.Unsupported:
    text = message.get("text")
    if isinstance(text, str):
        return inbound.Text(text=text)
    image = message.get("image")
    info = image.get("contentInfo") if isinstance(image, dict) else None
    url = info.get("fileUrl") if isinstance(info, dict) else None
    if isinstance(info, dict) and isinstance(url, str) and url:
        thumbnail = info.get("thumbnailUrl")
        return inbound.Image(url=url, thumbnail=thumbnail if isinstance(thumbnail, str) and thumbnail else None)
    if text is not None:
        raise Malformed("message.text", "must be a string")
    return inbound.Unsupported(kind=next((key for key in message if key not in _MESSAGE_META), "unknown"))


_MESSAGE_META = ("messageId", "name", "createTime")


def _display_name(data: dict[str, Any]) -> str | None:
    """The user's name: ``context.userInfo.displayName``, when the user shares it (Business Messages' UserMessage:
    developers.google.com/business-communications/business-messages/reference/rest/v1/UserMessage#context)."""
    context = data.get("context")
    user = context.get("userInfo") if isinstance(context, dict) else None
    name = user.get("displayName") if isinstance(user, dict) else None
    return name.strip() or None if isinstance(name, str) else None
