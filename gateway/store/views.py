"""How the Chat API shows who takes part in a message: the traffic account (its id, its own addresses and
name, as seed 002's ``sender``) and the user (their address by its kind, and their name when known)."""

from __future__ import annotations

from typing import Any

from channels.registry import all_channels
from gateway.models import Message, TrafficAccount


def sender_view(account: TrafficAccount) -> dict[str, Any]:
    addresses = all_channels()[account.channel].account_address_view(account.settings or {})
    return {"id": str(account.id), **addresses, "name": account.name}


def participant_view(channel: str, address: str, name: str | None = None) -> dict[str, Any]:
    view = {all_channels()[channel].kind_of_address(address): address}
    return view if name is None else view | {"name": name}


def user_name(message: Message, conversation_name: str | None) -> str | None:
    """The user's name shown with a message: the one it came with (inbound), else the latest known."""
    return message.sender_name or conversation_name


def conversation_view(message: Message, account: TrafficAccount, name: str | None = None) -> dict[str, Any]:
    """The conversation of ``message``; ``name``: the user's (``user_name``), when known."""
    return {
        "id": str(message.conversation_id),
        "participants": [sender_view(account), participant_view(message.channel, message.destination, name)],
    }
