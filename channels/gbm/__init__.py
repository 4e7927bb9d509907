"""Google Business Messages (legacy: Google shut the service down on 2024-07-31)."""

from channels.base import Channel, SettingsSpec

channel = Channel(
    name="gbm",
    settings=SettingsSpec(public=("agentId",), credentials=("serviceAccountKey",)),
    default_send_rate=100.0,
    legacy=True,
)
