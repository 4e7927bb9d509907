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
import re
from typing import Any
from urllib.parse import unquote, urlsplit

from channels.base import is_http_url
from channels.checks import add, key_path, listing
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


# --------------------------------------------------------------------------
# Entity parsing: the text Telegram shows, or why Telegram would refuse the markup
# --------------------------------------------------------------------------

_SPACES = " \t\r\n\v\f"


def visible_text(text: str, mode: str) -> tuple[str, str | None]:
    """(text after entity parsing, None) or (partial text, reason Telegram would reject it).

    Mirrors the Bot API's "Formatting options" (and TDLib's parsers): MarkdownV2 with its reserved
    characters, legacy Markdown, and HTML with its fixed tag set and four named entities."""
    if mode == "MarkdownV2":
        return _markdown_v2(text)
    if mode == "Markdown":
        return _markdown(text)
    if mode == "Html":
        return _html(text)
    return text, None


_MDV2_RESERVED = "_*[]()~`>#+-=|{}.!"
_MDV2_NAMES = {
    "bold": "bold (*)",
    "italic": "italic (_)",
    "underline": "underline (__)",
    "strikethrough": "strikethrough (~)",
    "spoiler": "spoiler (||)",
    "code": "code (`)",
    "pre": "pre (```)",
    "text_url": "link ([...](...))",
    "custom_emoji": "custom emoji (![...](tg://emoji?id=...))",
}


def _markdown_v2(text: str) -> tuple[str, str | None]:
    out: list[str] = []
    stack: list[tuple[str, int]] = []  # (entity kind, position of its opening markup)
    n = len(text)
    i = 0

    def at(k: int) -> str:
        return text[k] if k < n else ""

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            out.append(text[i + 1])
            i += 2
            continue
        top = stack[-1][0] if stack else None
        line_start = i == 0 or text[i - 1] == "\n"
        if top not in ("code", "pre") and line_start:
            # Block quotation: ">" (or "**>" for an expandable one) at the start of a line.
            if c == ">":
                i += 1
                continue
            if text.startswith("**>", i):
                i += 3
                continue
        if top not in ("code", "pre") and text.startswith("||", i) and top != "spoiler":
            # "||" closing an expandable block quotation: at the end of a quoted line.
            line_begin = text.rfind("\n", 0, i) + 1
            if text.startswith((">", "**>"), line_begin) and at(i + 2) in ("", "\n"):
                i += 2
                continue
        reserved = "`" if top in ("code", "pre") else _MDV2_RESERVED
        if c not in reserved:
            out.append(c)
            i += 1
            continue

        ends = {
            "bold": c == "*",
            "italic": c == "_" and at(i + 1) != "_",
            "underline": c == "_" and at(i + 1) == "_",
            "strikethrough": c == "~",
            "spoiler": c == "|" and at(i + 1) == "|",
            "code": c == "`",
            "pre": text.startswith("```", i),
            "text_url": c == "]",
            "custom_emoji": c == "]",
        }
        if top is not None and ends[top]:
            kind, _ = stack.pop()
            if kind in ("underline", "spoiler"):
                i += 2
            elif kind == "pre":
                i += 3
            elif kind in ("text_url", "custom_emoji"):
                i += 1
                if at(i) == "(":
                    close = _url_end(text, i + 1)
                    if close < 0:
                        return "".join(out), f"can't find the end of the URL at character {i + 1}"
                    i = close + 1
                elif kind == "custom_emoji":
                    return "".join(out), "a custom emoji must be followed by (tg://emoji?id=...)"
            else:
                i += 1
            continue

        # Start of an entity.
        start = i
        if c == "_":
            kind, i = ("underline", i + 2) if at(i + 1) == "_" else ("italic", i + 1)
        elif c == "*":
            kind, i = "bold", i + 1
        elif c == "~":
            kind, i = "strikethrough", i + 1
        elif c == "|" and at(i + 1) == "|":
            kind, i = "spoiler", i + 2
        elif c == "[":
            kind, i = "text_url", i + 1
        elif c == "!" and at(i + 1) == "[":
            kind, i = "custom_emoji", i + 2
        elif c == "`":
            if text.startswith("```", i):
                kind, i = "pre", _pre_body_start(text, i + 3)
            else:
                kind, i = "code", i + 1
        else:
            return "".join(out), f"character '{c}' is reserved and must be escaped with a preceding '\\'"
        stack.append((kind, start))

    if stack:
        kind, start = stack[-1]
        return "".join(out), f"can't find the end of the {_MDV2_NAMES[kind]} entity opened at character {start + 1}"
    return "".join(out), None


def _url_end(text: str, i: int) -> int:
    """Index of the ")" closing a MarkdownV2 URL that starts at `i` (escapes skipped), or -1."""
    n = len(text)
    while i < n:
        if text[i] == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            i += 2
            continue
        if text[i] == ")":
            return i
        i += 1
    return -1


def _pre_body_start(text: str, i: int) -> int:
    """Skip a pre block's language word and one line break after the opening ```."""
    n = len(text)
    end = i
    while end < n and text[end] not in _SPACES and text[end] != "`":
        end += 1
    if end != i and end < n and text[end] != "`":
        i = end
    if i < n and text[i] in "\r\n":
        i += 2 if i + 1 < n and text[i + 1] in "\r\n" and text[i] != text[i + 1] else 1
    return i


def _markdown(text: str) -> tuple[str, str | None]:
    """Legacy Markdown: *bold*, _italic_, `code`, ```pre```, [text](url); no nesting."""
    out: list[str] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            out.append(c)
            i += 1
            continue
        start = i
        end_char = "]" if c == "[" else c
        i += 1
        is_pre = False
        if c == "`" and text.startswith("``", i):
            is_pre = True
            i = _pre_body_start(text, i + 2)
        while i < n and (text[i] != end_char or (is_pre and not text.startswith("```", i))):
            out.append(text[i])
            i += 1
        if i >= n:
            return "".join(out), (
                f"can't find the end of the entity opened by '{c}' at character {start + 1}; "
                "write a literal _ * ` or [ as \\_ \\* \\` \\["
            )
        if c == "[" and i + 1 < n and text[i + 1] == "(":
            close = text.find(")", i + 2)
            i = n - 1 if close < 0 else close
        elif is_pre:
            i += 2
        i += 1
    return "".join(out), None


_HTML_TAGS = (
    "a",
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "span",
    "tg-spoiler",
    "tg-emoji",
    "code",
    "pre",
    "blockquote",
)
_HTML_ENTITY_RE = re.compile(r"&(?:(lt|gt|amp|quot);|#([0-9]{1,7});|#[xX]([0-9a-fA-F]{1,6});)")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _html_entity(match: re.Match[str]) -> str | None:
    name, dec, hexa = match.groups()
    if name:
        return _HTML_NAMED[name]
    code = int(dec) if dec else int(hexa, 16)
    if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
        return chr(code)
    return None


def _html(text: str) -> tuple[str, str | None]:
    out: list[str] = []
    stack: list[str] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            match = _HTML_ENTITY_RE.match(text, i)
            decoded = _html_entity(match) if match else None
            if decoded is not None:
                out.append(decoded)
                i = match.end()
                continue
        if c != "<":
            out.append(c)
            i += 1
            continue
        start = i
        closing = text.startswith("</", i)
        i += 2 if closing else 1
        name_end = i
        while name_end < n and text[name_end] not in _SPACES and text[name_end] != ">":
            name_end += 1
        name = text[i:name_end].lower()
        close = _tag_end(text, name_end)
        if close < 0:
            return "".join(out), f"unclosed tag at character {start + 1}; write a literal < as &lt;"
        if closing:
            if not stack:
                return "".join(out), f"unexpected end tag </{name}> at character {start + 1}"
            if name and name != stack[-1]:
                return "".join(out), (
                    f"unmatched end tag at character {start + 1}: expected </{stack[-1]}>, found </{name}>"
                )
            stack.pop()
        else:
            if name not in _HTML_TAGS:
                shown = f"<{name}>" if name else "'<'"
                return "".join(out), (
                    f"unsupported tag {shown} at character {start + 1}; supported tags: "
                    + ", ".join(_HTML_TAGS)
                    + " (write a literal < as &lt;)"
                )
            stack.append(name)
        i = close + 1
    if stack:
        return "".join(out), f"can't find the end tag for <{stack[-1]}>"
    return "".join(out), None


def _tag_end(text: str, i: int) -> int:
    """Index of the ">" ending a tag whose attributes start at `i` (quoted values skipped), or -1."""
    n = len(text)
    quote = ""
    while i < n:
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c == ">":
            return i
        i += 1
    return -1
