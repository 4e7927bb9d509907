"""The ``telegram`` block of a send request, declared (seed 002, Telegram section).

The block carries exactly one piece of content, each a message type mapping to one Bot API method::

    {"silent": true,                                                    # optional, any content
     "text":     {"message": "...", "parseMode": "Html", "noPreview": true},   -> sendMessage
     "photo":    {"url": "https://...", "caption": "...", "parseMode": ...},   -> sendPhoto
     "document": {"url": "https://.../file.pdf", "caption": ..., ...},         -> sendDocument
     "video":    {"url": ..., "caption": ..., "parseMode": ...},               -> sendVideo
     "voice":    {"url": ..., "caption": ..., "parseMode": ...},               -> sendVoice
     "location": {"latitude": 46.1, "longitude": 19.66}}                       -> sendLocation

Limits are Telegram's (Bot API, https://core.telegram.org/bots/api) as restated by seed 002:
message text 1-4096 characters and captions 0-1024 characters, both counted *after entities
parsing* (so markup does not count, and markup Telegram could not parse is an error now rather
than a "can't parse entities" failure later); documents sent by URL only as .gif, .pdf or .zip.
Lengths are counted in code points, which is what Telegram counts for these limits (entity
offsets are UTF-16, the length limits are not).

Public API: :data:`BLOCK`, :func:`validate_block`, :func:`content_kind`, :data:`EXAMPLES`.
"""

from __future__ import annotations

import posixpath
import typing
from typing import Annotated, ClassVar, Literal
from urllib.parse import unquote, urlsplit

import msgspec

from channels.base import is_http_url
from channels.telegram.markup import SPACES, visible_text
from wire.errors import FieldError
from wire.shapes import decode

__all__ = ["BLOCK", "CONTENT_KINDS", "EXAMPLES", "PARSE_MODES", "content_kind", "validate_block", "visible_text"]

# Bot API sendMessage: "Text of the message to be sent, 1-4096 characters after entities parsing".
TEXT_MAX = 4096
# Bot API send{Photo,Document,Video,Voice}: "caption, 0-1024 characters after entities parsing".
CAPTION_MAX = 1024

# Spelled as seed 002 spells them ("Default" is plain text), matched in any case; the adapter maps
# them to the Bot API's parse_mode (none, "Markdown", "HTML", "MarkdownV2").
ParseMode = Literal["Default", "Markdown", "Html", "MarkdownV2"]
PARSE_MODES: tuple[str, ...] = typing.get_args(ParseMode)

# Content key of the block -> Bot API method.
CONTENT_KINDS = {
    "text": "sendMessage",
    "photo": "sendPhoto",
    "document": "sendDocument",
    "video": "sendVideo",
    "voice": "sendVoice",
    "location": "sendLocation",
}

Url = Annotated[str, msgspec.Meta(description="An absolute http(s) URL Telegram downloads the file from.")]
Latitude = Annotated[
    float, msgspec.Meta(ge=-90, le=90, description="Degrees.", extra={"error": "must be a number from -90 to 90"})
]
Longitude = Annotated[
    float, msgspec.Meta(ge=-180, le=180, description="Degrees.", extra={"error": "must be a number from -180 to 180"})
]


def markup_problem(value: str, mode: str, low: int, high: int, what: str) -> str | None:
    """What Telegram would refuse in ``value`` formatted in ``mode``: its markup, or its length (``low`` to
    ``high`` characters) after entities parsing; None when it would send it."""
    visible, problem = visible_text(value, mode)
    if problem is not None:  # the length after parsing is unknown until the markup is fixed
        return f"is not valid {mode}: {problem}"
    length = len(visible.strip(SPACES))
    after = "" if mode == "Default" else f" after {mode} parsing"
    if length < low:
        return f"must not be empty{after} ({low}-{high} characters)"
    if length > high:
        return f"{what} must be at most {high} characters{after} (got {length})"
    return None


class _Content(msgspec.Struct, rename="camel", omit_defaults=True):
    """The JSON spelling of every content: camelCase, defaults left out when stored."""


class TelegramText(_Content):
    """A text message (Bot API sendMessage): 1-4096 characters after entities parsing in ``parseMode``;
    ``noPreview`` turns off the link preview."""

    message: Annotated[str, msgspec.Meta(description="1-4096 characters after entities parsing.")]
    parse_mode: ParseMode = "Default"
    no_preview: bool = False

    def problems(self) -> list[FieldError]:
        problem = markup_problem(self.message, self.parse_mode, 1, TEXT_MAX, "the text")
        return [FieldError("message", problem)] if problem else []


class _Media(_Content):
    """A file Telegram fetches by URL, with an optional caption (0-1024 characters after entities parsing)."""

    url: Url
    caption: Annotated[str, msgspec.Meta(description="0-1024 characters after entities parsing.")] | None = None
    parse_mode: ParseMode = "Default"
    # The URL path's extensions Telegram takes for this kind; () for any.
    extensions: ClassVar[tuple[str, ...]] = ()

    def problems(self) -> list[FieldError]:
        errors = []
        if not is_http_url(self.url):
            errors.append(FieldError("url", "must be an absolute http(s) URL, e.g. https://example.com/file"))
        elif self.extensions and _extension(self.url) not in self.extensions:
            errors.append(
                FieldError(
                    "url",
                    f"must point to a {', '.join(self.extensions)} file (by the URL path's extension); "
                    "Telegram sends only these document types by URL",
                )
            )
        if self.caption is not None:
            if problem := markup_problem(self.caption, self.parse_mode, 0, CAPTION_MAX, "the caption"):
                errors.append(FieldError("caption", problem))
        return errors


class TelegramPhoto(_Media):
    """A photo (Bot API sendPhoto) by URL, at most 10 MB, with an optional caption."""


class TelegramDocument(_Media):
    """A general file (Bot API sendDocument) by URL: only .gif, .pdf and .zip files, as Telegram sends only
    these by URL (Bot API "Sending files"; seed 002). A ``thumb`` is ignored, as Telegram ignores it."""

    extensions: ClassVar[tuple[str, ...]] = (".gif", ".pdf", ".zip")


class TelegramVideo(_Media):
    """A video (Bot API sendVideo) by URL; Telegram clients play .mp4 and partly .ogg. A ``thumb`` is
    ignored, as Telegram ignores it (seed 002)."""


class TelegramVoice(_Media):
    """A voice message (Bot API sendVoice) by URL: an .ogg file encoded with OPUS, or an .mp3."""


class TelegramLocation(_Content):
    """A point on the map (Bot API sendLocation)."""

    latitude: Latitude
    longitude: Longitude


class TelegramBlock(msgspec.Struct, rename="camel", omit_defaults=True):
    """The ``telegram`` block: exactly one content (text, photo, document, video, voice or location), sent
    without a notification sound when ``silent``."""

    silent: bool = False
    text: TelegramText | None = None
    photo: TelegramPhoto | None = None
    document: TelegramDocument | None = None
    video: TelegramVideo | None = None
    voice: TelegramVoice | None = None
    location: TelegramLocation | None = None

    def contents(self) -> list[str]:
        """The content keys given."""
        return [key for key in CONTENT_KINDS if getattr(self, key) is not None]

    def problems(self) -> list[FieldError]:
        given = self.contents()
        if not given:
            return [FieldError("", "must contain one content: " + ", ".join(CONTENT_KINDS))]
        if len(given) > 1:
            return [FieldError("", "must contain exactly one content per message; got " + ", ".join(given))]
        return []


BLOCK = TelegramBlock

# One complete block per message type: seed 002's request examples (its line breaks inside URLs joined).
# The limits of a block, for the README (gateway docs: a (field, limit) row each).
LIMITS = (
    ("(content)", "exactly one of text, photo, document, video, voice, location; `silent` true or false"),
    ("text.message", f"1-{TEXT_MAX} characters after markup parsing (Bot API)"),
    ("*.caption", f"at most {CAPTION_MAX} characters after markup parsing"),
    ("parseMode", f"{', '.join(PARSE_MODES)} (any case); markup Telegram can't parse is a 400"),
    ("document.url", "an http(s) URL of a .gif, .pdf or .zip file (the Bot API sends only these by URL)"),
    ("location", "latitude -90 to 90, longitude -180 to 180"),
)

EXAMPLES = {
    "TelegramText": {"silent": True, "text": {"parseMode": "Html", "message": "Hi, how can I help you today?"}},
    "TelegramPhoto": {
        "photo": {
            "url": "https://file-examples-com.github.io/uploads/2017/10/file_example_JPG_100kB.jpg",
            "caption": "Example media (photo)",
        }
    },
    "TelegramDocument": {
        "document": {
            "url": "https://file-examples-com.github.io/uploads/2017/10/file-sample_150kB.pdf",
            "caption": "Sample pdf document",
        }
    },
    "TelegramVideo": {
        "video": {
            "url": "https://file-examples-com.github.io/uploads/2018/04/file_example_OGG_480_1_7mg.ogg",
            "caption": "Example video",
        }
    },
    "TelegramVoice": {
        "voice": {
            "url": "https://file-examples-com.github.io/uploads/2017/11/file_example_MP3_700KB.mp3",
            "caption": "Example voice file",
        }
    },
    "TelegramLocation": {"location": {"latitude": 46.100231, "longitude": 19.664058}},
}


def validate_block(block: object) -> list[FieldError]:
    """Every problem with this channel's block, named relative to it ("" is the block itself); [] when
    valid. The gateway's legacy path, until it decodes ``BLOCK`` itself."""
    return decode(block, BLOCK).errors


def content_kind(block: dict) -> str:
    """The Bot API method a *valid* block (as stored) maps to: "sendMessage", "sendPhoto", "sendDocument",
    "sendVideo", "sendVoice" or "sendLocation". Raises ValueError for a block the shape rejects."""
    decoded = decode(block, BLOCK)
    if decoded.value is None:
        raise ValueError("content_kind() needs a valid telegram block; validate it first")
    return CONTENT_KINDS[decoded.value.contents()[0]]


def _extension(url: str) -> str:
    """Lower-cased extension of the URL path's last segment ("" when it has none)."""
    path = unquote(urlsplit(url).path)
    return posixpath.splitext(posixpath.basename(path))[1].lower()
