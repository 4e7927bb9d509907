"""WhatsApp message templates, declared: the storage request and the one model of a template's components
(HEADER, BODY, FOOTER, BUTTONS) that template storage validates and the template send check reads.

Meta's WhatsApp Business Management API checks a template when it is created (``POST
/{waba-id}/message_templates``) and rejects it one problem at a time, often asynchronously; the same
documented rules here name every problem at once, each by its JSON path (``language.code``,
``components[1].text``, ``components[3].buttons[0].text``). An AUTHENTICATION template (no HEADER, a
preset body, an expiry footer, one OTP button) has its own Structs where its rules differ; the rules
across components are ``component_type_problems``.

Storage is exact where sends are tolerant: the gateway stores a template as written and Meta's API takes
names and enum values in one spelling, so ``validate_template`` reads the body as written (``_as_written``)
before ``wire.shapes.decode``, which would match them in any case. Lengths are counted in code points.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any, Literal

import msgspec
import phonenumbers

from channels.base import is_http_url
from wire.errors import FieldError
from wire.shapes import decode, join

__all__ = [
    "TEMPLATE_NAME_MAX",
    "TemplateName",
    "LanguageCode",
    "TemplateRequest",
    "AuthenticationTemplate",
    "TemplateComponent",
    "component_type_problems",
    "validate_template",
    "stored_components",
    "body_placeholder_count",
]

TEMPLATE_NAME_MAX = 512
HEADER_TEXT_MAX = 60
BODY_TEXT_MAX = 1024
FOOTER_TEXT_MAX = 60
BUTTON_TEXT_MAX = 25
BUTTONS_MAX = 10
URL_MAX = 2000
PHONE_NUMBER_MAX = 20
COPY_CODE_EXAMPLE_MAX = 15
# Most buttons of one type per template (the total is capped by BUTTONS_MAX).
BUTTON_TYPE_MAX = {"QUICK_REPLY": 10, "URL": 2, "PHONE_NUMBER": 1, "COPY_CODE": 1}

# A `{{...}}` pair without inner braces (group `inner`), or a stray `{{` / `}}` (`inner` is None); a
# well-formed placeholder's inner text is a positive integer.
_PLACEHOLDER_RE = re.compile(r"\{\{(?P<inner>[^{}]*)\}\}|\{\{|\}\}")
_PLACEHOLDER_NUMBER_RE = re.compile(r"[1-9][0-9]*")


def full_match(regex: str) -> str:
    """A pattern that ``regex`` must match whole, in Python as in JSON Schema (Python's ``$`` alone would
    let a final newline through)."""
    return f"^(?:{regex})$(?!\\n)"


def _text(most: int) -> Any:
    error = f"must be at most {most} characters and must not be empty"
    return Annotated[str, msgspec.Meta(min_length=1, max_length=most, extra={"error": error})]


# Template names and language codes, in template storage and template sends alike.
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
NonEmpty = Annotated[str, msgspec.Meta(min_length=1, extra={"error": "must be a non-empty string"})]
OneExample = Annotated[
    list[NonEmpty],
    msgspec.Meta(min_length=1, max_length=1, extra={"error": "must be a list of exactly one non-empty string"}),
]
ButtonText = _text(BUTTON_TEXT_MAX)


# --------------------------------------------------------------------------
# Placeholders
# --------------------------------------------------------------------------


def _placeholders(text: str) -> tuple[list[re.Match[str]], list[str]]:
    """The well-formed ``{{n}}`` placeholders of ``text``, and the malformed ones described."""
    good, bad = [], []
    for match in _PLACEHOLDER_RE.finditer(text):
        inner = match.group("inner")
        if inner is not None and _PLACEHOLDER_NUMBER_RE.fullmatch(inner):
            good.append(match)
        else:
            bad.append(match.group(0) if inner is not None else f"unbalanced '{match.group(0)}'")
    return good, bad


def _number(match: re.Match[str]) -> int:
    return int(match.group("inner"))


def _numbered(numbers: list[int]) -> str:
    return ", ".join(f"{{{{{n}}}}}" for n in numbers)


def _malformed(field: str, bad: list[str]) -> list[FieldError]:
    if not bad:
        return []
    listed = ", ".join(bad)
    return [
        FieldError(field, f"malformed placeholders: {listed}; placeholders must look like {{{{1}}}}, {{{{2}}}}, ...")
    ]


# --------------------------------------------------------------------------
# Components
# --------------------------------------------------------------------------


class _Component(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, omit_defaults=True):
    pass


class HeaderExample(msgspec.Struct, omit_defaults=True):
    header_text: OneExample | None = None
    header_handle: OneExample | None = None


class TemplateHeader(_Component, tag="HEADER"):
    """A title: a text with at most one placeholder, {{1}}, an image, a video, a document or a location."""

    format: Literal["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"]
    text: _text(HEADER_TEXT_MAX) | None = None
    example: HeaderExample | None = None

    def problems(self) -> list[FieldError]:
        if self.format == "TEXT":
            return self._text_problems()
        errors = [FieldError("text", f"is not allowed when format is {self.format}")] if self.text is not None else []
        if self.format == "LOCATION":
            if self.example is not None:
                errors.append(FieldError("example", "is not allowed when format is LOCATION"))
        elif self.example is None or self.example.header_handle is None:
            rule = f"is required for {self.format} headers: a list with one uploaded media handle"
            errors.append(FieldError("example.header_handle", rule))
        return errors

    def _text_problems(self) -> list[FieldError]:
        if self.text is None:
            return [FieldError("text", f"is required when format is TEXT (1-{HEADER_TEXT_MAX} characters)")]
        good, bad = _placeholders(self.text)
        errors = [FieldError("text", "must not contain newlines")] if re.search("[\r\n]", self.text) else []
        errors += _malformed("text", bad)
        numbers = [_number(m) for m in good]
        if len(numbers) > 1:
            errors.append(FieldError("text", "may contain at most one placeholder, {{1}}"))
        elif numbers and numbers[0] != 1:
            errors.append(FieldError("text", f"the only placeholder allowed is {{{{1}}}}; found {_numbered(numbers)}"))
        if numbers and (self.example is None or self.example.header_text is None):
            rule = "is required when the header has a placeholder: a list with one example value"
            errors.append(FieldError("example.header_text", rule))
        return errors


class BodyExample(msgspec.Struct, omit_defaults=True):
    body_text: (
        Annotated[
            list[list[NonEmpty]],
            msgspec.Meta(
                min_length=1,
                max_length=1,
                extra={"error": "must be a list containing one list of example values, one per placeholder"},
            ),
        ]
        | None
    ) = None


class TemplateBody(_Component, tag="BODY"):
    """The message text, with placeholders {{1}}..{{n}} filled by a send's body parameters."""

    text: _text(BODY_TEXT_MAX) | None = None
    example: BodyExample | None = None
    add_security_recommendation: bool | None = None

    def placeholder_count(self) -> int:
        """How many parameters a send gives: one per distinct placeholder."""
        return len({_number(m) for m in _placeholders(self.text or "")[0]})

    def problems(self) -> list[FieldError]:
        errors = self.text_problems()
        if self.text is None:
            errors.append(FieldError("text", f"is required (1-{BODY_TEXT_MAX} characters)"))
        if self.add_security_recommendation is not None:
            errors.append(FieldError("add_security_recommendation", "is only allowed in AUTHENTICATION templates"))
        return errors

    def text_problems(self) -> list[FieldError]:
        """Placeholders numbered {{1}}..{{n}}, not at the start or end, each with an example value."""
        if self.text is None:
            return []
        good, bad = _placeholders(self.text)
        errors = _malformed("text", bad)
        distinct = sorted({_number(m) for m in good})
        if distinct != list(range(1, len(distinct) + 1)):
            rule = "placeholders must be numbered {{1}}..{{n}} without gaps"
            errors.append(FieldError("text", f"{rule}; found {_numbered(distinct)}"))
        if not good:
            return errors
        edge = "(variables can't be at the start or end)"
        if good[0].start() == len(self.text) - len(self.text.lstrip()):
            errors.append(FieldError("text", f"must not start with a placeholder {edge}"))
        if good[-1].end() == len(self.text.rstrip()):
            errors.append(FieldError("text", f"must not end with a placeholder {edge}"))
        return errors + self._example_problems(len(distinct))

    def _example_problems(self, count: int) -> list[FieldError]:
        examples = self.example.body_text if self.example else None
        if examples is None:
            rule = f"a list containing one list of {count} non-empty example strings"
            return [FieldError("example.body_text", f"is required when the text has placeholders: {rule}")]
        if len(examples) != 1:  # not one list: its own constraint says so
            return []
        if len(examples[0]) != count:
            rule = f"must have exactly {count} example values, one per placeholder (got {len(examples[0])})"
            return [FieldError("example.body_text", rule)]
        return []


class AuthenticationBody(TemplateBody, tag="BODY"):
    """An AUTHENTICATION template's body: Meta writes its text; it may add a security recommendation."""

    def problems(self) -> list[FieldError]:
        return self.text_problems()


class TemplateFooter(_Component, tag="FOOTER"):
    """A line of text under the body, without placeholders."""

    text: _text(FOOTER_TEXT_MAX) | None = None
    code_expiration_minutes: (
        Annotated[int, msgspec.Meta(ge=1, le=90, extra={"error": "must be an integer from 1 to 90"})] | None
    ) = None

    def problems(self) -> list[FieldError]:
        errors = []
        if self.code_expiration_minutes is not None:
            errors.append(FieldError("code_expiration_minutes", "is only allowed in AUTHENTICATION templates"))
        if self.text is None:
            errors.append(FieldError("text", f"is required (1-{FOOTER_TEXT_MAX} characters)"))
        elif _PLACEHOLDER_RE.search(self.text):
            errors.append(FieldError("text", "must not contain placeholders"))
        return errors


class AuthenticationFooter(TemplateFooter, tag="FOOTER"):
    """An AUTHENTICATION template's footer: how long the code is valid, in minutes."""

    def problems(self) -> list[FieldError]:
        if self.text is None:
            return []
        return [FieldError("text", "is not allowed in AUTHENTICATION templates; use code_expiration_minutes")]


# Buttons take what Meta adds to them (flow ids, autofill texts...): unknown fields are ignored.
class _Button(msgspec.Struct, tag_field="type", omit_defaults=True):
    pass


class QuickReplyButton(_Button, tag="QUICK_REPLY"):
    text: ButtonText


class UrlButton(_Button, tag="URL"):
    """A link; a placeholder {{1}} at the very end of the URL is filled by the send's button parameter."""

    text: ButtonText
    url: Annotated[str, msgspec.Meta(max_length=URL_MAX, extra={"error": f"must be at most {URL_MAX} characters"})]
    example: OneExample | None = None

    def problems(self) -> list[FieldError]:
        good, bad = _placeholders(self.url)
        errors = _malformed("url", bad)
        base = self.url
        if good:
            last = good[-1]
            if len(good) > 1 or _number(last) != 1 or last.end() != len(self.url):
                errors.append(FieldError("url", "may contain at most one placeholder, {{1}}, at the very end"))
            if last.end() == len(self.url):
                base = self.url[: last.start()]
        if not is_http_url(base):
            errors.append(FieldError("url", "must be an absolute http(s) URL, e.g. https://example.com/path"))
        if good and self.example is None:
            rule = "is required when the URL has a placeholder: a list with one example URL"
            errors.append(FieldError("example", rule))
        return errors


class PhoneNumberButton(_Button, tag="PHONE_NUMBER"):
    text: ButtonText
    phone_number: Annotated[
        str,
        msgspec.Meta(max_length=PHONE_NUMBER_MAX, extra={"error": f"must be at most {PHONE_NUMBER_MAX} characters"}),
    ]

    def problems(self) -> list[FieldError]:
        if _is_valid_e164(self.phone_number):
            return []
        return [
            FieldError("phone_number", "must be a valid phone number in international E.164 form, e.g. +14155552671")
        ]


def _is_valid_e164(phone: str) -> bool:
    if not phone.startswith("+"):
        return False
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number) and phonenumbers.is_valid_number(number)


class CopyCodeButton(_Button, tag="COPY_CODE"):
    """Copies a code; Meta writes its text."""

    example: _text(COPY_CODE_EXAMPLE_MAX)
    text: ButtonText | None = None


class OtpButton(_Button, tag="OTP"):
    """An AUTHENTICATION template's one-time password button."""

    otp_type: Literal["COPY_CODE", "ONE_TAP", "ZERO_TAP"]
    text: ButtonText | None = None
    package_name: str | None = None
    signature_hash: str | None = None

    def problems(self) -> list[FieldError]:
        if self.otp_type == "COPY_CODE":
            return []
        rule = f"is required for {self.otp_type} OTP buttons (a non-empty string)"
        return [FieldError(key, rule) for key in ("package_name", "signature_hash") if not getattr(self, key)]


class FlowButton(_Button, tag="FLOW"):
    text: ButtonText


Button = QuickReplyButton | UrlButton | PhoneNumberButton | CopyCodeButton | OtpButton | FlowButton


class TemplateButtons(_Component, tag="BUTTONS"):
    """1 to 10 buttons, at most 2 URL, 1 PHONE_NUMBER and 1 COPY_CODE; quick replies grouped together."""

    buttons: Annotated[list[Button], msgspec.Meta(description=f"1 to {BUTTONS_MAX} buttons")]

    def problems(self) -> list[FieldError]:
        errors = self.count_problems()
        kinds = [button.__struct_config__.tag for button in self.buttons]
        errors += [
            FieldError(f"buttons[{j}].type", "OTP buttons are only for AUTHENTICATION templates")
            for j, kind in enumerate(kinds)
            if kind == "OTP"
        ]
        for kind, most in BUTTON_TYPE_MAX.items():
            if (count := kinds.count(kind)) > most:
                errors.append(FieldError("buttons", f"at most {most} {kind} button{'s' * (most > 1)} (got {count})"))
        quick = [kind == "QUICK_REPLY" for kind in kinds]
        if sum(a != b for a, b in zip(quick, quick[1:], strict=False)) > 1:
            rule = "QUICK_REPLY buttons must be grouped together, all before or all after the other buttons"
            errors.append(FieldError("buttons", rule))
        return errors

    def count_problems(self) -> list[FieldError]:
        if 1 <= len(self.buttons) <= BUTTONS_MAX:
            return []
        return [FieldError("buttons", f"must contain 1 to {BUTTONS_MAX} buttons (got {len(self.buttons)})")]


class AuthenticationButtons(TemplateButtons, tag="BUTTONS"):
    """An AUTHENTICATION template's one OTP button."""

    def problems(self) -> list[FieldError]:
        errors = self.count_problems()
        if len(self.buttons) != 1:
            errors.append(FieldError("buttons", "AUTHENTICATION templates must have exactly one button, of type OTP"))
        return errors + [
            FieldError(f"buttons[{j}].type", "must be OTP in AUTHENTICATION templates")
            for j, button in enumerate(self.buttons)
            if not isinstance(button, OtpButton)
        ]


TemplateComponent = TemplateHeader | TemplateBody | TemplateFooter | TemplateButtons
AuthenticationComponent = TemplateHeader | AuthenticationBody | AuthenticationFooter | AuthenticationButtons


# --------------------------------------------------------------------------
# The storage request
# --------------------------------------------------------------------------


class TemplateLanguage(msgspec.Struct):
    code: LanguageCode


class TemplateRequest(msgspec.Struct):
    """A MARKETING or UTILITY template to store: its language, category and components (Meta's format),
    one of each type at most, a BODY among them (`component_type_problems`)."""

    language: TemplateLanguage
    category: Literal["MARKETING", "UTILITY", "AUTHENTICATION"]
    components: Annotated[
        list[TemplateComponent],
        msgspec.Meta(min_length=1, extra={"error": "must not be empty; a BODY component is required"}),
    ]


class AuthenticationTemplate(TemplateRequest):
    """An AUTHENTICATION template to store: a preset body, an optional expiry footer and one OTP button."""

    components: Annotated[
        list[AuthenticationComponent],
        msgspec.Meta(min_length=1, extra={"error": "must not be empty; a BODY component is required"}),
    ]


def component_type_problems(components: Any, auth: bool) -> list[FieldError]:
    """The rules across a template's components. They need only the components' types, so they are
    read from the request itself: a component with other problems (which hides its template from
    ``problems()``) must not hide them."""
    typed = _typed(components)
    if typed is None:
        return []
    first: dict[str, int] = {}
    errors = [
        FieldError(f"components[{i}]", f"only one {kind} component is allowed")
        for i, kind in typed
        if first.setdefault(kind, i) != i
    ]
    required = {"BODY": "must contain exactly one BODY component"}
    if auth:
        not_allowed = "HEADER is not allowed in AUTHENTICATION templates"
        errors += [FieldError(f"components[{i}]", not_allowed) for i, kind in typed if kind == "HEADER"]
        required["BUTTONS"] = "AUTHENTICATION templates need a BUTTONS component with one OTP button"
    return errors + [FieldError("components", rule) for kind, rule in required.items() if kind not in first]


def _typed(components: Any) -> list[tuple[int, str]] | None:
    """(index, type) of each component with a type; None without components (decode names that)."""
    if not isinstance(components, list) or not components:
        return None
    kinds = ("HEADER", "BODY", "FOOTER", "BUTTONS")
    return [(i, c["type"]) for i, c in enumerate(components) if isinstance(c, dict) and c.get("type") in kinds]


def validate_template(name: str, body: dict) -> list[FieldError]:
    """Every problem with a template storage request; [] when it is valid. ``name`` comes from the URL
    path; ``body`` is the decoded JSON object (language, category, components)."""
    errors = decode(name, TemplateName, "name").errors
    if not isinstance(body, dict):
        return [*errors, FieldError("body", "must be a JSON object with language, category and components")]
    auth = body.get("category") == "AUTHENTICATION"
    shape = AuthenticationTemplate if auth else TemplateRequest
    written = _as_written(body, shape, "", errors)
    decoded = decode(written, shape).errors
    if isinstance(body.get("language"), str):  # as Meta's own API takes it
        hint = 'must be an object like {"code": "en_US"}, not a string'
        decoded = [FieldError("language", hint) if e.field == "language" else e for e in decoded]
    return errors + decoded + component_type_problems(written.get("components"), auth)


def stored_components(components: Any) -> list[TemplateComponent]:
    """A stored template's components, read as they were validated when stored (one that can't be
    is left out)."""
    read = []
    for component in components if isinstance(components, list) else []:
        try:
            read.append(msgspec.convert(component, TemplateComponent))
        except msgspec.ValidationError:
            pass
    return read


def body_placeholder_count(components: Any) -> int:
    """How many distinct {{n}} placeholders the BODY of stored components has (0 without a body)."""
    bodies = [c for c in stored_components(components) if isinstance(c, TemplateBody)]
    return bodies[0].placeholder_count() if bodies else 0


# --------------------------------------------------------------------------
# Reading a request as written
# --------------------------------------------------------------------------

# What a type or enum value written in another case becomes for decode: a value no type or enum matches.
_MISWRITTEN = object()


def _as_written(raw: Any, shape: Any, path: str, errors: list[FieldError]) -> Any:
    """``raw`` as Meta reads it: names and enum values in their declared case only. A name written
    otherwise is left out (and named in ``errors`` where the Struct forbids unknown fields); a type or enum
    value written otherwise becomes one that decode refuses."""
    structs, item, literals = _takes(shape)
    if isinstance(raw, dict):
        return _struct_as_written(raw, structs, path, errors)
    if isinstance(raw, list) and item is not None:
        return [_as_written(value, item, f"{path}[{i}]", errors) for i, value in enumerate(raw)]
    return _MISWRITTEN if literals and raw not in literals else raw


def _struct_as_written(raw: dict, structs: list[Any], path: str, errors: list[FieldError]) -> dict:
    cls = _struct_written(raw, structs)
    if cls is None:  # no Struct, or a type written otherwise
        return {structs[0].__struct_config__.tag_field: _MISWRITTEN} if structs else raw
    config = cls.__struct_config__
    hints = typing.get_type_hints(cls, include_extras=True)
    written = {key: value for key, value in raw.items() if key == config.tag_field}
    for key, value in raw.items():
        if key in cls.__struct_fields__:
            written[key] = _as_written(value, hints[key], join(path, key), errors)
        elif key != config.tag_field and config.forbid_unknown_fields:
            allowed = ", ".join((config.tag_field, *cls.__struct_fields__))
            errors.append(FieldError(join(path, str(key)), f"unknown field; {config.tag} allows only: {allowed}"))
    return written


def _struct_written(raw: dict, structs: list[Any]) -> Any:
    """Which of ``structs`` ``raw`` is, by its type as written where they are told apart by one."""
    tag_field = structs[0].__struct_config__.tag_field if structs else None
    if tag_field is None:
        return structs[0] if structs else None
    return next((cls for cls in structs if cls.__struct_config__.tag == raw.get(tag_field)), None)


def _takes(shape: Any) -> tuple[list[Any], Any, list[Any]]:
    """What ``shape`` takes (unwrapped from Annotated and unions): its Structs, its list's item type
    (None) and its enum values."""
    structs, item, literals = [], None, []
    for option in _options(shape):
        origin = typing.get_origin(option)
        if origin is list:
            item = typing.get_args(option)[0]
        elif origin is Literal:
            literals += typing.get_args(option)
        elif isinstance(option, type) and issubclass(option, msgspec.Struct):
            structs.append(option)
    return structs, item, literals


def _options(shape: Any) -> list[Any]:
    """The types ``shape`` allows, unwrapped from Annotated and unions, without None."""
    origin = typing.get_origin(shape)
    if origin is Annotated:
        return _options(typing.get_args(shape)[0])
    if origin in (typing.Union, types.UnionType):
        return [option for arg in typing.get_args(shape) if arg is not type(None) for option in _options(arg)]
    return [shape]
