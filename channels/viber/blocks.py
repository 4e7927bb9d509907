"""The ``viber`` block of a send request, declared as msgspec shapes (seed 002, Viber section).

The block's ``type`` is Viber's business message category and tells the four message types apart
(``ViberSession``, ``ViberPromotional``, ``ViberTransactional``, ``ViberRegular``). Every type has the
same fields; its category limits what it may carry (seed 002). The content is one of these layouts
(seed 002's examples and Viber's business-message layouts): text; picture (``mediaUrl``); text +
picture; text + button; text + picture + button; file alone; video alone; a ``keyboard`` with any of
them or on its own. ``video`` and ``keyboard`` are not spelled out by the seed: ``video`` takes the
REST bot API's fields, ``keyboard`` is Viber's own PascalCase keyboard object.

Provider limits are the Viber REST bot API's (https://developers.viber.com/docs/api/rest-bot-api/
#send-message and /docs/tools/keyboards/): text 7000 characters, picture description 768, picture
.jpeg/.jpg/.png/.gif, video .mp4 up to 26 MB and 180 s, file up to 50 MB (seed 002 says 200 MB; the
stricter limit wins), request JSON at most 30 kB. Seed 002 adds: ttl 30-1,209,600 s, file name at
most 25 characters, the file-format list. The button caption limit (30) is Viber business messages'.

Public API: :data:`BLOCK`, :data:`EXAMPLES`, :func:`validate_block`, :func:`content_kind`.
"""

import posixpath
import re
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import unquote, urlsplit

import msgspec

from channels.base import is_http_url
from wire.errors import FieldError
from wire.shapes import decode

__all__ = ["BLOCK", "EXAMPLES", "FILE_EXTENSIONS", "validate_block", "content_kind"]

# Seed 002 "Time To Live": "between 30 seconds (minimum) and up to 1,209,600 seconds (maximum)".
TTL_RANGE = (30, 1_209_600)
# REST bot API send_message, text: "Max length 7,000 characters".
TEXT_MAX = 7000
# REST bot API picture message, text (the description): "Max 768 characters".
PICTURE_TEXT_MAX = 768
# REST bot API picture media: "must have a resource with a .jpeg, .png or .gif file extension".
PICTURE_EXTENSIONS = (".jpeg", ".jpg", ".png", ".gif")
# REST bot API video: media ".mp4", size "Max size 26 MB" (required), duration "Max 180 seconds".
VIDEO_EXTENSIONS = (".mp4",)
VIDEO_SIZE_MAX = 26 * 1024 * 1024
VIDEO_DURATION_MAX = 180
# REST bot API file media: "Max size 50 MB" (seed 002: "under 200MB"; the stricter one applies).
FILE_SIZE_MAX = 50 * 1024 * 1024
# Seed 002: "Filename – maximum 25 characters".
FILE_NAME_MAX = 25
# Seed 002's supported file formats (documents and spreadsheets); none is on the REST bot API's
# forbidden-formats list, so this allow-list enforces both.
FILE_EXTENSIONS = (
    *(".doc", ".docx", ".rtf", ".dot", ".dotx", ".odt", ".odf", ".fodt", ".txt", ".info"),
    *(".pdf", ".xps", ".pdax", ".eps", ".xls", ".xlsx", ".ods", ".fods", ".csv", ".xlsm", ".xltx"),
)
# Infobip's Viber Business Messages API, content.text: "maxLength": 1000.
BUSINESS_TEXT_MAX = 1000
# Viber business messages: "Button caption length: up to 30 characters".
BUTTON_CAPTION_MAX = 30
# REST bot API URL message: "Max 2,000 characters" (the longest URL Viber takes in a message).
URL_MAX = 2000
# REST bot API: "Maximum total JSON size of the request is 30kb". The adapter's envelope (receiver,
# sender name, tracking data) takes the last kilobyte.
REQUEST_JSON_MAX = 30 * 1024
BLOCK_JSON_MAX = REQUEST_JSON_MAX - 1024


def _must(error: str, **constraints: Any) -> msgspec.Meta:
    """Constraints, and what wire.shapes answers when a value breaks them."""
    return msgspec.Meta(**constraints, extra={"error": error})


def _between(low: int, high: int, what: str = "an integer") -> Any:
    return Annotated[int, _must(f"must be {what} from {low} to {high}", ge=low, le=high)]


def _at_most(maximum: int) -> Any:
    return Annotated[str, _must(f"must be at most {maximum} characters", max_length=maximum)]


def _size(maximum: int, what: str) -> Any:
    error = f"must be the {what}'s size in bytes: a positive integer of at most {maximum} bytes ({maximum >> 20} MB)"
    return Annotated[int, _must(error, ge=1, le=maximum, description="Bytes")]


# An http(s) URL (the scheme in any case) as a pattern; is_http_url (host, port) runs in problems().
_HTTP = r"[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+\S*"
_VIBER = re.compile(r"viber://\S+")  # Viber's URL schemes (viber://more/qr) open a screen of the app
URL_ERROR = f"must be an absolute http(s) URL, e.g. https://example.com/path, of at most {URL_MAX} characters"
ACTION_ERROR = (
    f"must be an absolute http(s) URL or a viber:// URL scheme (e.g. viber://more/qr), at most {URL_MAX} characters"
)
Url = Annotated[str, _must(URL_ERROR, max_length=URL_MAX, pattern=f"^{_HTTP}$", description="An absolute http(s) URL")]
# Seed 002 sends "mediaUrl": "" for "no picture".
PictureUrl = Annotated[
    str,
    _must(
        URL_ERROR + ' (or "" for none)',
        max_length=URL_MAX,
        pattern=f"^({_HTTP})?$",
        description='A .jpeg, .jpg, .png or .gif picture\'s http(s) URL; "" for none (seed 002)',
    ),
]
ActionUrl = Annotated[str, _must(ACTION_ERROR, max_length=URL_MAX, pattern=rf"^({_HTTP}|{_VIBER.pattern})$")]
Color = Annotated[str, _must("must be a hex color like #2DB9B9", pattern="^#[0-9A-Fa-f]{6}$")]
NotBlank = Annotated[str, _must("must not be empty", pattern=r"\S")]
Ttl = Annotated[
    int,
    _must(
        "must be a whole number of seconds from 30 to 1,209,600 (14 days)",
        ge=TTL_RANGE[0],
        le=TTL_RANGE[1],
        description="Seconds Viber keeps trying to deliver (seed 002); 14 days when left out",
    ),
]
Text = Annotated[
    str,
    _must(
        f"must not be empty, and at most {TEXT_MAX} characters",
        max_length=TEXT_MAX,
        pattern=r"\S",
        description=f"At most {PICTURE_TEXT_MAX} characters with a picture (its description)",
    ),
]
Caption = Annotated[
    str,
    _must(
        f"must be a non-empty string of at most {BUTTON_CAPTION_MAX} characters",
        max_length=BUTTON_CAPTION_MAX,
        pattern=r"\S",
    ),
]
FileName = Annotated[
    str,
    _must(
        f"must be a non-empty, bare file name (no / or \\, no control characters) of at most {FILE_NAME_MAX} characters",
        max_length=FILE_NAME_MAX,
        pattern=r"^(?=.*\S)[^/\\\x00-\x1f]+$",
    ),
]
Paddings = Annotated[
    list[int],
    _must("must be a list of 4 non-negative integers: [top, left, bottom, right]", min_length=4, max_length=4),
]


def _extension(name: str) -> str:
    """Lower-cased extension of a file name ("" when it has none)."""
    return posixpath.splitext(name)[1].lower()


def _url_file_name(url: str) -> str:
    """The last segment of the URL's path, percent-decoded ("" when there is none)."""
    return posixpath.basename(unquote(urlsplit(url).path))


def _not_http(**urls: str | None) -> list[FieldError]:
    """The URLs (by JSON name) that is_http_url refuses: a bad port or host the pattern lets through."""
    return [FieldError(name, URL_ERROR) for name, url in urls.items() if url and not is_http_url(url)]


def _is_action(url: str) -> bool:
    """Where a button may lead: an http(s) URL or one of Viber's URL schemes, at most URL_MAX long."""
    return len(url) <= URL_MAX and (is_http_url(url) or bool(_VIBER.fullmatch(url)))


# --------------------------------------------------------------------------
# Button, file, video
# --------------------------------------------------------------------------


class ViberButton(msgspec.Struct, omit_defaults=True):
    """A URL button under the text (seed 002); the adapter sends it as a one-button open-url keyboard."""

    caption: Caption
    action: ActionUrl

    def problems(self) -> list[FieldError]:
        return [] if _is_action(self.action) else [FieldError("action", ACTION_ERROR)]


class ViberFile(msgspec.Struct, rename="camel", omit_defaults=True):
    """A document or spreadsheet of seed 002's formats, sent alone; without a fileName, its name comes
    from the URL (seed 002)."""

    media_url: Url
    file_name: FileName | None = None
    size: _size(FILE_SIZE_MAX, "file") | None = None

    def problems(self) -> list[FieldError]:
        formats = "; supported formats: " + " ".join(FILE_EXTENSIONS)
        if errors := _not_http(mediaUrl=self.media_url):
            return errors
        if self.file_name is not None:
            ok = _extension(self.file_name) in FILE_EXTENSIONS
            return [] if ok else [FieldError("fileName", "must end in a supported extension" + formats)]
        # Seed 002: "if it is not possible (e.g., it does not contain any sane filename), then the
        # filename is required".
        name = _url_file_name(self.media_url)
        if not _extension(name):
            return [FieldError("fileName", "is required: the URL has no file name with an extension to take it from")]
        if len(name) > FILE_NAME_MAX:
            message = f"is required: the file name in the URL is longer than {FILE_NAME_MAX} characters ({len(name)})"
            return [FieldError("fileName", message)]
        if _extension(name) not in FILE_EXTENSIONS:
            return [FieldError("mediaUrl", "must point to a file of a supported format" + formats)]
        return []


class ViberVideo(msgspec.Struct, rename="camel", omit_defaults=True):
    """An MP4 video, sent alone (REST bot API video message)."""

    media_url: Url
    size: _size(VIDEO_SIZE_MAX, "video")
    duration: _between(1, VIDEO_DURATION_MAX, "a whole number of seconds") | None = None
    thumbnail: Url | None = None

    def problems(self) -> list[FieldError]:
        errors = _not_http(mediaUrl=self.media_url, thumbnail=self.thumbnail)
        if not errors and _extension(_url_file_name(self.media_url)) not in VIDEO_EXTENSIONS:
            message = "must point to an MP4 video whose URL path ends in .mp4 (Viber requires the extension)"
            errors.append(FieldError("mediaUrl", message))
        return errors


# --------------------------------------------------------------------------
# Keyboards (Viber's own PascalCase object, https://developers.viber.com/docs/tools/keyboards/)
# --------------------------------------------------------------------------

ScaleType = Literal["crop", "fill", "fit"]


class ViberInternalBrowser(msgspec.Struct, rename="pascal", omit_defaults=True):
    """How an open-url button's page opens inside Viber."""

    action_button: Literal["forward", "send", "open-externally", "send-to-bot", "none"] | None = None
    action_predefined_url: Url | None = msgspec.field(default=None, name="ActionPredefinedURL")
    title_type: Literal["domain", "default"] | None = None
    custom_title: _at_most(15) | None = None
    mode: Literal["fullscreen", "fullscreen-portrait", "fullscreen-landscape", "partial-size"] | None = None
    footer_type: Literal["default", "hidden"] | None = None
    action_reply_data: str | None = None

    def problems(self) -> list[FieldError]:
        return _not_http(ActionPredefinedURL=self.action_predefined_url)


class ViberMap(msgspec.Struct, rename="pascal", omit_defaults=True):
    """Where a location-picker button's map starts."""

    latitude: Annotated[float, _must("must be a number from -90 to 90", ge=-90, le=90)] | None = None
    longitude: Annotated[float, _must("must be a number from -180 to 180", ge=-180, le=180)] | None = None


class ViberFrame(msgspec.Struct, rename="pascal", omit_defaults=True):
    """A button's border."""

    border_width: _between(0, 10) | None = None
    border_color: Color | None = None
    corner_radius: _between(0, 10) | None = None


class ViberMediaPlayer(msgspec.Struct, rename="pascal", omit_defaults=True):
    """What the media player shows for a button's media."""

    title: str | None = None
    subtitle: str | None = None
    thumbnail_url: Url | None = msgspec.field(default=None, name="ThumbnailURL")
    loop: bool | None = None

    def problems(self) -> list[FieldError]:
        return _not_http(ThumbnailURL=self.thumbnail_url)


class ViberKeyboardButton(msgspec.Struct, rename="pascal", omit_defaults=True):
    """A keyboard button: its ActionBody is the reply, or the URL of an open-url button. Rows 1-2 in
    keyboards (1-7 is rich media's); TextSize "medium" and TextHAlign "middle" are in Viber's own
    examples if not in its lists."""

    action_body: NotBlank
    columns: _between(1, 6) | None = None
    rows: _between(1, 2) | None = None
    bg_color: Color | None = None
    silent: bool | None = None
    bg_media_type: Literal["picture", "gif"] | None = None
    bg_media: Url | None = None
    bg_media_scale_type: ScaleType | None = None
    image_scale_type: ScaleType | None = None
    bg_loop: bool | None = None
    action_type: Literal["reply", "open-url", "location-picker", "share-phone", "none"] | None = None
    image: Url | None = None
    text: _at_most(250) | None = None  # keyboards docs: "Max 250 characters"
    text_size: Literal["small", "regular", "medium", "large"] | None = None
    text_v_align: Literal["top", "middle", "bottom"] | None = None
    text_h_align: Literal["left", "center", "middle", "right"] | None = None
    text_paddings: Paddings | None = None
    text_opacity: _between(0, 100) | None = None
    open_url_type: Literal["internal", "external"] | None = msgspec.field(default=None, name="OpenURLType")
    open_url_media_type: Literal["not-media", "video", "gif", "picture"] | None = msgspec.field(
        default=None, name="OpenURLMediaType"
    )
    text_bg_gradient_color: Color | None = None
    text_should_fit: bool | None = None
    internal_browser: ViberInternalBrowser | None = None
    map: ViberMap | None = None
    frame: ViberFrame | None = None
    media_player: ViberMediaPlayer | None = None

    def problems(self) -> list[FieldError]:
        errors = _not_http(BgMedia=self.bg_media, Image=self.image)
        if self.text_paddings is not None and min(self.text_paddings) < 0:
            errors.append(FieldError("TextPaddings", "must be a list of 4 non-negative integers"))
        # Keyboards docs: "Each button must contain at least one of ... Text, BgMedia, Image, BgColor".
        if all(value is None for value in (self.text, self.bg_media, self.image, self.bg_color)):
            errors.append(
                FieldError(
                    "", "must have at least one of Text, BgMedia, Image, BgColor (Viber can't draw it otherwise)"
                )
            )
        if self.action_type == "open-url" and not _is_action(self.action_body):
            errors.append(
                FieldError(
                    "ActionBody", "must be an absolute http(s) URL or a viber:// URL scheme for an open-url button"
                )
            )
        return errors


class ViberFavorite(msgspec.Struct, rename="camel", omit_defaults=True):
    """What the keyboard hands to the user's favorites extension (Viber's keyboards docs, "Favorites
    metadata"; its keys are camelCase, unlike the keyboard's)."""

    type: Literal["gif", "link", "video"]
    url: Annotated[str, _must(URL_ERROR, max_length=URL_MAX)]
    title: str | None = None
    thumbnail: str | None = None
    domain: str | None = None
    width: Annotated[int, msgspec.Meta(ge=1)] | None = None
    height: Annotated[int, msgspec.Meta(ge=1)] | None = None
    alternative_url: str | None = None
    alternative_text: str | None = None

    def problems(self) -> list[FieldError]:
        return _not_http(url=self.url)


class ViberKeyboard(msgspec.Struct, rename="pascal", omit_defaults=True):
    """A custom keyboard, sent with the message or on its own (seed 002; Viber's keyboards docs)."""

    buttons: Annotated[list[ViberKeyboardButton], _must("must be a non-empty list of button objects", min_length=1)]
    type: Literal["keyboard"] | None = None
    bg_color: Color | None = None
    default_height: bool | None = None
    custom_default_height: _between(40, 70) | None = None
    height_scale: _between(20, 100) | None = None
    buttons_group_columns: _between(1, 6) | None = None
    buttons_group_rows: _between(1, 7) | None = None
    input_field_state: Literal["regular", "minimized", "hidden"] | None = None
    favorites_metadata: ViberFavorite | None = None

    def problems(self) -> list[FieldError]:
        columns = self.buttons_group_columns or 6
        message = f"must be at most the keyboard's ButtonsGroupColumns ({columns})"
        return [
            FieldError(f"Buttons[{index}].Columns", message)
            for index, button in enumerate(self.buttons)
            if (button.columns or 0) > columns
        ]


# --------------------------------------------------------------------------
# The message types
# --------------------------------------------------------------------------

# The content parts of a block: the JSON field that carries each, and its name in messages.
_PART_FIELDS = {"text": "text", "picture": "mediaUrl", "video": "video", "file": "file", "button": "button"}
_PART_NAMES = {**_PART_FIELDS, "picture": "mediaUrl (a picture)"}


class _ViberMessage(msgspec.Struct, rename="camel", omit_defaults=True, tag_field="type"):
    """What every Viber message type may hold; ``carries`` is what its category allows (seed 002)."""

    carries: ClassVar[tuple[str, ...]] = ("text", "picture", "video", "file", "button")
    # Sent to a phone number through the Viber Business Messages upstream (channels.viber.business), whose
    # limits are stricter than the bot API's.
    business: ClassVar[bool] = False

    ttl: Ttl | None = None
    text: Text | None = None
    media_url: PictureUrl | None = None
    button: ViberButton | None = None
    file: ViberFile | None = None
    video: ViberVideo | None = None
    keyboard: ViberKeyboard | None = None

    def parts(self) -> list[str]:
        """The content parts the block carries (seed 002's ``"mediaUrl": ""`` is no picture)."""
        values = (self.text, self.media_url, self.video, self.file, self.button)
        return [part for part, value in zip(_PART_FIELDS, values, strict=True) if value not in (None, "")]

    def problems(self) -> list[FieldError]:
        parts = self.parts()
        errors = _layout_problems(parts, self.keyboard is not None) + self._category_problems(parts)
        if self.business:
            errors += self._business_problems()
        if "picture" in parts:
            errors += _picture_problems(self.media_url or "", self.text or "")
        if (size := len(msgspec.json.encode(self))) > BLOCK_JSON_MAX:
            message = f"is too large: {size} bytes of JSON; Viber takes at most {REQUEST_JSON_MAX} bytes per request"
            errors.append(FieldError("", f"{message}, so the block may use {BLOCK_JSON_MAX}"))
        return errors

    def _category_problems(self, parts: list[str]) -> list[FieldError]:
        category = self.__struct_config__.tag
        allowed = ", ".join(_PART_NAMES[part] for part in self.carries)
        message = f"is not allowed in a {category} message; {category} messages may carry only {allowed}"
        return [FieldError(_PART_FIELDS[part], message) for part in parts if part not in self.carries]

    def _business_problems(self) -> list[FieldError]:
        """Infobip's Viber Business Messages API: text at most 1000 characters, a picture .jpg, .jpeg or .png, a
        video with its duration and thumbnail, no keyboard (a bot API feature)."""
        category = self.__struct_config__.tag
        errors = []
        if self.keyboard is not None:
            message = f"is not allowed in a {category} message: business messages have no keyboard (bot messages do)"
            errors.append(FieldError("keyboard", message))
        if self.text is not None and len(self.text) > BUSINESS_TEXT_MAX:
            message = f"must be at most {BUSINESS_TEXT_MAX} characters in a {category} message (got {len(self.text)})"
            errors.append(FieldError("text", message))
        if self.media_url and _extension(_url_file_name(self.media_url)) == ".gif":
            errors.append(FieldError("mediaUrl", f"must be a JPEG or PNG image in a {category} message (no GIF)"))
        if self.video is not None and "video" in self.carries:
            errors += [
                FieldError(f"video.{key}", f"is required in a {category} message (the business API shows it)")
                for key, value in (("duration", self.video.duration), ("thumbnail", self.video.thumbnail))
                if value is None
            ]
        return errors


def _layout_problems(parts: list[str], has_keyboard: bool) -> list[FieldError]:
    """The layouts Viber sends: one medium at most, a file or a video alone, a button under a text."""
    if not parts and not has_keyboard:
        return [FieldError("", "must contain a message: text, mediaUrl, file, video or keyboard")]
    errors = _alone_problems(parts)
    media = [_PART_FIELDS[part] for part in parts if part in ("picture", "video", "file")]
    if len(media) > 1:
        errors.append(FieldError("", f"can carry only one of mediaUrl, video and file; got {', '.join(media)}"))
    if "button" in parts and "text" not in parts:
        message = "needs a text: Viber shows a button only under a text (text + button or text + picture + button)"
        errors.append(FieldError("button", message))
    return errors


def _alone_problems(parts: list[str]) -> list[FieldError]:
    """A file or a video is a message of its own (REST bot API): no text or button goes with it."""
    return [
        FieldError(other, f"can't be sent with a {alone}: a Viber {alone} message carries only the {alone}")
        for alone in ("video", "file")
        if alone in parts
        for other in ("text", "button")
        if other in parts
    ]


def _picture_problems(url: str, text: str) -> list[FieldError]:
    if errors := _not_http(mediaUrl=url):
        return errors
    if _extension(_url_file_name(url)) not in PICTURE_EXTENSIONS:
        message = f"must point to a JPEG, PNG or GIF image whose URL path ends in {' or '.join(PICTURE_EXTENSIONS)}"
        errors.append(FieldError("mediaUrl", message + " (Viber requires the extension)"))
    if len(text) > PICTURE_TEXT_MAX:
        message = (
            f"must be at most {PICTURE_TEXT_MAX} characters with a picture (Viber's limit for a picture description)"
        )
        errors.append(FieldError("text", f"{message} (got {len(text)})"))
    return errors


class ViberSession(_ViberMessage, tag="session"):
    """A message in a session the user opened (seed 002, Viber pricing): text, a picture, a video or a
    file, no button."""

    carries: ClassVar[tuple[str, ...]] = ("text", "picture", "video", "file")


class ViberPromotional(_ViberMessage, tag="promotional"):
    """A promotional business message (seed 002) to a phone number: text, a picture, a URL button, a video or a
    file."""

    business: ClassVar[bool] = True


class ViberTransactional(_ViberMessage, tag="transactional"):
    """A transactional business message (seed 002: "may contain text": reminders, notifications, alerts) to a
    phone number: text only."""

    carries: ClassVar[tuple[str, ...]] = ("text",)
    business: ClassVar[bool] = True


class ViberRegular(_ViberMessage, tag="regular"):
    """A plain bot message (seed 002's pricing example): anything Viber sends."""


# The block: one message type per Viber category, told apart by ``type`` (in any case).
BLOCK = ViberSession | ViberPromotional | ViberTransactional | ViberRegular

# One complete block per message type, from seed 002's Viber requests.
# The limits of a block, for the README (gateway docs: a (field, limit) row each).
LIMITS = (
    (
        "type",
        "session or regular (bot messages, to a Viber user id), promotional or transactional (business messages, "
        "to a phone number); any case; transactional carries text only, session no button",
    ),
    (
        "text",
        f"1-{TEXT_MAX} characters ({BUSINESS_TEXT_MAX} in business messages); at most {PICTURE_TEXT_MAX} with a picture",
    ),
    (
        "mediaUrl",
        f"a picture ({', '.join(PICTURE_EXTENSIONS)}; no .gif in business messages) by http(s) URL of at most "
        f"{URL_MAX} characters",
    ),
    (
        "video",
        f".mp4, at most {VIDEO_SIZE_MAX // 2**20} MB and {VIDEO_DURATION_MAX} s; a business video needs duration and thumbnail",
    ),
    ("keyboard", "bot messages only (session, regular)"),
    (
        "file",
        f"at most {FILE_SIZE_MAX // 2**20} MB, a name of at most {FILE_NAME_MAX} characters, a document or "
        "spreadsheet extension (.pdf, .docx, .xlsx, .csv...)",
    ),
    ("button", f"a caption of at most {BUTTON_CAPTION_MAX} characters and an action URL"),
    ("ttl", f"{TTL_RANGE[0]}-{TTL_RANGE[1]} seconds (14 days, the default)"),
    ("(whole block)", f"at most {BLOCK_JSON_MAX // 1024} kB of JSON (Viber's request limit, less the envelope)"),
)

EXAMPLES: dict[str, dict[str, Any]] = {
    "ViberSession": {
        "type": "session",
        "file": {  # seed 002's file, with the size Viber requires (its REST API: "size", in bytes)
            "mediaUrl": "https://file-examples-com.github.io/uploads/2017/10/file-sample_150kB.pdf",
            "fileName": "sample_150kB.pdf",
            "size": 142786,
        },
    },
    "ViberPicture": {  # seed 002
        "type": "promotional",
        "mediaUrl": "https://www.gstatic.com/webp/gallery3/1.png",
        "text": "Hi, how can I help you today?",
        "button": {"caption": "QR Scan", "action": "viber://other/scan"},
    },
    "ViberVideo": {
        "type": "session",
        "video": {"mediaUrl": "https://example.com/v/clip.mp4", "size": 1048576, "duration": 30},
    },
    "ViberKeyboard": {  # a keyboard under a text, as the REST bot API's keyboards documentation shows one
        "type": "regular",
        "text": "Would you like to subscribe?",
        "keyboard": {
            "Type": "keyboard",
            "Buttons": [
                {"Columns": 3, "Rows": 1, "ActionType": "reply", "ActionBody": "yes", "Text": "Yes"},
                {"Columns": 3, "Rows": 1, "ActionType": "reply", "ActionBody": "no", "Text": "No"},
            ],
        },
    },
    "ViberPromotional": {
        "type": "promotional",
        "ttl": 90,
        "text": "Hi, how can I help you today?",
        "button": {"caption": "Scan!", "action": "viber://more/qr"},
    },
    "ViberTransactional": {"type": "transactional", "text": "Hi, how can I help you today?"},
    "ViberRegular": {"type": "regular", "text": "Hi, how can I help you today?", "mediaUrl": ""},
}


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with the block, named by paths relative to it ("" is the block); [] when valid."""
    return decode(block, BLOCK).errors


def content_kind(block: dict[str, Any]) -> str:
    """The Viber REST message type a valid block is sent as: "file", "video", "picture" (a mediaUrl,
    its text the description), "text", or "keyboard" for a keyboard on its own. A button and a
    keyboard ride along and don't change it. Raises ValueError for a block validate_block refuses."""
    value = decode(block, BLOCK).value
    if value is None:
        raise ValueError("content_kind() needs a valid viber block; validate it first")
    parts = value.parts()
    return next((kind for kind in ("file", "video", "picture", "text") if kind in parts), "keyboard")
