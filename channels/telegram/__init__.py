"""Telegram through the Bot API."""

from channels.base import Channel, SettingsSpec
from channels.telegram.adapter import DEFAULT_BASE_URL, address_problem, register_callbacks, send, setting_problem
from channels.telegram.blocks import BLOCK, EXAMPLES, LIMITS
from channels.telegram.callbacks import telegram_update
from channels.telegram.sandbox import FAILURES, USER_REPLIES, bot_api, inbound


def text_of(block: dict) -> str | None:
    text = block.get("text")
    return text.get("message") if isinstance(text, dict) else None


channel = Channel(
    name="telegram",
    # Without a webhookSecret, Updates are taken on the account's callbackUrl token alone (a sandbox account too).
    settings=SettingsSpec(
        public=("botUsername",),
        credentials=("botToken", "webhookSecret"),
        optional=("botUsername", "webhookSecret"),
        sandbox_unset=("webhookSecret",),
    ),
    default_send_rate=30.0,
    receipts=("Delivered",),  # no receipts: Delivered on acceptance, never Read
    reports_by_provider_id=False,
    block_shape=BLOCK,
    examples=EXAMPLES,
    limits=LIMITS,
    address_kind="messagingAppIdentifier",  # the chat id
    address_problem=address_problem,
    send=send,
    default_base_url=DEFAULT_BASE_URL,
    callback_routes=(telegram_update,),
    sandbox_routes=(bot_api, inbound),
    sandbox_failures=FAILURES,
    user_replies=USER_REPLIES,
    register_callbacks=register_callbacks,
    setting_problem=setting_problem,
    # The bot's username (getMe's ``username``), as seed 002 shows the account: messagingAppIdentifier.
    account_addresses=(("messagingAppIdentifier", "botUsername"),),
    text_of=text_of,
)
