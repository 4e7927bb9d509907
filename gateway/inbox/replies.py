""" "Reply as the user": the inbox's form turned into the body of the channel's simulated user
(``POST /sandbox/<channel>/inbound``, README "Sandbox providers"), which the sandbox provider then sends to
the gateway as the real provider would."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Litestar

from channels.base import UserReply
from channels.registry import all_channels
from gateway.channel_routes import sandbox_path
from gateway.models import Conversation

TEXT = "text"  # every channel's users send text; each channel declares its other kinds (Channel.user_replies)


def kinds(channel: str) -> tuple[str, ...]:
    """What a simulated user of ``channel`` can send from the inbox."""
    return (TEXT, *all_channels()[channel].user_replies)


def inbound_body(conversation: Conversation, kind: str, reply: UserReply) -> dict[str, Any]:
    """The simulated user's request for ``reply`` of ``kind`` (one of ``kinds``) in ``conversation``."""
    body: dict[str, Any] = {"trafficAccountId": str(conversation.traffic_account_id), "from": conversation.participant}
    if kind == TEXT:
        return body | {"text": reply.text}
    return body | all_channels()[conversation.channel].user_replies[kind](reply)


async def send_as_user(app: Litestar, conversation: Conversation, kind: str, reply: UserReply) -> httpx.Response:
    """Ask the channel's simulated user, in-process (the app itself as the transport: no socket, no address to
    know); the provider's callback it makes then reaches the gateway over HTTP, as every sandbox callback."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox.local", timeout=30) as client:
        return await client.post(
            f"{sandbox_path(conversation.channel)}/inbound", json=inbound_body(conversation, kind, reply)
        )
