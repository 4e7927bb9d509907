"""Validation of the ``telegram`` block of a send request (seed 002, Telegram section).

The block carries exactly one piece of content, each mapping to one Bot API method::

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

Public API: :func:`validate_block`, :func:`content_kind`, :data:`PARSE_MODES`.
"""

from __future__ import annotations

import posixpath
from typing import Any
from urllib.parse import unquote, urlsplit

from channels.base import is_http_url
from channels.checks import add, key_path, listing
from channels.telegram.markup import SPACES as _SPACES
from channels.telegram.markup import visible_text
from wire.errors import FieldError

__all__ = ["PARSE_MODES", "CONTENT_KINDS", "validate_block", "content_kind"]

# Bot API sendMessage: "Text of the message to be sent, 1-4096 characters after entities parsing".
TEXT_MAX = 4096
# Bot API send{Photo,Document,Video,Voice}: "caption, 0-1024 characters after entities parsing".
CAPTION_MAX = 1024
# Bot API "Sending files": sending by URL "will currently only work for GIF, PDF and ZIP files" in
# sendDocument; seed 002: "Only .gif, .pdf and .zip file types are allowed".
DOCUMENT_EXTENSIONS = (".gif", ".pdf", ".zip")
LATITUDE = (-90.0, 90.0)
LONGITUDE = (-180.0, 180.0)

# Spelled as seed 002 spells them ("Default" is plain text); the adapter maps them to the Bot API's
# parse_mode (none, "Markdown", "HTML", "MarkdownV2").
PARSE_MODES = ("Default", "Markdown", "Html", "MarkdownV2")

# Content key of the block -> Bot API method.
CONTENT_KINDS = {
    "text": "sendMessage",
    "photo": "sendPhoto",
    "document": "sendDocument",
    "video": "sendVideo",
    "voice": "sendVoice",
    "location": "sendLocation",
}
_MEDIA = ("photo", "document", "video", "voice")

BLOCK_KEYS = ("silent", *CONTENT_KINDS)
TEXT_KEYS = ("message", "parseMode", "noPreview")
MEDIA_KEYS = ("url", "caption", "parseMode")
LOCATION_KEYS = ("latitude", "longitude")

Errors = list[FieldError]


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with this channel's block of a send request; [] when it is valid. Field names are
    relative to the block ("text", "buttons[0].text", "location.latitude"): the gateway prefixes the
    channel key. Never raises, whatever `block` is.

    A problem with the block as a whole (not an object, no content, two contents) is reported on
    the empty field name ``""``, i.e. on the block itself."""
    errs: Errors = []
    if not isinstance(block, dict):
        add(errs, "", "must be an object with one of: " + listing(tuple(CONTENT_KINDS)))
        return errs

    for key in block:
        if key not in BLOCK_KEYS:
            add(errs, key_path("", key), "unknown field; the telegram block allows only: " + listing(BLOCK_KEYS))

    if "silent" in block and not isinstance(block["silent"], bool):
        add(errs, "silent", "must be true or false")

    present = [key for key in CONTENT_KINDS if key in block]
    if not present:
        add(errs, "", "must contain one content: " + listing(tuple(CONTENT_KINDS)))
    elif len(present) > 1:
        add(
            errs,
            "",
            f"must contain exactly one content per message; got {listing(tuple(present))}",
        )

    for key in present:
        if key == "text":
            _check_text(errs, block["text"])
        elif key == "location":
            _check_location(errs, block["location"])
        else:
            _check_media(errs, key, block[key])
    return errs


def content_kind(block: dict) -> str:
    """The Bot API method a *valid* block maps to: "sendMessage", "sendPhoto", "sendDocument",
    "sendVideo", "sendVoice" or "sendLocation". Raises ValueError for a block that
    :func:`validate_block` rejects."""
    if validate_block(block):
        raise ValueError("content_kind() needs a valid telegram block; validate it first")
    return next(method for key, method in CONTENT_KINDS.items() if key in block)


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _check_unknown_keys(errs: Errors, path: str, obj: dict, allowed: tuple[str, ...]) -> None:
    for key in obj:
        if key not in allowed:
            if key == "thumb" and path in ("document", "video"):
                # Seed 002: Telegram ignores "thumb"; by URL the Bot API can't take one at all.
                add(errs, f"{path}.thumb", "is not supported: Telegram ignores thumbnails given by URL")
            else:
                add(errs, key_path(path, key), f"unknown field; {path} allows only: {listing(allowed)}")


def _parse_mode(errs: Errors, path: str, obj: dict) -> str | None:
    """The object's parse mode ("Default" when absent), or None after reporting a bad one."""
    mode = obj.get("parseMode", "Default")
    if isinstance(mode, str) and mode in PARSE_MODES:
        return mode
    hint = ""
    if isinstance(mode, str) and mode.lower() in {m.lower() for m in PARSE_MODES}:
        hint = " (the spelling is case-sensitive)"
    add(errs, f"{path}.parseMode", f"must be one of {listing(PARSE_MODES)}{hint}")
    return None


def _check_formatted(
    errs: Errors, field: str, value: str, mode: str | None, *, minimum: int, maximum: int, what: str
) -> None:
    """Length of `value` after entity parsing in `mode` (unknown mode: the raw text)."""
    visible, problem = visible_text(value, mode or "Default")
    if problem is not None:
        # The length after parsing is unknown until the markup is fixed.
        add(errs, field, f"is not valid {mode}: {problem}")
        return
    length = len(visible.strip(_SPACES))
    after = "" if mode in (None, "Default") else f" after {mode} parsing"
    if length < minimum:
        add(errs, field, f"must not be empty{after} ({minimum}-{maximum} characters)")
    elif length > maximum:
        add(errs, field, f"{what} must be at most {maximum} characters{after} (got {length})")


# --------------------------------------------------------------------------
# Contents
# --------------------------------------------------------------------------


def _check_text(errs: Errors, text: Any) -> None:
    if not isinstance(text, dict):
        add(errs, "text", 'must be an object like {"message": "Hi"}')
        return
    _check_unknown_keys(errs, "text", text, TEXT_KEYS)
    mode = _parse_mode(errs, "text", text)
    if "noPreview" in text and not isinstance(text["noPreview"], bool):
        add(errs, "text.noPreview", "must be true or false")
    message = text.get("message")
    if message is None:
        add(errs, "text.message", f"is required (1-{TEXT_MAX} characters)")
    elif not isinstance(message, str):
        add(errs, "text.message", f"must be a string of 1-{TEXT_MAX} characters")
    else:
        _check_formatted(errs, "text.message", message, mode, minimum=1, maximum=TEXT_MAX, what="the text")


def _check_media(errs: Errors, kind: str, media: Any) -> None:
    if not isinstance(media, dict):
        add(errs, kind, 'must be an object like {"url": "https://...", "caption": "..."}')
        return
    _check_unknown_keys(errs, kind, media, MEDIA_KEYS)
    mode = _parse_mode(errs, kind, media)

    url = media.get("url")
    field = f"{kind}.url"
    if url is None:
        add(errs, field, "is required: an absolute http(s) URL Telegram can download the file from")
    elif not isinstance(url, str) or not is_http_url(url):
        add(errs, field, "must be an absolute http(s) URL, e.g. https://example.com/file")
    elif kind == "document" and _extension(url) not in DOCUMENT_EXTENSIONS:
        add(
            errs,
            field,
            f"must point to a {', '.join(DOCUMENT_EXTENSIONS)} file (by the URL path's extension); "
            "Telegram sends only these document types by URL",
        )

    caption = media.get("caption")
    if caption is not None:
        if not isinstance(caption, str):
            add(errs, f"{kind}.caption", f"must be a string of 0-{CAPTION_MAX} characters")
        else:
            _check_formatted(errs, f"{kind}.caption", caption, mode, minimum=0, maximum=CAPTION_MAX, what="the caption")


def _check_location(errs: Errors, location: Any) -> None:
    if not isinstance(location, dict):
        add(errs, "location", 'must be an object like {"latitude": 46.1, "longitude": 19.66}')
        return
    _check_unknown_keys(errs, "location", location, LOCATION_KEYS)
    for key, (low, high) in (("latitude", LATITUDE), ("longitude", LONGITUDE)):
        value = location.get(key)
        field = f"location.{key}"
        if value is None:
            add(errs, field, f"is required: a number from {low:g} to {high:g}")
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            # (NaN and the infinities fail the range test; a huge int compares exactly.)
            add(errs, field, f"must be a number from {low:g} to {high:g}")


def _extension(url: str) -> str:
    """Lower-cased extension of the URL path's last segment ("" when it has none)."""
    path = unquote(urlsplit(url).path)
    return posixpath.splitext(posixpath.basename(path))[1].lower()
