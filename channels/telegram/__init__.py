"""Telegram through the Bot API."""

from channels.base import Channel, SettingsSpec

channel = Channel(
    name="telegram", settings=SettingsSpec(credentials=("botToken", "webhookSecret")), default_send_rate=30.0
)
