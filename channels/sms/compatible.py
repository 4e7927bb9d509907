"""The SMS HTTP API served to customers (issue 20): ``POST /sms``, ``/smsbulk`` (and their ``.json`` / ``.xml`` and
``/v2`` spellings), ``/sms/converted`` and ``/usage/bycountry``, on the gateway's ordinary pipeline through
:class:`channels.base.CompatibleApi`; and the format of the account's callbacks (delivery reports, 2-way forwarding)
and its settings. The format itself is channels/sms/protocol.py."""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from collections import defaultdict
from typing import Any
from uuid import UUID

from litestar import Request, Response, post
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Operation, Schema

from channels.base import (
    CompatibleApi,
    CompatibleApiDependency,
    CompatibleSend,
    InboundMessage,
    Notify,
    Refused,
    Sent,
    is_http_url,
    json_object,
)
from channels.openapi import INTEGER, NUMBER, REQUEST_EXAMPLES, STRING, described, documented, object_schema, problem
from channels.sms import protocol
from channels.sms.countries import country_of
from wire.errors import FieldError

# --- the account's settings ------------------------------------------------------------------------------------

METHODS = ("GET", "POST")
# The settings of an sms traffic account for this API (all optional, public): where reports and users' messages
# go, whether conversions are tracked, and the price table of reports and usage.
SETTINGS = ("callbackUrl", "callbackMethod", "inboundUrl", "inboundMethod", "conversionTracking", "prices")
TYPED_SETTINGS = ("conversionTracking", "prices")
PRICE_KEY = re.compile(r"[A-Z]{3}|default")


def setting_problem(key: str, value: Any) -> str | None:
    """The rule of each of this API's settings (the gateway checks that the others are non-empty strings)."""
    if key in ("callbackUrl", "inboundUrl") and not is_http_url(value):
        return "must be an absolute http(s) URL (<msgid> or $msgid$ placeholders allowed)"
    if key in ("callbackMethod", "inboundMethod") and value not in METHODS:
        return "must be GET or POST"
    if key == "conversionTracking" and not isinstance(value, bool):
        return "must be true or false"
    if key == "prices" and not (
        isinstance(value, dict)
        and all(
            isinstance(k, str)
            and PRICE_KEY.fullmatch(k)
            and isinstance(v, (int, float))
            and not isinstance(v, bool)
            and 0 <= v <= 1_000_000
            for k, v in value.items()
        )
    ):
        return (
            "must be an object of prices per SMS part in 1/100 of the billing currency, by ISO 3166-1 alpha-3 "
            'country code or "default", e.g. {"HRV": 0.9, "default": 1.2}'
        )
    return None


# --- the callbacks' format (the Channel's hooks) ---------------------------------------------------------------


def report(message: Any, status: str, at: datetime.datetime, notify: Notify, settings: dict[str, Any]) -> dict | None:
    """The request reporting a message's new status, or a BUFFERED (the interim report channels/sms/callbacks.py
    makes of it), in seed 004's Callback API; None when it isn't reported: a status of the gateway's own (Ready...),
    or one left out of the request's deliveryStatusesToNotify."""
    state = status if status == protocol.BUFFERED else protocol.state_of(status, message.error_code)
    if state is None or (notify.statuses and state not in notify.statuses):
        return None
    return protocol.callback_request(notify, protocol.report_fields(message, state, at, settings))


def inbound_target(settings: dict[str, Any]) -> Notify | None:
    """Where the account's users' messages are forwarded (2-way): its inboundUrl, POST unless inboundMethod says."""
    if not settings.get("inboundUrl"):
        return None
    return Notify(settings["inboundUrl"], settings.get("inboundMethod") or "POST")


def inbound(message: Any, received: InboundMessage, settings: dict[str, Any], notify: Notify) -> dict[str, Any]:
    """The request forwarding a user's message: seed 004's 2-way fields, the receiver the number the user texted
    as the provider said, else the account's phoneNumber (empty without either)."""
    receiver = received.recipient or settings.get("phoneNumber") or ""
    return protocol.callback_request(notify, protocol.inbound_fields(message, receiver))


# --- the routes ------------------------------------------------------------------------------------------------

SMS_PATHS = ["/sms", "/sms.json", "/sms.xml", "/v2/sms.json"]  # seed 001 (.xml), the Power Platform's /v2
BULK_PATHS = ["/smsbulk", "/smsbulk.json", "/smsbulk.xml", "/v2/smsbulk.json"]
JSON = "application/json"
XML = "application/xml"
# Refusals are problem+json too: an object with the problem's members beside responseCode and responseText.
PROBLEM_JSON = "application/problem+json"


def _encode(answer: Any, as_xml: bool) -> tuple[bytes, str]:
    if as_xml:
        return protocol.xml(answer), XML
    return json.dumps(answer, ensure_ascii=False).encode(), JSON


def _refused(
    code: int, status: int, problem_code: str, detail: str, errors: list[FieldError], as_xml: bool
) -> Response:
    answer = protocol.refusal(code, status, problem_code, detail, errors)
    body, _ = _encode(answer, as_xml)
    return Response(body, status_code=status, media_type=XML if as_xml else PROBLEM_JSON)


def _notify(sms: protocol.SendRequest, settings: dict[str, Any]) -> Notify | None:
    """Where this request's reports go: its ``callback``, else the account's callbackUrl; with the account's
    callbackMethod (POST unless set) and the request's deliveryStatusesToNotify."""
    url = sms.callback or settings.get("callbackUrl")
    if not url:
        return None
    return Notify(url, settings.get("callbackMethod") or "POST", sms.statuses)


async def send(request: Request, compatible: CompatibleApi, *, bulk: bool) -> Response:
    as_xml = protocol.wants_xml(request.url.path, request.headers.get("accept"))
    try:
        sms = protocol.read_send(json_object(await request.body()), bulk=bulk)
    except protocol.Invalid as invalid:
        return _refused(invalid.code, 400, "validation_error", "The SMS is not valid.", invalid.errors, as_xml)
    text = sms.block["text"]

    def render(sent: list[Sent]) -> tuple[bytes, str]:
        entries = [
            protocol.sent_entry(s.message_id, s.created_at, to, text) for s, to in zip(sent, sms.to, strict=True)
        ]
        if bulk:
            return _encode(protocol.bulk_answer(entries, test=sms.test), as_xml)
        return _encode(protocol.sms_answer(entries[0], test=sms.test), as_xml)

    try:
        account = await compatible.account(request, "sms")
        sends = [CompatibleSend(to, sms.block) for to in sms.to]
        body, media_type = await compatible.send(
            request, account, sends, _notify(sms, account.settings), render, test=sms.test
        )
    except Refused as refused:
        # The gateway's rules on the planned messages (a number that is no possible phone number, the block's
        # characters, its cap of parts) as the SMS API's codes, its fields as the client wrote them.
        code = protocol.response_code_of(refused.errors) if refused.status == 400 else 1
        errors = [FieldError(protocol.client_field(e.field, bulk=bulk), e.message) for e in refused.errors]
        return _refused(code, refused.status, refused.code, refused.detail, errors, as_xml)
    return Response(body, media_type=media_type)


def _bad_request(code: str, text: str, errors: list[FieldError], status: int = 400) -> Response:
    """An error of /sms/converted or /usage/bycountry: seed 004's text as ``error`` (the usage's own shape), with
    the problem's members."""
    answer = protocol.refusal(1, status, code, text, errors)
    for key in ("responseCode", "responseText", "textLength"):
        del answer[key]
    return Response({"error": text, **answer}, status_code=status, media_type=PROBLEM_JSON)


async def convert(request: Request, compatible: CompatibleApi) -> Response:
    """Seed 004, conversion tracking: the message named converted, when the account tracks conversions."""
    body = json_object(await request.body())
    given = body.get("messageId") if isinstance(body, dict) else None
    if not isinstance(given, str) or not given:
        error = FieldError("messageId", "is required: the id of the message that converted")
        return _bad_request("validation_error", "The request is not valid.", [error])
    accounts = [a for a in await compatible.accounts(request, "sms") if a.settings.get("conversionTracking") is True]
    if not accounts:
        return _bad_request(
            "conversion_not_enabled", "Conversion rate tracking is not enabled for this customer account", []
        )
    try:
        message_id = UUID(given)  # 32 hex digits (our answers' form) or the dashed form
    except ValueError:
        message_id = None
    if message_id is None or not await compatible.convert(request, [a.id for a in accounts], message_id):
        return _bad_request("not_found", f'No convertible message found for id "{given}"', [], status=404)
    return Response(b'"OK"', media_type=JSON)  # the public OpenAPI's example: OK, as a JSON string


MAX_DAYS = 31  # seed 004: "The timeframe limit is 31 days"
UNKNOWN_COUNTRY = "XXX"  # ISO 3166-1's code for "unspecified": a number of no known country


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{4})(\d{2})(\d{2})")


def _date(value: Any) -> datetime.date | None:
    """Seed 004: "ISO-8601 format YYYY-MM-DD or YYYYMMDD"; its table types them date-time, so an ISO 8601
    date-time is its day in UTC (one without an offset: UTC)."""
    if not isinstance(value, str):
        return None
    try:
        if match := _DATE.fullmatch(value):
            year, month, day = (int(part) for part in match.groups() if part is not None)
            return datetime.date(year, month, day)
        at = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    return (at.astimezone(datetime.UTC) if at.tzinfo else at).date()


async def usage(request: Request, compatible: CompatibleApi) -> Response:
    """Seed 004, usage by country: per ISO 3166-1 alpha-3 country, the messages sent and their cost (the account's
    prices per part) in [startDate, endDate], both days included."""
    body = json_object(await request.body())
    body = body if isinstance(body, dict) else {}
    start, end = _date(body.get("startDate")), _date(body.get("endDate"))
    errors = [
        FieldError(key, "is required: a date as YYYY-MM-DD or YYYYMMDD, or an ISO 8601 date-time")
        for key, value in (("startDate", start), ("endDate", end))
        if value is None
    ]
    name = body.get("accountName")
    if not isinstance(name, str) or not name:
        errors.append(FieldError("accountName", "is required: the name of your sms traffic account"))
    if start and end and end < start:
        errors.append(FieldError("endDate", "must not be before startDate"))
    if errors:
        return _bad_request("validation_error", "The request is not valid.", errors)
    assert start is not None and end is not None
    if (end - start).days + 1 > MAX_DAYS:
        error = FieldError("endDate", f"at most {MAX_DAYS} days after startDate, both included")
        return _bad_request("period_too_long", f"Maximum queryable period is {MAX_DAYS} days", [error])
    account = next((a for a in await compatible.accounts(request, "sms") if a.name == name), None)
    if account is None:
        error = FieldError("accountName", "no sms traffic account of yours has this name")
        return _bad_request("not_found", f'No account named "{name}"', [error], status=404)
    since = datetime.datetime.combine(start, datetime.time(), datetime.UTC)
    until = datetime.datetime.combine(end + datetime.timedelta(days=1), datetime.time(), datetime.UTC)
    rows = await compatible.usage(request, account.id, since, until)
    prices = account.settings.get("prices")
    if len(rows) > ROWS_ON_THE_LOOP:
        return Response(await asyncio.to_thread(by_country, rows, prices))
    return Response(by_country(rows, prices))


# Each row's number is parsed (about 0.1 ms, less when cached): beyond this many rows, off the event loop, which
# serves every tenant's requests meanwhile.
ROWS_ON_THE_LOOP = 1000


def by_country(rows: list[tuple[str, int, int]], prices: dict[str, Any] | None) -> list[dict[str, Any]]:
    """(destination, messages, parts) rows (one per number prefix: the gateway's) as seed 004's answer: one entry
    per country, in code order, its cost its parts at the country's price."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for destination, messages, parts in rows:
        count = counts[country_of(destination) or UNKNOWN_COUNTRY]
        count[0] += messages
        count[1] += parts
    return [
        {"country": country, "messagesCount": messages, "cost": round(protocol.price_of(country, prices) * parts, 4)}
        for country, (messages, parts) in sorted(counts.items())
    ]


# --- the handlers and their documentation ----------------------------------------------------------------------

BOOLEAN = Schema(type=OpenAPIType.BOOLEAN)
SEND_FIELDS = {
    "from": described("The sender: alphanumeric 3-11 characters or numeric 3-14 digits (seed 004), e.g. MITTO SMS"),
    "to": described("The receiver in E.164 format: digits, optionally a leading +, e.g. 359898876737"),
    "text": described("The message; for type Binary or Byte, octets as hex"),
    "type": described("GSM (the default), Unicode, Binary or Byte (hex text), auto; any case"),
    "reference": described("Metadata returned in the delivery reports"),
    "deliveryStatusesToNotify": described(f"The statuses reported, separated by commas: {', '.join(protocol.STATES)}"),
    "udh": described("A user data header, hex, e.g. 06050415811581"),
    "validity": described("Minutes the message may still be delivered (default 2880)", INTEGER),
    "pid": described("Protocol identifier 0-255", INTEGER),
    "flash": described("Flash mode", BOOLEAN),
    "test": described("Test mode: everything checked, nothing stored or sent, no id", BOOLEAN),
    "callback": described(
        "Where this message's delivery reports go, instead of the account's callbackUrl: a URL template with "
        f"<name> or $name$ placeholders for {', '.join(protocol.REPORT_FIELDS)}"
    ),
}
BULK_FIELDS = {
    **SEND_FIELDS,
    "to": Schema(
        one_of=[Schema(type=OpenAPIType.ARRAY, items=STRING), STRING],
        description="The receivers: an array, or numbers separated by commas; a number twice gets two messages",
    ),
}
ENTRY = {
    "id": described("The message id, 32 hex digits (GET /api/v1/Message/{id}); not in test mode"),
    "timestamp": described("When it was accepted, UTC with seven fractional digits, e.g. 2019-04-13T17:51:06.3091182Z"),
    "to": described("The receiver as given"),
    "textLength": described("The text's length in characters", INTEGER),
}
CODE = {
    "responseCode": described("0: sent; 1-8 seed 004's status codes", INTEGER),
    "responseText": described("What responseCode means, e.g. SMS sent"),
    "test": described("true in test mode", BOOLEAN),
}
SMS_ANSWER = object_schema("The answer of /sms (JSON, or XML with the same fields under <response>)", {**ENTRY, **CODE})
BULK_ANSWER = object_schema(
    "The answer of /smsbulk (JSON, or XML with the same fields under <response>)",
    {"messages": Schema(type=OpenAPIType.ARRAY, items=object_schema("One message, in the order of to", ENTRY)), **CODE},
)
SEND_REFUSED = {
    400: problem(
        "`validation_error`: responseCode 1-8 and responseText (seed 004) beside the problem's members, XML for a "
        ".xml path or Accept: application/xml"
    ),
    403: problem(
        "`no_traffic_account`, `several_traffic_accounts`, `key_bound_elsewhere`: no sms traffic account to send "
        "through (responseCode 1)"
    ),
    404: problem("`not_found`: the traffic account is gone (responseCode 1)"),
}
EXAMPLE = {"from": "MITTO SMS", "to": "15555552795", "text": "Hello, World!"}  # the public OpenAPI's "Send an SMS"


def _answers(schema: Schema, base: Any) -> Any:
    """The 200 answer in JSON and XML, and the handler's refusals in XML too (what Litestar can't see in a handler
    that answers bytes)."""

    def build(**fields: Any) -> Operation:
        operation = base(**fields)
        media = {JSON: OpenAPIMediaType(schema=schema), XML: OpenAPIMediaType(schema=schema)}
        responses = dict(operation.responses or {})
        responses["200"] = OpenAPIResponse(description="Sent (or checked, in test mode)", content=media)
        for status in SEND_REFUSED:  # the handler's own refusals: XML too
            refused = responses.get(str(status))
            if isinstance(refused, OpenAPIResponse) and refused.content:
                refused.content = {**refused.content, XML: OpenAPIMediaType(schema=Schema(type=OpenAPIType.OBJECT))}
        operation.responses = responses
        return operation

    return build


SEND_OPTIONS: dict[str, Any] = {"status_code": 200, "tags": ["SMS API"], "responses": SEND_REFUSED}


@post(
    SMS_PATHS,
    summary="Send an SMS (the SMS HTTP API)",
    operation_class=_answers(SMS_ANSWER, documented(body=object_schema("An SMS", SEND_FIELDS, ("from", "to", "text")))),
    opt={
        "idempotent": True,
        "fingerprint_accept": True,  # JSON or XML as Accept asks (gateway.idempotency)
        REQUEST_EXAMPLES: {"Send an SMS": EXAMPLE, "Make a Test API Call": {**EXAMPLE, "test": True}},
    },
    **SEND_OPTIONS,
)
async def send_sms(request: Request, compatible: CompatibleApiDependency) -> Response[Any]:
    return await send(request, compatible, bulk=False)


@post(
    BULK_PATHS,
    summary="Send an SMS to several receivers (the SMS HTTP API)",
    operation_class=_answers(
        BULK_ANSWER, documented(body=object_schema("An SMS to several receivers", BULK_FIELDS, ("from", "to", "text")))
    ),
    opt={
        "idempotent": True,
        "fingerprint_accept": True,  # JSON or XML as Accept asks (gateway.idempotency)
        REQUEST_EXAMPLES: {
            "Send in bulk": {"from": "Mitto", "to": ["+491775648254", "+423394994884"], "text": "Hello World"}
        },
    },
    **SEND_OPTIONS,
)
async def send_bulk(request: Request, compatible: CompatibleApiDependency) -> Response[Any]:
    return await send(request, compatible, bulk=True)


@post(
    "/sms/converted",
    summary="A message converted (conversion tracking of the SMS HTTP API)",
    operation_class=documented(
        body=object_schema(
            "The message", {"messageId": described("The message id, 32 hex digits or dashed")}, ("messageId",)
        )
    ),
    status_code=200,
    tags=["SMS API"],
    responses={
        400: problem(
            "`conversion_not_enabled`: Conversion rate tracking is not enabled for this customer account (`error`)"
        ),
        404: problem('`not_found`: No convertible message found for id "..." (`error`)'),
    },
)
async def sms_converted(request: Request, compatible: CompatibleApiDependency) -> Response[str]:
    return await convert(request, compatible)


USAGE = object_schema(
    "One country's usage",
    {
        "country": described("ISO 3166-1 alpha-3 code of the receivers' country (XXX: unknown)"),
        "messagesCount": described("Messages sent", INTEGER),
        "cost": described(
            "Their cost in 1/100 of the billing currency (the account's prices per part; 0 without)", NUMBER
        ),
    },
)


@post(
    "/usage/bycountry",
    summary="Usage by country (the SMS HTTP API)",
    operation_class=documented(
        body=object_schema(
            "The period and account",
            {
                "startDate": described("The first day, YYYY-MM-DD or YYYYMMDD (or a date-time: its day in UTC)"),
                "endDate": described("The last day (at most 31 days in all)"),
                "accountName": described("The name of your sms traffic account"),
            },
            ("startDate", "endDate", "accountName"),
        )
    ),
    status_code=200,
    tags=["SMS API"],
    responses={
        400: problem("`period_too_long`: `error` is Maximum queryable period is 31 days; `validation_error`"),
        404: problem("`not_found`: no sms traffic account of the tenant has that accountName"),
    },
)
async def usage_by_country(request: Request, compatible: CompatibleApiDependency) -> Response[list[dict[str, Any]]]:
    return await usage(request, compatible)


ROUTES = (send_sms, send_bulk, sms_converted, usage_by_country)
