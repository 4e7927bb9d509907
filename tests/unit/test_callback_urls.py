"""Where providers are told to call back (GATEWAY_CALLBACK_URL) and which callback URLs the sandbox
providers treat as the gateway's own: the callback URL, and the public URL the API still serves."""

from __future__ import annotations

import uuid

import pytest
from litestar import Litestar

from channels.registry import all_channels
from channels.testing import given_callbacks
from gateway.channel_routes import (
    ACCOUNT_PARAMETER,
    PROVIDER_PREFIXES,
    callback_path,
    callback_routers,
    sandbox_routers,
)
from gateway.messages.callbacks import CallbackTokens, ProviderCallbacks
from tests.conftest import make_settings

TOKENS = CallbackTokens(("callback-key-0123456789abcdefghijklmnop",), 3600)


def test_the_callback_url_defaults_to_the_public_url_and_can_point_at_a_worker() -> None:
    plain = make_settings("sqlite:///x.db", public_url="https://gw.example/")
    assert plain.public_base_url == plain.callback_base_url == "https://gw.example"
    split = make_settings("sqlite:///x.db", public_url="https://gw.example", callback_url="https://cb.example/")
    assert (split.public_base_url, split.callback_base_url) == ("https://gw.example", "https://cb.example")


def test_providers_are_given_the_callback_url_and_both_prefixes_are_ours() -> None:
    pipeline = ProviderCallbacks(None, TOKENS, "https://cb.example", public_url="https://gw.example")  # type: ignore[arg-type]
    account = uuid.uuid4()
    assert pipeline.callback_url("sms", account) == f"https://cb.example/callbacks/sms/{account}"
    assert pipeline.provider_callback_url("sms", account).startswith(f"https://cb.example/callbacks/sms/{account}")
    assert pipeline.is_own_callback(f"https://cb.example/callbacks/sms/{account}?token=t")
    assert pipeline.is_own_callback(f"https://gw.example/callbacks/sms/{account}?token=t")  # handed out earlier
    assert not pipeline.is_own_callback(f"https://elsewhere.example/callbacks/sms/{account}")
    assert not pipeline.is_own_callback("https://cb.example/callbacks/../admin/tenants")
    assert not pipeline.is_own_callback("https://gw.example/sandbox/sms")


def mounted_paths(channel: str) -> set[str]:
    """The paths of a channel's routes as the gateway mounts them."""
    mounted = [all_channels()[channel]]
    app = Litestar(
        route_handlers=[*callback_routers(mounted), *sandbox_routers(mounted)],
        dependencies=given_callbacks(None),
        openapi_config=None,
    )
    return {route.path for route in app.routes}


def test_channels_declare_their_routes_relative_to_the_prefixes_the_gateway_owns() -> None:
    for channel in all_channels().values():
        for route in (*channel.callback_routes, *channel.sandbox_routes):
            assert not any(path.startswith(PROVIDER_PREFIXES) for path in route.paths), (channel.name, route.paths)


@pytest.mark.parametrize(
    ("channel", "paths"),
    [
        (
            "sms",
            {
                "/callbacks/sms/{account_id:str}",
                "/callbacks/sms/{account_id:str}/inbound",
                "/sandbox/sms/sms",
                "/sandbox/sms/inbound",
            },
        ),
        (
            "telegram",
            {
                "/callbacks/telegram/{account_id:str}",
                "/sandbox/telegram/{bot:str}/{method:str}",
                "/sandbox/telegram/inbound",
            },
        ),
        (
            "viber",
            {
                "/callbacks/viber/{account_id:str}",
                "/callbacks/viber/{account_id:str}/business",
                "/sandbox/viber/business/viber/2/messages",
                "/sandbox/viber/send_message",
                "/sandbox/viber/set_webhook",
                "/sandbox/viber/get_account_info",
                "/sandbox/viber/inbound",
            },
        ),
        (
            "whatsapp",
            {
                "/callbacks/whatsapp/{account_id:str}",
                "/sandbox/whatsapp/{phone_number_id:str}/messages",
                "/sandbox/whatsapp/inbound",
            },
        ),
        (
            "gbm",
            {
                "/callbacks/gbm/{account_id:str}",
                "/sandbox/gbm/conversations/{conversation_id:str}/messages",
                "/sandbox/gbm/inbound",
            },
        ),
    ],
)
def test_every_channels_urls_are_where_they_were(channel: str, paths: set[str]) -> None:
    assert mounted_paths(channel) == paths


def test_the_urls_handed_out_are_the_routes_mounted() -> None:
    pipeline = ProviderCallbacks(None, TOKENS, "https://cb.example")  # type: ignore[arg-type]
    account = uuid.uuid4()
    assert callback_path("sms", ACCOUNT_PARAMETER) == "/callbacks/sms/{account_id:str}"
    assert pipeline.callback_url("sms", account) == f"https://cb.example{callback_path('sms', account)}"
    inbound = pipeline.provider_callback_url("sms", account)
    assert inbound.startswith(f"https://cb.example/callbacks/sms/{account}/inbound?token=")
