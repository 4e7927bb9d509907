"""The provider chores every channel adapter does alike, and the webhook deliverer with them: how long an
answer asks to wait (``retry_after``)."""

from __future__ import annotations

import datetime
import email.utils

import httpx

RETRY_AFTER_MAX = 3600.0  # seconds: a provider's longer wait is not taken at its word


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
