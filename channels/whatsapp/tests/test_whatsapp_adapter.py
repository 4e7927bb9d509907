"""What WhatsApp's fixture files (outgoing/, incoming/, sandbox/) can't say: the channel's wiring and the
re-engagement hint of an error described without Meta's words or with too many of them."""

from __future__ import annotations

from channels.registry import all_channels
from channels.whatsapp import adapter, errors


def test_the_channel_is_wired():
    channel = all_channels()["whatsapp"]
    assert channel.send is adapter.send and channel.register_callbacks is None
    assert channel.default_base_url == f"https://graph.facebook.com/{adapter.API_VERSION}"
    assert adapter.API_VERSION.startswith("v") and adapter.API_VERSION.endswith(".0")
    # Relative to /callbacks/whatsapp/<account id> and /sandbox/whatsapp, where the gateway mounts them.
    assert {path for route in channel.callback_routes for path in route.paths} == {"/"}
    assert {method for route in channel.callback_routes for method in route.http_methods} == {"GET", "POST"}
    sandbox_paths = {path for route in channel.sandbox_routes for path in route.paths}
    assert sandbox_paths == {"/{phone_number_id:str}/messages", "/inbound"}
    # The callbacks are in the OpenAPI document, and of the sandbox its simulated user (the test-control API);
    # the rest of the sandbox imitates Meta's API, which isn't the gateway's.
    assert all(route.include_in_schema is not False for route in channel.callback_routes)
    documented = {
        path for route in channel.sandbox_routes if route.include_in_schema is not False for path in route.paths
    }
    assert documented == {"/inbound"}


def test_the_re_engagement_hint_is_always_there():
    assert errors.REENGAGEMENT_HINT in errors.describe(131047)  # without Meta's words
    assert errors.describe(131047, "x" * 2000).endswith(errors.REENGAGEMENT_HINT)  # kept whole when cut
