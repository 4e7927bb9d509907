"""Viber: bot messages (session, regular) to a Viber user id through the REST bot API
(``channels.viber.adapter``), business messages (promotional, transactional) to a phone number through
Infobip's Viber Business Messages API (``channels.viber.business``)."""

import datetime

from channels.base import Channel, SettingsSpec, is_http_url
from channels.viber import business
from channels.viber.adapter import DEFAULT_BASE_URL, register_callbacks, send
from channels.viber.addresses import VIBER_ID, address_problem, block_address_kind, stored_address_kind
from channels.viber.blocks import BLOCK, EXAMPLES, LIMITS
from channels.viber.callbacks import business_reports, viber_callback
from channels.viber.sandbox import (
    FAILURES,
    USER_REPLIES,
    business_messages,
    get_account_info,
    send_message,
    set_webhook,
    user_sends_message,
)


def validity(block: dict) -> datetime.timedelta | None:
    """Viber's ``ttl`` is in seconds (seed 002)."""
    return datetime.timedelta(seconds=block["ttl"]) if block.get("ttl") else None


def setting_problem(key: str, value: str) -> str | None:
    if key == business.BASE_URL and not is_http_url(value):
        return "must be an absolute http(s) URL (Infobip's base URL of the account)"
    return None


def text_of(block: dict) -> str | None:
    return block.get("text") or None  # the text of any message type that has one


channel = Channel(
    name="viber",
    # The business settings are optional: a bot-only account has none (it sends no business messages).
    settings=SettingsSpec(
        public=("phoneNumber", business.SENDER, business.BASE_URL),
        credentials=("authToken", business.API_KEY),
        optional=("phoneNumber", business.SENDER, business.BASE_URL, business.API_KEY),
    ),
    setting_problem=setting_problem,
    address_kind=VIBER_ID,  # users write from their Viber id
    block_address_kind=block_address_kind,
    address_problem=address_problem,
    stored_address_kind=stored_address_kind,
    default_send_rate=100.0,
    block_shape=BLOCK,
    examples=EXAMPLES,
    limits=LIMITS,
    validity=validity,
    send=send,
    default_base_url=DEFAULT_BASE_URL,
    callback_routes=(viber_callback, business_reports),
    sandbox_routes=(send_message, set_webhook, get_account_info, user_sends_message, business_messages),
    sandbox_failures=FAILURES,
    user_replies=USER_REPLIES,
    register_callbacks=register_callbacks,
    account_addresses=(("phoneNumber", "phoneNumber"),),  # the business number seed 002 shows as the sender
    text_of=text_of,
)
