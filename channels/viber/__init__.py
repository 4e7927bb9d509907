"""Viber through the REST bot API."""

import datetime

from channels.base import Channel, SettingsSpec
from channels.viber.adapter import DEFAULT_BASE_URL, register_callbacks, send
from channels.viber.blocks import BLOCK, EXAMPLES, LIMITS
from channels.viber.callbacks import viber_callback
from channels.viber.sandbox import get_account_info, send_message, set_webhook, user_sends_message


def validity(block: dict) -> datetime.timedelta | None:
    """Viber's ``ttl`` is in seconds (seed 002)."""
    return datetime.timedelta(seconds=block["ttl"]) if block.get("ttl") else None


def text_of(block: dict) -> str | None:
    return block.get("text") or None  # the text of any message type that has one


channel = Channel(
    name="viber",
    settings=SettingsSpec(credentials=("authToken",), optional=("phoneNumber",)),
    default_send_rate=100.0,
    block_shape=BLOCK,
    examples=EXAMPLES,
    limits=LIMITS,
    validity=validity,
    send=send,
    default_base_url=DEFAULT_BASE_URL,
    callback_routes=(viber_callback,),
    sandbox_routes=(send_message, set_webhook, get_account_info, user_sends_message),
    register_callbacks=register_callbacks,
    account_addresses=(("phoneNumber", "phoneNumber"),),  # the business number seed 002 shows as the sender
    text_of=text_of,
)
