"""The ``gbm`` block of a send request (Google Business Messages, legacy), declared as msgspec Structs.

The block is seed 002's Google Business Messages payload: exactly one content (``text``, ``image``,
``standaloneCard`` or ``carouselCard``), optional ``suggestions``, ``fallback``, ``forceFallback`` and
``representative``. Seed 002 flattens two levels of the Business Messages API (``image`` is the API's
``contentInfo``; ``standaloneCard`` is the card content itself); suggestions and actions are the API's
objects. The block has no ``type`` field, so it is one Struct whose rules say which contents go together.
Limits come from seed 002 and the Business Messages API reference (conversations.messages); lengths are
counted in code points.

Public API: :data:`BLOCK`, :data:`EXAMPLES`, :func:`validate_block`, :func:`content_kind` and the limits.
"""

from __future__ import annotations

import re
import typing
from typing import Annotated, Any, Literal

import msgspec
import phonenumbers

from channels.base import is_http_url
from wire.errors import FieldError
from wire.shapes import decode

# API reference, Message: text and fallback at most 3,072 characters each.
TEXT_MAX = 3072
FALLBACK_MAX = 3072
# Seed 002: a message has at most 13 suggestions; reply and action text at most 25 characters; a rich
# card carries at most 4 suggested replies and actions.
SUGGESTIONS_MAX = 13
CARD_SUGGESTIONS_MAX = 4
SUGGESTION_TEXT_MAX = 25
# API reference, SuggestedReply / SuggestedAction: postbackData at most 2,048 characters.
POSTBACK_DATA_MAX = 2048
# API reference, CardContent: title at most 200, description at most 2,000 characters.
CARD_TITLE_MAX = 200
CARD_DESCRIPTION_MAX = 2000
# Seed 002: carousels hold 2 to 10 cards.
CAROUSEL_CARDS = (2, 10)

# Seed 002: media heights; card widths (SMALL can't include TALL media); representative types.
MediaHeight = Literal["SHORT", "MEDIUM", "TALL"]
CardWidth = Literal["SMALL", "MEDIUM"]
RepresentativeType = Literal["BOT", "HUMAN"]
REPRESENTATIVE_TYPES: tuple[str, ...] = typing.get_args(RepresentativeType)

CONTENT_KEYS = ("text", "image", "standaloneCard", "carouselCard")
_CONTENT_KINDS = {"text": "text", "image": "image", "standaloneCard": "richCard", "carouselCard": "carousel"}


def _text(max_len: int | None, description: str | None = None) -> Any:
    """A string with some non-whitespace content and at most ``max_len`` code points."""
    limit = f"must be at most {max_len} characters, not" if max_len else "must not be"
    error = f"{limit} empty or only whitespace"
    return Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=max_len, pattern=r"\S", description=description, extra={"error": error}),
    ]


def _list(item: Any, low: int | None, high: int, error: str) -> Any:
    return Annotated[list[item], msgspec.Meta(min_length=low, max_length=high, extra={"error": error})]


Message = _text(TEXT_MAX, "The message text; Markdown when containsRichText is true.")
Fallback = _text(FALLBACK_MAX, "Text shown when the device can't show the message; \\n for line breaks.")
SuggestionText = _text(SUGGESTION_TEXT_MAX, "The text shown on the suggestion.")
PostbackData = _text(POSTBACK_DATA_MAX, "The data the agent receives when the user taps the suggestion.")
Title = _text(CARD_TITLE_MAX, "The card's title.")
Description = _text(CARD_DESCRIPTION_MAX, "The card's description.")
NonBlank = _text(None)
Url = Annotated[str, msgspec.Meta(description="An absolute http(s) URL.", extra_json_schema={"format": "uri"})]

# DialAction.phoneNumber: an international number; E.164 (+15556767888) or with RFC 3966 visual
# separators (+1-201-555-0123).
_PHONE_RE = re.compile(r"\+[0-9][0-9\-.()]*")
_PHONE_HINT = "an international phone number like +15556767888 (digits after +; - . ( ) separators allowed)"
Phone = Annotated[
    str,
    msgspec.Meta(
        pattern=f"^{_PHONE_RE.pattern}$",
        description="An international phone number.",
        extra={"error": f"must be {_PHONE_HINT}"},
    ),
]


def url_problems(field: str, value: str | None, what: str) -> list[FieldError]:
    """The project's one URL check (``is_http_url``) on an optional field."""
    if value is None or is_http_url(value):
        return []
    return [FieldError(field, f"must be an absolute http(s) URL of {what}, e.g. https://example.com/...")]


def exactly_one(values: dict[str, Any], what: str) -> list[FieldError]:
    """One problem on the Struct itself unless exactly one of ``values`` is given."""
    if sum(value is not None for value in values.values()) == 1:
        return []
    return [FieldError("", f"must contain exactly one of {what}")]


class _Shape(msgspec.Struct, rename="camel", omit_defaults=True, kw_only=True):
    """Camel-case JSON names; a field left out stays out of the stored block."""


class GbmText(_Shape):
    """A text message (API Message.text), plain or with basic Markdown (bold, italics, links)."""

    message: Message
    contains_rich_text: bool | None = None


class GbmImage(_Shape):
    """An image message, by URL (the API's ContentInfo; also a card's media file)."""

    file_url: Url
    thumbnail_url: Url | None = None
    force_refresh: bool | None = None
    alt_text: NonBlank | None = None

    def problems(self) -> list[FieldError]:
        return url_problems("fileUrl", self.file_url, "the file") + url_problems(
            "thumbnailUrl", self.thumbnail_url, "the thumbnail"
        )


class GbmReply(_Shape):
    """A suggested reply: the user taps it to send its text and postback data back."""

    text: SuggestionText
    postback_data: PostbackData | None = None


class GbmOpenUrl(_Shape):
    """OpenUrlAction: opens a web page (or the app registered for the URL)."""

    url: Url

    def problems(self) -> list[FieldError]:
        return url_problems("url", self.url, "the page to open")


class GbmDial(_Shape):
    """DialAction: calls a phone number."""

    phone_number: Phone

    def problems(self) -> list[FieldError]:
        if _PHONE_RE.fullmatch(self.phone_number) and _is_possible_phone(self.phone_number):
            return []
        return [FieldError("phoneNumber", f"must be {_PHONE_HINT}")]


class GbmAction(_Shape):
    """A suggested action: one native action (open a URL or dial a number) with its text and postback data."""

    text: SuggestionText
    postback_data: PostbackData | None = None
    open_url_action: GbmOpenUrl | None = None
    dial_action: GbmDial | None = None

    def problems(self) -> list[FieldError]:
        actions = {"openUrlAction": self.open_url_action, "dialAction": self.dial_action}
        return exactly_one(actions, "openUrlAction or dialAction")


class GbmSuggestion(_Shape):
    """A suggestion under a message or a card: exactly one of a reply or an action."""

    reply: GbmReply | None = None
    action: GbmAction | None = None

    def problems(self) -> list[FieldError]:
        return exactly_one({"reply": self.reply, "action": self.action}, "reply or action")


Suggestions = _list(GbmSuggestion, None, SUGGESTIONS_MAX, f"a message can have at most {SUGGESTIONS_MAX} suggestions")
CardSuggestions = _list(
    GbmSuggestion, None, CARD_SUGGESTIONS_MAX, f"a card can have at most {CARD_SUGGESTIONS_MAX} suggestions"
)


class GbmMedia(_Shape):
    """A rich card's media: its height in the card and its file."""

    height: MediaHeight
    content_info: GbmImage


class GbmCard(_Shape):
    """A rich card (API CardContent): a title or media at least, a description, up to 4 suggestions."""

    title: Title | None = None
    description: Description | None = None
    media: GbmMedia | None = None
    suggestions: CardSuggestions | None = None

    def problems(self) -> list[FieldError]:
        if self.title is None and self.media is None:
            return [FieldError("", "a card must contain at least a title or media")]
        return []


CarouselCards = _list(GbmCard, *CAROUSEL_CARDS, "must contain {} to {} cards".format(*CAROUSEL_CARDS))


class GbmCarousel(_Shape):
    """A carousel of 2 to 10 rich cards of one width (API CarouselCard)."""

    card_width: CardWidth
    card_contents: CarouselCards

    def problems(self) -> list[FieldError]:
        if self.card_width != "SMALL":
            return []
        return [
            FieldError(
                f"cardContents[{index}].media.height",
                "TALL media can't be used in a carousel whose cardWidth is SMALL; use SHORT or MEDIUM",
            )
            for index, card in enumerate(self.card_contents)
            if card.media is not None and card.media.height == "TALL"
        ]


class GbmRepresentative(_Shape):
    """Who sent the message, a bot or a human (the adapter sends BOT when the block has none)."""

    representative_type: RepresentativeType
    display_name: NonBlank | None = None
    avatar_image: Url | None = None

    def problems(self) -> list[FieldError]:
        return url_problems("avatarImage", self.avatar_image, "the avatar image")


class GbmMessage(_Shape):
    """The gbm block: exactly one content (text, image, standaloneCard or carouselCard), up to 13
    suggestions, fallback text (required when forceFallback is true) and the representative."""

    text: GbmText | None = None
    image: GbmImage | None = None
    standalone_card: GbmCard | None = None
    carousel_card: GbmCarousel | None = None
    suggestions: Suggestions | None = None
    fallback: Fallback | None = None
    force_fallback: bool | None = None
    representative: GbmRepresentative | None = None

    def problems(self) -> list[FieldError]:
        contents = (self.text, self.image, self.standalone_card, self.carousel_card)
        present = [key for key, value in zip(CONTENT_KEYS, contents, strict=True) if value is not None]
        errors = [
            FieldError(key, f"is not allowed together with {present[0]}; a message has exactly one content")
            for key in present[1:]
        ]
        if not present:
            errors.append(FieldError("", f"must contain one content: {', '.join(CONTENT_KEYS)}"))
        if self.force_fallback and self.fallback is None:
            errors.append(
                FieldError("fallback", "is required when forceFallback is true: the text shown instead of the content")
            )
        return errors


BLOCK = GbmMessage

_REPRESENTATIVE = {
    "avatarImage": "https://www.w3schools.com/howto/img_avatar.png",
    "displayName": "Mark Marcus",
    "representativeType": "HUMAN",
}


def _card(n: int) -> dict[str, Any]:
    """Card ``n`` of seed 002's carousel."""
    info = {"fileUrl": f"https://picsum.photos/1920/1080?random={n}", "altText": f"alternative text for card{n} image"}
    return {
        "title": f"card {n}",
        "description": f"This is a card {n}",
        "media": {"height": "SHORT", "contentInfo": info},
    }


# One complete block per message type, seed 002's (its carousel cut to two cards); the seed has no
# suggested action, so that one follows the Business Messages API reference.
# The limits of a block, for the README (gateway docs: a (field, limit) row each).
LIMITS = (
    ("(content)", "exactly one of text, image, standaloneCard, carouselCard"),
    ("text.message", f"1-{TEXT_MAX} characters"),
    ("fallback", f"at most {FALLBACK_MAX} characters; required with forceFallback"),
    (
        "suggestions",
        f"at most {SUGGESTIONS_MAX} per message, {CARD_SUGGESTIONS_MAX} per card; text at most "
        f"{SUGGESTION_TEXT_MAX} characters, postbackData at most {POSTBACK_DATA_MAX}",
    ),
    ("card", f"a title of at most {CARD_TITLE_MAX} characters and a description of at most {CARD_DESCRIPTION_MAX}"),
    ("carouselCard", f"{CAROUSEL_CARDS[0]}-{CAROUSEL_CARDS[1]} cards; no TALL media in a SMALL carousel"),
    ("representative", f"representativeType {' or '.join(REPRESENTATIVE_TYPES)}"),
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "GbmText": {
        "text": {
            "message": "Hi, this is test message. **bold** Visit: [Click here](https://mitto.ch)",
            "containsRichText": True,
        },
        "representative": _REPRESENTATIVE,
    },
    "GbmImage": {
        "image": {
            "fileUrl": "https://picsum.photos/1920/1080?random=1",
            "thumbnailUrl": "https://picsum.photos/200?random=1",
            "forceRefresh": True,
            "altText": "alternative text for image",
        },
        "representative": _REPRESENTATIVE,
    },
    "GbmReply": {
        "text": {"containsRichText": True, "message": "Trying **replies**!"},
        "suggestions": [
            {"reply": {"text": "Reply one", "postbackData": "hello-reply-1"}},
            {"reply": {"text": "Reply two", "postbackData": "hello-reply-2"}},
            {"reply": {"text": "Reply three", "postbackData": "hello-reply-3"}},
        ],
        "representative": _REPRESENTATIVE,
    },
    "GbmAction": {
        "text": {"message": "How can we help?"},
        "suggestions": [
            {"action": {"text": "Website", "postbackData": "site", "openUrlAction": {"url": "https://mitto.ch"}}},
            {"action": {"text": "Call us", "postbackData": "call", "dialAction": {"phoneNumber": "+15556767888"}}},
        ],
    },
    "GbmCard": {
        "standaloneCard": {
            "title": "card 1",
            "description": "This is a card",
            "media": {
                "height": "SHORT",
                "contentInfo": {
                    "fileUrl": "https://picsum.photos/1920/1080?random=1",
                    "thumbnailUrl": "https://picsum.photos/200?random=1",
                    "altText": "alternative text for card image",
                },
            },
            "suggestions": [
                {"reply": {"text": "Hello", "postbackData": "hello-formal"}},
                {"reply": {"text": "Hi!", "postbackData": "hello-informal"}},
            ],
        },
        "representative": _REPRESENTATIVE,
    },
    "GbmCarousel": {
        "carouselCard": {"cardWidth": "SMALL", "cardContents": [_card(1), _card(2)]},
        "representative": _REPRESENTATIVE,
    },
    "GbmFallback": {  # the block's own fields: fallback text, forced
        "forceFallback": True,
        "fallback": "This is just a fallback message, the image part is ignored. The purpose of this message is to "
        "have some feedback even on devices which does not support media content.",
        "image": {
            "fileUrl": "https://file-examplescom.github.io/uploads/2017/10/file_example_JPG_100kB.jpg",
            "thumbnailUrl": "https://picsum.photos/200/300?random=1",
            "forceRefresh": True,
            "altText": "alternative text for image",
        },
        "representative": _REPRESENTATIVE,
    },
    "GbmRepresentative": {"text": {"message": "Hi, this is test message."}, "representative": _REPRESENTATIVE},
}


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with this channel's block; [] when it is valid (the gateway's legacy path)."""
    return decode(block, BLOCK).errors


def content_kind(block: dict) -> str:
    """The kind of content of a stored gbm block: "text", "image", "richCard" (standaloneCard) or
    "carousel" (carouselCard); the first one present, "" when there is none. Safe on any input."""
    if isinstance(block, dict):
        for key in CONTENT_KEYS:
            if block.get(key) is not None:
                return _CONTENT_KINDS[key]
    return ""


def _is_possible_phone(value: str) -> bool:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)
