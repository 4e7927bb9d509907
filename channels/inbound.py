"""What a user sent, in one vocabulary for every channel: the ``content`` of an inbound message.

A channel's callback turns its provider's message into one of these Structs, encoded as a dict
(``content()``); the gateway stores it as given and shows it in ``GET /Message/{id}``, the conversation
and the ``UserMessage`` webhook payload, whose OpenAPI document types ``content`` with ``InboundContent``.
The field names are the gateway's own (camelCase), whatever the provider calls them; a field the provider
didn't give is left out. Unknown fields are refused (``forbid_unknown_fields``): a channel that has more to
say adds it here, documented, so the vocabulary stays one for all channels.

``relatesTo`` names an earlier message the content refers to: the message replied to, reacted to, edited or
revoked. The channel gives the provider's id of it; the gateway adds ``messageId`` when it has that message
(sent or received on the same traffic account).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec


class RelatesTo(msgspec.Struct, rename="camel", omit_defaults=True, forbid_unknown_fields=True):
    """The earlier message this one refers to."""

    provider_message_id: Annotated[str, msgspec.Meta(description="The provider's id of that message")]
    message_id: Annotated[UUID | None, msgspec.Meta(description="The gateway's id of that message, when it has it")] = (
        None
    )


class ProviderError(msgspec.Struct, rename="camel", omit_defaults=True, forbid_unknown_fields=True):
    """A problem the provider reported with what the user sent (e.g. WhatsApp's ``errors[]``)."""

    code: str
    title: str | None = None
    message: str | None = None
    details: str | None = None


class _Content(
    msgspec.Struct, rename="camel", omit_defaults=True, forbid_unknown_fields=True, tag_field="type", kw_only=True
):
    relates_to: RelatesTo | None = None


class Text(_Content, tag="text"):
    """A text message."""

    text: str


class _Media(_Content, kw_only=True):
    # Where the file is: a URL (Viber, GBM), or the provider's media id (WhatsApp ``mediaId``, fetched with
    # the account's token) or file id (Telegram ``fileId``, ``getFile``).
    url: str | None = None
    media_id: str | None = None
    file_id: str | None = None
    file_unique_id: str | None = None
    mime_type: str | None = None
    sha256: str | None = None
    caption: str | None = None
    file_name: str | None = None
    size: Annotated[int | None, msgspec.Meta(description="Bytes")] = None
    duration: Annotated[float | None, msgspec.Meta(description="Seconds")] = None
    width: int | None = None
    height: int | None = None
    thumbnail: Annotated[str | None, msgspec.Meta(description="A URL or file id of a preview")] = None


class Image(_Media, tag="image"):
    """A picture (Telegram's largest photo size)."""


class Video(_Media, tag="video"):
    """A video (Telegram's video notes too)."""


class Audio(_Media, tag="audio"):
    """An audio file."""


class Voice(_Media, tag="voice"):
    """A voice note recorded in the app."""


class Document(_Media, tag="document"):
    """Any other file (Viber's ``file``)."""


class Sticker(_Media, tag="sticker"):
    """A sticker."""

    sticker_id: str | None = None
    emoji: str | None = None
    animated: bool | None = None


class Location(_Content, tag="location"):
    """A point on the map (a venue adds its name and address)."""

    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    url: str | None = None


class ContactPhone(msgspec.Struct, rename="camel", omit_defaults=True, forbid_unknown_fields=True):
    phone_number: str
    type: str | None = None  # HOME, WORK, CELL...
    user_id: Annotated[str | None, msgspec.Meta(description="The contact's id on the channel")] = None


class Contact(msgspec.Struct, rename="camel", omit_defaults=True, forbid_unknown_fields=True):
    name: Annotated[str | None, msgspec.Meta(description="The full name as shown")] = None
    first_name: str | None = None
    last_name: str | None = None
    phones: list[ContactPhone] = []
    emails: list[str] = []
    organization: str | None = None
    avatar: str | None = None


class Contacts(_Content, tag="contacts"):
    """One or more contact cards."""

    contacts: list[Contact]


class Postback(_Content, tag="postback"):
    """A button, list row or suggestion the user tapped: ``data`` is what the message gave it."""

    data: str
    title: Annotated[str | None, msgspec.Meta(description="The button's or row's text as shown")] = None
    description: str | None = None
    text: str | None = None
    source: Annotated[
        str | None,
        msgspec.Meta(description="What was tapped: button_reply, list_reply, button, callback_query, suggestion..."),
    ] = None
    callback_query_id: Annotated[str | None, msgspec.Meta(description="Telegram: answered by the gateway")] = None


class Form(_Content, tag="form"):
    """A form the user filled in (a WhatsApp Flow's ``nfm_reply``)."""

    response: dict[str, Any]
    name: str | None = None
    body: str | None = None


class Reaction(_Content, tag="reaction"):
    """An emoji put on (or, when empty, taken off) the message of ``relatesTo``."""

    emoji: str


class OrderItem(msgspec.Struct, rename="camel", omit_defaults=True, forbid_unknown_fields=True):
    product_id: str
    quantity: int
    price: float | None = None
    currency: str | None = None


class Order(_Content, tag="order"):
    """An order placed from a catalogue."""

    catalog_id: str | None = None
    items: list[OrderItem] = []
    text: str | None = None


class PollAnswer(_Content, tag="pollAnswer"):
    """An answer to a poll: the chosen options' indexes (empty when the vote was taken back)."""

    poll_id: str
    option_ids: list[int]


class Url(_Content, tag="url"):
    """A link shared on its own (Viber)."""

    url: str


class System(_Content, tag="system"):
    """A notice about the user rather than from them (e.g. changed number)."""

    text: str | None = None
    kind: str | None = None
    new_address: Annotated[str | None, msgspec.Meta(description="The user's new address, when it changed")] = None


class Edit(_Content, tag="edit"):
    """The user edited the message of ``relatesTo``: ``content`` is what it says now."""

    content: dict[str, Any]  # an InboundContent (not typed here: msgspec unions can't nest themselves)


class Revoke(_Content, tag="revoke"):
    """The user deleted the message of ``relatesTo`` for everyone."""


class Unsupported(_Content, tag="unsupported"):
    """Something the gateway doesn't model (or the provider couldn't deliver): ``kind`` names it."""

    kind: str
    error: ProviderError | None = None


InboundContent = (
    Text
    | Image
    | Video
    | Audio
    | Voice
    | Document
    | Sticker
    | Location
    | Contacts
    | Postback
    | Form
    | Reaction
    | Order
    | PollAnswer
    | Url
    | System
    | Edit
    | Revoke
    | Unsupported
)


def content(value: _Content) -> dict[str, Any]:
    """The stored form of a content: a JSON object, fields left out when not given."""
    return msgspec.to_builtins(value)


def decode_content(value: dict[str, Any]) -> _Content:
    """A stored content back as its Struct; raises msgspec.ValidationError when it isn't one (tests use it on
    every channel's output)."""
    decoded = msgspec.convert(value, InboundContent)
    if isinstance(decoded, Edit):
        msgspec.convert(value["content"], InboundContent)
    return decoded
