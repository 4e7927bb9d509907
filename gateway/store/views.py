"""How the Chat API shows who takes part in a message: the sender (the traffic account) and the user."""

from __future__ import annotations

from typing import Any

from channels.registry import all_channels
from gateway.models import Message, TrafficAccount


def sender_view(account: TrafficAccount) -> dict[str, Any]:
    return {"id": str(account.id), "name": account.name}


def participant_view(channel: str, address: str) -> dict[str, Any]:
    return {all_channels()[channel].kind_of_address(address): address}


def conversation_view(message: Message, account: TrafficAccount) -> dict[str, Any]:
    return {
        "id": str(message.conversation_id),
        "participants": [sender_view(account), participant_view(message.channel, message.destination)],
    }
