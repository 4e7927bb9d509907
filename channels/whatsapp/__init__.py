"""WhatsApp through Meta's Cloud API."""

from channels.base import Channel, SettingsSpec
from channels.whatsapp.blocks import validate_block
from channels.whatsapp.templates import validate_template

channel = Channel(
    name="whatsapp",
    settings=SettingsSpec(public=("phoneNumberId", "wabaId"), credentials=("accessToken", "appSecret", "verifyToken")),
    default_send_rate=80.0,
    validate_template=validate_template,
    validate_block=validate_block,
)
