""" "Reply as the user": the inbox's form turned into the body of the channel's simulated user
(``POST /sandbox/<channel>/inbound``, README "Sandbox providers"), which the sandbox provider then sends to
the gateway as the real provider would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from litestar import Litestar

from gateway.channel_routes import sandbox_path
from gateway.models import Conversation

TEXT, MEDIA, LOCATION, BUTTON = "text", "media", "location", "button"
# What a user of each channel can send from the inbox.
KINDS = {
    "sms": (TEXT,),
    "telegram": (TEXT, MEDIA, LOCATION, BUTTON),
    "whatsapp": (TEXT, MEDIA, LOCATION, BUTTON),
    "viber": (TEXT, MEDIA, LOCATION),
    "gbm": (TEXT, BUTTON),
}
# A picture's placeholder address: never fetched (the inbox shows the stored message, not the file).
PICTURE_URL = "https://sandbox.invalid/picture.jpg"
ZAGREB = (45.815, 15.982)  # a location's default


@dataclass(frozen=True, slots=True)
class Reply:
    kind: str = TEXT
    text: str = ""  # the text, a media's caption, a button's title
    payload: str = ""  # a button's data
    latitude: float = ZAGREB[0]
    longitude: float = ZAGREB[1]


def inbound_body(conversation: Conversation, reply: Reply) -> dict[str, Any]:
    """The simulated user's request for ``reply`` in ``conversation``."""
    body: dict[str, Any] = {"trafficAccountId": str(conversation.traffic_account_id), "from": conversation.participant}
    channel, kind = conversation.channel, reply.kind
    location = {"latitude": reply.latitude, "longitude": reply.longitude}
    if kind == TEXT:
        return body | {"text": reply.text}
    if channel == "telegram":
        if kind == MEDIA:
            return body | {"media": "photo", "caption": reply.text}
        if kind == LOCATION:
            return body | {"location": location}
        return body | {"callbackData": reply.payload or reply.text}
    if channel == "whatsapp":
        if kind == MEDIA:
            return body | {"message": {"type": "image", "image": {"id": "sandbox-image", "caption": reply.text}}}
        if kind == LOCATION:
            return body | {"message": {"type": "location", "location": location}}
        return body | {"buttonReply": {"id": reply.payload or reply.text, "title": reply.text or reply.payload}}
    if channel == "viber":
        if kind == MEDIA:
            return body | {"message": {"type": "picture", "text": reply.text, "media": PICTURE_URL}}
        return body | {"message": {"type": "location", "location": {"lat": reply.latitude, "lon": reply.longitude}}}
    # gbm: a tapped suggestion
    return body | {"suggestionResponse": {"postbackData": reply.payload or reply.text, "text": reply.text}}


async def send_as_user(app: Litestar, conversation: Conversation, reply: Reply) -> httpx.Response:
    """Ask the channel's simulated user, in-process (the app itself as the transport: no socket, no address to
    know); the provider's callback it makes then reaches the gateway over HTTP, as every sandbox callback."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://inbox.local", timeout=30) as client:
        return await client.post(
            f"{sandbox_path(conversation.channel)}/inbound", json=inbound_body(conversation, reply)
        )
