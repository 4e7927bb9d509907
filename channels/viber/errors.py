"""The ``status`` codes of Viber REST bot API answers (https://developers.viber.com/docs/api/rest-bot-api/
#error-codes): every call answers HTTP 200 with ``{"status": 0, "status_message": "ok", ...}`` on
success, or a non-zero ``status`` naming the problem. "Other" codes are Viber's "General error"."""

from __future__ import annotations

# status -> (status_message as Viber spells it, what it means)
STATUSES: dict[int, tuple[str, str]] = {
    0: ("ok", "Success"),
    1: ("invalidUrl", "The webhook URL is not valid"),
    2: ("invalidAuthToken", "The authentication token is not valid"),
    3: ("badData", "There is an error in the request itself (missing comma, brackets, etc.)"),
    4: ("missingData", "Some mandatory data is missing"),
    5: ("receiverNotRegistered", "The receiver is not registered to Viber"),
    6: ("receiverNotSubscribed", "The receiver is not subscribed to the account"),
    7: ("publicAccountBlocked", "The account is blocked"),
    8: ("publicAccountNotFound", "The account associated with the token is not a account"),
    9: ("publicAccountSuspended", "The account is suspended"),
    10: ("webhookNotSet", "No webhook was set for the account"),
    11: ("receiverNoSuitableDevice", "The receiver is using a device or a Viber version that don't support accounts"),
    12: ("tooManyRequests", "Rate control breach"),
    13: (
        "apiVersionNotSupported",
        "Maximum supported account version by all user's devices is less than the minApiVersion in the message",
    ),
    14: ("incompatibleWithVersion", "minApiVersion is not compatible to the message fields"),
    15: ("publicAccountNotAuthorized", "The account is not authorized"),
    16: ("inchatReplyMessageNotAllowed", "Inline message not allowed"),
    17: ("publicAccountIsNotInline", "The account is not inline"),
    18: ("noPublicChat", "Failed to post to public account. The bot is missing a Public Chat interface"),
    19: ("cannotSendBroadcast", "Cannot send broadcast message"),
    20: ("broadcastNotAllowed", "Attempt to send broadcast message from the bot"),
    21: ("unsupportedCountry", "The message sent is not supported in the destination country"),
    22: ("paymentUnsupported", "The bot does not support payment messages"),
    23: (
        "freeMessagesExceeded",
        "The non-billable bot has reached the monthly threshold of free out of session messages",
    ),
    24: (
        "noBalance",
        "No balance for a billable bot (when the free out of session messages threshold has been reached)",
    ),
}
GENERAL_ERROR = ("generalError", "General error")

# Worth trying again later: the rate limit. Every other code rejects the message (or the account's
# set-up) for good; webhookNotSet is handled by the adapter, which sets the webhook and sends again.
TRANSIENT_STATUSES = frozenset({12})
WEBHOOK_NOT_SET = 10


def status_name(status: int) -> str:
    return STATUSES.get(status, GENERAL_ERROR)[0]


def status_description(status: int, status_message: object = None) -> str:
    """``"receiverNotRegistered: The receiver is not registered to Viber"``; Viber's own status_message
    is kept when it says more than the code's name."""
    name, meaning = STATUSES.get(status, GENERAL_ERROR)
    given = str(status_message).strip() if isinstance(status_message, str) else ""
    if given and given not in (name, meaning):
        return f"{name}: {given}"[:1000]
    return f"{name}: {meaning}"
