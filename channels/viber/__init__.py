"""Viber through the REST bot API."""

from channels.base import Channel, SettingsSpec
from channels.viber.blocks import validate_block

channel = Channel(
    name="viber",
    settings=SettingsSpec(credentials=("authToken",)),
    default_send_rate=100.0,
    validate_block=validate_block,
)
