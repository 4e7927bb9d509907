"""Validation of the ``viber`` block of a send request (seed 002, Viber section).

Shapes accepted (field spellings as in seed 002; ``video`` and ``keyboard`` are not spelled out
by the seed, see below)::

    {"type": "session" | "promotional" | "transactional" | "regular",     # required
     "ttl": 30..1209600,                                                   # optional, seconds
     "text": "...",                                                        # text message
     "mediaUrl": "https://.../image.png",                                  # picture ("" = none)
     "button": {"caption": "Scan!", "action": "https://... | viber://..."},  # URL button
     "file": {"mediaUrl": "https://.../doc.pdf", "fileName": "doc.pdf", "size": 1234},
     "video": {"mediaUrl": "https://.../clip.mp4", "size": 1234, "duration": 10,
               "thumbnail": "https://.../thumb.jpg"},
     "keyboard": {<a Viber keyboard object, PascalCase as in Viber's docs>}}

Layouts (seed 002's examples and Viber's business-message layouts): text; picture; text +
picture; text + button; text + picture + button; file alone; video alone; a keyboard with any
of them or on its own. Per ``type`` (seed 002): transactional carries text only, session no
button, promotional and regular everything.

Provider limits are the Viber REST bot API's (https://developers.viber.com/docs/api/rest-bot-api/
#send-message and /docs/tools/keyboards/): text 7000 characters, picture description 768, picture
.jpeg/.jpg/.png/.gif, video .mp4 up to 26 MB and 180 s, file up to 50 MB (seed 002 says 200 MB;
the stricter limit wins), request JSON at most 30 kB. Seed 002 adds: ttl 30-1,209,600 s, file
name at most 25 characters, the file-format list. The button caption limit (30) is Viber
business messages'.

Public API: :func:`validate_block`, :func:`content_kind`, :data:`MESSAGE_TYPES`.
"""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import unquote, urlsplit

import msgspec

from channels.base import is_http_url
from channels.checks import add, is_int, key_path, listing
from wire.errors import FieldError

__all__ = ["MESSAGE_TYPES", "FILE_EXTENSIONS", "validate_block", "content_kind"]

# Seed 002: "type: session, promotional, transactional"; its pricing example also sends "regular".
MESSAGE_TYPES = ("session", "promotional", "transactional", "regular")
# What each type may carry (seed 002: picture and file "session, promotional"; button examples
# "promotional"; transactional "may contain text and optional URL related to the text").
# "regular" (seed 002's plain bot message) is not restricted; video is not named by the seed
# and is allowed where pictures and files are.
TYPE_ALLOWS = {
    "transactional": frozenset({"text"}),
    "session": frozenset({"text", "picture", "video", "file"}),
    "promotional": frozenset({"text", "picture", "video", "file", "button"}),
    "regular": frozenset({"text", "picture", "video", "file", "button"}),
}
_PART_NAMES = {"text": "text", "picture": "mediaUrl (a picture)", "video": "video", "file": "file", "button": "button"}

# Seed 002 "Time To Live": "between 30 seconds (minimum) and up to 1,209,600 seconds (maximum)".
TTL_RANGE = (30, 1_209_600)
# REST bot API send_message, text: "Max length 7,000 characters".
TEXT_MAX = 7000
# REST bot API picture message, text (the description): "Max 768 characters".
PICTURE_TEXT_MAX = 768
# REST bot API picture media: "must have a resource with a .jpeg, .png or .gif file extension".
PICTURE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".gif")
# REST bot API video media: ".mp4 file extension as the last path segment", "Max size 26 MB";
# duration "Max 180 seconds"; size "required".
VIDEO_EXTENSIONS = (".mp4",)
VIDEO_SIZE_MAX = 26 * 1024 * 1024
VIDEO_DURATION_MAX = 180
# REST bot API file media: "Max size 50 MB" (seed 002: "under 200MB"; the stricter one applies).
FILE_SIZE_MAX = 50 * 1024 * 1024
# Seed 002: "Filename – maximum 25 characters".
FILE_NAME_MAX = 25
# Seed 002's list of supported file formats (documents and spreadsheets). Every one of them is
# outside the REST bot API's forbidden-formats list, so this allow-list enforces both.
FILE_EXTENSIONS = (
    ".doc",
    ".docx",
    ".rtf",
    ".dot",
    ".dotx",
    ".odt",
    ".odf",
    ".fodt",
    ".txt",
    ".info",
    ".pdf",
    ".xps",
    ".pdax",
    ".eps",
    ".xls",
    ".xlsx",
    ".ods",
    ".fods",
    ".csv",
    ".xlsm",
    ".xltx",
)
# Viber business messages: "Button caption length: up to 30 characters".
BUTTON_CAPTION_MAX = 30
# REST bot API URL message: "Max 2,000 characters" (the longest URL Viber takes in a message).
URL_MAX = 2000
# REST bot API: "Maximum total JSON size of the request is 30kb". The adapter's envelope
# (receiver, sender name and avatar, tracking data) takes the last kilobyte.
REQUEST_JSON_MAX = 30 * 1024
BLOCK_JSON_MAX = REQUEST_JSON_MAX - 1024

BLOCK_KEYS = ("type", "ttl", "text", "mediaUrl", "button", "file", "video", "keyboard")
BUTTON_KEYS = ("caption", "action")
FILE_KEYS = ("mediaUrl", "fileName", "size")
VIDEO_KEYS = ("mediaUrl", "size", "duration", "thumbnail")

_VIBER_SCHEME_RE = re.compile(r"viber://\S+")
_COLOR_RE = re.compile(r"#[0-9A-Fa-f]{6}")

Errors = list[FieldError]


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with this channel's block of a send request; [] when it is valid. Field names are
    relative to the block ("text", "buttons[0].text", "location.latitude"): the gateway prefixes the
    channel key. Never raises, whatever `block` is.

    A problem with the block as a whole (not an object, no content, a combination Viber can't
    send) is reported on the empty field name ``""``, i.e. on the block itself."""
    errs: Errors = []
    if not isinstance(block, dict):
        add(errs, "", "must be an object with a type and the message content")
        return errs

    for key in block:
        if key not in BLOCK_KEYS:
            add(errs, key_path("", key), "unknown field; the viber block allows only: " + listing(BLOCK_KEYS))

    mtype = _check_type(errs, block)
    _check_ttl(errs, block)
    parts = _present_parts(block)
    _check_layout(errs, parts, "keyboard" in block)
    if mtype is not None:
        for part in sorted(parts - TYPE_ALLOWS[mtype], key=list(_PART_NAMES).index):
            add(
                errs,
                _part_field(part),
                f"is not allowed in a {mtype} message; {mtype} messages may carry only "
                + ", ".join(_PART_NAMES[p] for p in _PART_NAMES if p in TYPE_ALLOWS[mtype]),
            )

    if "text" in block:
        _check_text(errs, block["text"], PICTURE_TEXT_MAX if "picture" in parts else TEXT_MAX)
    if "mediaUrl" in block:
        _check_picture(errs, block["mediaUrl"])
    if "button" in block:
        _check_button(errs, block["button"])
    if "file" in block:
        _check_file(errs, block["file"])
    if "video" in block:
        _check_video(errs, block["video"])
    if "keyboard" in block:
        _check_keyboard(errs, block["keyboard"])
    _check_json_size(errs, block)
    return errs


def content_kind(block: dict) -> str:
    """The Viber REST message type a *valid* block is sent as: "file", "video", "picture" (a
    mediaUrl, with its text as the description), "text", or "keyboard" for a keyboard sent on its
    own. A ``button`` and a ``keyboard`` ride along with the message and don't change its kind.
    Raises ValueError for a block that :func:`validate_block` rejects."""
    if validate_block(block):
        raise ValueError("content_kind() needs a valid viber block; validate it first")
    parts = _present_parts(block)
    for kind in ("file", "video", "picture", "text"):
        if kind in parts:
            return kind
    return "keyboard"


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _check_unknown_keys(errs: Errors, path: str, obj: dict, allowed: tuple[str, ...]) -> None:
    for key in obj:
        if key not in allowed:
            add(errs, key_path(path, key), f"unknown field; {path} allows only: {listing(allowed)}")


def _extension(value: str) -> str:
    """Lower-cased extension of a file name ("" when it has none)."""
    return posixpath.splitext(value)[1].lower()


def _url_file_name(url: str) -> str:
    """The last segment of the URL's path, percent-decoded ("" when there is none)."""
    return posixpath.basename(unquote(urlsplit(url).path))


def _is_action_url(value: str) -> bool:
    """An absolute http(s) URL or one of Viber's URL schemes (viber://...)."""
    return is_http_url(value) or bool(_VIBER_SCHEME_RE.fullmatch(value))


def _check_url(
    errs: Errors, field: str, value: Any, *, required: bool, extensions: tuple[str, ...] = (), what: str = ""
) -> str | None:
    """An absolute http(s) URL of at most URL_MAX characters, optionally with one of `extensions`
    as the extension of its path's last segment. Returns the URL when it is valid."""
    if value is None:
        if required:
            add(errs, field, "is required: an absolute http(s) URL")
        return None
    if not isinstance(value, str) or not is_http_url(value):
        add(errs, field, "must be an absolute http(s) URL, e.g. https://example.com/path")
        return None
    if len(value) > URL_MAX:
        add(errs, field, f"must be at most {URL_MAX} characters (got {len(value)})")
        return None
    if extensions and _extension(_url_file_name(value)) not in extensions:
        add(
            errs,
            field,
            f"must point to {what} whose URL path ends in {' or '.join(extensions)} (Viber requires the extension)",
        )
        return None
    return value


def _check_size(errs: Errors, field: str, value: Any, maximum: int, *, required: bool, what: str) -> None:
    mb = maximum // (1024 * 1024)
    if value is None:
        if required:
            add(errs, field, f"is required: the {what}'s size in bytes (at most {mb} MB)")
        return
    if not is_int(value) or value < 1:
        add(errs, field, f"must be the {what}'s size in bytes: a positive integer")
    elif value > maximum:
        add(errs, field, f"must be at most {maximum} bytes ({mb} MB) for a Viber {what} (got {value})")


# --------------------------------------------------------------------------
# Top level
# --------------------------------------------------------------------------


def _check_type(errs: Errors, block: dict) -> str | None:
    mtype = block.get("type")
    if mtype is None:
        add(errs, "type", f"is required; one of {listing(MESSAGE_TYPES)}")
        return None
    if not isinstance(mtype, str) or mtype not in MESSAGE_TYPES:
        add(errs, "type", f"must be one of {listing(MESSAGE_TYPES)}")
        return None
    return mtype


def _check_ttl(errs: Errors, block: dict) -> None:
    if "ttl" not in block:
        return
    ttl = block["ttl"]
    low, high = TTL_RANGE
    if not is_int(ttl) or not low <= ttl <= high:
        add(errs, "ttl", f"must be a whole number of seconds from {low} to {high:,} (14 days)")


def _present_parts(block: dict) -> set[str]:
    """The content parts the block carries (an empty mediaUrl, as in seed 002, is no picture)."""
    parts = {key for key in ("text", "button", "file", "video") if key in block}
    if "mediaUrl" in block and block["mediaUrl"] != "":
        parts.add("picture")
    return parts


def _part_field(part: str) -> str:
    return "mediaUrl" if part == "picture" else part


def _check_layout(errs: Errors, parts: set[str], has_keyboard: bool) -> None:
    if not parts and not has_keyboard:
        add(errs, "", "must contain a message: text, mediaUrl, file, video or keyboard")
        return
    media = [p for p in ("picture", "video", "file") if p in parts]
    if len(media) > 1:
        add(
            errs,
            "",
            "can carry only one of mediaUrl, video and file; got " + ", ".join(_part_field(p) for p in media),
        )
    for alone in ("file", "video"):
        if alone in parts:
            for other in ("text", "button"):
                if other in parts:
                    add(errs, other, f"can't be sent with a {alone}: a Viber {alone} message carries only the {alone}")
    if "button" in parts and "text" not in parts:
        add(
            errs,
            "button",
            "needs a text: Viber shows a button only under a text (text + button or text + picture + button)",
        )


def _check_text(errs: Errors, text: Any, maximum: int) -> None:
    if not isinstance(text, str):
        add(errs, "text", f"must be a string of 1-{maximum} characters")
    elif not text.strip():
        add(errs, "text", f"must not be empty (1-{maximum} characters)")
    elif len(text) > maximum:
        with_picture = (
            " with a picture (Viber's limit for a picture description)" if maximum == PICTURE_TEXT_MAX else ""
        )
        add(errs, "text", f"must be at most {maximum} characters{with_picture} (got {len(text)})")


def _check_picture(errs: Errors, url: Any) -> None:
    if url == "":
        return  # seed 002 sends "mediaUrl": "" for "no picture"
    if url is None:
        add(errs, "mediaUrl", 'must be an absolute http(s) URL of a picture (or "" for none)')
        return
    _check_url(errs, "mediaUrl", url, required=True, extensions=PICTURE_EXTENSIONS, what="a JPEG, PNG or GIF image")


def _check_button(errs: Errors, button: Any) -> None:
    if not isinstance(button, dict):
        add(errs, "button", 'must be an object like {"caption": "Open", "action": "https://example.com"}')
        return
    _check_unknown_keys(errs, "button", button, BUTTON_KEYS)
    caption = button.get("caption")
    if caption is None:
        add(errs, "button.caption", f"is required (1-{BUTTON_CAPTION_MAX} characters)")
    elif not isinstance(caption, str) or not caption.strip():
        add(errs, "button.caption", f"must be a non-empty string of 1-{BUTTON_CAPTION_MAX} characters")
    elif len(caption) > BUTTON_CAPTION_MAX:
        add(errs, "button.caption", f"must be at most {BUTTON_CAPTION_MAX} characters (got {len(caption)})")
    action = button.get("action")
    if action is None:
        add(errs, "button.action", "is required: an absolute http(s) URL or a viber:// URL scheme")
    elif not isinstance(action, str) or not _is_action_url(action):
        add(errs, "button.action", "must be an absolute http(s) URL or a viber:// URL scheme (e.g. viber://more/qr)")
    elif len(action) > URL_MAX:
        add(errs, "button.action", f"must be at most {URL_MAX} characters (got {len(action)})")


def _check_file(errs: Errors, file: Any) -> None:
    if not isinstance(file, dict):
        add(errs, "file", 'must be an object like {"mediaUrl": "https://.../file.pdf", "fileName": "file.pdf"}')
        return
    _check_unknown_keys(errs, "file", file, FILE_KEYS)
    url = _check_url(errs, "file.mediaUrl", file.get("mediaUrl"), required=True)
    _check_size(errs, "file.size", file.get("size"), FILE_SIZE_MAX, required=False, what="file")
    formats = "; supported formats: " + " ".join(FILE_EXTENSIONS)

    name = file.get("fileName")
    if name is not None:
        field = "file.fileName"
        if not isinstance(name, str) or not name.strip():
            add(errs, field, f"must be a non-empty string of at most {FILE_NAME_MAX} characters")
        elif len(name) > FILE_NAME_MAX:
            add(errs, field, f"must be at most {FILE_NAME_MAX} characters (got {len(name)})")
        elif "/" in name or "\\" in name or any(ord(c) < 32 for c in name):
            add(errs, field, "must be a bare file name: no / or \\ and no control characters")
        elif _extension(name) not in FILE_EXTENSIONS:
            add(errs, field, "must end in a supported extension" + formats)
        return
    if url is None:
        return
    # Seed 002: without fileName the name comes from the URL; when that has no sane name, the
    # fileName is required.
    derived = _url_file_name(url)
    field = "file.fileName"
    if not derived or not _extension(derived):
        add(errs, field, "is required: the URL has no file name with an extension to take it from")
    elif len(derived) > FILE_NAME_MAX:
        add(
            errs,
            field,
            f"is required: the file name in the URL is longer than {FILE_NAME_MAX} characters ({len(derived)})",
        )
    elif _extension(derived) not in FILE_EXTENSIONS:
        add(errs, "file.mediaUrl", "must point to a file of a supported format" + formats)


def _check_video(errs: Errors, video: Any) -> None:
    if not isinstance(video, dict):
        add(errs, "video", 'must be an object like {"mediaUrl": "https://.../clip.mp4", "size": 1048576}')
        return
    _check_unknown_keys(errs, "video", video, VIDEO_KEYS)
    _check_url(
        errs, "video.mediaUrl", video.get("mediaUrl"), required=True, extensions=VIDEO_EXTENSIONS, what="an MP4 video"
    )
    _check_size(errs, "video.size", video.get("size"), VIDEO_SIZE_MAX, required=True, what="video")
    if "duration" in video:
        duration = video["duration"]
        if not is_int(duration) or not 1 <= duration <= VIDEO_DURATION_MAX:
            add(errs, "video.duration", f"must be a whole number of seconds from 1 to {VIDEO_DURATION_MAX}")
    _check_url(errs, "video.thumbnail", video.get("thumbnail"), required=False)


def _check_json_size(errs: Errors, block: dict) -> None:
    try:
        size = len(msgspec.json.encode(block))
    except Exception:  # not JSON-encodable: never the case for a decoded request body
        return
    if size > BLOCK_JSON_MAX:
        add(
            errs,
            "",
            f"is too large: {size} bytes of JSON; Viber takes at most {REQUEST_JSON_MAX} bytes per request, "
            f"so the block may use {BLOCK_JSON_MAX}",
        )


# --------------------------------------------------------------------------
# Keyboards (Viber's own PascalCase object, https://developers.viber.com/docs/tools/keyboards/)
# --------------------------------------------------------------------------

# A field spec: ("bool",) | ("int", low, high) | ("enum", values) | ("color",) | ("url",)
# | ("str", max_len) | ("number", low, high) | ("object", spec or None) | ("paddings",)
_Spec = dict[str, tuple]

_INTERNAL_BROWSER: _Spec = {
    "ActionButton": ("enum", ("forward", "send", "open-externally", "send-to-bot", "none")),
    "ActionPredefinedURL": ("url",),
    "TitleType": ("enum", ("domain", "default")),
    "CustomTitle": ("str", 15),
    "Mode": ("enum", ("fullscreen", "fullscreen-portrait", "fullscreen-landscape", "partial-size")),
    "FooterType": ("enum", ("default", "hidden")),
    "ActionReplyData": ("str", None),
}
_MAP: _Spec = {"Latitude": ("number", -90, 90), "Longitude": ("number", -180, 180)}
_FRAME: _Spec = {"BorderWidth": ("int", 0, 10), "BorderColor": ("color",), "CornerRadius": ("int", 0, 10)}
_MEDIA_PLAYER: _Spec = {"Title": ("str", None), "Subtitle": ("str", None), "ThumbnailURL": ("url",), "Loop": ("bool",)}

# Button parameters of Viber's keyboard docs. Rows: "1 - 2" in keyboards (1-7 is rich media's);
# Text: "Max 250 characters". TextSize "medium" and TextHAlign "middle" are not in the documented
# lists but appear in Viber's own examples, so Viber takes them.
KEYBOARD_BUTTON_SPEC: _Spec = {
    "Columns": ("int", 1, 6),
    "Rows": ("int", 1, 2),
    "BgColor": ("color",),
    "Silent": ("bool",),
    "BgMediaType": ("enum", ("picture", "gif")),
    "BgMedia": ("url",),
    "BgMediaScaleType": ("enum", ("crop", "fill", "fit")),
    "ImageScaleType": ("enum", ("crop", "fill", "fit")),
    "BgLoop": ("bool",),
    "ActionType": ("enum", ("reply", "open-url", "location-picker", "share-phone", "none")),
    "ActionBody": ("str", None),
    "Image": ("url",),
    "Text": ("str", 250),
    "TextSize": ("enum", ("small", "regular", "medium", "large")),
    "TextVAlign": ("enum", ("top", "middle", "bottom")),
    "TextHAlign": ("enum", ("left", "center", "middle", "right")),
    "TextPaddings": ("paddings",),
    "TextOpacity": ("int", 0, 100),
    "OpenURLType": ("enum", ("internal", "external")),
    "OpenURLMediaType": ("enum", ("not-media", "video", "gif", "picture")),
    "TextBgGradientColor": ("color",),
    "TextShouldFit": ("bool",),
    "InternalBrowser": ("object", _INTERNAL_BROWSER),
    "Map": ("object", _MAP),
    "Frame": ("object", _FRAME),
    "MediaPlayer": ("object", _MEDIA_PLAYER),
}
KEYBOARD_SPEC: _Spec = {
    "Type": ("enum", ("keyboard",)),
    "Buttons": ("buttons",),
    "BgColor": ("color",),
    "DefaultHeight": ("bool",),
    "CustomDefaultHeight": ("int", 40, 70),
    "HeightScale": ("int", 20, 100),
    "ButtonsGroupColumns": ("int", 1, 6),
    "ButtonsGroupRows": ("int", 1, 7),
    "InputFieldState": ("enum", ("regular", "minimized", "hidden")),
    "FavoritesMetadata": ("object", None),
}
# "Each button must contain at least one of the following optional parameters: Text, BgMedia,
# Image, BgColor" (keyboards docs).
_BUTTON_VISIBLE = ("Text", "BgMedia", "Image", "BgColor")


def _check_fields(errs: Errors, path: str, obj: dict, spec: _Spec) -> None:
    _check_unknown_keys(errs, path, obj, tuple(spec))
    for key, rule in spec.items():
        if key in obj and rule[0] != "buttons":
            _check_value(errs, f"{path}.{key}", obj[key], rule)


def _check_value(errs: Errors, field: str, value: Any, rule: tuple) -> None:
    kind = rule[0]
    if kind == "bool":
        if not isinstance(value, bool):
            add(errs, field, "must be true or false")
    elif kind == "int":
        low, high = rule[1], rule[2]
        if not is_int(value) or not low <= value <= high:
            add(errs, field, f"must be an integer from {low} to {high}")
    elif kind == "number":
        low, high = rule[1], rule[2]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
            add(errs, field, f"must be a number from {low} to {high}")
    elif kind == "enum":
        if not isinstance(value, str) or value not in rule[1]:
            add(errs, field, f"must be one of {listing(rule[1])}")
    elif kind == "color":
        if not isinstance(value, str) or not _COLOR_RE.fullmatch(value):
            add(errs, field, "must be a hex color like #2DB9B9")
    elif kind == "url":
        _check_url(errs, field, value, required=False)
    elif kind == "str":
        maximum = rule[1]
        if not isinstance(value, str):
            add(errs, field, "must be a string" + (f" of at most {maximum} characters" if maximum else ""))
        elif maximum is not None and len(value) > maximum:
            add(errs, field, f"must be at most {maximum} characters (got {len(value)})")
    elif kind == "paddings":
        if not isinstance(value, list) or len(value) != 4 or not all(is_int(v) and v >= 0 for v in value):
            add(errs, field, "must be a list of 4 non-negative integers: [top, left, bottom, right]")
    elif kind == "object":
        if not isinstance(value, dict):
            add(errs, field, "must be an object")
        elif rule[1] is not None:
            _check_fields(errs, field, value, rule[1])


def _check_keyboard(errs: Errors, keyboard: Any) -> None:
    if not isinstance(keyboard, dict):
        add(errs, "keyboard", 'must be a Viber keyboard object like {"Type": "keyboard", "Buttons": [...]}')
        return
    _check_fields(errs, "keyboard", keyboard, KEYBOARD_SPEC)
    columns = keyboard.get("ButtonsGroupColumns")
    max_columns = columns if is_int(columns) and 1 <= columns <= 6 else 6
    buttons = keyboard.get("Buttons")
    if buttons is None:
        add(errs, "keyboard.Buttons", "is required: a list of at least one button")
        return
    if not isinstance(buttons, list) or not buttons:
        add(errs, "keyboard.Buttons", "must be a non-empty list of button objects")
        return
    for j, button in enumerate(buttons):
        _check_keyboard_button(errs, f"keyboard.Buttons[{j}]", button, max_columns)


def _check_keyboard_button(errs: Errors, path: str, button: Any, max_columns: int) -> None:
    if not isinstance(button, dict):
        add(errs, path, "must be an object with an ActionBody")
        return
    _check_fields(errs, path, button, KEYBOARD_BUTTON_SPEC)
    columns = button.get("Columns")
    if is_int(columns) and max_columns < columns <= 6:
        add(errs, f"{path}.Columns", f"must be at most the keyboard's ButtonsGroupColumns ({max_columns})")
    if not any(key in button for key in _BUTTON_VISIBLE):
        add(errs, path, "must have at least one of " + listing(_BUTTON_VISIBLE) + " (Viber can't draw it otherwise)")

    action_type = button.get("ActionType", "reply")
    body = button.get("ActionBody")
    field = f"{path}.ActionBody"
    if body is None:
        add(errs, field, "is required: the reply text, or the URL for open-url buttons")
    elif isinstance(body, str) and not body.strip():
        add(errs, field, "must not be empty")
    elif isinstance(body, str) and action_type == "open-url":
        if not _is_action_url(body):
            add(errs, field, "must be an absolute http(s) URL or a viber:// URL scheme for an open-url button")
        elif len(body) > URL_MAX:
            add(errs, field, f"must be at most {URL_MAX} characters (got {len(body)})")
