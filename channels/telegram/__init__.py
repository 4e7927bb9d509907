"""Telegram through the Bot API."""

from channels.base import Channel, SettingsSpec
from channels.telegram.blocks import validate_block

channel = Channel(
    name="telegram",
    settings=SettingsSpec(credentials=("botToken", "webhookSecret")),
    default_send_rate=30.0,
    validate_block=validate_block,
    address_kind="messagingAppIdentifier",  # the chat id
)
