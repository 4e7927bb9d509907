"""Delivery reports of the SMS HTTP API: JSON POSTs ``{messageId, status, errorcode}`` or the same as GET
query parameters, to the per-message callback URL whose signed token names our message."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request, Response, route
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.params import FromPath

from channels.base import InboundMessage, Pipeline, StatusReport, json_object
from channels.sms.errors import dlr_error_text

# DLR states (seed 004) -> the gateway's statuses; BUFFERED is "still trying": no change.
STATUSES = {
    "SENT": "Sent",
    "DELIVERED": "Delivered",
    "UNDELIVERED": "Failed",
    "FAILED": "Failed",
    "EXPIRED": "Expired",
    "BUFFERED": None,
}


def report_of(message_id: UUID, fields: dict[str, Any]) -> StatusReport | None | str:
    """The status report in a DLR, None for a report that changes nothing, or why it is malformed."""
    state = str(fields.get("status", "")).upper()
    if state not in STATUSES:
        return f"status must be one of {', '.join(STATUSES)}"
    if STATUSES[state] is None:
        return None
    code = fields.get("errorcode")
    if code not in (None, "") and not (isinstance(code, (int, str)) and str(code).isdigit() and len(str(code)) <= 6):
        return "errorcode must be a number (the SMS API's delivery-report error code)"
    failed = STATUSES[state] in ("Failed", "Expired")
    return StatusReport(
        status=STATUSES[state],
        message_id=message_id,
        provider_message_id=str(fields["messageId"]) if fields.get("messageId") else None,
        error_code=f"sms.dlr.{code}" if failed and code not in (None, "") else ("sms.dlr.expired" if failed else None),
        description=(dlr_error_text(code) or state.lower()) if failed else None,
    )


@route("/callbacks/sms/{account_id:str}", http_method=["GET", "POST"], status_code=200, include_in_schema=False)
async def delivery_report(request: Request, account_id: FromPath[UUID]) -> Response[dict[str, Any]]:
    pipeline: Pipeline = request.app.state.pipeline
    message_id = pipeline.message_of_token(request.query_params.get("token"))
    if message_id is None:
        raise NotAuthorizedException("The callback token is missing, forged or expired.")
    fields = await _fields(request)
    report = report_of(message_id, fields)
    if isinstance(report, str):
        field = report.split(" ", 1)[0]  # the message starts with the field it is about
        raise ValidationException("The delivery report is not valid.", extra=[{"key": field, "message": report}])
    if report is not None and not await pipeline.report(account_id, report):
        raise NotFoundException("No message of this traffic account with this token.")
    return Response({"status": "ok"})


@route("/callbacks/sms/{account_id:str}/inbound", http_method=["GET", "POST"], status_code=200, include_in_schema=False)
async def inbound_sms(request: Request, account_id: FromPath[UUID]) -> Response[dict[str, Any]]:
    """A 2-way SMS: ``{sender, receiver, content, msgid, coding}`` as JSON or query parameters (seed 004)."""
    pipeline: Pipeline = request.app.state.pipeline
    if pipeline.account_of_token(request.query_params.get("token")) != account_id:
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
    inbound = InboundMessage(
        sender=fields["sender"],
        content={
            "type": "text",
            "text": fields["content"],
            "receiver": fields.get("receiver"),
            "coding": fields.get("coding"),
        },
        provider_message_id=fields["msgid"],
    )
    if not await pipeline.receive(account_id, inbound):
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
