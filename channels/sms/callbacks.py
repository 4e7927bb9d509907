"""Delivery reports of the SMS HTTP API, as a JSON POST or as GET query parameters, to the per-message callback URL
whose signed token names our message: seed 004's Callback API parameters ``{msgid, sendtime, status, receiver, mcc,
mnc, cost, errorcode, sendtimestamp, reference}`` (what the sandbox provider sends, channels/sms/protocol.py), or
seed 002's ``{messageId, status, errorcode}``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import FromPath

from channels import inbound
from channels.base import Callbacks, CallbacksDependency, InboundMessage, StatusReport, json_object
from channels.kit import Malformed
from channels.openapi import INTEGER, STRING, described, documented, object_schema, problem, query
from channels.sms.errors import dlr_error_text
from channels.sms.protocol import BUFFERED, dlr_error_code

# DLR states (seed 004) -> the gateway's statuses. BUFFERED is "still trying": the provider has the message (Sent),
# an interim report the customer's callback gets.
STATUSES = {
    "SENT": "Sent",
    "DELIVERED": "Delivered",
    "UNDELIVERED": "Failed",
    "FAILED": "Failed",
    "EXPIRED": "Expired",
    BUFFERED: "Sent",
}


def report_of(message_id: UUID, fields: dict[str, Any]) -> StatusReport:
    """The status report in a DLR. Raises :class:`Malformed`."""
    state = str(fields.get("status", "")).upper()
    if state not in STATUSES:
        raise Malformed("status", f"status must be one of {', '.join(STATUSES)}")
    code = fields.get("errorcode")
    if code not in (None, "") and not (isinstance(code, (int, str)) and str(code).isdigit() and len(str(code)) <= 6):
        raise Malformed("errorcode", "errorcode must be a number (the SMS API's delivery-report error code)")
    error_code = dlr_error_code(state, None if code in (None, "") else str(code))
    return StatusReport(
        status=STATUSES[state],
        message_id=message_id,
        provider_message_id=str(provider_id)
        if (provider_id := fields.get("msgid") or fields.get("messageId"))
        else None,
        error_code=error_code,
        description=(dlr_error_text(code) or state.lower()) if error_code else None,
        interim=BUFFERED if state == BUFFERED else None,
    )


# The OpenAPI description of the two routes, each taking its fields as a JSON body (POST) or the query (GET).
TOKEN = query("token", "The signed token of the callback URL the gateway gave the provider", required=True)
REPORT = {
    "msgid": described("The provider's message id (seed 004)"),
    "messageId": described("The provider's message id (seed 002's name)"),
    "status": Schema(type=OpenAPIType.STRING, description=f"One of {', '.join(STATUSES)} (any case)"),
    "errorcode": Schema(one_of=[STRING, INTEGER], description="The delivery-report error code (digits)"),
    **{name: STRING for name in ("sendtime", "receiver", "mcc", "mnc", "cost", "sendtimestamp", "reference")},
}
INBOUND = {"sender": STRING, "receiver": STRING, "content": STRING, "msgid": STRING, "coding": STRING}
INBOUND_REQUIRED = ("sender", "content", "msgid")
# Relative to the account's callback prefix (/callbacks/sms/<account id>, the gateway's).
DLR_PATH = "/"
INBOUND_PATH = "/inbound"
CALLBACK = {"tags": ["callbacks"], "status_code": 200}
REFUSED_TOKEN = {401: problem("`unauthorized`: the token is missing, forged, expired or not this account's")}


@get(
    DLR_PATH,
    summary="SMS delivery report, as query parameters",
    operation_class=documented(TOKEN, *(query(name, schema=schema) for name, schema in REPORT.items())),
    responses=REFUSED_TOKEN,
    **CALLBACK,
)
async def delivery_report_query(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[dict[str, Any]]:
    return await delivery_report_of(request, callbacks, account_id)


@post(
    DLR_PATH,
    summary="SMS delivery report, as JSON",
    operation_class=documented(TOKEN, body=object_schema("The delivery report", REPORT, ("status",))),
    responses=REFUSED_TOKEN,
    **CALLBACK,
)
async def delivery_report(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[dict[str, Any]]:
    return await delivery_report_of(request, callbacks, account_id)


async def delivery_report_of(request: Request, callbacks: Callbacks, account_id: UUID) -> Response[dict[str, Any]]:
    message_id = callbacks.message_of_token(request.query_params.get("token"))
    if message_id is None:
        raise NotAuthorizedException("The callback token is missing, forged or expired.")
    fields = await _fields(request)
    try:
        report = report_of(message_id, fields)
    except Malformed as error:
        raise error.problem("The delivery report is not valid.") from None
    if not await callbacks.report(account_id, report):
        raise NotFoundException("No message of this traffic account with this token.")
    return Response({"status": "ok"})


@get(
    INBOUND_PATH,
    summary="A user's SMS (2-way), as query parameters",
    operation_class=documented(
        TOKEN, *(query(name, schema=schema, required=name in INBOUND_REQUIRED) for name, schema in INBOUND.items())
    ),
    responses=REFUSED_TOKEN,
    **CALLBACK,
)
async def inbound_sms_query(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[dict[str, Any]]:
    return await inbound_sms_of(request, callbacks, account_id)


@post(
    INBOUND_PATH,
    summary="A user's SMS (2-way), as JSON",
    operation_class=documented(TOKEN, body=object_schema("The user's message", INBOUND, INBOUND_REQUIRED)),
    responses=REFUSED_TOKEN,
    **CALLBACK,
)
async def inbound_sms(
    request: Request, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[dict[str, Any]]:
    return await inbound_sms_of(request, callbacks, account_id)


async def inbound_sms_of(request: Request, callbacks: Callbacks, account_id: UUID) -> Response[dict[str, Any]]:
    """A 2-way SMS: ``{sender, receiver, content, msgid, coding}`` as JSON or query parameters (seed 004)."""
    if await callbacks.account_of_token(request.query_params.get("token")) != account_id:
        raise NotAuthorizedException("The callback token is missing or not this traffic account's.")
    fields = await _fields(request)
    limits = {"sender": 256, "content": 10_000, "msgid": 256, "receiver": 256, "coding": 32}
    problems = [
        {"key": key, "message": f"must be text of 1-{limit} characters"}
        for key, limit in limits.items()
        if (key in ("sender", "content", "msgid") or fields.get(key) is not None)
        and not (isinstance(fields.get(key), str) and 0 < len(fields[key]) <= limit)
    ]
    if problems:
        raise ValidationException("The inbound SMS is not valid.", extra=problems)
    message = InboundMessage(
        sender=fields["sender"],
        content=inbound.content(inbound.Text(text=fields["content"])),
        provider_message_id=fields["msgid"],
        recipient=fields.get("receiver"),
    )
    if not await callbacks.receive(account_id, message):
        raise NotFoundException("No such traffic account.")
    return Response({"status": "ok"})


async def _fields(request: Request) -> dict[str, Any]:
    """The callback's fields: a JSON object in a POST body, or the query parameters of a GET."""
    if request.method != "POST":
        return {key: value for key, value in request.query_params.items() if key != "token"}
    if (fields := json_object(await request.body())) is None:
        raise ValidationException(
            "The callback body is not valid.", extra=[{"key": "body", "message": "must be a JSON object"}]
        )
    return fields
