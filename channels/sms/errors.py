"""Delivery-report error codes of the SMS HTTP API (seed 004, "Delivery Report Error Codes") and what
the SMS API's send answer codes mean."""

from __future__ import annotations

DLR_ERRORS = {
    0: "No Error",
    1: "Unknown subscriber",
    2: "Unknown subscriber – NR Changed",
    5: "Unidentified subscriber",
    6: "Absent subscriber for SMS",
    7: "Unknown equipment",
    8: "Roaming not allowed",
    9: "Illegal subscriber",
    10: "Bearer Service not provisioned",
    11: "Teleservice not provisioned",
    12: "Illegal equipment",
    13: "Call barred",
    21: "Facility not supported",
    27: "Absent subscriber",
    28: "Incompatible MS terminal error",
    31: "Subscriber busy for SM MT",
    32: "Equipment failure",
    33: "MS memory capacity exceeded",
    34: "GSM system failure",
    35: "GSM Data Error – data missing",
    36: "GSM Data Error",
    45: "Subscriber busy",
    100: "Internal SMSC error",
    101: "Internal SMSC error",
    103: "Unspecified GSM error",
    104: "Unspecified GSM error",
    105: "Unspecified GSM error",
    150: "Receiver SRI timeout",
    151: "Receiver SM FW timeout",
    600: "Destination not available",
    601: "Credit limit",
    602: "Subscriber flood protection",
    603: "Invalid source address",
    604: "Invalid destination address",
    605: "Unknown destination address",
    606: "No matching prefix found",
    800: "Internal routing error",
    801: "External routing error",
    999: "Unspecified error",
}

# responseCode of a send answer (seed 004, "Status Codes"): 0 is success, 1 is worth retrying, the
# others reject the message for good.
SEND_RESPONSE_CODES = {
    0: "SMS sent",
    1: "Internal error",
    2: "Invalid type",
    3: "Empty message",
    4: "Message text is invalid",
    5: "Empty sender",
    6: "Invalid sender",
    7: "Empty receiver",
    8: "Invalid receiver",
}
RETRYABLE_RESPONSE_CODES = frozenset({1})


def dlr_error_text(code: str | int | None) -> str | None:
    try:
        return DLR_ERRORS.get(int(code)) if code not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None
