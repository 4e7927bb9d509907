"""Google Business Messages (legacy: Google shut the service down on 2024-07-31; the channel keeps the
documented format, the sandbox provider serves it, and a compatible upstream can be set as baseUrl)."""

from channels.base import Channel, SettingsSpec
from channels.gbm.adapter import DEFAULT_BASE_URL, send
from channels.gbm.blocks import BLOCK, EXAMPLES, LIMITS
from channels.gbm.callbacks import gbm_callback
from channels.gbm.sandbox import FAILURES, USER_REPLIES, create_message, user_sends_message


def text_of(block: dict) -> str | None:
    text = block.get("text")
    return text.get("message") if isinstance(text, dict) else None


channel = Channel(
    name="gbm",
    settings=SettingsSpec(public=("agentId",), credentials=("serviceAccountKey", "clientToken")),
    default_send_rate=100.0,
    block_shape=BLOCK,
    examples=EXAMPLES,
    limits=LIMITS,
    address_kind="messagingAppIdentifier",  # the user's conversation id
    send=send,
    default_base_url=DEFAULT_BASE_URL,
    callback_routes=(gbm_callback,),
    sandbox_routes=(create_message, user_sends_message),
    sandbox_failures=FAILURES,
    user_replies=USER_REPLIES,
    text_of=text_of,
)
