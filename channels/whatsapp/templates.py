"""Validation of WhatsApp message templates, mirroring Meta's creation rules.

Meta's WhatsApp Business Management API checks a template when it is created
(``POST /{waba-id}/message_templates``) and rejects it one problem at a time,
often asynchronously and with terse error codes.  This module applies the same
documented rules up front so the gateway can reject a bad template at request
time and name *every* problem at once, instead of forwarding it and having Meta
reject it later.

Problems are reported as :class:`channels.base.FieldError` values whose
``field`` is the JSON path inside the request (``name``, ``language.code``,
``components[1].text``, ``components[2].buttons[0].text`` ...).  The validator
never raises on malformed input: wrong types anywhere become errors too.

Public API: :data:`TEMPLATE_NAME_MAX`, :func:`validate_template`,
:func:`body_placeholder_count`.  Lengths are counted in code points.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
import phonenumbers

from channels.base import is_http_url
from channels.checks import add, check_unknown_keys, is_int, listing, one_of
from wire.errors import FieldError

__all__ = ["TEMPLATE_NAME_MAX", "validate_template", "body_placeholder_count"]

TEMPLATE_NAME_MAX = 512

HEADER_TEXT_MAX = 60
BODY_TEXT_MAX = 1024
FOOTER_TEXT_MAX = 60
BUTTON_TEXT_MAX = 25
BUTTONS_MAX = 10
URL_MAX = 2000
PHONE_NUMBER_MAX = 20
COPY_CODE_EXAMPLE_MAX = 15
CODE_EXPIRATION_MINUTES = (1, 90)

CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
COMPONENT_TYPES = ("HEADER", "BODY", "FOOTER", "BUTTONS")
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION")
MEDIA_FORMATS = ("IMAGE", "VIDEO", "DOCUMENT")
BUTTON_TYPES = ("QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP", "FLOW")
OTP_TYPES = ("COPY_CODE", "ONE_TAP", "ZERO_TAP")

# Keys Meta accepts inside each component; anything else is rejected.
COMPONENT_KEYS = {
    "HEADER": ("type", "format", "text", "example"),
    "BODY": ("type", "text", "example", "add_security_recommendation"),
    "FOOTER": ("type", "text", "code_expiration_minutes"),
    "BUTTONS": ("type", "buttons"),
}

# Most buttons of one type per template (the total is capped by BUTTONS_MAX).
BUTTON_TYPE_MAX = {"QUICK_REPLY": 10, "URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1}
# Button types whose `text` Meta fixes itself, so it is optional.
BUTTONS_WITHOUT_TEXT = ("COPY_CODE", "OTP")

_NAME_RE = re.compile(r"[a-z0-9_]+")
_LANGUAGE_CODE_RE = re.compile(r"[a-z]{2,3}(_[A-Z]{2})?")
# One regex for placeholders: a `{{...}}` pair without inner braces (group
# `inner` is set), or a stray `{{` / `}}` left unbalanced (`inner` is None).
# A well-formed placeholder is one whose inner text is a positive integer.
_PLACEHOLDER_RE = re.compile(r"\{\{(?P<inner>[^{}]*)\}\}|\{\{|\}\}")
_PLACEHOLDER_NUMBER_RE = re.compile(r"[1-9][0-9]*")

Errors = list[FieldError]


def full_match(regex: str) -> str:
    """A pattern that ``regex`` must match whole, in Python as in JSON Schema (Python's ``$`` alone would
    let a final newline through)."""
    return f"^(?:{regex})$(?!\\n)"


# Template names and language codes, as Meta's template rules take them, in template storage and sends.
TemplateName = Annotated[
    str,
    msgspec.Meta(
        pattern=full_match("[a-z0-9_]+"),
        max_length=TEMPLATE_NAME_MAX,
        extra={
            "error": f"must be a template name of at most {TEMPLATE_NAME_MAX} characters: "
            "only lowercase letters a-z, digits and underscores"
        },
    ),
]
LanguageCode = Annotated[
    str,
    msgspec.Meta(
        pattern=full_match("[a-z]{2,3}(_[A-Z]{2})?"),
        extra={
            "error": "must be a locale code like en, fil or en_US "
            "(2-3 lowercase letters, optionally _ and 2 uppercase letters)"
        },
    ),
]


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def validate_template(name: str, body: dict) -> list[FieldError]:
    """Every problem with a template creation request; [] when it is valid.
    `name` comes from the URL path; `body` is the decoded JSON object
    {"language": {"code": "en_US"}, "category": "MARKETING"|"UTILITY"|"AUTHENTICATION",
    "components": [...]}."""
    errs: Errors = []
    _check_name(errs, name)
    if not isinstance(body, dict):
        add(errs, "body", "must be a JSON object with language, category and components")
        return errs
    _check_language(errs, body)
    category = _check_category(errs, body)
    _check_components(errs, body, category)
    return errs


def body_placeholder_count(components: list[dict]) -> int:
    """Number of {{n}} placeholders in the BODY component (used later to check send parameters)."""
    if not isinstance(components, list):
        return 0
    for component in components:
        if isinstance(component, dict) and component.get("type") == "BODY":
            text = component.get("text")
            if isinstance(text, str):
                return len(set(_scan_placeholders(text).numbers))
            return 0
    return 0


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _check_text(errs: Errors, field: str, value: Any, max_len: int, *, required: str | None) -> str | None:
    """Check an optional/required string of 1..max_len characters.

    `required` is the message used when the value is missing (None: optional).
    Returns the string when it is one (even if too long), else None.
    """
    if value is None:
        if required is not None:
            add(errs, field, required)
        return None
    if not isinstance(value, str):
        add(errs, field, f"must be a string of 1-{max_len} characters")
        return None
    if not value:
        add(errs, field, f"must not be empty (1-{max_len} characters)")
    elif len(value) > max_len:
        add(errs, field, f"must be at most {max_len} characters (got {len(value)})")
    return value


def _example_object(errs: Errors, path: str, component: dict) -> dict | None:
    """The component's `example` object ({} when absent), or None after
    reporting that it is not an object."""
    example = component.get("example")
    if example is None:
        return {}
    if not isinstance(example, dict):
        add(errs, f"{path}.example", "must be an object")
        return None
    return example


def _check_single_string_list(errs: Errors, field: str, value: Any, missing: str) -> None:
    """`value` must be a list holding exactly one non-empty string."""
    if value is None:
        add(errs, field, missing)
    elif not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str) or not value[0]:
        add(errs, field, "must be a list of exactly one non-empty string")


# --------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------


class _Placeholders:
    """Result of scanning a text for `{{n}}` placeholders."""

    __slots__ = ("numbers", "malformed", "matches")

    def __init__(self) -> None:
        self.numbers: list[int] = []  # well-formed placeholders, in order
        self.malformed: list[str] = []  # human descriptions of bad ones
        self.matches: list[re.Match[str]] = []  # well-formed matches, in order


def _scan_placeholders(text: str) -> _Placeholders:
    found = _Placeholders()
    for match in _PLACEHOLDER_RE.finditer(text):
        inner = match.group("inner")
        if inner is None:
            found.malformed.append(f"unbalanced '{match.group(0)}'")
        elif _PLACEHOLDER_NUMBER_RE.fullmatch(inner):
            found.numbers.append(int(inner))
            found.matches.append(match)
        else:
            found.malformed.append(match.group(0))
    return found


def _report_malformed(errs: Errors, field: str, found: _Placeholders) -> None:
    if found.malformed:
        add(
            errs,
            field,
            "malformed placeholders: " + ", ".join(found.malformed) + "; placeholders must look like {{1}}, {{2}}, ...",
        )


def _format_numbers(numbers: list[int]) -> str:
    return ", ".join(f"{{{{{n}}}}}" for n in numbers)


# --------------------------------------------------------------------------
# Top-level fields
# --------------------------------------------------------------------------


def _check_name(errs: Errors, name: Any) -> None:
    if not isinstance(name, str):
        add(errs, "name", "must be a string of lowercase letters, digits and underscores")
        return
    if not name:
        add(errs, "name", "is required (lowercase letters a-z, digits and underscores)")
        return
    if not _NAME_RE.fullmatch(name):
        add(errs, "name", "may contain only lowercase letters a-z, digits and underscores")
    if len(name) > TEMPLATE_NAME_MAX:
        add(errs, "name", f"must be at most {TEMPLATE_NAME_MAX} characters (got {len(name)})")


def _check_language(errs: Errors, body: dict) -> None:
    language = body.get("language")
    if language is None:
        add(errs, "language", 'is required, as an object like {"code": "en_US"}')
        return
    if isinstance(language, str):
        add(errs, "language", 'must be an object like {"code": "en_US"}, not a string')
        return
    if not isinstance(language, dict):
        add(errs, "language", 'must be an object like {"code": "en_US"}')
        return
    code = language.get("code")
    if code is None:
        add(errs, "language.code", "is required, e.g. en or en_US")
    elif not isinstance(code, str) or not _LANGUAGE_CODE_RE.fullmatch(code):
        add(
            errs,
            "language.code",
            "must be a locale code like en, fil or en_US (2-3 lowercase letters, optionally _ and 2 uppercase letters)",
        )


def _check_category(errs: Errors, body: dict) -> str | None:
    category = body.get("category")
    if category is None:
        add(errs, "category", f"is required; one of {listing(CATEGORIES)}")
        return None
    if not one_of(category, CATEGORIES):
        add(errs, "category", f"must be one of {listing(CATEGORIES)}")
        return None
    return category


# --------------------------------------------------------------------------
# Components
# --------------------------------------------------------------------------


def _check_components(errs: Errors, body: dict, category: str | None) -> None:
    components = body.get("components")
    if components is None:
        add(errs, "components", "is required: a list of components with at least a BODY")
        return
    if not isinstance(components, list):
        add(errs, "components", "must be a list of component objects")
        return
    if not components:
        add(errs, "components", "must not be empty; a BODY component is required")
        return

    auth = category == "AUTHENTICATION"
    seen: dict[str, int] = {}
    for i, component in enumerate(components):
        path = f"components[{i}]"
        if not isinstance(component, dict):
            add(errs, path, "must be an object with a type")
            continue
        ctype = component.get("type")
        if ctype is None:
            add(errs, f"{path}.type", f"is required; one of {listing(COMPONENT_TYPES)}")
            continue
        if not one_of(ctype, COMPONENT_TYPES):
            add(errs, f"{path}.type", f"must be one of {listing(COMPONENT_TYPES)}")
            continue
        seen[ctype] = seen.get(ctype, 0) + 1
        if seen[ctype] > 1:
            add(errs, path, f"only one {ctype} component is allowed")
        check_unknown_keys(errs, path, component, COMPONENT_KEYS[ctype], ctype)
        _COMPONENT_CHECKS[ctype](errs, path, component, auth)

    if "BODY" not in seen:
        add(errs, "components", "must contain exactly one BODY component")
    if auth and "BUTTONS" not in seen:
        add(errs, "components", "AUTHENTICATION templates need a BUTTONS component with one OTP button")


def _check_header(errs: Errors, path: str, component: dict, auth: bool) -> None:
    if auth:
        add(errs, path, "HEADER is not allowed in AUTHENTICATION templates")
    fmt = component.get("format")
    if fmt is None:
        add(errs, f"{path}.format", f"is required; one of {listing(HEADER_FORMATS)}")
        return
    if not one_of(fmt, HEADER_FORMATS):
        add(errs, f"{path}.format", f"must be one of {listing(HEADER_FORMATS)}")
        return
    if fmt == "TEXT":
        _check_text_header(errs, path, component)
        return
    if "text" in component:
        add(errs, f"{path}.text", f"is not allowed when format is {fmt}")
    if fmt == "LOCATION":
        if "example" in component:
            add(errs, f"{path}.example", "is not allowed when format is LOCATION")
        return
    # IMAGE / VIDEO / DOCUMENT: a sample media handle is mandatory.
    example = _example_object(errs, path, component)
    if example is not None:
        _check_single_string_list(
            errs,
            f"{path}.example.header_handle",
            example.get("header_handle"),
            f"is required for {fmt} headers: a list with one uploaded media handle",
        )


def _check_text_header(errs: Errors, path: str, component: dict) -> None:
    field = f"{path}.text"
    text = _check_text(
        errs,
        field,
        component.get("text"),
        HEADER_TEXT_MAX,
        required=f"is required when format is TEXT (1-{HEADER_TEXT_MAX} characters)",
    )
    if text is None:
        return
    if "\n" in text or "\r" in text:
        add(errs, field, "must not contain newlines")
    found = _scan_placeholders(text)
    _report_malformed(errs, field, found)
    if len(found.numbers) > 1:
        add(errs, field, "may contain at most one placeholder, {{1}}")
    elif found.numbers and found.numbers[0] != 1:
        add(errs, field, f"the only placeholder allowed is {{{{1}}}}; found {_format_numbers(found.numbers)}")
    if found.numbers:
        example = _example_object(errs, path, component)
        if example is not None:
            _check_single_string_list(
                errs,
                f"{path}.example.header_text",
                example.get("header_text"),
                "is required when the header has a placeholder: a list with one example value",
            )


def _check_body(errs: Errors, path: str, component: dict, auth: bool) -> None:
    field = f"{path}.text"
    if "add_security_recommendation" in component:
        flag = component["add_security_recommendation"]
        if not auth:
            add(errs, f"{path}.add_security_recommendation", "is only allowed in AUTHENTICATION templates")
        elif not isinstance(flag, bool):
            add(errs, f"{path}.add_security_recommendation", "must be true or false")
    text = _check_text(
        errs,
        field,
        component.get("text"),
        BODY_TEXT_MAX,
        required=None if auth else f"is required (1-{BODY_TEXT_MAX} characters)",
    )
    if text is None:
        return
    found = _scan_placeholders(text)
    _report_malformed(errs, field, found)
    distinct = sorted(set(found.numbers))
    if distinct != list(range(1, len(distinct) + 1)):
        add(
            errs,
            field,
            f"placeholders must be numbered {{{{1}}}}..{{{{n}}}} without gaps; found {_format_numbers(distinct)}",
        )
    if found.matches:
        stripped_start = len(text) - len(text.lstrip())
        stripped_end = len(text.rstrip())
        if found.matches[0].start() == stripped_start:
            add(errs, field, "must not start with a placeholder (variables can't be at the start or end)")
        if found.matches[-1].end() == stripped_end:
            add(errs, field, "must not end with a placeholder (variables can't be at the start or end)")
        _check_body_example(errs, path, component, len(distinct))


def _check_body_example(errs: Errors, path: str, component: dict, count: int) -> None:
    field = f"{path}.example.body_text"
    shape = f"a list containing one list of {count} non-empty example strings"
    example = _example_object(errs, path, component)
    if example is None:
        return
    body_text = example.get("body_text")
    if body_text is None:
        add(errs, field, f"is required when the text has placeholders: {shape}")
        return
    if not isinstance(body_text, list) or len(body_text) != 1 or not isinstance(body_text[0], list):
        add(errs, field, f"must be {shape}")
        return
    values = body_text[0]
    if len(values) != count:
        add(errs, field, f"must have exactly {count} example values, one per placeholder (got {len(values)})")
    for j, value in enumerate(values):
        if not isinstance(value, str) or not value:
            add(errs, f"{field}[0][{j}]", "must be a non-empty string")


def _check_footer(errs: Errors, path: str, component: dict, auth: bool) -> None:
    field = f"{path}.text"
    if auth:
        if "text" in component:
            add(errs, field, "is not allowed in AUTHENTICATION templates; use code_expiration_minutes")
        if "code_expiration_minutes" in component:
            minutes = component["code_expiration_minutes"]
            low, high = CODE_EXPIRATION_MINUTES
            if not is_int(minutes) or not low <= minutes <= high:
                add(errs, f"{path}.code_expiration_minutes", f"must be an integer from {low} to {high}")
        return
    if "code_expiration_minutes" in component:
        add(errs, f"{path}.code_expiration_minutes", "is only allowed in AUTHENTICATION templates")
    text = _check_text(
        errs,
        field,
        component.get("text"),
        FOOTER_TEXT_MAX,
        required=f"is required (1-{FOOTER_TEXT_MAX} characters)",
    )
    if text is not None and _PLACEHOLDER_RE.search(text):
        add(errs, field, "must not contain placeholders")


# --------------------------------------------------------------------------
# Buttons
# --------------------------------------------------------------------------


def _check_buttons(errs: Errors, path: str, component: dict, auth: bool) -> None:
    field = f"{path}.buttons"
    buttons = component.get("buttons")
    if buttons is None:
        add(errs, field, f"is required: a list of 1-{BUTTONS_MAX} buttons")
        return
    if not isinstance(buttons, list):
        add(errs, field, f"must be a list of 1-{BUTTONS_MAX} button objects")
        return
    if not 1 <= len(buttons) <= BUTTONS_MAX:
        add(errs, field, f"must contain 1 to {BUTTONS_MAX} buttons (got {len(buttons)})")
    if auth and len(buttons) != 1:
        add(errs, field, "AUTHENTICATION templates must have exactly one button, of type OTP")

    types: list[str | None] = []  # per button: its valid type, else None
    for j, button in enumerate(buttons):
        types.append(_check_button(errs, f"{field}[{j}]", button, auth))

    counts: dict[str, int] = {}
    for btype in types:
        if btype is not None:
            counts[btype] = counts.get(btype, 0) + 1
    for btype, limit in BUTTON_TYPE_MAX.items():
        if counts.get(btype, 0) > limit:
            add(errs, field, f"at most {limit} {btype} button{'s' if limit > 1 else ''} (got {counts[btype]})")

    # Quick replies may not be interleaved with other buttons.
    kinds = [btype == "QUICK_REPLY" for btype in types if btype is not None]
    switches = sum(1 for a, b in zip(kinds, kinds[1:], strict=False) if a != b)
    if switches > 1:
        add(
            errs,
            field,
            "QUICK_REPLY buttons must be grouped together, all before or all after the other buttons",
        )


def _check_button(errs: Errors, path: str, button: Any, auth: bool) -> str | None:
    """Check one button; return its type if valid, else None."""
    if not isinstance(button, dict):
        add(errs, path, "must be an object with a type")
        return None
    btype = button.get("type")
    if btype is None:
        add(errs, f"{path}.type", f"is required; one of {listing(BUTTON_TYPES)}")
        return None
    if not one_of(btype, BUTTON_TYPES):
        add(errs, f"{path}.type", f"must be one of {listing(BUTTON_TYPES)}")
        return None
    if btype == "OTP" and not auth:
        add(errs, f"{path}.type", "OTP buttons are only for AUTHENTICATION templates")
    elif btype != "OTP" and auth:
        add(errs, f"{path}.type", "must be OTP in AUTHENTICATION templates")

    _check_text(
        errs,
        f"{path}.text",
        button.get("text"),
        BUTTON_TEXT_MAX,
        required=None if btype in BUTTONS_WITHOUT_TEXT else f"is required (1-{BUTTON_TEXT_MAX} characters)",
    )
    check = _BUTTON_CHECKS.get(btype)
    if check is not None:
        check(errs, path, button)
    return btype


def _check_url_button(errs: Errors, path: str, button: dict) -> None:
    field = f"{path}.url"
    url = button.get("url")
    if url is None:
        add(errs, field, "is required: an absolute http(s) URL")
        return
    if not isinstance(url, str):
        add(errs, field, "must be a string: an absolute http(s) URL")
        return
    if len(url) > URL_MAX:
        add(errs, field, f"must be at most {URL_MAX} characters (got {len(url)})")
    found = _scan_placeholders(url)
    _report_malformed(errs, field, found)
    base = url
    if found.matches:
        last = found.matches[-1]
        if len(found.matches) > 1 or found.numbers[-1] != 1 or last.end() != len(url):
            add(errs, field, "may contain at most one placeholder, {{1}}, at the very end")
        if last.end() == len(url):
            base = url[: last.start()]
    if not is_http_url(base):
        add(errs, field, "must be an absolute http(s) URL, e.g. https://example.com/path")
    if found.matches:
        _check_single_string_list(
            errs,
            f"{path}.example",
            button.get("example"),
            "is required when the URL has a placeholder: a list with one example URL",
        )


def _check_phone_button(errs: Errors, path: str, button: dict) -> None:
    field = f"{path}.phone_number"
    phone = button.get("phone_number")
    hint = "a phone number in international E.164 form, e.g. +14155552671"
    if phone is None:
        add(errs, field, f"is required: {hint}")
        return
    if not isinstance(phone, str):
        add(errs, field, f"must be a string: {hint}")
        return
    if len(phone) > PHONE_NUMBER_MAX:
        add(errs, field, f"must be at most {PHONE_NUMBER_MAX} characters (got {len(phone)})")
    if not _is_valid_e164(phone):
        add(errs, field, f"must be a valid {hint}")


def _is_valid_e164(phone: str) -> bool:
    if not phone.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number)


def _check_copy_code_button(errs: Errors, path: str, button: dict) -> None:
    _check_text(
        errs,
        f"{path}.example",
        button.get("example"),
        COPY_CODE_EXAMPLE_MAX,
        required=f"is required: the sample code, 1-{COPY_CODE_EXAMPLE_MAX} characters",
    )


def _check_otp_button(errs: Errors, path: str, button: dict) -> None:
    otp_type = button.get("otp_type")
    if not one_of(otp_type, OTP_TYPES):
        verb = "is required; one of" if otp_type is None else "must be one of"
        add(errs, f"{path}.otp_type", f"{verb} {listing(OTP_TYPES)}")
        return
    if otp_type in ("ONE_TAP", "ZERO_TAP"):
        for key in ("package_name", "signature_hash"):
            value = button.get(key)
            if not isinstance(value, str) or not value:
                add(errs, f"{path}.{key}", f"is required for {otp_type} OTP buttons (a non-empty string)")


_COMPONENT_CHECKS = {
    "HEADER": _check_header,
    "BODY": _check_body,
    "FOOTER": _check_footer,
    "BUTTONS": _check_buttons,
}

_BUTTON_CHECKS = {
    "URL": _check_url_button,
    "PHONE_NUMBER": _check_phone_button,
    "COPY_CODE": _check_copy_code_button,
    "OTP": _check_otp_button,
}
