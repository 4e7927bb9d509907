"""WhatsApp through Meta's Cloud API."""

from channels.base import Channel, SettingsSpec
from channels.whatsapp.blocks import template_reference, validate_block
from channels.whatsapp.sending import template_send_errors
from channels.whatsapp.templates import validate_template

channel = Channel(
    name="whatsapp",
    settings=SettingsSpec(public=("phoneNumberId", "wabaId"), credentials=("accessToken", "appSecret", "verifyToken")),
    default_send_rate=80.0,
    validate_template=validate_template,
    validate_block=validate_block,
    template_reference=template_reference,
    template_send_errors=template_send_errors,
)
