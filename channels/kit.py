"""The provider chores every channel adapter does alike, and the webhook deliverer with them: what an HTTP
answer means (``classify``) and how long it asks to wait (``retry_after``), comparing a callback's
signature or secret (``same_signature``), and refusing a provider's payload that can't be read
(``Malformed``)."""

from __future__ import annotations

import datetime
import email.utils
import hmac
from typing import Literal

import httpx
from litestar.exceptions import ValidationException

Answer = Literal["success", "transient", "permanent"]
SUCCESS: Answer = "success"
TRANSIENT: Answer = "transient"
PERMANENT: Answer = "permanent"
# Worth trying again later besides 5xx: Request Timeout, Too Early, Too Many Requests.
TRANSIENT_STATUSES = frozenset({408, 425, 429})

RETRY_AFTER_MAX = 3600.0  # seconds: a provider's longer wait is not taken at its word


def classify(status_code: int) -> Answer:
    """What an HTTP answer means for the request it answers: 2xx ``success``; 408, 425, 429 and 5xx
    ``transient`` (the same request may succeed later); anything else (other 4xx, a redirect)
    ``permanent``. A provider's own rule (an error code in a 200 body) is the adapter's, on top of this."""
    if 200 <= status_code < 300:
        return SUCCESS
    if status_code in TRANSIENT_STATUSES or status_code >= 500:
        return TRANSIENT
    return PERMANENT


def retry_after(value: object, now: datetime.datetime | None = None, *, cap: float = RETRY_AFTER_MAX) -> float | None:
    """How long an answer asked to wait, as seconds from 0 to ``cap``: a Retry-After header (delay-seconds
    or an HTTP date, RFC 9110 10.2.3; a date is counted from ``now``, by default the current time) or a
    number in a provider's JSON answer. None when none was given or it is neither; a negative wait or a date
    in the past is 0, an infinite or huge one ``cap``, NaN none: nothing that reaches the dispatcher's or the
    deliverer's arithmetic can be infinite."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text)
        except ValueError:
            return _until_date(text, now, cap)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN
        return None
    return float(min(max(0.0, value), cap))  # compared before float(): a huge int can't overflow


def retry_after_of(response: httpx.Response) -> float | None:
    """The Retry-After header of a provider's answer (:func:`retry_after`), capped at RETRY_AFTER_MAX."""
    return retry_after(response.headers.get("Retry-After"))


def _until_date(text: str, now: datetime.datetime | None, cap: float) -> float | None:
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:  # "-0000": a date without a zone is GMT, as HTTP dates are
        moment = moment.replace(tzinfo=datetime.UTC)
    seconds = (moment - (now or datetime.datetime.now(datetime.UTC))).total_seconds()
    return min(max(0.0, seconds), cap)


def same_signature(expected: str | bytes | None, given: str | bytes | None) -> bool:
    """Whether a callback's signature, token or secret is the one expected, compared in constant time (text as
    UTF-8, so any text compares without raising). An empty or missing side matches nothing: an account
    without a secret accepts no callback."""
    if not expected or not given:
        return False
    return hmac.compare_digest(_bytes(expected), _bytes(given))


def _bytes(value: str | bytes) -> bytes:
    return value.encode() if isinstance(value, str) else value


class Malformed(ValueError):
    """A provider's payload that can't be read: ``field`` names the JSON path at fault, ``message`` what
    is wrong with it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def problem(self, title: str) -> ValidationException:
        """The 400 a callback route answers with (``validation_error`` naming the field)."""
        return ValidationException(title, extra=[{"key": self.field, "message": self.message}])
