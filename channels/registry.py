"""Finds channel adapters through the ``gateway.channels`` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from channels.base import Channel

ENTRY_POINT_GROUP = "gateway.channels"


@cache
def all_channels() -> dict[str, Channel]:
    found: dict[str, Channel] = {}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        channel = entry.load()
        if not isinstance(channel, Channel) or channel.name != entry.name:
            raise TypeError(f"entry point {entry.name!r} of {ENTRY_POINT_GROUP} must be a Channel named {entry.name!r}")
        if channel.block_shape is None:
            raise TypeError(f"channel {entry.name!r} declares no block_shape: the shape of its send requests' block")
        found[channel.name] = channel
    return dict(sorted(found.items()))


def channel_names() -> tuple[str, ...]:
    return tuple(all_channels())
