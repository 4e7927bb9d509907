"""The ``whatsApp`` block of a send request, declared: one msgspec Struct per message type.

Seed 002 shows the block as ``{"type": "regular", "regular": {"type": "text", "text": "..."}}``. The block
extends that shape to the other regular messages of Meta's WhatsApp Cloud API (media by link, interactive
reply buttons, location) and to template messages, using the Cloud API's own objects and field names
inside, so that the adapter sends them as they are. Text is a plain string beside ``type`` (as in seed
002) with the Cloud API's ``preview_url`` flag next to it. Media goes by ``link`` only (uploaded media ids
are not offered). Whether a template message fits its stored template is ``channels.whatsapp.sending``'s
job. Lengths are counted in code points; the limits are the Cloud API's.

``wire.shapes.decode(raw, BLOCK)`` reads a block (``validate_block`` is its legacy form); rules a type
can't say are the Structs' ``problems()``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from channels.whatsapp.templates import BUTTONS_MAX, LanguageCode, TemplateName, full_match
from wire.errors import FieldError
from wire.shapes import decode

__all__ = ["BLOCK", "EXAMPLES", "validate_block", "template_reference", "body_parameter_count"]

TEXT_MAX = 4096  # text message body
CAPTION_MAX = 1024  # image, video and document captions (audio has none)
FILENAME_MAX = 255  # the Cloud API names no limit; the usual file-system one
INTERACTIVE_BODY_MAX = 1024
INTERACTIVE_HEADER_MAX = 60
INTERACTIVE_FOOTER_MAX = 60
REPLY_BUTTONS_MAX = 3
BUTTON_ID_MAX = 256
BUTTON_TITLE_MAX = 20
# Template text parameters: 60 characters in a header; in a body 1024, or 32768 when the body is the
# template's only component.
HEADER_TEXT_PARAMETER_MAX = 60
BODY_TEXT_PARAMETER_MAX = 1024
BODY_ONLY_TEXT_PARAMETER_MAX = 32768


def _text(most: int | None = None) -> Any:
    """A string with something besides whitespace, of at most ``most`` characters."""
    limit = f", and must be at most {most} characters" if most else ""
    error = f"must not be empty or only whitespace{limit}"
    return Annotated[str, msgspec.Meta(min_length=1, max_length=most, pattern=r"\S", extra={"error": error})]


def _parameter_text(most: int) -> Any:
    """A template text parameter: Meta refuses newlines, tabs and more than 4 consecutive spaces (132018)."""
    error = (
        "must not be empty, must not contain newlines, tabs or more than 4 consecutive spaces, "
        f"and must be at most {most} characters"
    )
    pattern = r"^(?!.*[\n\r\t])(?!.* {5}).*\S"
    return Annotated[str, msgspec.Meta(min_length=1, max_length=most, pattern=pattern, extra={"error": error})]


def _degrees(bound: int) -> Any:
    error = f"must be a number of decimal degrees from -{bound} to {bound}"
    return Annotated[float, msgspec.Meta(ge=-bound, le=bound, extra={"error": error})]


NonBlank = _text()
Latitude = _degrees(90)
Longitude = _degrees(180)
Filename = _text(FILENAME_MAX)
Caption = _text(CAPTION_MAX)
Link = Annotated[
    str,
    msgspec.Meta(
        pattern=full_match(r"https://[^\s/?#]+([/?#]\S*)?"),
        description="The hosted media's absolute https URL",
        extra={"error": "must be an absolute https URL of the hosted media (not http), e.g. https://example.com/a.jpg"},
    ),
]


class MediaLink(msgspec.Struct, omit_defaults=True):
    """Media by link: an audio message, a header or a template parameter."""

    link: Link


class Media(msgspec.Struct, omit_defaults=True):
    """An image or a video by link, with an optional caption."""

    link: Link
    caption: Caption | None = None


class Document(msgspec.Struct, omit_defaults=True):
    """A document by link, with an optional caption and the file name the user sees."""

    link: Link
    caption: Caption | None = None
    filename: Filename | None = None


class DocumentLink(msgspec.Struct, omit_defaults=True):
    """A document by link in a header or a template parameter: no caption."""

    link: Link
    filename: Filename | None = None


class Location(msgspec.Struct, omit_defaults=True):
    """A place: the Cloud API's location object."""

    latitude: Latitude
    longitude: Longitude
    name: NonBlank | None = None
    address: NonBlank | None = None


# --------------------------------------------------------------------------
# Regular messages: {"type": "regular", "regular": {"type": <kind>, <kind>: ...}}
# --------------------------------------------------------------------------


class _Regular(msgspec.Struct, tag_field="type", omit_defaults=True):
    pass


class WhatsAppText(_Regular, tag="text"):
    """A text message (seed 002); `preview_url` asks WhatsApp to preview the first URL in the text."""

    text: _text(TEXT_MAX)
    preview_url: bool = False


class WhatsAppImage(_Regular, tag="image"):
    """An image by link, with an optional caption."""

    image: Media


class WhatsAppVideo(_Regular, tag="video"):
    """A video by link, with an optional caption."""

    video: Media


class WhatsAppAudio(_Regular, tag="audio"):
    """An audio file by link (audio has no caption)."""

    audio: MediaLink


class WhatsAppDocument(_Regular, tag="document"):
    """A document by link, with an optional caption and file name."""

    document: Document


class _Header(msgspec.Struct, tag_field="type", omit_defaults=True):
    pass


class TextHeader(_Header, tag="text"):
    text: _text(INTERACTIVE_HEADER_MAX)


class ImageHeader(_Header, tag="image"):
    image: MediaLink


class VideoHeader(_Header, tag="video"):
    video: MediaLink


class DocumentHeader(_Header, tag="document"):
    document: DocumentLink


class InteractiveBody(msgspec.Struct):
    text: _text(INTERACTIVE_BODY_MAX)


class InteractiveFooter(msgspec.Struct):
    text: _text(INTERACTIVE_FOOTER_MAX)


class Reply(msgspec.Struct):
    """A reply button's id (given back in the reply's webhook) and title."""

    id: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=BUTTON_ID_MAX,
            pattern=full_match(r"\S([\s\S]*\S)?"),
            extra={
                "error": "must not be empty, must not start or end with whitespace, "
                f"and must be at most {BUTTON_ID_MAX} characters"
            },
        ),
    ]
    title: _text(BUTTON_TITLE_MAX)


class ReplyButton(msgspec.Struct):
    type: Literal["reply"]
    reply: Reply


class ReplyAction(msgspec.Struct):
    buttons: Annotated[
        list[ReplyButton],
        msgspec.Meta(
            min_length=1,
            max_length=REPLY_BUTTONS_MAX,
            extra={"error": f"must contain 1 to {REPLY_BUTTONS_MAX} buttons"},
        ),
    ]

    def problems(self) -> list[FieldError]:
        """Ids and titles are unique: the ids tell the replies apart, the titles the buttons."""
        errors = []
        for key in ("id", "title"):
            first: dict[str, int] = {}
            for i, button in enumerate(self.buttons):
                j = first.setdefault(getattr(button.reply, key), i)
                if j != i:
                    message = f"must be unique among the buttons (same as buttons[{j}])"
                    errors.append(FieldError(f"buttons[{i}].reply.{key}", message))
        return errors


class ReplyButtons(msgspec.Struct, kw_only=True, omit_defaults=True):
    """Reply buttons, the one interactive message offered (`type` `button`)."""

    type: Literal["button"]
    header: TextHeader | ImageHeader | VideoHeader | DocumentHeader | None = None
    body: InteractiveBody
    footer: InteractiveFooter | None = None
    action: ReplyAction


class WhatsAppInteractive(_Regular, tag="interactive"):
    """Up to three reply buttons under a body text, with an optional header and footer."""

    interactive: ReplyButtons


class WhatsAppLocation(_Regular, tag="location"):
    """A place on the map, with an optional name and address."""

    location: Location


Regular = (
    WhatsAppText
    | WhatsAppImage
    | WhatsAppVideo
    | WhatsAppAudio
    | WhatsAppDocument
    | WhatsAppInteractive
    | WhatsAppLocation
)


class WhatsAppRegular(msgspec.Struct, tag="regular", tag_field="type"):
    """A regular (session) message: text, media, interactive reply buttons or a location."""

    regular: Regular


# --------------------------------------------------------------------------
# Template messages: {"type": "template", "template": {"name", "language", "components"}}
# --------------------------------------------------------------------------


class SendLanguage(msgspec.Struct, omit_defaults=True):
    code: LanguageCode
    policy: Literal["deterministic"] | None = None


class _Parameter(msgspec.Struct, tag_field="type"):
    pass


class HeaderTextParameter(_Parameter, tag="text"):
    text: _parameter_text(HEADER_TEXT_PARAMETER_MAX)


class BodyTextParameter(_Parameter, tag="text"):
    text: _parameter_text(BODY_ONLY_TEXT_PARAMETER_MAX)


class Currency(msgspec.Struct):
    fallback_value: NonBlank
    code: Annotated[
        str,
        msgspec.Meta(pattern=full_match("[A-Z]{3}"), extra={"error": "must be an ISO 4217 currency code, e.g. USD"}),
    ]
    amount_1000: Annotated[int, msgspec.Meta(description="The amount multiplied by 1000")]


class CurrencyParameter(_Parameter, tag="currency"):
    currency: Currency


class DateTime(msgspec.Struct):
    fallback_value: NonBlank


class DateTimeParameter(_Parameter, tag="date_time"):
    date_time: DateTime


class ImageParameter(_Parameter, tag="image"):
    image: MediaLink


class DocumentParameter(_Parameter, tag="document"):
    document: DocumentLink


class VideoParameter(_Parameter, tag="video"):
    video: MediaLink


class LocationParameter(_Parameter, tag="location"):
    location: Location


class PayloadParameter(_Parameter, tag="payload"):
    """What a quick-reply button gives back when tapped."""

    payload: NonBlank


class UrlSuffixParameter(_Parameter, tag="text"):
    """The text a URL button appends to the template's URL."""

    text: Annotated[
        str,
        msgspec.Meta(
            pattern=full_match(r"\S+"),
            extra={"error": "must not be empty and must not contain whitespace (it becomes part of a URL)"},
        ),
    ]


HeaderParameter = (
    HeaderTextParameter
    | CurrencyParameter
    | DateTimeParameter
    | ImageParameter
    | DocumentParameter
    | VideoParameter
    | LocationParameter
)


class _Component(msgspec.Struct, tag_field="type"):
    pass


class HeaderParameters(_Component, tag="header"):
    parameters: Annotated[
        list[HeaderParameter],
        msgspec.Meta(
            min_length=1,
            max_length=1,
            extra={"error": "must not be empty and must contain exactly one parameter"},
        ),
    ]


class BodyParameters(_Component, tag="body"):
    """One parameter per placeholder of the template's body, in order."""

    parameters: Annotated[
        list[BodyTextParameter | CurrencyParameter | DateTimeParameter],
        msgspec.Meta(
            min_length=1, extra={"error": "must not be empty; leave the component out when it has no placeholders"}
        ),
    ]


# A button's parameter by its sub_type.
_BUTTON_PARAMETERS = {"quick_reply": PayloadParameter, "url": UrlSuffixParameter}


class ButtonParameters(_Component, tag="button"):
    """The parameter of the template's button at `index`: a payload for a quick reply, a URL suffix."""

    sub_type: Literal["quick_reply", "url"]
    index: Annotated[int | str, msgspec.Meta(description=f"0 to {BUTTONS_MAX - 1}, a number or a string of digits")]
    parameters: Annotated[
        list[PayloadParameter | UrlSuffixParameter],
        msgspec.Meta(min_length=1, max_length=1, extra={"error": "must be a list of one parameter"}),
    ]

    def position(self) -> int | None:
        """The button's index as a number, None when it is no index of a template's buttons."""
        text = str(self.index) if isinstance(self.index, int) else self.index
        if not re.fullmatch(r"[0-9]+", text) or int(text) >= BUTTONS_MAX:
            return None
        return int(text)

    def problems(self) -> list[FieldError]:
        errors = []
        if self.position() is None:
            rule = f"0 to {BUTTONS_MAX - 1} (a number or a string of digits)"
            errors.append(FieldError("index", f"must be the position of the template's button, {rule}"))
        expected = _BUTTON_PARAMETERS[self.sub_type]
        if not isinstance(self.parameters[0], expected):
            message = f"must be {expected.__struct_config__.tag} for a {self.sub_type} button"
            errors.append(FieldError("parameters[0].type", message))
        return errors


class TemplateSend(msgspec.Struct, omit_defaults=True):
    """An approved template of the traffic account by name and language, with its parameters."""

    name: TemplateName
    language: SendLanguage
    components: list[HeaderParameters | BodyParameters | ButtonParameters] | None = None

    def problems(self) -> list[FieldError]:
        errors = []
        components = self.components or []
        given: dict[Any, int] = {}  # "header", "body", or a button's index -> its component
        for i, component in enumerate(components):
            if isinstance(component, ButtonParameters):
                index = component.position()
                if (first := given.setdefault(index, i)) != i:
                    message = f"button index {index} is already given by components[{first}]"
                    errors.append(FieldError(f"components[{i}].index", message))
                continue
            kind = component.__struct_config__.tag
            if given.setdefault(kind, i) != i:
                errors.append(FieldError(f"components[{i}]", f"only one {kind} component is allowed"))
            if isinstance(component, BodyParameters) and len(components) > 1:
                errors += _long_body_parameters(i, component)
        return errors


def _long_body_parameters(i: int, body: BodyParameters) -> list[FieldError]:
    """Body text parameters beyond the limit of a template that has other components than its body."""
    message = f"must be at most {BODY_TEXT_PARAMETER_MAX} characters when the template has other components"
    return [
        FieldError(f"components[{i}].parameters[{j}].text", message)
        for j, parameter in enumerate(body.parameters)
        if isinstance(parameter, BodyTextParameter) and len(parameter.text) > BODY_TEXT_PARAMETER_MAX
    ]


class WhatsAppTemplate(msgspec.Struct, tag="template", tag_field="type"):
    """A template message: needed to write first, or more than 24 hours after the user's last message."""

    template: TemplateSend


BLOCK = WhatsAppRegular | WhatsAppTemplate

# A complete block of each message type (the text one is seed 002's).
# The limits of a block, for the README (gateway docs: a (field, limit) row each).
LIMITS = (
    ("type", "regular (text, image, video, audio, document, interactive, location) or template; any case"),
    ("regular.text", f"1-{TEXT_MAX} characters"),
    ("*.caption", f"at most {CAPTION_MAX} characters (audio has none); media by https `link` or uploaded `id`"),
    (
        "interactive",
        f"a body of at most {INTERACTIVE_BODY_MAX} characters, a header and footer of at most "
        f"{INTERACTIVE_HEADER_MAX}; 1-{REPLY_BUTTONS_MAX} reply buttons, titles of at most {BUTTON_TITLE_MAX}",
    ),
    (
        "template",
        "an APPROVED template of the traffic account by name and language, with as many body "
        f"parameters as it has placeholders; text parameters of at most {BODY_TEXT_PARAMETER_MAX} characters "
        f"({HEADER_TEXT_PARAMETER_MAX} in a header), no newlines or tabs",
    ),
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "WhatsAppText": {"type": "regular", "regular": {"type": "text", "text": "Hi, this is test msg."}},
    "WhatsAppImage": {
        "type": "regular",
        "regular": {"type": "image", "image": {"link": "https://example.com/a.jpg", "caption": "A picture"}},
    },
    "WhatsAppVideo": {
        "type": "regular",
        "regular": {"type": "video", "video": {"link": "https://example.com/a.mp4", "caption": "A film"}},
    },
    "WhatsAppAudio": {"type": "regular", "regular": {"type": "audio", "audio": {"link": "https://example.com/a.ogg"}}},
    "WhatsAppDocument": {
        "type": "regular",
        "regular": {
            "type": "document",
            "document": {
                "link": "https://example.com/invoice.pdf",
                "caption": "Your invoice",
                "filename": "invoice.pdf",
            },
        },
    },
    "WhatsAppInteractive": {
        "type": "regular",
        "regular": {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "header": {"type": "text", "text": "Your order"},
                "body": {"text": "Do you want to change the delivery date?"},
                "footer": {"text": "Lucky Shrub"},
                "action": {
                    "buttons": [
                        {"type": "reply", "reply": {"id": "change", "title": "Change"}},
                        {"type": "reply", "reply": {"id": "keep", "title": "Keep"}},
                    ]
                },
            },
        },
    },
    "WhatsAppLocation": {
        "type": "regular",
        "regular": {
            "type": "location",
            "location": {
                "latitude": 46.2044,
                "longitude": 6.1432,
                "name": "Office",
                "address": "Rue du Rhone 1, Geneva",
            },
        },
    },
    "WhatsAppTemplate": {
        "type": "template",
        "template": {
            "name": "order_shipped",
            "language": {"code": "en_US"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Ana"}, {"type": "text", "text": "42"}]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "ORD-42"}]},
            ],
        },
    },
}


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with a block, named relative to it (legacy: the gateway decodes ``BLOCK`` itself)."""
    return decode(block, BLOCK).errors


def _template(block: Any) -> TemplateSend | None:
    """The template of a valid template block, stored or as the client wrote it; None for anything else."""
    value = decode(block, BLOCK).value
    return value.template if isinstance(value, WhatsAppTemplate) else None


def template_reference(block: dict) -> tuple[str, str] | None:
    """(template name, language code) of a valid template block; None for anything else."""
    template = _template(block)
    return (template.name, template.language.code) if template else None


def body_parameter_count(block: dict) -> int:
    """How many parameters the body of a valid template block gives, one per placeholder; else 0."""
    template = _template(block)
    bodies = [c for c in (template.components or []) if isinstance(c, BodyParameters)] if template else []
    return len(bodies[0].parameters) if bodies else 0


# The stored templates EXAMPLES send (WhatsAppTemplate): {name: the body that creates it}.
TEMPLATE_EXAMPLES: dict[str, dict[str, Any]] = {
    "order_shipped": {
        "language": {"code": "en_US"},
        "category": "UTILITY",
        "components": [
            {
                "type": "BODY",
                "text": "Hi {{1}}, your order {{2}} is on its way.",
                "example": {"body_text": [["Ana", "42"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {
                        "type": "URL",
                        "text": "Track it",
                        "url": "https://shop.example.com/track/{{1}}",
                        "example": ["https://shop.example.com/track/ORD-42"],
                    }
                ],
            },
        ],
    }
}
