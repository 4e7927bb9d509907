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


channel = Channel(
    name="viber",
    settings=SettingsSpec(credentials=("authToken",)),
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
)
