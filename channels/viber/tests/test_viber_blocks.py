"""Tests for channels.viber.blocks (the viber block of a send request, seed 002 + Viber REST bot API)."""

from __future__ import annotations

import copy
import random
import typing

import msgspec
import pytest

from channels.viber.blocks import (
    BLOCK,
    BLOCK_JSON_MAX,
    EXAMPLES,
    FILE_EXTENSIONS,
    FILE_SIZE_MAX,
    PICTURE_TEXT_MAX,
    TEXT_MAX,
    VIDEO_SIZE_MAX,
    content_kind,
    validate_block,
)
from wire.errors import FieldError
from wire.shapes import decode

# The request examples of seed 002's Viber section (blocks only).
SEED_TEXT = {"type": "transactional", "text": "Hi, how can I help you today?"}
SEED_PICTURE = {"type": "promotional", "mediaUrl": "https://www.gstatic.com/webp/gallery3/1.png"}
SEED_TEXT_BUTTON = {
    "type": "promotional",
    "ttl": 90,
    "text": "Hi, how can I help you today?",
    "button": {"caption": "Scan!", "action": "viber://more/qr"},
}
SEED_PICTURE_TEXT_BUTTON = {
    "type": "promotional",
    "mediaUrl": "https://www.gstatic.com/webp/gallery3/1.png",
    "text": "Hi, how can I help you today?",
    "button": {"caption": "QR Scan", "action": "viber://other/scan"},
}
SEED_FILE = {
    "type": "promotional",
    "file": {
        "mediaUrl": "https://file-examples-com.github.io/uploads/2017/10/file-sample_150kB.pdf",
        "fileName": "sample_150kB.pdf",
    },
}
SEED_REGULAR = {"type": "regular", "text": "Hi, how can I help you today?", "mediaUrl": ""}

SEED_BLOCKS = [
    (SEED_TEXT, "text"),
    (SEED_PICTURE, "picture"),
    (SEED_TEXT_BUTTON, "text"),
    (SEED_PICTURE_TEXT_BUTTON, "picture"),
    (SEED_FILE, "file"),
    (SEED_REGULAR, "text"),
]

VIDEO = {"type": "session", "video": {"mediaUrl": "https://example.com/v/clip.mp4", "size": 1_048_576}}
KEYBOARD = {
    "Type": "keyboard",
    "DefaultHeight": False,
    "BgColor": "#FFFFFF",
    "Buttons": [
        {
            "Columns": 6,
            "Rows": 1,
            "BgColor": "#2db9b9",
            "BgMediaType": "gif",
            "BgMedia": "https://example.com/bg.gif",
            "BgLoop": True,
            "ActionType": "open-url",
            "ActionBody": "https://www.viber.com/",
            "Image": "https://example.com/img.jpg",
            "Text": "<font color=#FFFFFF><b>Click to Subscribe</b></font>",
            "TextVAlign": "middle",
            "TextHAlign": "center",
            "TextOpacity": 60,
            "TextSize": "regular",
        },
        {"Columns": 3, "Rows": 2, "ActionType": "reply", "ActionBody": "yes", "Text": "Yes"},
        {"Columns": 3, "ActionBody": "no", "Text": "No", "Silent": True},
    ],
}


def describe(errs: list[FieldError]) -> str:
    return "\n".join(f"  {e.field!r}: {e.message}" for e in errs) or "  (no errors)"


def check(block) -> list[FieldError]:
    errs = validate_block(block)
    assert isinstance(errs, list)
    assert all(isinstance(e, FieldError) for e in errs)
    return errs


def assert_error(errs: list[FieldError], field: str, fragment: str) -> None:
    assert any(e.field == field and fragment in e.message for e in errs), (
        f"expected an error on {field!r} containing {fragment!r}; got:\n{describe(errs)}"
    )


def ignored(block) -> list[str]:
    """The fields of a valid block that decoding ignored (issue 16: unknown fields are not errors)."""
    decoded = decode(block, BLOCK)
    assert decoded.errors == [], describe(decoded.errors)
    return decoded.ignored


def stored(block) -> dict:
    """The block as the gateway stores it: the decoded value, back as a dict."""
    return msgspec.to_builtins(decode(block, BLOCK).value)


def assert_only_error(errs: list[FieldError], field: str, fragment: str) -> None:
    assert len(errs) == 1, f"expected exactly one error on {field!r}; got:\n{describe(errs)}"
    assert_error(errs, field, fragment)


def with_(base: dict, **changes) -> dict:
    block = copy.deepcopy(base)
    block.update(changes)
    return block


def keyboard_block(keyboard: dict, **changes) -> dict:
    return with_({"type": "session", "text": "Pick one", "keyboard": keyboard}, **changes)


def keyboard_button(**fields) -> dict:
    return {"ActionBody": "ok", "Text": "OK", **fields}


# --------------------------------------------------------------------------
# Valid blocks
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("block", "kind"), SEED_BLOCKS)
def test_seed_examples_are_valid_and_map_to_their_message_type(block, kind):
    original = copy.deepcopy(block)
    assert check(block) == []
    assert content_kind(block) == kind
    assert block == original  # not mutated


@pytest.mark.parametrize(
    "block",
    [block for block, _ in SEED_BLOCKS] + [VIDEO, {"type": "session", "text": "Pick one", "keyboard": KEYBOARD}],
)
def test_the_stored_block_is_the_clients(block):
    # The gateway stores the decoded block as a dict: the adapter reads what the client wrote.
    assert stored(block) == block
    assert content_kind(stored(block)) == content_kind(block)


@pytest.mark.parametrize("mtype", ["session", "promotional", "transactional", "regular"])
def test_text_is_valid_for_every_type(mtype):
    assert check(with_(SEED_TEXT, type=mtype)) == []


def test_text_and_picture_without_button_is_a_picture_with_description():
    block = {"type": "session", "text": "Look", "mediaUrl": "https://example.com/a.JPG"}
    assert check(block) == []
    assert content_kind(block) == "picture"


def test_video_block_is_valid():
    block = copy.deepcopy(VIDEO)
    block["video"].update(duration=180, thumbnail="https://example.com/v/thumb.jpg")
    assert check(block) == []
    assert content_kind(block) == "video"


def test_keyboard_with_a_message_and_on_its_own():
    assert check(keyboard_block(KEYBOARD)) == []
    assert content_kind(keyboard_block(KEYBOARD)) == "text"
    alone = {"type": "session", "keyboard": copy.deepcopy(KEYBOARD)}
    assert check(alone) == []
    assert content_kind(alone) == "keyboard"


def test_keyboard_may_ride_with_a_file():
    assert check(with_(SEED_FILE, type="session", keyboard=copy.deepcopy(KEYBOARD))) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/report.PDF",
        "https://example.com/sheets/budget%202024.xlsx",
        "https://example.com/a.csv?sig=abc",
    ],
)
def test_file_name_may_come_from_the_url(url):
    assert check({"type": "session", "file": {"mediaUrl": url}}) == []


@pytest.mark.parametrize("ext", FILE_EXTENSIONS)
def test_every_file_format_of_the_seed_is_accepted(ext):
    block = {"type": "session", "file": {"mediaUrl": "https://example.com/f", "fileName": "doc" + ext.upper()}}
    assert check(block) == []


@pytest.mark.parametrize("ttl", [30, 60, 1_209_600])
def test_ttl_bounds_are_valid(ttl):
    assert check(with_(SEED_TEXT, ttl=ttl)) == []


@pytest.mark.parametrize(
    "action",
    ["https://example.com/offer?id=1", "http://example.com", "viber://more/qr", "viber://pa?chatURI=mybot"],
)
def test_button_actions(action):
    assert check(with_(SEED_TEXT_BUTTON, button={"caption": "Go", "action": action})) == []


def test_boundary_lengths_are_accepted():
    assert check(with_(SEED_TEXT, type="regular", text="t" * TEXT_MAX)) == []
    assert check(with_(SEED_PICTURE, text="t" * PICTURE_TEXT_MAX)) == []
    assert check(with_(SEED_TEXT_BUTTON, button={"caption": "c" * 30, "action": "viber://more/qr"})) == []
    assert check({"type": "session", "file": {"mediaUrl": "https://e.com/f", "fileName": "n" * 21 + ".pdf"}}) == []


# --------------------------------------------------------------------------
# The block as a whole
# --------------------------------------------------------------------------


@pytest.mark.parametrize("block", [None, [], "text", 3, True, [SEED_TEXT]])
def test_block_that_is_not_an_object(block):
    assert_only_error(check(block), "", "must be an object")


def test_block_without_content():
    assert_only_error(check({"type": "session"}), "", "must contain a message: text, mediaUrl, file, video or keyboard")
    assert_only_error(check({"type": "regular", "mediaUrl": ""}), "", "must contain a message")


def test_unknown_top_level_field_is_ignored():
    block = with_(SEED_TEXT, media="https://e.com/a.png")
    assert ignored(block) == ["media"]
    assert stored(block) == SEED_TEXT


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_is_valid(name):
    assert check(EXAMPLES[name]) == []
    assert stored(EXAMPLES[name]) == EXAMPLES[name]


def test_every_message_type_has_an_example_of_its_own_name():
    for shape in typing.get_args(BLOCK):
        assert type(decode(EXAMPLES[shape.__name__], BLOCK).value) is shape


def test_names_and_enums_match_in_any_case_and_are_stored_as_declared():
    block = {
        "Type": "Regular",
        "TEXT": "Hi",
        "mediaurl": "https://e.com/a.png",
        "keyboard": {"buttons": [{"actionBody": "x", "text": "y", "OpenUrlType": "INTERNAL", "TextHAlign": "Center"}]},
    }
    assert check(block) == []
    assert stored(block) == {
        "type": "regular",
        "text": "Hi",
        "mediaUrl": "https://e.com/a.png",
        "keyboard": {"Buttons": [{"ActionBody": "x", "Text": "y", "OpenURLType": "internal", "TextHAlign": "center"}]},
    }


@pytest.mark.parametrize("key", ["ttl", "mediaUrl", "button", "file", "video", "keyboard"])
def test_null_is_an_absent_field(key):
    block = with_(SEED_TEXT, **{key: None})
    assert check(block) == []
    assert stored(block) == SEED_TEXT


def test_null_or_empty_content_is_no_content():
    assert_only_error(check(with_(SEED_TEXT, text=None)), "", "must contain a message")
    assert_only_error(check({"type": "session", "file": {}, "video": {}, "keyboard": {}}), "", "must contain a message")


def test_type_is_required():
    block = with_(SEED_TEXT)
    del block["type"]
    assert_only_error(check(block), "type", "must be one of session, promotional, transactional, regular")


@pytest.mark.parametrize("mtype", ["marketing", "", 1, ["session"]])
def test_type_must_be_known(mtype):
    assert_only_error(check(with_(SEED_TEXT, type=mtype)), "type", "must be one of session, promotional")


@pytest.mark.parametrize("mtype", ["Promotional", "SESSION", "Transactional", "REGULAR"])
def test_type_in_any_case(mtype):
    block = with_(SEED_TEXT, type=mtype)
    assert check(block) == []
    assert stored(block)["type"] == mtype.lower()


@pytest.mark.parametrize("ttl", [29, 0, -5, 1_209_601])
def test_ttl_range(ttl):
    assert_only_error(check(with_(SEED_TEXT, ttl=ttl)), "ttl", "must be a whole number of seconds from 30 to 1,209,600")


@pytest.mark.parametrize("ttl", [90.0, "90", True])
def test_ttl_is_a_whole_number(ttl):
    assert_only_error(check(with_(SEED_TEXT, ttl=ttl)), "ttl", "must be a whole number")


def test_block_json_size_limit():
    keyboard = {"Buttons": [keyboard_button(Text="x" * 250, ActionBody="y" * 400) for _ in range(60)]}
    assert_only_error(check(keyboard_block(keyboard)), "", f"so the block may use {BLOCK_JSON_MAX}")


# --------------------------------------------------------------------------
# Layouts and types
# --------------------------------------------------------------------------


def test_transactional_carries_text_only():
    errs = check(with_(SEED_PICTURE_TEXT_BUTTON, type="transactional"))
    assert sorted(e.field for e in errs) == ["button", "mediaUrl"]
    assert_error(
        errs, "mediaUrl", "is not allowed in a transactional message; transactional messages may carry only text"
    )
    assert_error(errs, "button", "is not allowed in a transactional message")


def test_session_has_no_button():
    assert_only_error(
        check(with_(SEED_TEXT_BUTTON, type="session")),
        "button",
        "is not allowed in a session message; session messages may carry only text, mediaUrl (a picture), video, file",
    )


@pytest.mark.parametrize("block", [SEED_FILE, VIDEO])
def test_transactional_has_no_file_or_video(block):
    errs = check(with_(block, type="transactional"))
    assert len(errs) == 1 and errs[0].field in ("file", "video")
    assert "is not allowed in a transactional message" in errs[0].message


def test_button_needs_text():
    block = with_(SEED_PICTURE, button={"caption": "Go", "action": "https://e.com"})
    assert_only_error(check(block), "button", "needs a text")


def test_only_one_media():
    block = with_(SEED_PICTURE, file=copy.deepcopy(SEED_FILE["file"]))
    assert_only_error(check(block), "", "only one of mediaUrl, video and file; got mediaUrl, file")
    block = with_(VIDEO, file=copy.deepcopy(SEED_FILE["file"]))
    assert_only_error(check(block), "", "got video, file")


@pytest.mark.parametrize("base", [SEED_FILE, VIDEO])
def test_file_and_video_carry_nothing_else(base):
    alone = "file" if "file" in base else "video"
    errs = check(with_(base, type="regular", text="hello", button={"caption": "Go", "action": "https://e.com"}))
    assert sorted(e.field for e in errs) == ["button", "text"]
    assert_error(errs, "text", f"can't be sent with a {alone}")
    assert_error(errs, "button", f"can't be sent with a {alone}")


# --------------------------------------------------------------------------
# Text and picture
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text", [5, ["hi"], {"message": "hi"}])
def test_text_must_be_a_string(text):
    assert_only_error(check(with_(SEED_TEXT, text=text)), "text", "must be a string")


@pytest.mark.parametrize("text", ["", "  \n"])
def test_text_must_not_be_empty(text):
    assert_only_error(check(with_(SEED_TEXT, text=text)), "text", "must not be empty")


def test_text_length_limit():
    assert_only_error(check(with_(SEED_TEXT, text="t" * (TEXT_MAX + 1))), "text", "at most 7000 characters")


def test_text_with_a_picture_is_a_description_of_at_most_768():
    assert_only_error(
        check(with_(SEED_PICTURE_TEXT_BUTTON, text="t" * (PICTURE_TEXT_MAX + 1))),
        "text",
        "at most 768 characters with a picture",
    )


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a.png", "www.example.com/a.png", "/a.png", "https://e.com/a b.png", "http://e.com:99999/a.png"],
)
def test_media_url_must_be_absolute_http(url):
    assert_only_error(check(with_(SEED_PICTURE, mediaUrl=url)), "mediaUrl", "must be an absolute http(s) URL")


def test_media_url_must_be_a_string():
    assert_only_error(check(with_(SEED_PICTURE, mediaUrl=7)), "mediaUrl", "must be a string")


@pytest.mark.parametrize(
    "url",
    [
        "https://e.com/a.webp",
        "https://e.com/a.bmp",
        "https://e.com/image?id=1",
        "https://e.com/a.png/",
        "https://e.com/",
    ],
)
def test_picture_must_be_jpeg_png_or_gif(url):
    assert_only_error(
        check(with_(SEED_PICTURE, mediaUrl=url)),
        "mediaUrl",
        "must point to a JPEG, PNG or GIF image whose URL path ends in",
    )


def test_media_url_length_limit():
    url = "https://e.com/" + "a" * 2000 + ".png"
    assert_only_error(check(with_(SEED_PICTURE, mediaUrl=url)), "mediaUrl", "at most 2000 characters")


# --------------------------------------------------------------------------
# Button
# --------------------------------------------------------------------------


@pytest.mark.parametrize("button", ["https://e.com", ["Go", "https://e.com"]])
def test_button_must_be_an_object(button):
    assert_only_error(check(with_(SEED_TEXT_BUTTON, button=button)), "button", "must be an object")


@pytest.mark.parametrize("key", ["caption", "action"])
def test_button_fields_are_required(key):
    button = dict(SEED_TEXT_BUTTON["button"])
    del button[key]
    assert_only_error(check(with_(SEED_TEXT_BUTTON, button=button)), f"button.{key}", "is required")


@pytest.mark.parametrize(
    ("caption", "fragment"),
    [("c" * 31, "at most 30 characters"), ("", "non-empty"), (" ", "non-empty"), (3, "must be a string")],
)
def test_button_caption(caption, fragment):
    block = with_(SEED_TEXT_BUTTON, button={"caption": caption, "action": "viber://more/qr"})
    assert_only_error(check(block), "button.caption", fragment)


@pytest.mark.parametrize(
    "action", ["javascript:alert(1)", "viber://", "mailto:a@b.c", "example.com", "viber://more qr", "http://e.com:0x/"]
)
def test_button_action_must_be_a_url(action):
    block = with_(SEED_TEXT_BUTTON, button={"caption": "Go", "action": action})
    assert_only_error(check(block), "button.action", "must be an absolute http(s) URL or a viber:// URL scheme")


def test_button_action_must_be_a_string():
    block = with_(SEED_TEXT_BUTTON, button={"caption": "Go", "action": 5})
    assert_only_error(check(block), "button.action", "must be a string")


def test_button_action_length_limit():
    block = with_(SEED_TEXT_BUTTON, button={"caption": "Go", "action": "https://e.com/" + "a" * 2000})
    assert_only_error(check(block), "button.action", "at most 2000 characters")


def test_unknown_button_field_is_ignored():
    block = with_(SEED_TEXT_BUTTON, button={"caption": "Go", "action": "https://e.com", "url": "https://e.com"})
    assert ignored(block) == ["button.url"]
    assert stored(block)["button"] == {"caption": "Go", "action": "https://e.com"}


# --------------------------------------------------------------------------
# File
# --------------------------------------------------------------------------


def file_block(**file) -> dict:
    return {"type": "session", "file": file}


@pytest.mark.parametrize("file", ["https://e.com/a.pdf", []])
def test_file_must_be_an_object(file):
    assert_only_error(check({"type": "session", "file": file}), "file", "must be an object")


def test_file_media_url_is_required():
    assert_only_error(check(file_block(fileName="a.pdf")), "file.mediaUrl", "is required")


def test_file_media_url_must_be_absolute_http():
    for url in ("file:///etc/passwd", "http://e.com:99999/a.pdf", "https://[::1/a.pdf"):
        assert_only_error(check(file_block(mediaUrl=url)), "file.mediaUrl", "absolute http(s) URL")


def test_file_name_length_limit():
    errs = check(file_block(mediaUrl="https://e.com/a.pdf", fileName="n" * 22 + ".pdf"))
    assert_only_error(errs, "file.fileName", "at most 25 characters")


@pytest.mark.parametrize("name", ["setup.exe", "photo.png", "archive.zip", "README", "slides.pptx"])
def test_file_name_extension_must_be_supported(name):
    errs = check(file_block(mediaUrl="https://e.com/a.pdf", fileName=name))
    assert_only_error(errs, "file.fileName", "must end in a supported extension; supported formats: .doc .docx")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "non-empty"),
        ("  ", "non-empty"),
        (5, "must be a string"),
        ("a/b.pdf", "bare file name"),
        ("a\\b.pdf", "bare file name"),
        ("a\nb.pdf", "bare file name"),
    ],
)
def test_file_name_shape(name, fragment):
    assert_only_error(check(file_block(mediaUrl="https://e.com/a.pdf", fileName=name)), "file.fileName", fragment)


def test_file_name_is_required_when_the_url_has_none():
    for url in ("https://e.com/download?id=7", "https://e.com/", "https://e.com/files/report"):
        assert_only_error(check(file_block(mediaUrl=url)), "file.fileName", "is required: the URL has no file name")
    # Given explicitly, it is enough.
    assert check(file_block(mediaUrl="https://e.com/download?id=7", fileName="report.pdf")) == []


def test_file_name_is_required_when_the_url_name_is_too_long():
    url = "https://e.com/" + "n" * 30 + ".pdf"
    assert_only_error(check(file_block(mediaUrl=url)), "file.fileName", "longer than 25 characters (34)")


def test_file_format_from_the_url_must_be_supported():
    assert_only_error(
        check(file_block(mediaUrl="https://e.com/tool.exe")),
        "file.mediaUrl",
        "must point to a file of a supported format",
    )


def test_file_size():
    assert check(file_block(mediaUrl="https://e.com/a.pdf", size=FILE_SIZE_MAX)) == []
    assert_only_error(
        check(file_block(mediaUrl="https://e.com/a.pdf", size=FILE_SIZE_MAX + 1)),
        "file.size",
        "at most 52428800 bytes (50 MB)",
    )
    for size in (0, -1):
        assert_only_error(check(file_block(mediaUrl="https://e.com/a.pdf", size=size)), "file.size", "positive integer")
    for size in ("10", 1.5, True):
        assert_only_error(check(file_block(mediaUrl="https://e.com/a.pdf", size=size)), "file.size", "a whole number")


def test_unknown_file_field_is_ignored():
    assert ignored(file_block(mediaUrl="https://e.com/a.pdf", caption="x")) == ["file.caption"]


# --------------------------------------------------------------------------
# Video
# --------------------------------------------------------------------------


def video_block(**changes) -> dict:
    block = copy.deepcopy(VIDEO)
    block["video"].update(changes)
    return block


def test_video_must_be_an_object():
    assert_only_error(check({"type": "session", "video": "https://e.com/a.mp4"}), "video", "must be an object")


def test_video_media_url_is_required_and_mp4():
    block = video_block()
    del block["video"]["mediaUrl"]
    assert_only_error(check(block), "video.mediaUrl", "is required")
    assert_only_error(
        check(video_block(mediaUrl="https://e.com/a.mov")), "video.mediaUrl", "must point to an MP4 video"
    )


def test_video_size_is_required_and_limited():
    block = video_block()
    del block["video"]["size"]
    assert_only_error(check(block), "video.size", "is required")
    assert check(video_block(size=VIDEO_SIZE_MAX)) == []
    assert_only_error(check(video_block(size=VIDEO_SIZE_MAX + 1)), "video.size", "at most 27262976 bytes (26 MB)")


@pytest.mark.parametrize("duration", [0, 181, -1])
def test_video_duration(duration):
    assert_only_error(check(video_block(duration=duration)), "video.duration", "from 1 to 180")


@pytest.mark.parametrize("duration", [10.5, "10", False])
def test_video_duration_is_a_whole_number(duration):
    assert_only_error(check(video_block(duration=duration)), "video.duration", "must be a whole number")


def test_video_thumbnail_must_be_a_url():
    assert_only_error(check(video_block(thumbnail="thumb.jpg")), "video.thumbnail", "absolute http(s) URL")


def test_unknown_video_field_is_ignored():
    assert ignored(video_block(text="x")) == ["video.text"]


# --------------------------------------------------------------------------
# Keyboard
# --------------------------------------------------------------------------


@pytest.mark.parametrize("keyboard", [[], "keyboard", 1])
def test_keyboard_must_be_an_object(keyboard):
    assert_only_error(check(keyboard_block(keyboard)), "keyboard", "must be an object")


def test_keyboard_buttons_are_required():
    assert_only_error(check(keyboard_block({"Type": "keyboard"})), "keyboard.Buttons", "is required")
    assert_only_error(check(keyboard_block({"Buttons": []})), "keyboard.Buttons", "non-empty list")
    for buttons in ({}, "x"):
        assert_only_error(check(keyboard_block({"Buttons": buttons})), "keyboard.Buttons", "must be a list")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("Type", "rich_media", "must be one of keyboard"),
        ("BgColor", "white", "hex color"),
        ("BgColor", "#FFF", "hex color"),
        ("DefaultHeight", "true", "true or false"),
        ("CustomDefaultHeight", 39, "from 40 to 70"),
        ("CustomDefaultHeight", 71, "from 40 to 70"),
        ("HeightScale", 19, "from 20 to 100"),
        ("ButtonsGroupColumns", 7, "from 1 to 6"),
        ("ButtonsGroupRows", 0, "from 1 to 7"),
        ("InputFieldState", "shown", "regular, minimized, hidden"),
        ("FavoritesMetadata", [], "object"),
    ],
)
def test_keyboard_parameters(key, value, fragment):
    keyboard = {**copy.deepcopy(KEYBOARD), key: value}
    assert_only_error(check(keyboard_block(keyboard)), f"keyboard.{key}", fragment)


def test_unknown_keyboard_parameter_is_ignored():
    assert ignored(keyboard_block({**copy.deepcopy(KEYBOARD), "Colour": "#FFFFFF"})) == ["keyboard.Colour"]


def test_a_keyboard_parameter_given_twice_in_two_cases():
    keyboard = {**copy.deepcopy(KEYBOARD), "buttons": []}
    assert_only_error(check(keyboard_block(keyboard)), "keyboard.buttons", "repeats Buttons")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("Columns", 0, "from 1 to 6"),
        ("Columns", 7, "from 1 to 6"),
        ("Rows", 3, "from 1 to 2"),
        ("Rows", "1", "must be a whole number"),
        ("Silent", 1, "true or false"),
        ("BgMediaType", "video", "picture, gif"),
        ("BgMedia", "bg.gif", "absolute http(s) URL"),
        ("Image", "www.example.com/img.jpg", "absolute http(s) URL"),
        ("ActionType", "open-map", "reply, open-url, location-picker, share-phone, none"),
        ("Text", "t" * 251, "at most 250 characters"),
        ("Text", 5, "must be a string"),
        ("TextSize", "huge", "small, regular, medium, large"),
        ("TextVAlign", "center", "top, middle, bottom"),
        ("TextHAlign", "justify", "left, center, middle, right"),
        ("TextPaddings", [12, 12, 12], "4 non-negative integers"),
        ("TextPaddings", [12, 12, 12, -1], "4 non-negative integers"),
        ("TextOpacity", 101, "from 0 to 100"),
        ("OpenURLType", "popup", "internal, external"),
        ("OpenURLMediaType", "audio", "not-media, video, gif, picture"),
        ("TextBgGradientColor", "#12345", "hex color"),
        ("TextShouldFit", "no", "true or false"),
        ("InternalBrowser", "yes", "must be an object"),
    ],
)
def test_keyboard_button_parameters(key, value, fragment):
    keyboard = {"Buttons": [keyboard_button(**{key: value})]}
    assert_only_error(check(keyboard_block(keyboard)), f"keyboard.Buttons[0].{key}", fragment)


@pytest.mark.parametrize(
    ("obj", "inner", "fragment"),
    [
        ("InternalBrowser", {"CustomTitle": "t" * 16}, "at most 15 characters"),
        ("InternalBrowser", {"Mode": "window"}, "fullscreen, fullscreen-portrait"),
        ("InternalBrowser", {"ActionPredefinedURL": "x"}, "absolute http(s) URL"),
        ("Map", {"Latitude": 91}, "from -90 to 90"),
        ("Map", {"Longitude": 180.5}, "from -180 to 180"),
        ("Map", {"Longitude": "1"}, "must be a number"),
        ("Frame", {"BorderWidth": 11}, "from 0 to 10"),
        ("Frame", {"BorderColor": "red"}, "hex color"),
        ("MediaPlayer", {"Loop": "yes"}, "true or false"),
        ("MediaPlayer", {"ThumbnailURL": "https://e.com:99999/t.jpg"}, "absolute http(s) URL"),
    ],
)
def test_keyboard_button_nested_objects(obj, inner, fragment):
    keyboard = {"Buttons": [keyboard_button(**{obj: inner})]}
    field = f"keyboard.Buttons[0].{obj}.{next(iter(inner))}"
    assert_only_error(check(keyboard_block(keyboard)), field, fragment)


def test_unknown_nested_keyboard_field_is_ignored():
    keyboard = {"Buttons": [keyboard_button(MediaPlayer={"Autoplay": True})]}
    assert ignored(keyboard_block(keyboard)) == ["keyboard.Buttons[0].MediaPlayer.Autoplay"]


def test_keyboard_button_nested_objects_valid():
    button = keyboard_button(
        ActionType="open-url",
        ActionBody="https://example.com",
        InternalBrowser={"Mode": "partial-size", "CustomTitle": "Shop", "ActionButton": "send-to-bot"},
        Frame={"BorderWidth": 2, "BorderColor": "#000000", "CornerRadius": 4},
        MediaPlayer={"Title": "Song", "ThumbnailURL": "https://e.com/t.jpg", "Loop": False},
        Map={"Latitude": 46.1, "Longitude": 19.66},
        TextPaddings=[12, 12, 12, 12],
    )
    assert check(keyboard_block({"Buttons": [button]})) == []


def test_keyboard_button_must_be_an_object():
    assert_only_error(check(keyboard_block({"Buttons": ["Yes"]})), "keyboard.Buttons[0]", "must be an object")


def test_keyboard_button_action_body_is_required():
    errs = check(keyboard_block({"Buttons": [{"Text": "Yes"}]}))
    assert_only_error(errs, "keyboard.Buttons[0].ActionBody", "is required")
    errs = check(keyboard_block({"Buttons": [{"Text": "Yes", "ActionBody": " "}]}))
    assert_only_error(errs, "keyboard.Buttons[0].ActionBody", "must not be empty")
    errs = check(keyboard_block({"Buttons": [{"Text": "Yes", "ActionBody": 1}]}))
    assert_only_error(errs, "keyboard.Buttons[0].ActionBody", "must be a string")


def test_open_url_button_needs_a_url():
    button = keyboard_button(ActionType="open-url", ActionBody="www.tut.by")
    assert_only_error(
        check(keyboard_block({"Buttons": [button]})),
        "keyboard.Buttons[0].ActionBody",
        "absolute http(s) URL or a viber://",
    )
    button = keyboard_button(ActionType="open-url", ActionBody="viber://chats")
    assert check(keyboard_block({"Buttons": [button]})) == []


def test_keyboard_button_must_show_something():
    errs = check(keyboard_block({"Buttons": [{"ActionBody": "x", "Columns": 2}]}))
    assert_only_error(errs, "keyboard.Buttons[0]", "must have at least one of Text, BgMedia, Image, BgColor")


def test_keyboard_button_columns_fit_the_group():
    keyboard = {"ButtonsGroupColumns": 3, "Buttons": [keyboard_button(Columns=4)]}
    assert_only_error(
        check(keyboard_block(keyboard)), "keyboard.Buttons[0].Columns", "at most the keyboard's ButtonsGroupColumns (3)"
    )


def test_keyboard_errors_name_the_button():
    keyboard = {"Buttons": [keyboard_button(), keyboard_button(), keyboard_button(Rows=5)]}
    assert_only_error(check(keyboard_block(keyboard)), "keyboard.Buttons[2].Rows", "from 1 to 2")


# --------------------------------------------------------------------------
# All problems at once, robustness, content_kind
# --------------------------------------------------------------------------


def test_every_problem_is_reported_at_once():
    block = {
        "type": "promotional",
        "ttl": 5,
        "text": "t" * 8000,
        "button": {"caption": "c" * 40, "action": "nope"},
        "extra": True,
    }
    fields = sorted(e.field for e in check(block))
    assert fields == ["button.action", "button.caption", "text", "ttl"]
    # The rules of a part whose own fields are right run beside the field errors of the others.
    block = {
        "type": "promotional",
        "ttl": 5,
        "text": "hi",
        "button": {"caption": "", "action": "https://e.com"},
        "keyboard": {"ButtonsGroupColumns": 2, "Buttons": [keyboard_button(), keyboard_button(Columns=3)]},
    }
    fields = sorted(e.field for e in check(block))
    assert fields == ["button.caption", "keyboard.Buttons[1].Columns", "ttl"]


def test_an_unknown_type_hides_the_rest():
    # The type picks the shape the rest is read against; without one, only the type is named.
    assert_only_error(check({"type": "Promo", "ttl": 5}), "type", "must be one of")


@pytest.mark.parametrize(
    "block",
    [
        {1: 2},
        {None: 1, "type": None},
        {"type": {}, "text": [], "mediaUrl": {}, "button": [], "file": 1, "video": "x", "keyboard": []},
        {"type": "session", "file": {"mediaUrl": {"a": 1}, "fileName": ["x"], "size": {}}},
        {"type": "session", "file": {"mediaUrl": "https://[::1"}},
        {"type": "session", "file": {"mediaUrl": "http://e.com:99999/a.pdf"}},
        {"type": "session", "video": {"mediaUrl": None, "size": 10**400, "duration": [], "thumbnail": 1}},
        {"type": "session", "keyboard": {"Buttons": [{"ActionType": [], "ActionBody": "x", "Columns": 10**400}]}},
        {"type": "session", "keyboard": {"Buttons": [None, 1, [], {"InternalBrowser": {"Mode": []}}]}},
        {"type": "session", "keyboard": {"ButtonsGroupColumns": "6", "Buttons": [{"Map": {"Latitude": float("nan")}}]}},
        {"type": "session", "text": "x", "ttl": float("inf")},
    ],
)
def test_garbage_never_raises(block):
    assert check(block)  # every one of these is invalid


def test_a_key_that_is_not_a_string_is_ignored():
    block = {
        "type": "session",
        "text": "x",
        "keyboard": {"Buttons": [{"Text": "a", "ActionBody": "b", "Frame": {1: 2}}]},
    }
    assert ignored(block) == ["keyboard.Buttons[0].Frame.1"]


def test_unencodable_block_never_raises():
    # Not JSON at all (a request body never holds these), still no exception.
    assert check({"type": "session", "text": "x", "button": {"caption": "a", "action": object()}})


def test_random_garbage_never_raises():
    rng = random.Random(2002)
    atoms = [None, True, 0, -1, 1.5, float("nan"), "", "x", "session", "https://e.com/a.pdf", "viber://x", [], {}]
    keys = ["type", "ttl", "text", "mediaUrl", "button", "file", "video", "keyboard", "caption", "action"]
    keys += ["fileName", "size", "duration", "thumbnail", "Buttons", "ActionBody", "ActionType", "Columns", "Map"]

    def build(depth: int):
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(atoms + keys)
        if rng.random() < 0.2:
            return [build(depth - 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): build(depth - 1) for _ in range(rng.randint(0, 4))}

    for _ in range(2000):
        check(build(4))


def test_content_kind_refuses_an_invalid_block():
    with pytest.raises(ValueError, match="valid viber block"):
        content_kind({"type": "session"})
    with pytest.raises(ValueError):
        content_kind(with_(SEED_TEXT_BUTTON, type="transactional"))


def test_keyboard_favorites_metadata_is_typed():
    good = keyboard_block(
        {**KEYBOARD, "FavoritesMetadata": {"type": "link", "url": "https://www.viber.com/", "width": 480}}
    )
    assert check(good) == []
    for metadata, field in (
        ({"type": "audio", "url": "https://www.viber.com/"}, "keyboard.FavoritesMetadata.type"),
        ({"type": "link", "url": "www.viber.com"}, "keyboard.FavoritesMetadata.url"),
    ):
        assert [e.field for e in check(keyboard_block({**KEYBOARD, "FavoritesMetadata": metadata}))] == [field]


def test_business_messages_keep_to_the_business_apis_limits():
    # Promotional and transactional messages go through the Viber Business Messages upstream: no keyboard,
    # text at most 1000 characters, a video with its duration and thumbnail.
    errs = check(with_(SEED_TEXT, keyboard=copy.deepcopy(KEYBOARD)))
    assert_only_error(errs, "keyboard", "is not allowed in a transactional message: business messages have no keyboard")
    assert_only_error(check(with_(SEED_TEXT, text="t" * 1001)), "text", "must be at most 1000 characters")
    assert check(with_(SEED_TEXT, text="t" * 1000)) == []
    errs = check(with_(VIDEO, type="promotional"))
    assert sorted(e.field for e in errs) == ["video.duration", "video.thumbnail"]
    video = {**VIDEO["video"], "duration": 30, "thumbnail": "https://example.com/v/clip.jpg"}
    assert check({"type": "promotional", "video": video}) == []
    gif = {"type": "promotional", "mediaUrl": "https://e.com/a.gif"}
    assert_only_error(check(gif), "mediaUrl", "must be a JPEG or PNG image in a promotional message")
    assert check({**gif, "type": "regular"}) == []
