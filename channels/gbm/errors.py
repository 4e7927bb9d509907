"""Google API errors as the Business Messages API returns them, and what the gateway makes of them.

Every Google REST API answers a failed call with the canonical error object (google.rpc.Status as
JSON, https://cloud.google.com/apis/design/errors)::

    {"error": {"code": 400, "message": "...", "status": "FAILED_PRECONDITION", "details": [...]}}

``code`` is the HTTP status, ``status`` the canonical code name. A ``details`` entry of type
``type.googleapis.com/google.rpc.RetryInfo`` carries ``retryDelay`` (``"1.5s"``): how long to wait.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from channels import kit

# The canonical codes and the HTTP status Google maps each to (google/rpc/code.proto).
HTTP_STATUS = {
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "UNAUTHENTICATED": 401,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
}
# For an answer without a status name: the code Google gives each HTTP status.
STATUS_OF_HTTP = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# Worth trying again later (Google's retry guidance: AIP-194); everything else rejects the message.
TRANSIENT = frozenset({"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED", "UNKNOWN"})
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?)s\s*$")


def google_error(data: Any, http_status: int) -> tuple[str, str]:
    """(canonical status name, message) of an error answer; from the HTTP status when the body has none."""
    error = data.get("error") if isinstance(data, dict) else None
    status = error.get("status") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(status, str) or not status:
        status = STATUS_OF_HTTP.get(http_status, "INTERNAL" if http_status >= 500 else f"HTTP_{http_status}")
    if not isinstance(message, str) or not message.strip():
        message = f"Business Messages answered HTTP {http_status} {status}"
    return status, message.strip()


def retry_delay(data: Any) -> float | None:
    """Seconds from a RetryInfo detail (``"retryDelay": "1.5s"``), or None."""
    error = data.get("error") if isinstance(data, dict) else None
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and detail.get("@type") == RETRY_INFO:
            delay = detail.get("retryDelay")
            match = _DURATION.match(delay) if isinstance(delay, str) else None
            if match:
                return float(match.group(1))
    return None


def error_body(status: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Google's error object (what the sandbox answers)."""
    error: dict[str, Any] = {"code": HTTP_STATUS.get(status, 500), "message": message, "status": status}
    if details:
        error["details"] = details
    return {"error": error}


def retry_after(response: httpx.Response, data: Any = None) -> float | None:
    """Seconds to wait: the Retry-After header, else the error's RetryInfo; None when neither is given."""
    seconds = kit.retry_after_of(response)
    return seconds if seconds is not None else kit.retry_after(retry_delay(data))
