"""SMS through the SMS HTTP API (seeds 001 and 004)."""

from channels.base import Channel, SettingsSpec
from channels.sms.blocks import message_parts, validate_block

channel = Channel(
    name="sms",
    settings=SettingsSpec(credentials=("apiKey",)),
    default_send_rate=100.0,
    validate_block=validate_block,
    message_parts=message_parts,
)
