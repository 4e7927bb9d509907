"""Error codes of the WhatsApp Cloud API (Meta's "Cloud API error codes" reference) and what the gateway
makes of them.

A refused request answers ``{"error": {"message": "(#131047) Re-engagement message", "type":
"OAuthException", "code": 131047, "error_data": {"messaging_product": "whatsapp", "details": "..."},
"error_subcode": 2494010, "fbtrace_id": "..."}}``; a ``failed`` status webhook carries the same codes as
``errors: [{"code", "title", "message", "error_data": {"details"}, "href"}]``. Meta advises building on
``code`` and ``details`` (titles are being deprecated), so the gateway's error code is
``whatsapp.<code>`` and its description Meta's message with the details.
"""

from __future__ import annotations

from typing import Any

# code -> Meta's title for it (used when an error comes without a message, and by the sandbox).
TITLES: dict[int, str] = {
    0: "AuthException",
    1: "API Unknown",
    2: "API Service",
    3: "API Method",
    4: "API Too Many Calls",
    10: "Permission Denied",
    33: "Parameter value is not valid",
    100: "Invalid parameter",
    104: "Access token required",
    190: "Access token has expired",
    200: "API Permission",
    368: "Temporarily blocked for policies violations",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    130472: "User's number is part of an experiment",
    130497: "Business account is restricted from messaging users in this country",
    131000: "Something went wrong",
    131005: "Access denied",
    131008: "Required parameter is missing",
    131009: "Parameter value is not valid",
    131016: "Service unavailable",
    131021: "Recipient cannot be sender",
    131026: "Message undeliverable",
    131031: "Business Account locked",
    131037: "WhatsApp provided number needs display name approval before message can be sent",
    131042: "Business eligibility payment issue",
    131045: "Incorrect certificate",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement",
    131050: "User has stopped marketing messages",
    131051: "Unsupported message type",
    131052: "Media download error",
    131053: "Media upload error",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    132000: "Template Param Count Mismatch",
    132001: "Template does not exist",
    132005: "Template Hydrated Text Too Long",
    132007: "Template Format Character Policy Violated",
    132012: "Template Parameter Format Mismatch",
    132015: "Template is Paused",
    132016: "Template is Disabled",
    132018: "There was an issue with the parameters in your template",
    133010: "Phone number Not Registered",
    135000: "Generic user error",
}

# Meta's details for the codes the sandbox answers with (the real API words them the same way).
DETAILS: dict[int, str] = {
    130429: "Message failed to send because there were too many messages sent from this phone number in a short "
    "period of time",
    131000: "Message failed to send due to an unknown error. Try again.",
    131016: "A service is temporarily unavailable. Please check the WhatsApp Business Platform Status page.",
    131021: "Message failed to send because the recipient phone number is the same as the sender phone number.",
    131026: "Message undeliverable: the recipient may not be a WhatsApp user, may not have accepted the latest "
    "terms of service, or may be using an old WhatsApp version.",
    131047: "Message failed to send because more than 24 hours have passed since the customer last replied to "
    "this number.",
    131048: "Message failed to send because there are restrictions on how many messages can be sent from this "
    "phone number. This may be because too many previous messages were blocked or flagged as spam.",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "The user has stopped marketing messages from this business.",
    131051: "Unsupported message type.",
    131056: "Too many messages sent from the sender phone number to the same recipient phone number in a short "
    "period of time.",
}

# Throttling (Meta: "try again later"): the send is retried, not failed.
THROTTLING_CODES = frozenset({4, 80007, 130429, 131048, 131056})
# Meta's temporary service errors ("temporary due to downtime", "try again"): retried as well.
SERVICE_CODES = frozenset({2, 131000, 131016})
TRANSIENT_CODES = THROTTLING_CODES | SERVICE_CODES

REENGAGEMENT = 131047
REENGAGEMENT_HINT = (
    "Free-form messages can only be sent within 24 hours of the user's last message to this number: "
    'send an approved template message instead (a whatsapp block with "type": "template").'
)


def error_code(code: Any) -> str:
    """The gateway's error code for a Cloud API code: ``whatsapp.<code>``."""
    return f"whatsapp.{code}"


def as_code(value: Any) -> int | None:
    """An integer code from a Cloud API error (an int, or a string of digits); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def describe(code: int | None, message: Any = None, details: Any = None, title: Any = None) -> str:
    """One line for the message's description: Meta's message (or title), then its details when they
    say more, and for 131047 that a template message is needed. At most 1000 characters."""
    text = next((t.strip() for t in (message, title) if isinstance(t, str) and t.strip()), "")
    if not text:
        text = f"(#{code}) {TITLES[code]}" if code in TITLES else f"WhatsApp error {code}"
    if isinstance(details, str) and details.strip() and details.strip() not in text:
        text = f"{text}: {details.strip()}"
    if code == REENGAGEMENT:  # the hint is what matters: it is kept whole
        text = f"{text[: 1000 - len(REENGAGEMENT_HINT) - 2].rstrip('.')}. {REENGAGEMENT_HINT}"
    return text[:1000]
