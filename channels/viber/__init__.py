"""Viber through the REST bot API."""

from channels.base import Channel, SettingsSpec

channel = Channel(name="viber", settings=SettingsSpec(credentials=("authToken",)), default_send_rate=100.0)
