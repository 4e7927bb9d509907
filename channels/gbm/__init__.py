"""Google Business Messages (legacy: Google shut the service down on 2024-07-31)."""

from channels.base import Channel, SettingsSpec
from channels.gbm.blocks import validate_block

channel = Channel(
    name="gbm",
    settings=SettingsSpec(public=("agentId",), credentials=("serviceAccountKey",)),
    default_send_rate=100.0,
    legacy=True,
    validate_block=validate_block,
    address_kind="messagingAppIdentifier",  # the user's conversation id
)
