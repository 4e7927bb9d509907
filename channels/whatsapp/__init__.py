"""WhatsApp through Meta's Cloud API."""

from channels.base import Channel, SettingsSpec
from channels.whatsapp.adapter import DEFAULT_BASE_URL, send
from channels.whatsapp.blocks import BLOCK, EXAMPLES, LIMITS, TEMPLATE_EXAMPLES, template_reference
from channels.whatsapp.callbacks import whatsapp_verify, whatsapp_webhook
from channels.whatsapp.sandbox import FAILURES, USER_REPLIES, send_message, user_sends_message
from channels.whatsapp.sending import template_send_errors
from channels.whatsapp.templates import validate_template


def text_of(block: dict) -> str | None:
    """A regular text message's text."""
    regular = block.get("regular")
    return regular.get("text") if isinstance(regular, dict) and regular.get("type") == "text" else None


# No register_callbacks: Meta's webhook is configured in the app dashboard (the account's callbackUrl
# and verifyToken), which answers the verification handshake of channels.whatsapp.callbacks.
channel = Channel(
    name="whatsapp",
    settings=SettingsSpec(
        public=("phoneNumberId", "wabaId", "phoneNumber"),
        credentials=("accessToken", "appSecret", "verifyToken"),
        optional=("phoneNumber",),
    ),
    default_send_rate=80.0,
    block_key="whatsApp",  # as seed 002 writes it
    validate_template=validate_template,
    block_shape=BLOCK,
    examples=EXAMPLES,
    limits=LIMITS,
    template_examples=TEMPLATE_EXAMPLES,
    template_reference=template_reference,
    template_send_errors=template_send_errors,
    send=send,
    default_base_url=DEFAULT_BASE_URL,
    callback_routes=(whatsapp_verify, whatsapp_webhook),
    sandbox_routes=(send_message, user_sends_message),
    sandbox_failures=FAILURES,
    user_replies=USER_REPLIES,
    account_addresses=(("phoneNumber", "phoneNumber"),),  # the business number (phoneNumberId is Meta's id of it)
    text_of=text_of,
)
