"""The SMS HTTP API's format, the one implementation of it: what the gateway serves to customers (channels/sms/
compatible.py), what the sandbox provider answers (channels/sms/sandbox.py) and the adapter reads.

Sources: seed 004 (the reference: request parameters, Status Codes, Callback API parameters, Delivery Report
Error Codes and statuses, 2-way), seed 001 (overview), the public OpenAPI of the API (ballerina-platform/
openapi-connectors ``openapi/mitto.sms/openapi.yml``: examples of requests and answers, ``to`` of /smsbulk "a list
of strings separated by commas") and the Power Platform connector (microsoft/PowerPlatformConnectors ``certified-
connectors/Mitto/apiDefinition.swagger.json``: bulk ``to`` an array, the bulk answer ``{messages: [{id, timestamp,
to, textLength}], responseCode, responseText, test}``).
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit
from uuid import UUID
from xml.sax.saxutils import escape

from channels.base import Notify, is_http_url, normalise_phone_number
from channels.sms.countries import country_of
from channels.sms.encoding import UCS2, encoding_for, is_hex, non_gsm_characters
from channels.sms.errors import SEND_RESPONSE_CODES
from wire.errors import FieldError

SENT_TEXT = SEND_RESPONSE_CODES[0]  # "SMS sent", the public OpenAPI's examples
DEFAULT_VALIDITY = 2880  # minutes (seed 004: "defaults to 2,880 minutes (48 hours)")
# Seed 004, `type`: GSM (the default), Unicode, auto, "for Binary, set type to be Byte"; any case (the OpenAPI's
# example writes "unicode"). The values are the sms block's spellings (channels/sms/blocks.py).
TYPES = {"gsm": "GSM", "unicode": "Unicode", "auto": "auto", "binary": "Binary", "byte": "Byte"}
# Seed 004, "Status Codes" 6: "alphanumeric sender ID length should be between 3 and 11 characters. Numeric sender
# ID length should be between 3 and 14 characters" (a leading + is not counted).
ALPHANUMERIC_SENDER = (3, 11)
NUMERIC_SENDER = (3, 14)
# E.164: at most 15 digits; seed 004's receivers are "only numbers", the Power Platform's examples have a +.
_RECEIVER = re.compile(r"\+?[0-9]{1,15}")
# Seed 004's delivery-report states.
STATES = ("SENT", "DELIVERED", "UNDELIVERED", "BUFFERED", "FAILED", "EXPIRED")
BUFFERED = "BUFFERED"  # the one interim state: the provider still tries (StatusReport.interim)
# The Callback API parameters of seed 004, in its order.
REPORT_FIELDS = (
    "msgid",
    "sendtime",
    "status",
    "receiver",
    "mcc",
    "mnc",
    "cost",
    "errorcode",
    "sendtimestamp",
    "reference",
)
INBOUND_FIELDS = ("coding", "sender", "content", "receiver", "msgid")  # seed 004, 2-way
# The gateway's problem answers are typed by this prefix and their code (gateway/lib/problems.py): an SMS API
# answer that refuses carries the same members.
PROBLEM_TYPE = "urn:gateway:problem:"


class Invalid(Exception):
    """A request the SMS API refuses: its responseCode (seed 004, 1-8) and every field at fault."""

    def __init__(self, code: int, errors: list[FieldError]) -> None:
        super().__init__(SEND_RESPONSE_CODES[code])
        self.code, self.errors = code, errors


@dataclass(frozen=True, slots=True)
class SendRequest:
    """A valid /sms or /smsbulk request: the receivers as given, in order (a number twice is two messages)."""

    to: list[str]
    block: dict[str, Any]  # the gateway's sms block (channels/sms/blocks.py)
    test: bool = False
    callback: str | None = None
    statuses: tuple[str, ...] = ()  # deliveryStatusesToNotify, upper case; empty: all


# --- requests --------------------------------------------------------------------------------------------------

# Optional text fields sent empty are absent: form clients such as the Power Platform connector send "" for a
# field left blank. Not `type`: an absent type is GSM (seed 004), so its responseCode 2 "Invalid type", whose fix
# reads "Please specify the type parameter", is for a type given but empty or unknown; the Power Platform's
# connector fills its type with a default (GSM) anyway.
BLANK_IS_ABSENT = ("reference", "udh", "callback", "deliveryStatusesToNotify")


def read_send(body: Any, *, bulk: bool) -> SendRequest:
    """The request of POST /sms (one receiver) or /smsbulk (an array of receivers, or a comma-separated string).
    Raises :class:`Invalid` with the responseCode of the first problem found in seed 004's order of codes and every
    problem found (fields named as the client wrote them)."""
    if not isinstance(body, dict):
        raise Invalid(1, [FieldError("body", "must be a JSON object")])
    body = {key: value for key, value in body.items() if not (key in BLANK_IS_ABSENT and value == "")}
    problems: list[tuple[int, FieldError]] = []
    text, sender, to = body.get("text"), body.get("from"), body.get("to")

    sms_type = body.get("type")
    if sms_type is not None and (not isinstance(sms_type, str) or sms_type.lower() not in TYPES):
        problems.append((2, FieldError("type", "must be one of GSM, Unicode, Binary, Byte, auto (any case)")))
        sms_type = "auto"
    sms_type = TYPES[(sms_type or "gsm").lower()]

    if text is None or text == "":
        problems.append((3, FieldError("text", "is required: the message")))
    elif not isinstance(text, str):
        problems.append((4, FieldError("text", "must be a string")))
    elif problem := text_problem(text, sms_type):
        problems.append((4, FieldError("text", problem)))

    if sender is None or sender == "":
        problems.append((5, FieldError("from", "is required: what the recipient sees as the sender")))
    elif problem := sender_problem(sender):
        problems.append((6, FieldError("from", problem)))

    receivers = _receivers(to, bulk)
    if not receivers:
        problems.append((7, FieldError("to", "is required: the receiver's number" + ("s" if bulk else ""))))
    else:
        for index, receiver in enumerate(receivers):
            if problem := receiver_problem(receiver):
                problems.append((8, FieldError(f"to[{index}]" if bulk else "to", problem)))

    block: dict[str, Any] = {"text": text, "sender": sender, "type": sms_type}
    options, option_problems = _options(body)
    block.update(options)
    problems += [(1, problem) for problem in option_problems]
    if problems:
        raise Invalid(min(code for code, _ in problems), [problem for _, problem in problems])
    return SendRequest(
        to=receivers,
        block=block,
        test=body.get("test") is True,
        callback=body.get("callback"),
        statuses=tuple(s.strip().upper() for s in (body.get("deliveryStatusesToNotify") or "").split(",") if s.strip()),
    )


def _receivers(to: Any, bulk: bool) -> list[str]:
    """``to`` as a list: one string (/sms); for /smsbulk an array or "a list of strings separated by commas" (the
    public OpenAPI). Not-strings are kept, for receiver_problem to name them."""
    if bulk and isinstance(to, list):
        return [item.strip() if isinstance(item, str) else item for item in to]
    if isinstance(to, str):
        parts = [part.strip() for part in to.split(",")] if bulk else [to.strip()]
        return [] if parts == [""] else parts
    return [] if to is None else [to]


def receiver_problem(receiver: Any) -> str | None:
    if not isinstance(receiver, str) or not _RECEIVER.fullmatch(receiver):
        return "must be a phone number in E.164 format: digits, optionally a leading +, e.g. 359898876737"
    return None


def sender_problem(sender: Any) -> str | None:
    """Seed 004's rule (responseCode 6); the sms block adds which characters a name may have."""
    if not isinstance(sender, str):
        return "must be a string"
    digits = sender[1:] if sender.startswith("+") else sender
    if digits.isdigit() and digits.isascii():
        low, high = NUMERIC_SENDER
        return None if low <= len(digits) <= high else f"a numeric sender must have {low}-{high} digits"
    low, high = ALPHANUMERIC_SENDER
    return None if low <= len(sender) <= high else f"an alphanumeric sender must have {low}-{high} characters"


def text_problem(text: str, sms_type: str) -> str | None:
    """What the chosen type can't carry (responseCode 4): GSM with other characters, Binary/Byte text that is no hex."""
    if sms_type == "GSM" and (bad := non_gsm_characters(text)):
        shown = ", ".join(repr(char) for char in bad[:5])
        return f"has characters GSM can't encode ({shown}): set type Unicode or auto"
    if sms_type in ("Binary", "Byte") and not is_hex(text):
        return f"must be hex-encoded octets (two digits each) when type is {sms_type}"
    return None


_KIND_NAMES = {str: "a string", int: "a whole number", bool: "true or false"}


def _options(body: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
    """The optional parameters of seed 004 beside from/to/text/type: the block's (their ranges are the block's
    rules, checked when the gateway plans the messages) and the request's own."""
    options: dict[str, Any] = {}
    errors: list[FieldError] = []
    for key, kind in (("reference", str), ("udh", str), ("pid", int), ("flash", bool), ("validity", int)):
        value = body.get(key)
        if value is None:
            continue
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            options[key] = value
        else:
            errors.append(FieldError(key, f"must be {_KIND_NAMES[kind]}"))
    options.setdefault("validity", DEFAULT_VALIDITY)
    if body.get("test") is not None and not isinstance(body["test"], bool):
        errors.append(FieldError("test", "must be true or false"))
    callback = body.get("callback")
    if callback is not None and not (isinstance(callback, str) and is_http_url(callback)):
        errors.append(
            FieldError("callback", "must be an absolute http(s) URL (<msgid> or $msgid$ placeholders allowed)")
        )
    statuses = body.get("deliveryStatusesToNotify")
    if statuses is not None and (
        not isinstance(statuses, str) or not all(s.strip().upper() in STATES for s in statuses.split(",") if s.strip())
    ):
        errors.append(
            FieldError("deliveryStatusesToNotify", f"must be statuses separated by commas: {', '.join(STATES)}")
        )
    return options, errors


# --- answers ---------------------------------------------------------------------------------------------------


def message_id(value: UUID) -> str:
    """The id of a message in answers and callbacks: 32 lowercase hex digits, as the documents show it."""
    return value.hex


def timestamp(at: datetime.datetime) -> str:
    """ISO 8601 UTC with seven fractional digits and Z, as the documents show it (2019-04-13T17:51:06.3091182Z)."""
    return at.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def sent_entry(message: UUID | None, at: datetime.datetime, to: str, text: str) -> dict[str, Any]:
    """One message of an answer: {id, timestamp, to, textLength}; no id in test mode."""
    entry: dict[str, Any] = {} if message is None else {"id": message_id(message)}
    entry.update(timestamp=timestamp(at), to=to, textLength=len(text))
    return entry


def sms_answer(entry: dict[str, Any], *, test: bool) -> dict[str, Any]:
    """The answer of /sms (the public OpenAPI's "Response to Send SMS"; "test": true in test mode)."""
    answer = {**entry, "responseCode": 0, "responseText": SENT_TEXT}
    return {**answer, "test": True} if test else answer


def bulk_answer(entries: list[dict[str, Any]], *, test: bool) -> dict[str, Any]:
    """The answer of /smsbulk (the Power Platform connector's SmsBulkResponse)."""
    answer: dict[str, Any] = {"messages": entries, "responseCode": 0, "responseText": SENT_TEXT}
    return {**answer, "test": True} if test else answer


def refusal(code: int, status: int, problem_code: str, detail: str, errors: list[FieldError]) -> dict[str, Any]:
    """An answer that refuses: responseCode and responseText (seed 004), textLength 0 (the public OpenAPI: "If there
    is an error ... this will be 0"), and the gateway's problem members (type, title... code, errors)."""
    answer: dict[str, Any] = {
        "responseCode": code,
        "responseText": SEND_RESPONSE_CODES[code],
        "textLength": 0,
        "type": PROBLEM_TYPE + problem_code,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": problem_code,
    }
    if errors:
        answer["errors"] = [{"field": error.field, "message": error.message} for error in errors]
    return answer


def response_code_of(errors: list[FieldError]) -> int:
    """The responseCode of the gateway's validation errors of the planned messages (``messages[i].destination``,
    ``messages[i].sms.<field>``): the lowest of the fields' codes, 1 for a field seed 004 gives no code."""
    codes = {"destination": 8, "text": 4, "type": 4, "sender": 6, "udh": 4}
    found = [codes.get(error.field.rsplit(".", 1)[-1], 1) for error in errors]
    return min(found, default=1)


def client_field(field: str, *, bulk: bool) -> str:
    """A gateway field name (``messages[2].sms.sender``) as the client wrote it (``from``, ``to[2]``); the list of
    messages (too many) is ``to``, the Notify's URL (too long) ``callback``."""
    match = re.fullmatch(r"messages\[(\d+)\]\.(?:sms\.)?(.+)", field)
    if not match:
        return {"messages": "to", "notify.url": "callback"}.get(field, field)
    index, name = int(match[1]), match[2]
    if name == "destination":
        return f"to[{index}]" if bulk else "to"
    return {"sender": "from"}.get(name, name)


def xml(answer: dict[str, Any], root: str = "response") -> bytes:
    """An answer as XML: one element per field, in the same order; a list holds one element per item, named by the
    list's singular (messages/message, errors/error). Seed 001 says only that .xml answers "the same" in XML."""
    return ('<?xml version="1.0" encoding="utf-8"?>' + _element(root, answer)).encode()


def _element(name: str, value: Any) -> str:
    if isinstance(value, dict):
        inner = "".join(_element(key, item) for key, item in value.items())
    elif isinstance(value, list):
        inner = "".join(_element(name.removesuffix("s"), item) for item in value)
    elif isinstance(value, bool):
        inner = "true" if value else "false"
    else:
        inner = escape(str(value))
    return f"<{name}>{inner}</{name}>"


def wants_xml(path: str, accept: str | None) -> bool:
    """A ``.xml`` path, or an Accept header that prefers XML to JSON."""
    if path.endswith(".xml"):
        return True
    accept = (accept or "").lower()
    return "xml" in accept and "json" not in accept


# --- delivery reports and inbound forwarding -------------------------------------------------------------------


# A delivery report's failure (seed 004's states) as the gateway's error code, and back (state_of): FAILED ("rejected
# by the carrier") and UNDELIVERED ("undeliverable") are both the gateway's Failed, told apart by the code.
DLR_CODE = "sms.dlr."
DLR_FAILED_CODE = "sms.dlr.failed"


def dlr_error_code(state: str, errorcode: str | None) -> str | None:
    """The error code of a report's state and errorcode: sms.dlr.N (UNDELIVERED, EXPIRED), sms.dlr.failed.N
    (FAILED); sms.dlr.<state> without an errorcode; None for a state that is no failure."""
    if state not in ("UNDELIVERED", "FAILED", "EXPIRED"):
        return None
    if not errorcode:
        return DLR_CODE + state.lower()
    return (DLR_FAILED_CODE + "." if state == "FAILED" else DLR_CODE) + errorcode


# The gateway's status (gateway/store/statuses.py) -> seed 004's state. Failed: FAILED or UNDELIVERED as the
# delivery report said (dlr_error_code), FAILED too when the message was refused before it left (by the provider:
# sms.<responseCode>, or the gateway). Read counts as delivered; the gateway's others (Ready, Created, Received)
# are no report.
def state_of(status: str, error_code: str | None) -> str | None:
    if status == "Failed":
        code = error_code or ""
        return "UNDELIVERED" if code.startswith(DLR_CODE) and not code.startswith(DLR_FAILED_CODE) else "FAILED"
    return {"Sent": "SENT", "Delivered": "DELIVERED", "Read": "DELIVERED", "Expired": "EXPIRED"}.get(status)


# A refusal of the upstream's send (sms.<responseCode>) as seed 004's delivery-report error code: an invalid
# receiver or sender is 604 / 603, any other refusal 999 (unspecified).
_SEND_REFUSALS = {"sms.8": 604, "sms.7": 604, "sms.6": 603, "sms.5": 603}


def error_code_of(state: str, error_code: str | None) -> int:
    """Seed 004's delivery-report error code of a report: 0 unless it failed."""
    if state not in ("UNDELIVERED", "FAILED", "EXPIRED"):
        return 0
    code = error_code or ""
    number = code.rsplit(".", 1)[-1]
    if code.startswith(DLR_CODE) and number.isdigit():
        return int(number)
    return 0 if state == "EXPIRED" else _SEND_REFUSALS.get(code, 999)


def price_of(country: str | None, prices: dict[str, Any] | None) -> float:
    """The account's price per SMS part for a country (``prices``: {"HRV": 0.9, ..., "default": 1.2}), in 1/100 of
    the billing currency (seed 004); its default without one, 0 without either."""
    prices = prices or {}
    return float(prices.get(country or "", prices.get("default", 0)))


def cost_of(receiver: str, parts: int, prices: dict[str, Any] | None) -> float:
    """The cost of a message's parts to the receiver (seed 004's report ``cost``)."""
    # Its country only when a price names one: the report of every status change comes here, and most accounts
    # have no prices or only a default.
    country = country_of(receiver) if any(key != "default" for key in prices or {}) else None
    return round(price_of(country, prices) * parts, 4)


def report_fields(message: Any, state: str, at: datetime.datetime, settings: dict[str, Any]) -> dict[str, str]:
    """Seed 004's Callback API parameters of one report on a stored message (its id, destination, content block,
    error code, parts, created_at)."""
    receiver = normalise_phone_number(message.destination)
    return dlr_fields(
        message.id,
        message.created_at,
        state,
        receiver,
        error_code_of(state, message.error_code),
        at,
        message.reference or (message.content or {}).get("reference"),
        cost_of(receiver, message.message_parts, settings.get("prices")),
    )


def dlr_fields(
    msgid: UUID,
    sent_at: datetime.datetime,
    state: str,
    receiver: str,
    errorcode: int,
    at: datetime.datetime,
    reference: str | None,
    cost: float = 0,
) -> dict[str, str]:
    """Seed 004's Callback API parameters, all as text (they may fill a URL). mcc and mnc are empty: the gateway
    doesn't know the receiver's network."""
    return {
        "msgid": message_id(msgid),
        "sendtime": timestamp(sent_at),
        "status": state,
        "receiver": receiver,
        "mcc": "",
        "mnc": "",
        "cost": _number(cost),
        "errorcode": str(errorcode),
        "sendtimestamp": str(int(at.timestamp())),
        "reference": reference or "",
    }


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


_PLACEHOLDER = re.compile(r"<([a-z]+)>|\$([a-z]+)\$")


def callback_request(notify: Notify, fields: dict[str, str]) -> dict[str, Any]:
    """The request that reports ``fields`` to a callback URL template (seed 004: "supports angle brackets (< and >),
    as well as the dollar sign ($) as delimiters"): ``<msgid>`` and ``$msgid$`` are replaced by the URL-encoded
    value (an unknown name is left as written). A POST carries the fields as a JSON body; a GET whose URL names none
    of them gets them as its query."""
    used = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal used
        name = match[1] or match[2]
        if name not in fields:
            return match[0]
        used = True
        return quote(fields[name], safe="")

    url = _PLACEHOLDER.sub(substitute, notify.url)
    method = notify.method.upper()
    if method == "GET":
        if not used:
            parts = urlsplit(url)
            query = "&".join(q for q in (parts.query, urlencode(fields)) if q)
            url = urlunsplit(parts._replace(query=query))
        return {"method": "GET", "url": url, "body": None}
    return {"method": "POST", "url": url, "body": dict(fields)}


def inbound_fields(message: Any, receiver: str) -> dict[str, str]:
    """Seed 004's 2-way parameters of a user's stored message: coding GSM or UCS2 as its text needs."""
    text = (message.content or {}).get("text") or ""
    return {
        "coding": "UCS2" if encoding_for(text) == UCS2 else "GSM",
        "sender": normalise_phone_number(message.destination) or message.destination,
        "content": text,
        "receiver": normalise_phone_number(receiver) or receiver,
        "msgid": message_id(message.id),
    }
