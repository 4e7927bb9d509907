"""SMS through the SMS HTTP API (seeds 001 and 004)."""

from channels.base import Channel, SettingsSpec

channel = Channel(name="sms", settings=SettingsSpec(credentials=("apiKey",)), default_send_rate=100.0)
