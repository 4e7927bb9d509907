"""Pigeon post: a sixth channel that lives outside the gateway (tests/integration/test_sixth_channel.py).

Everything a channel is, in its own package: the block's shape (``blocks``), the upstream send
(``adapter``), the provider's callbacks (``callbacks``) and a sandbox provider imitating it (``sandbox``).
"""

from channels.base import Channel, SettingsSpec
from pigeon.adapter import DEFAULT_BASE_URL, send
from pigeon.blocks import BLOCK, EXAMPLES
from pigeon.callbacks import pigeon_callback
from pigeon.sandbox import send_pigeon, user_sends_pigeon

channel = Channel(
    name="pigeon",
    settings=SettingsSpec(credentials=("loftKey",)),
    default_send_rate=10.0,
    receipts=("Delivered",),
    reports_by_provider_id=False,  # each report names ours through the token of its callback URL
    block_shape=BLOCK,
    examples=EXAMPLES,
    send=send,
    address_kind="messagingAppIdentifier",
    default_base_url=DEFAULT_BASE_URL,
    callback_routes=(pigeon_callback,),
    sandbox_routes=(send_pigeon, user_sends_pigeon),
)
