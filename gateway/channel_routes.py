"""Where the gateway mounts each channel's routes. A channel declares its provider callbacks and its sandbox
provider with paths relative to its prefix (``"/"``, ``"/inbound"``); the prefixes are the gateway's, named
here only: ``/callbacks/<channel>/<traffic account id>`` and ``/sandbox/<channel>``. A channel's compatible API
(the provider's own API served to customers) is mounted at the root, as the provider serves it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from litestar import Router

from channels.base import Channel
from gateway.lib.problems import refused_callbacks
from gateway.metrics import CALLBACK_CHANNEL
from gateway.sandbox_journal import JournalCallbacks

CALLBACKS = "/callbacks"
SANDBOX = "/sandbox"
PROVIDER_PREFIXES = (f"{CALLBACKS}/", f"{SANDBOX}/")  # every path a provider (or a sandbox provider) calls
COMPATIBLE_OPT = "compatible_api"  # opt of a compatible API's routes: the channel's name
# The traffic account's segment of a callback route: every callback handler takes ``account_id``.
ACCOUNT_PARAMETER = "{account_id:str}"


def callback_path(channel: str, account_id: object) -> str:
    """``/callbacks/<channel>/<account id>``: where one traffic account's provider callbacks go (with
    ACCOUNT_PARAMETER, the route all of them are mounted at)."""
    return f"{CALLBACKS}/{channel}/{account_id}"


def sandbox_path(channel: str) -> str:
    """``/sandbox/<channel>``: the base URL of the channel's sandbox provider (of a sandbox account)."""
    return f"{SANDBOX}/{channel}"


def callback_routers(channels: Iterable[Channel]) -> list[Router]:
    """Each channel's callback handlers under ``/callbacks/<channel>/{account_id:str}``."""
    return [
        Router(
            path=callback_path(channel.name, ACCOUNT_PARAMETER),
            route_handlers=list(channel.callback_routes),
            exception_handlers=refused_callbacks(channel.name),
            opt={CALLBACK_CHANNEL: channel.name},  # counted as its callbacks (gateway.metrics)
            middleware=[JournalCallbacks],  # a sandbox account's callbacks are journaled
        )
        for channel in channels
        if channel.callback_routes
    ]


def sandbox_routers(channels: Iterable[Channel]) -> list[Router]:
    """Each channel's sandbox provider under ``/sandbox/<channel>``."""
    return [
        Router(path=sandbox_path(channel.name), route_handlers=list(channel.sandbox_routes))
        for channel in channels
        if channel.sandbox_routes
    ]


def compatible_routers(channels: Iterable[Channel], layers: dict[str, Any]) -> list[Router]:
    """Each channel's compatible API at the root, behind the layers the app gives (``layers``: the customer API's
    middleware, opt and security, and the ``compatible`` dependency its handlers take)."""
    return [
        Router(
            path="/",
            route_handlers=list(channel.compatible_routes),
            **{**layers, "opt": {**layers.get("opt", {}), COMPATIBLE_OPT: channel.name}},
        )
        for channel in channels
        if channel.compatible_routes
    ]
