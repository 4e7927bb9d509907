"""Validation of the ``whatsapp`` block of a send request (Meta's WhatsApp Cloud API).

Seed 002 shows the block as ``{"type": "regular", "regular": {"type": "text", "text": "..."}}``. The
block extends that shape to everything issue 3 asks of WhatsApp (text, media by link, interactive
reply buttons, templates) plus location, using the Cloud API's own objects and field names inside:

    {"type": "regular", "regular": {"type": "text", "text": "Hi", "preview_url": true}}
    {"type": "regular", "regular": {"type": "image", "image": {"link": "https://...", "caption": "..."}}}
        (video likewise; audio has only `link`; document adds `filename`)
    {"type": "regular", "regular": {"type": "interactive", "interactive": {
        "type": "button", "header": {"type": "text", "text": "..."}, "body": {"text": "..."},
        "footer": {"text": "..."},
        "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}}}}
    {"type": "regular", "regular": {"type": "location", "location": {
        "latitude": 46.2, "longitude": 6.1, "name": "...", "address": "..."}}}
    {"type": "template", "template": {"name": "order_update", "language": {"code": "en_US"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "42"}]}]}}

Text is a plain string beside ``type`` (as in seed 002) with the Cloud API's ``preview_url`` flag next
to it; the other objects are the Cloud API's message objects verbatim. Media goes by ``link`` only
(uploaded media ids are not offered). Template parameters are checked for shape only: whether they fit
the stored template (placeholder count, header format) needs the database and is the gateway's job,
with :func:`template_reference` and :func:`body_parameter_count`.

Lengths are counted in code points. Public API: :func:`validate_block`, :func:`template_reference`,
:func:`body_parameter_count` and the limits below.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from channels.base import is_http_url
from channels.checks import add, check_unknown_keys, listing, object_, one_of
from channels.whatsapp.templates import TEMPLATE_NAME_MAX
from wire.errors import FieldError

__all__ = [
    "BLOCK_TYPES",
    "REGULAR_TYPES",
    "TEXT_MAX",
    "CAPTION_MAX",
    "FILENAME_MAX",
    "INTERACTIVE_BODY_MAX",
    "INTERACTIVE_HEADER_MAX",
    "INTERACTIVE_FOOTER_MAX",
    "REPLY_BUTTONS",
    "BUTTON_ID_MAX",
    "BUTTON_TITLE_MAX",
    "validate_block",
    "template_reference",
    "body_parameter_count",
]

BLOCK_TYPES = ("regular", "template")
REGULAR_TYPES = ("text", "image", "video", "audio", "document", "interactive", "location")
MEDIA_TYPES = ("image", "video", "audio", "document")

# Cloud API text object: body of at most 4096 characters.
TEXT_MAX = 4096
# Cloud API media object: caption of at most 1024 characters (image, video, document; audio has none).
CAPTION_MAX = 1024
# The Cloud API documents no limit on a document's filename; the gateway keeps the usual file-system 255.
FILENAME_MAX = 255
# Keys of each media object: only hosted media by `link`.
MEDIA_KEYS = {
    "image": ("link", "caption"),
    "video": ("link", "caption"),
    "audio": ("link",),
    "document": ("link", "caption", "filename"),
}

# Cloud API interactive reply buttons: body 1024, header text 60, footer 60 characters; 1-3 buttons,
# each with an id of at most 256 (no leading/trailing spaces) and a title of at most 20 characters,
# titles unique within the message (ids too: they tell the replies apart in the webhook).
INTERACTIVE_TYPES = ("button",)
INTERACTIVE_KEYS = ("type", "header", "body", "footer", "action")
INTERACTIVE_HEADER_TYPES = ("text", "image", "video", "document")
INTERACTIVE_BODY_MAX = 1024
INTERACTIVE_HEADER_MAX = 60
INTERACTIVE_FOOTER_MAX = 60
REPLY_BUTTONS = (1, 3)
BUTTON_ID_MAX = 256
BUTTON_TITLE_MAX = 20

LOCATION_KEYS = ("latitude", "longitude", "name", "address")

# Cloud API send-template format.
TEMPLATE_KEYS = ("name", "language", "components")
LANGUAGE_KEYS = ("code", "policy")
LANGUAGE_POLICIES = ("deterministic",)
COMPONENT_TYPES = ("header", "body", "button")
COMPONENT_KEYS = {
    "header": ("type", "parameters"),
    "body": ("type", "parameters"),
    "button": ("type", "sub_type", "index", "parameters"),
}
HEADER_PARAMETER_TYPES = ("text", "currency", "date_time", "image", "document", "video", "location")
BODY_PARAMETER_TYPES = ("text", "currency", "date_time")
BUTTON_SUB_TYPES = ("quick_reply", "url")
# A quick-reply button takes a payload, a URL button the text appended to the template's URL.
BUTTON_PARAMETER_TYPE = {"quick_reply": "payload", "url": "text"}
# Stored templates have at most 10 buttons (channels.whatsapp.templates.BUTTONS_MAX): indexes 0-9.
BUTTON_INDEX_MAX = 9
# Cloud API template text parameters: at most 60 characters in a header; in a body 1024 when the
# template has other components, 32768 when the body is the only one.
HEADER_TEXT_PARAMETER_MAX = 60
BODY_TEXT_PARAMETER_MAX = 1024
BODY_ONLY_TEXT_PARAMETER_MAX = 32768
PARAMETER_OBJECT_KEYS = {
    "currency": ("fallback_value", "code", "amount_1000"),
    "date_time": ("fallback_value",),
    "image": ("link",),
    "video": ("link",),
    "document": ("link", "filename"),
    "location": LOCATION_KEYS,
}

# Same rules as template creation (channels.whatsapp.templates).
_NAME_RE = re.compile(r"[a-z0-9_]+")
_LANGUAGE_CODE_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
_CURRENCY_CODE_RE = re.compile(r"[A-Z]{3}")
_DIGITS_RE = re.compile(r"[0-9]+")
# Meta rejects a template text parameter holding a newline, a tab or more than 4 consecutive spaces
# (error 132018, "Param text cannot have new-line/tab characters or more than 4 consecutive spaces").
_BAD_PARAMETER_TEXT_RE = re.compile(r"[\n\r\t]| {5,}")

_SHAPES = {
    "regular": '{"type": "text", "text": "..."}',
    "template": '{"name": "...", "language": {"code": "en_US"}}',
}

Errors = list[FieldError]


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with this channel's block of a send request; [] when it is valid. Field names are
    relative to the block ("type", "regular.text", "template.language.code"): the gateway prefixes the
    channel key. Never raises, whatever `block` is."""
    errs: Errors = []
    if not isinstance(block, dict):
        add(errs, "", 'must be an object like {"type": "regular", "regular": {"type": "text", "text": "..."}}')
        return errs
    for key in block:
        if key not in ("type", *BLOCK_TYPES):
            add(errs, str(key), "unknown field; the whatsapp block allows only: type, regular, template")

    block_type = block.get("type")
    if block_type is None:
        add(errs, "type", f"is required; one of {listing(BLOCK_TYPES)}")
    elif not one_of(block_type, BLOCK_TYPES):
        add(errs, "type", f"must be one of {listing(BLOCK_TYPES)}")
        block_type = None

    if block_type is not None:
        other = "template" if block_type == "regular" else "regular"
        if other in block:
            add(errs, other, f"is not allowed when type is {block_type}")
        if block.get(block_type) is None:
            add(errs, block_type, f"is required when type is {block_type}: an object like {_SHAPES[block_type]}")
    # Without a valid type, still check whichever object is there so every problem is named at once.
    if "regular" in block and block_type in ("regular", None):
        _check_regular(errs, block["regular"])
    if "template" in block and block_type in ("template", None):
        _check_template(errs, block["template"])
    return errs


def template_reference(block: dict) -> tuple[str, str] | None:
    """(template name, language code) of a valid template block; None for anything else."""
    if not isinstance(block, dict) or block.get("type") != "template" or validate_block(block):
        return None
    template = block["template"]
    return template["name"], template["language"]["code"]


def body_parameter_count(block: dict) -> int:
    """Number of parameters the body component of a template block supplies, one per body placeholder
    ({{1}}..{{n}}; currency and date_time parameters fill a placeholder too). 0 when there is none or
    the block is not a template block. Safe on any input."""
    if not isinstance(block, dict) or block.get("type") != "template":
        return 0
    template = block.get("template")
    components = template.get("components") if isinstance(template, dict) else None
    if not isinstance(components, list):
        return 0
    for component in components:
        if isinstance(component, dict) and component.get("type") == "body":
            parameters = component.get("parameters")
            return len(parameters) if isinstance(parameters, list) else 0
    return 0


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _check_string(errs: Errors, field: str, value: Any, max_len: int | None, *, required: str | None) -> str | None:
    """A string with some non-whitespace content and at most `max_len` characters.

    `required` is the message used when the value is missing (None: optional). Returns the string
    when it is one (even if invalid otherwise), else None.
    """
    if value is None:
        if required is not None:
            add(errs, field, required)
        return None
    limit = f"1-{max_len} characters" if max_len is not None else "non-empty"
    if not isinstance(value, str):
        add(errs, field, f"must be a string ({limit})")
        return None
    if not value.strip():
        add(errs, field, f"must not be empty or only whitespace ({limit})")
    elif max_len is not None and len(value) > max_len:
        add(errs, field, f"must be at most {max_len} characters (got {len(value)})")
    return value


def _check_bool(errs: Errors, field: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        add(errs, field, "must be true or false")


def _check_link(errs: Errors, field: str, value: Any) -> None:
    hint = "an absolute https URL of the hosted media, e.g. https://example.com/photo.jpg"
    if value is None:
        add(errs, field, f"is required: {hint}")
    elif not isinstance(value, str) or not is_http_url(value):
        add(errs, field, f"must be {hint}")
    elif urlsplit(value).scheme != "https":
        add(errs, field, f"must use https, not http: {hint}")


# --------------------------------------------------------------------------
# Regular messages
# --------------------------------------------------------------------------


def _check_regular(errs: Errors, value: Any) -> None:
    regular = object_(errs, "regular", value, None, _SHAPES["regular"])
    if regular is None:
        return
    rtype = regular.get("type")
    if rtype is None:
        add(errs, "regular.type", f"is required; one of {listing(REGULAR_TYPES)}")
        return
    if not one_of(rtype, REGULAR_TYPES):
        add(errs, "regular.type", f"must be one of {listing(REGULAR_TYPES)}")
        return
    allowed = ("type", rtype, "preview_url") if rtype == "text" else ("type", rtype)
    for key in regular:
        if key in allowed:
            continue
        if key in REGULAR_TYPES or key == "preview_url":
            add(errs, f"regular.{key}", f"is not allowed when type is {rtype}")
        else:
            add(errs, f"regular.{key}", f"unknown field; a {rtype} message allows only: {listing(allowed)}")
    _REGULAR_CHECKS[rtype](errs, regular, rtype)


def _check_text_message(errs: Errors, regular: dict, _rtype: str) -> None:
    _check_string(
        errs,
        "regular.text",
        regular.get("text"),
        TEXT_MAX,
        required=f"is required: the message text (1-{TEXT_MAX} characters)",
    )
    _check_bool(errs, "regular.preview_url", regular.get("preview_url"))


def _check_media_message(errs: Errors, regular: dict, rtype: str) -> None:
    path = f"regular.{rtype}"
    media = object_(
        errs,
        path,
        regular.get(rtype),
        f'is required when type is {rtype}: an object like {{"link": "https://..."}}',
        '{"link": "https://..."}',
    )
    if media is not None:
        _check_media_object(errs, path, media, MEDIA_KEYS[rtype], f"{_article(rtype)} {rtype} message")


def _check_media_object(errs: Errors, path: str, media: dict, allowed: tuple[str, ...], what: str) -> None:
    """A media object by link: `link`, and `caption` / `filename` where `allowed` has them."""
    for key in media:
        if key in allowed:
            continue
        if key == "id":
            add(errs, f"{path}.id", "uploaded media ids are not supported; give the media by link")
        elif key == "caption":
            add(errs, f"{path}.caption", f"is not allowed: {what} has no caption")
        else:
            add(errs, f"{path}.{key}", f"unknown field; {what} allows only: {listing(allowed)}")
    _check_link(errs, f"{path}.link", media.get("link"))
    if "caption" in allowed:
        _check_string(errs, f"{path}.caption", media.get("caption"), CAPTION_MAX, required=None)
    if "filename" in allowed:
        _check_string(errs, f"{path}.filename", media.get("filename"), FILENAME_MAX, required=None)


def _check_location_message(errs: Errors, regular: dict, _rtype: str) -> None:
    location = object_(
        errs,
        "regular.location",
        regular.get("location"),
        'is required when type is location: an object like {"latitude": 46.2, "longitude": 6.1}',
        '{"latitude": 46.2, "longitude": 6.1}',
    )
    if location is not None:
        _check_location(errs, "regular.location", location)


def _check_location(errs: Errors, path: str, location: dict) -> None:
    check_unknown_keys(errs, path, location, LOCATION_KEYS, "a location")
    for key, bound in (("latitude", 90), ("longitude", 180)):
        value = location.get(key)
        rule = f"a number of decimal degrees from -{bound} to {bound}"
        if value is None:
            add(errs, f"{path}.{key}", f"is required: {rule}")
        elif not _is_number(value) or not -bound <= value <= bound:
            add(errs, f"{path}.{key}", f"must be {rule}")
    for key in ("name", "address"):
        _check_string(errs, f"{path}.{key}", location.get(key), None, required=None)


# --------------------------------------------------------------------------
# Interactive reply buttons
# --------------------------------------------------------------------------


def _check_interactive_message(errs: Errors, regular: dict, _rtype: str) -> None:
    path = "regular.interactive"
    interactive = object_(
        errs,
        path,
        regular.get("interactive"),
        "is required when type is interactive: an object with type button, body and action",
        '{"type": "button", "body": {"text": "..."}, "action": {"buttons": [...]}}',
    )
    if interactive is None:
        return
    check_unknown_keys(errs, path, interactive, INTERACTIVE_KEYS, "an interactive message")
    itype = interactive.get("type")
    if itype is None:
        add(errs, f"{path}.type", "is required: button (reply buttons)")
    elif not one_of(itype, INTERACTIVE_TYPES):
        add(errs, f"{path}.type", "must be button (reply buttons, the interactive type supported)")
    _check_interactive_header(errs, f"{path}.header", interactive.get("header"))
    _check_text_object(errs, f"{path}.body", interactive.get("body"), INTERACTIVE_BODY_MAX, required=True)
    _check_text_object(errs, f"{path}.footer", interactive.get("footer"), INTERACTIVE_FOOTER_MAX, required=False)
    _check_reply_action(errs, f"{path}.action", interactive.get("action"))


def _check_text_object(errs: Errors, path: str, value: Any, max_len: int, *, required: bool) -> None:
    missing = f'is required: an object like {{"text": "..."}} (1-{max_len} characters)' if required else None
    obj = object_(errs, path, value, missing, '{"text": "..."}')
    if obj is None:
        return
    check_unknown_keys(errs, path, obj, ("text",), path.rsplit(".", 1)[-1])
    _check_string(errs, f"{path}.text", obj.get("text"), max_len, required=f"is required (1-{max_len} characters)")


def _check_interactive_header(errs: Errors, path: str, value: Any) -> None:
    header = object_(errs, path, value, None, '{"type": "text", "text": "..."}')
    if header is None:
        return
    htype = header.get("type")
    if htype is None:
        add(errs, f"{path}.type", f"is required; one of {listing(INTERACTIVE_HEADER_TYPES)}")
        return
    if not one_of(htype, INTERACTIVE_HEADER_TYPES):
        add(errs, f"{path}.type", f"must be one of {listing(INTERACTIVE_HEADER_TYPES)}")
        return
    check_unknown_keys(errs, path, header, ("type", htype), f"a {htype} header")
    if htype == "text":
        _check_string(
            errs,
            f"{path}.text",
            header.get("text"),
            INTERACTIVE_HEADER_MAX,
            required=f"is required when the header type is text (1-{INTERACTIVE_HEADER_MAX} characters)",
        )
        return
    media = object_(
        errs,
        f"{path}.{htype}",
        header.get(htype),
        f'is required when the header type is {htype}: an object like {{"link": "https://..."}}',
        '{"link": "https://..."}',
    )
    if media is not None:
        keys = ("link", "filename") if htype == "document" else ("link",)
        _check_media_object(errs, f"{path}.{htype}", media, keys, f"{_article(htype)} {htype} header")


def _check_reply_action(errs: Errors, path: str, value: Any) -> None:
    low, high = REPLY_BUTTONS
    action = object_(
        errs,
        path,
        value,
        f"is required: an object with buttons, a list of {low}-{high} reply buttons",
        '{"buttons": [{"type": "reply", "reply": {"id": "...", "title": "..."}}]}',
    )
    if action is None:
        return
    check_unknown_keys(errs, path, action, ("buttons",), "the action of reply buttons")
    buttons = action.get("buttons")
    field = f"{path}.buttons"
    if buttons is None:
        add(errs, field, f"is required: a list of {low}-{high} reply buttons")
        return
    if not isinstance(buttons, list):
        add(errs, field, f"must be a list of {low}-{high} reply buttons")
        return
    if not low <= len(buttons) <= high:
        add(errs, field, f"must contain {low} to {high} buttons (got {len(buttons)})")
    seen: dict[str, dict[str, int]] = {"id": {}, "title": {}}
    for j, button in enumerate(buttons):
        reply = _check_reply_button(errs, f"{field}[{j}]", button)
        if reply is None:
            continue
        for key in ("id", "title"):
            value_ = reply.get(key)
            if not isinstance(value_, str):
                continue
            first = seen[key].setdefault(value_, j)
            if first != j:
                add(errs, f"{field}[{j}].reply.{key}", f"must be unique among the buttons (same as buttons[{first}])")


def _check_reply_button(errs: Errors, path: str, button: Any) -> dict | None:
    """Check one reply button; return its `reply` object when it is one."""
    button = object_(errs, path, button, None, '{"type": "reply", "reply": {"id": "...", "title": "..."}}')
    if button is None:
        return None
    check_unknown_keys(errs, path, button, ("type", "reply"), "a reply button")
    btype = button.get("type")
    if btype != "reply":
        add(errs, f"{path}.type", "is required and must be reply" if btype is None else "must be reply")
    reply = object_(
        errs,
        f"{path}.reply",
        button.get("reply"),
        'is required: an object like {"id": "...", "title": "..."}',
        '{"id": "...", "title": "..."}',
    )
    if reply is None:
        return None
    check_unknown_keys(errs, f"{path}.reply", reply, ("id", "title"), "a reply")
    button_id = _check_string(
        errs, f"{path}.reply.id", reply.get("id"), BUTTON_ID_MAX, required=f"is required (1-{BUTTON_ID_MAX} characters)"
    )
    if button_id and button_id.strip() and button_id != button_id.strip():
        add(errs, f"{path}.reply.id", "must not start or end with whitespace")
    _check_string(
        errs,
        f"{path}.reply.title",
        reply.get("title"),
        BUTTON_TITLE_MAX,
        required=f"is required (1-{BUTTON_TITLE_MAX} characters)",
    )
    return reply


_REGULAR_CHECKS = {
    "text": _check_text_message,
    "image": _check_media_message,
    "video": _check_media_message,
    "audio": _check_media_message,
    "document": _check_media_message,
    "interactive": _check_interactive_message,
    "location": _check_location_message,
}


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


def _check_template(errs: Errors, value: Any) -> None:
    template = object_(errs, "template", value, None, _SHAPES["template"])
    if template is None:
        return
    check_unknown_keys(errs, "template", template, TEMPLATE_KEYS, "a template")
    _check_template_name(errs, template.get("name"))
    _check_template_language(errs, template.get("language"))
    _check_template_components(errs, template.get("components"))


def _check_template_name(errs: Errors, name: Any) -> None:
    field = "template.name"
    if name is None:
        add(errs, field, "is required: the name of an approved template")
    elif not isinstance(name, str) or not name:
        add(errs, field, "must be a template name: lowercase letters a-z, digits and underscores")
    else:
        if not _NAME_RE.fullmatch(name):
            add(errs, field, "may contain only lowercase letters a-z, digits and underscores")
        if len(name) > TEMPLATE_NAME_MAX:
            add(errs, field, f"must be at most {TEMPLATE_NAME_MAX} characters (got {len(name)})")


def _check_template_language(errs: Errors, language: Any) -> None:
    field = "template.language"
    if language is None:
        add(errs, field, 'is required, as an object like {"code": "en_US"}')
        return
    if isinstance(language, str):
        add(errs, field, f'must be an object like {{"code": "{_suggest_code(language)}"}}, not a string')
        return
    if not isinstance(language, dict):
        add(errs, field, 'must be an object like {"code": "en_US"}')
        return
    check_unknown_keys(errs, field, language, LANGUAGE_KEYS, "language")
    code = language.get("code")
    if code is None:
        add(errs, f"{field}.code", "is required, e.g. en or en_US")
    elif not isinstance(code, str) or not _LANGUAGE_CODE_RE.fullmatch(code):
        add(
            errs,
            f"{field}.code",
            "must be a locale code like en, fil or en_US (2-3 lowercase letters, optionally _ and 2 uppercase letters)",
        )
    if "policy" in language and not one_of(language["policy"], LANGUAGE_POLICIES):
        add(errs, f"{field}.policy", f"must be {listing(LANGUAGE_POLICIES)} (or left out)")


def _suggest_code(value: str) -> str:
    """The string a client gave as language, when it looks like a code, for the hint; else en_US."""
    return value if _LANGUAGE_CODE_RE.fullmatch(value) else "en_US"


def _check_template_components(errs: Errors, components: Any) -> None:
    field = "template.components"
    if components is None:
        return
    if not isinstance(components, list):
        add(errs, field, "must be a list of component objects (header, body, button)")
        return
    body_only = all(isinstance(c, dict) and c.get("type") == "body" for c in components)
    seen: dict[str, int] = {}
    indexes: dict[int, int] = {}
    for i, component in enumerate(components):
        path = f"{field}[{i}]"
        if not isinstance(component, dict):
            add(errs, path, "must be an object with a type")
            continue
        ctype = component.get("type")
        if ctype is None:
            add(errs, f"{path}.type", f"is required; one of {listing(COMPONENT_TYPES)}")
            continue
        if not one_of(ctype, COMPONENT_TYPES):
            add(errs, f"{path}.type", f"must be one of {listing(COMPONENT_TYPES)} (lowercase, as the Cloud API sends)")
            continue
        check_unknown_keys(errs, path, component, COMPONENT_KEYS[ctype], f"a {ctype} component")
        if ctype == "button":
            index = _check_button_component(errs, path, component)
            if index is not None:
                first = indexes.setdefault(index, i)
                if first != i:
                    add(errs, f"{path}.index", f"button index {index} is already given by components[{first}]")
            continue
        seen[ctype] = seen.get(ctype, 0) + 1
        if seen[ctype] > 1:
            add(errs, path, f"only one {ctype} component is allowed")
        if ctype == "header":
            _check_parameters(
                errs, path, component, HEADER_PARAMETER_TYPES, HEADER_TEXT_PARAMETER_MAX, exactly_one=True
            )
        else:
            text_max = BODY_ONLY_TEXT_PARAMETER_MAX if body_only else BODY_TEXT_PARAMETER_MAX
            _check_parameters(errs, path, component, BODY_PARAMETER_TYPES, text_max, exactly_one=False)


def _check_parameters(
    errs: Errors, path: str, component: dict, types: tuple[str, ...], text_max: int, *, exactly_one: bool
) -> None:
    field = f"{path}.parameters"
    parameters = component.get("parameters")
    what = "a list of exactly one parameter" if exactly_one else "a list of parameters, one per placeholder"
    if parameters is None:
        add(errs, field, f"is required: {what}")
        return
    if not isinstance(parameters, list):
        add(errs, field, f"must be {what}")
        return
    if not parameters:
        add(errs, field, f"must not be empty ({what}); leave the component out when it has no placeholders")
        return
    if exactly_one and len(parameters) != 1:
        add(errs, field, f"must contain exactly one parameter (got {len(parameters)})")
    for j, parameter in enumerate(parameters):
        _check_parameter(errs, f"{field}[{j}]", parameter, types, text_max)


def _check_parameter(errs: Errors, path: str, parameter: Any, types: tuple[str, ...], text_max: int) -> None:
    parameter = object_(errs, path, parameter, None, '{"type": "text", "text": "..."}')
    if parameter is None:
        return
    ptype = parameter.get("type")
    if ptype is None:
        add(errs, f"{path}.type", f"is required; one of {listing(types)}")
        return
    if not one_of(ptype, types):
        add(errs, f"{path}.type", f"must be one of {listing(types)}")
        return
    check_unknown_keys(errs, path, parameter, ("type", ptype), f"a {ptype} parameter")
    value = parameter.get(ptype)
    field = f"{path}.{ptype}"
    if ptype == "text":
        text = _check_string(errs, field, value, text_max, required=f"is required (1-{text_max} characters)")
        if text is not None and _BAD_PARAMETER_TEXT_RE.search(text):
            add(errs, field, "must not contain newlines, tabs or more than 4 consecutive spaces")
        return
    keys = PARAMETER_OBJECT_KEYS[ptype]
    obj = object_(
        errs,
        field,
        value,
        f"is required when type is {ptype}: an object with {listing(keys)}",
        f"{{{listing(keys)}}}",
    )
    if obj is None:
        return
    if ptype in ("image", "video", "document"):
        _check_media_object(errs, field, obj, keys, f"{_article(ptype)} {ptype} parameter")
        return
    if ptype == "location":
        _check_location(errs, field, obj)
        return
    check_unknown_keys(errs, field, obj, keys, ptype)
    _check_string(
        errs,
        f"{field}.fallback_value",
        obj.get("fallback_value"),
        None,
        required="is required: the text shown when localization fails",
    )
    if ptype == "currency":
        code = obj.get("code")
        if code is None or not isinstance(code, str) or not _CURRENCY_CODE_RE.fullmatch(code):
            verb = "is required:" if code is None else "must be"
            add(errs, f"{field}.code", f"{verb} an ISO 4217 currency code of 3 uppercase letters, e.g. USD")
        amount = obj.get("amount_1000")
        if amount is None:
            add(errs, f"{field}.amount_1000", "is required: the amount multiplied by 1000, as an integer")
        elif not isinstance(amount, int) or isinstance(amount, bool):
            add(errs, f"{field}.amount_1000", "must be an integer: the amount multiplied by 1000")


def _check_button_component(errs: Errors, path: str, component: dict) -> int | None:
    """Check a button component; return its index when valid."""
    sub_type = component.get("sub_type")
    if sub_type is None:
        add(errs, f"{path}.sub_type", f"is required; one of {listing(BUTTON_SUB_TYPES)}")
    elif not one_of(sub_type, BUTTON_SUB_TYPES):
        add(errs, f"{path}.sub_type", f"must be one of {listing(BUTTON_SUB_TYPES)}")
        sub_type = None
    index = _button_index(errs, f"{path}.index", component.get("index"))
    field = f"{path}.parameters"
    parameters = component.get("parameters")
    expected = BUTTON_PARAMETER_TYPE.get(sub_type) if sub_type else None
    shape = (
        f'a list of one {expected} parameter, e.g. [{{"type": "{expected}", "{expected}": "..."}}]'
        if expected
        else "a list of one parameter"
    )
    if parameters is None:
        add(errs, field, f"is required: {shape}")
        return index
    if not isinstance(parameters, list) or len(parameters) != 1:
        add(errs, field, f"must be {shape}")
        return index
    if expected is None:
        return index
    ppath = f"{field}[0]"
    parameter = object_(errs, ppath, parameters[0], None, f'{{"type": "{expected}", "{expected}": "..."}}')
    if parameter is None:
        return index
    ptype = parameter.get("type")
    if ptype != expected:
        verb = "is required" if ptype is None else "must be"
        add(errs, f"{ppath}.type", f"{verb} {expected} for a {sub_type} button")
        return index
    check_unknown_keys(errs, ppath, parameter, ("type", expected), f"a {expected} parameter")
    what = (
        "the payload returned when the button is tapped"
        if expected == "payload"
        else "the text appended to the button's URL"
    )
    text = _check_string(errs, f"{ppath}.{expected}", parameter.get(expected), None, required=f"is required: {what}")
    if expected == "text" and text is not None and any(c.isspace() for c in text):
        add(errs, f"{ppath}.text", "must not contain whitespace (it becomes part of a URL)")
    return index


def _button_index(errs: Errors, field: str, value: Any) -> int | None:
    rule = f"the position of the template's button, 0 to {BUTTON_INDEX_MAX} (a number or a string of digits)"
    if value is None:
        add(errs, field, f"is required: {rule}")
        return None
    if isinstance(value, str) and _DIGITS_RE.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        add(errs, field, f"must be {rule}")
        return None
    if not 0 <= number <= BUTTON_INDEX_MAX:
        add(errs, field, f"must be {rule}")
        return None
    return number
