"""Where providers are told to call back (GATEWAY_CALLBACK_URL) and which callback URLs the sandbox
providers treat as the gateway's own: the callback URL, and the public URL the API still serves."""

from __future__ import annotations

import uuid

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
