"""Tests for channels.telegram.blocks (the telegram block of a send request, seed 002 + Bot API)."""

from __future__ import annotations

import copy
import random

import msgspec
import pytest

from channels.telegram.blocks import (
    BLOCK,
    CAPTION_MAX,
    EXAMPLES,
    TEXT_MAX,
    TelegramText,
    content_kind,
    validate_block,
    visible_text,
)
from wire.errors import FieldError
from wire.shapes import decode

# The request examples of seed 002's Telegram section (blocks only; the seed's PDF line breaks
# inside URLs joined).
SEED_TEXT = {"silent": True, "text": {"parseMode": "Html", "message": "Hi, how can I help you today?"}}
SEED_URL = {"text": {"noPreview": True, "message": "https://github.com/TelegramBots/Telegram.Bot"}}
SEED_PHOTO = {
    "photo": {
        "url": "https://file-examples-com.github.io/uploads/2017/10/file_example_JPG_100kB.jpg",
        "caption": "Example media (photo)",
    }
}
SEED_DOCUMENT = {
    "document": {
        "url": "https://file-examples-com.github.io/uploads/2017/10/file-sample_150kB.pdf",
        "caption": "Sample pdf document",
    }
}
SEED_VIDEO = {
    "video": {
        "url": "https://file-examples-com.github.io/uploads/2018/04/file_example_OGG_480_1_7mg.ogg",
        "caption": "Example video",
    }
}
SEED_VOICE = {
    "voice": {
        "url": "https://file-examples-com.github.io/uploads/2017/11/file_example_MP3_700KB.mp3",
        "caption": "Example voice file",
    }
}
SEED_LOCATION = {"location": {"latitude": 46.100231, "longitude": 19.664058}}

SEED_BLOCKS = [
    (SEED_TEXT, "sendMessage"),
    (SEED_URL, "sendMessage"),
    (SEED_PHOTO, "sendPhoto"),
    (SEED_DOCUMENT, "sendDocument"),
    (SEED_VIDEO, "sendVideo"),
    (SEED_VOICE, "sendVoice"),
    (SEED_LOCATION, "sendLocation"),
]


def describe(errs: list[FieldError]) -> str:
    return "\n".join(f"  {e.field!r}: {e.message}" for e in errs) or "  (no errors)"


def check(block) -> list[FieldError]:
    errs = validate_block(block)
    assert isinstance(errs, list)
    assert all(isinstance(e, FieldError) for e in errs)
    return errs


def accepted(block) -> list[str]:
    """The fields of a block the shape accepts that it ignored."""
    decoded = decode(block, BLOCK)
    assert decoded.errors == [], describe(decoded.errors)
    return decoded.ignored


def stored(block) -> dict:
    """The block as the gateway stores it once decoded."""
    return msgspec.to_builtins(decode(block, BLOCK).value)


def assert_only_error(errs: list[FieldError], field: str, fragment: str) -> None:
    assert len(errs) == 1, f"expected exactly one error on {field!r}; got:\n{describe(errs)}"
    assert errs[0].field == field and fragment in errs[0].message, (
        f"expected an error on {field!r} containing {fragment!r}; got:\n{describe(errs)}"
    )


def text_block(message, **extra) -> dict:
    return {"text": {"message": message, **extra}}


def media_block(kind: str, **fields) -> dict:
    return {kind: {"url": "https://example.com/files/sample.pdf", **fields}}


# --------------------------------------------------------------------------
# Valid blocks
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("block", "method"), SEED_BLOCKS)
def test_seed_examples_are_valid_and_map_to_their_method(block, method):
    original = copy.deepcopy(block)
    assert check(block) == []
    assert content_kind(block) == method
    assert block == original  # not mutated
    assert stored(block) == block  # stored as the client wrote it


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_is_a_seed_block_of_its_message_type(name):
    block = EXAMPLES[name]
    assert (block, content_kind(block)) in SEED_BLOCKS
    assert accepted(block) == []
    content = getattr(decode(block, BLOCK).value, next(iter(block.keys() - {"silent"})))
    assert type(content).__name__ == name


@pytest.mark.parametrize("mode", ["Default", "Markdown", "Html", "MarkdownV2"])
def test_every_parse_mode_of_the_seed_is_accepted(mode):
    assert check(text_block("plain words", parseMode=mode)) == []
    assert check(media_block("photo", caption="plain words", parseMode=mode)) == []


def test_silent_false_and_no_preview_false_are_accepted():
    assert check({"silent": False, "text": {"message": "hi", "noPreview": False}}) == []


def test_media_without_caption_is_valid():
    for kind in ("photo", "video", "voice", "document"):
        assert check(media_block(kind)) == []


def test_empty_caption_is_valid():
    assert check(media_block("photo", caption="")) == []


@pytest.mark.parametrize("lat, lon", [(-90, -180), (90, 180), (0, 0), (-89.999999, 179.5)])
def test_location_boundaries_are_valid(lat, lon):
    assert check({"location": {"latitude": lat, "longitude": lon}}) == []


# --------------------------------------------------------------------------
# The block as a whole
# --------------------------------------------------------------------------


@pytest.mark.parametrize("block", [None, [], "text", 3, 2.5, True, ["text"]])
def test_block_that_is_not_an_object(block):
    assert_only_error(check(block), "", "must be an object")


def test_block_without_content():
    assert_only_error(check({}), "", "must contain one content: text, photo, document, video, voice, location")
    assert_only_error(check({"silent": True}), "", "must contain one content")


def test_two_contents_are_refused():
    block = {**text_block("hi"), **SEED_PHOTO}
    assert_only_error(check(block), "", "exactly one content per message; got text, photo")


def test_unknown_top_level_field_is_ignored():
    # Issue 16: unknown fields are ignored (as the real service's JSON binding does) and listed.
    block = {**SEED_TEXT, "parseMode": "Html"}
    assert accepted(block) == ["parseMode"]
    assert stored(block) == SEED_TEXT


def test_field_names_match_in_any_case():
    block = {"Silent": True, "TEXT": {"Message": "hi", "parsemode": "html", "NoPreview": True}}
    assert accepted(block) == []
    assert stored(block) == {"silent": True, "text": {"message": "hi", "parseMode": "Html", "noPreview": True}}
    assert content_kind(block) == "sendMessage"


def test_null_fields_are_absent():
    block = {"silent": None, "text": {"message": "hi", "parseMode": None, "noPreview": None}, "photo": None}
    assert accepted(block) == []
    assert stored(block) == {"text": {"message": "hi"}}


def test_empty_object_for_a_content_is_absent():
    assert accepted({"text": {"message": "hi"}, "photo": {}}) == []
    assert_only_error(check({"text": {}}), "", "must contain one content")


def test_silent_must_be_boolean():
    assert_only_error(check({**SEED_TEXT, "silent": "yes"}), "silent", "must be true or false")
    assert_only_error(check({**SEED_TEXT, "silent": 1}), "silent", "must be true or false")


# --------------------------------------------------------------------------
# Text messages
# --------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["hello", ["hello"], 5])
def test_text_must_be_an_object(text):
    assert_only_error(check({"text": text}), "text", "must be an object")


def test_text_message_is_required():
    assert_only_error(check({"text": {"parseMode": "Html"}}), "text.message", "is required")


def test_text_message_must_be_a_string():
    assert_only_error(check(text_block(42)), "text.message", "must be a string")


@pytest.mark.parametrize("message", ["", "   ", "\n\t "])
def test_text_message_must_not_be_empty(message):
    assert_only_error(check(text_block(message)), "text.message", "must not be empty")


def test_text_message_length_limit():
    assert check(text_block("a" * TEXT_MAX)) == []
    assert_only_error(check(text_block("a" * (TEXT_MAX + 1))), "text.message", "at most 4096 characters (got 4097)")


def test_text_length_counts_characters_not_utf16_units():
    assert check(text_block("😀" * TEXT_MAX)) == []
    assert_only_error(check(text_block("😀" * (TEXT_MAX + 1))), "text.message", "(got 4097)")


def test_text_length_is_counted_after_html_parsing():
    message = "<b>" + "a" * TEXT_MAX + "</b>"
    assert check(text_block(message, parseMode="Html")) == []
    # Without a parse mode the tags are text and count.
    assert_only_error(check(text_block(message)), "text.message", "(got 4103)")
    too_long = "<i>" + "a" * (TEXT_MAX + 1) + "</i>"
    assert_only_error(
        check(text_block(too_long, parseMode="Html")), "text.message", "at most 4096 characters after Html parsing"
    )


def test_html_entities_count_as_one_character():
    assert check(text_block("&amp;" * TEXT_MAX, parseMode="Html")) == []


def test_text_length_is_counted_after_markdown_v2_parsing():
    message = "\\." * TEXT_MAX  # each escaped dot shows as one character
    assert check(text_block(message, parseMode="MarkdownV2")) == []
    assert_only_error(
        check(text_block("\\." * (TEXT_MAX + 1), parseMode="MarkdownV2")),
        "text.message",
        "after MarkdownV2 parsing (got 4097)",
    )


def test_markup_only_text_is_empty():
    assert_only_error(check(text_block("<b> </b>", parseMode="Html")), "text.message", "must not be empty after Html")


def test_no_preview_must_be_boolean():
    assert_only_error(check(text_block("hi", noPreview="true")), "text.noPreview", "must be true or false")


def test_unknown_field_in_text_is_ignored():
    assert accepted(text_block("hi", caption="x")) == ["text.caption"]


# --------------------------------------------------------------------------
# Parse modes and markup
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "declared"), [("HTML", "Html"), ("html", "Html"), ("markdownv2", "MarkdownV2"), ("DEFAULT", "Default")]
)
def test_parse_mode_in_any_case_is_stored_as_the_seed_spells_it(mode, declared):
    # Issue 16: Telegram takes parse_mode in any case, so the gateway does too.
    block = text_block("*hi*", parseMode=mode)
    assert accepted(block) == []
    text = decode(block, BLOCK).value.text
    assert isinstance(text, TelegramText) and text.parse_mode == declared
    assert stored(block)["text"].get("parseMode", "Default") == declared


def test_parse_mode_in_any_case_parses_the_markup():
    assert_only_error(check(text_block("<div>x</div>", parseMode="HTML")), "text.message", "is not valid Html")


def test_null_parse_mode_is_default():
    assert accepted(text_block("<div> 5.00", parseMode=None)) == []


@pytest.mark.parametrize("mode", ["Plain", "", 1, ["Html"], {"a": 1}])
def test_parse_mode_must_be_one_of_the_seeds(mode):
    assert_only_error(check(text_block("hi", parseMode=mode)), "text.parseMode", "must be one of Default, Markdown")


def test_parse_mode_applies_to_captions():
    assert_only_error(
        check(media_block("photo", caption="hi", parseMode="HTM")), "photo.parseMode", "must be one of Default"
    )
    assert_only_error(
        check(media_block("photo", caption="<p>", parseMode="HTML")), "photo.caption", "is not valid Html"
    )


def test_markdown_v2_reserved_character_must_be_escaped():
    assert_only_error(
        check(text_block("Total: 5.00", parseMode="MarkdownV2")),
        "text.message",
        "is not valid MarkdownV2: character '.' is reserved and must be escaped",
    )


def test_markdown_v2_unclosed_entity():
    assert_only_error(
        check(text_block("*bold", parseMode="MarkdownV2")),
        "text.message",
        "can't find the end of the bold (*) entity opened at character 1",
    )


def test_markdown_v2_full_syntax_of_the_bot_api_is_accepted():
    message = (
        "*bold \\*text*\n_italic \\*text_\n__underline__\n~strikethrough~\n||spoiler||\n"
        "*bold _italic bold ~italic bold strikethrough ||italic bold strikethrough spoiler||~ "
        "__underline italic bold___ bold*\n[inline URL](http://www.example.com/)\n"
        "[inline mention of a user](tg://user?id=123456789)\n![👍](tg://emoji?id=5368324170671202286)\n"
        "`inline fixed-width code`\n```\npre-formatted fixed-width code block\n```\n"
        "```python\npre-formatted fixed-width code block written in the Python programming language\n```\n"
        ">Block quotation started\n>Block quotation continued\n>The last line of the block quotation\n"
        "**>The expandable block quotation started\n>Expandable block quotation continued\n"
        ">The last line of the expandable block quotation with the expandability mark||"
    )
    assert check(text_block(message, parseMode="MarkdownV2")) == []


def test_markdown_v2_visible_text():
    assert visible_text("*Hi* \\- [site](https://x\\.y/a\\)b) `a.b`", "MarkdownV2") == ("Hi - site a.b", None)


def test_legacy_markdown_unclosed_entity():
    assert_only_error(
        check(text_block("my_file name", parseMode="Markdown")),
        "text.message",
        "is not valid Markdown: can't find the end of the entity opened by '_' at character 3",
    )


def test_legacy_markdown_escapes_and_links():
    assert visible_text("\\_x\\_ *b* [t](https://e.com)", "Markdown") == ("_x_ b t", None)
    assert check(text_block("\\_x\\_ *b* [t](https://e.com)", parseMode="Markdown")) == []


def test_html_unsupported_tag():
    assert_only_error(
        check(text_block("<div>hi</div>", parseMode="Html")),
        "text.message",
        "is not valid Html: unsupported tag <div> at character 1",
    )


def test_html_bare_less_than_sign():
    assert_only_error(check(text_block("1 < 2", parseMode="Html")), "text.message", "write a literal < as &lt;")
    assert check(text_block("1 &lt; 2", parseMode="Html")) == []


def test_html_unmatched_and_unclosed_tags():
    assert_only_error(check(text_block("<b>x</i>", parseMode="Html")), "text.message", "expected </b>, found </i>")
    assert_only_error(check(text_block("<b>x", parseMode="Html")), "text.message", "can't find the end tag for <b>")
    assert_only_error(check(text_block("x</b>", parseMode="Html")), "text.message", "unexpected end tag </b>")


def test_html_full_syntax_of_the_bot_api_is_accepted():
    message = (
        "<b>bold</b>, <strong>bold</strong> <i>italic</i>, <em>italic</em> <u>u</u>, <ins>u</ins> "
        '<s>s</s>, <strike>s</strike>, <del>s</del> <span class="tg-spoiler">sp</span> '
        '<tg-spoiler>sp</tg-spoiler> <a href="http://www.example.com/?a=1&amp;b=2">URL</a> '
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji> <code>c</code> '
        '<pre><code class="language-python">p</code></pre> <blockquote expandable>q</blockquote> '
        "<B>upper-case tags</B> &quot;&#39;&#x1F600;"
    )
    assert check(text_block(message, parseMode="Html")) == []
    assert visible_text("<b>a</b> &lt;&#33;&#x21;&unknown;", "Html") == ("a <!!&unknown;", None)


def test_markup_is_plain_text_without_a_parse_mode():
    assert check(text_block("<div> 5.00 *x")) == []
    assert check(text_block("<div> 5.00 *x", parseMode="Default")) == []


# --------------------------------------------------------------------------
# Media
# --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["photo", "document", "video", "voice"])
@pytest.mark.parametrize("media", ["https://example.com/a.pdf", [], 1])
def test_media_must_be_an_object(kind, media):
    assert_only_error(check({kind: media}), kind, "must be an object")


@pytest.mark.parametrize("kind", ["photo", "document", "video", "voice"])
def test_media_url_is_required(kind):
    assert_only_error(check({kind: {"caption": "x"}}), f"{kind}.url", "is required")


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/a.pdf", "/files/a.pdf", "example.com/a.pdf", "https:///a.pdf", "https://e.com/a b.pdf"],
)
def test_media_url_must_be_absolute_http(url):
    assert_only_error(check({"photo": {"url": url}}), "photo.url", "must be an absolute http(s) URL")


def test_media_url_must_be_a_string():
    assert_only_error(check({"photo": {"url": 7}}), "photo.url", "must be a string")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.pdf",
        "https://example.com/a.PDF",
        "http://example.com/dir/anim.gif",
        "https://example.com/archive.Zip?token=1#frag",
        "https://example.com/my%20file.pdf",
    ],
)
def test_document_extensions_that_telegram_sends_by_url(url):
    assert check({"document": {"url": url}}) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/a.docx",
        "https://example.com/a",
        "https://example.com/download?file=a.pdf",
        "https://example.com/a.pdf/",
        "https://example.com/a.pdf.exe",
    ],
)
def test_document_extension_must_be_gif_pdf_or_zip(url):
    assert_only_error(check({"document": {"url": url}}), "document.url", "must point to a .gif, .pdf, .zip file")


def test_only_documents_are_limited_by_extension():
    for kind in ("photo", "video", "voice"):
        assert check({kind: {"url": "https://example.com/render?id=7"}}) == []


@pytest.mark.parametrize("kind", ["photo", "document", "video", "voice"])
def test_caption_length_limit(kind):
    assert check(media_block(kind, caption="c" * CAPTION_MAX)) == []
    assert_only_error(
        check(media_block(kind, caption="c" * (CAPTION_MAX + 1))),
        f"{kind}.caption",
        "the caption must be at most 1024 characters (got 1025)",
    )


def test_caption_length_is_counted_after_parsing():
    caption = "<b>" + "c" * CAPTION_MAX + "</b>"
    assert check(media_block("photo", caption=caption, parseMode="Html")) == []
    assert_only_error(check(media_block("photo", caption=caption)), "photo.caption", "(got 1031)")


def test_caption_markup_is_checked():
    assert_only_error(
        check(media_block("video", caption="v1.0", parseMode="MarkdownV2")),
        "video.caption",
        "is not valid MarkdownV2: character '.' is reserved",
    )


def test_caption_must_be_a_string():
    assert_only_error(check(media_block("photo", caption=["x"])), "photo.caption", "must be a string")


def test_unknown_field_in_media_is_ignored():
    assert accepted(media_block("photo", noPreview=True)) == ["photo.noPreview"]


@pytest.mark.parametrize("kind", ["document", "video"])
def test_thumb_is_ignored_as_telegram_ignores_it(kind):
    # Seed 002: Telegram accepts "thumb" but ignores it; the gateway names it among the ignored fields.
    block = media_block(kind, thumb="https://example.com/t.jpg")
    assert accepted(block) == [f"{kind}.thumb"]
    assert "thumb" not in stored(block)[kind]


# --------------------------------------------------------------------------
# Location
# --------------------------------------------------------------------------


@pytest.mark.parametrize("location", [[46.1, 19.6], "46.1,19.6"])
def test_location_must_be_an_object(location):
    assert_only_error(check({"location": location}), "location", "must be an object")


@pytest.mark.parametrize("key", ["latitude", "longitude"])
def test_location_coordinates_are_required(key):
    location = dict(SEED_LOCATION["location"])
    del location[key]
    assert_only_error(check({"location": location}), f"location.{key}", "is required")


@pytest.mark.parametrize(
    ("key", "value", "fragment"),
    [
        ("latitude", 90.000001, "from -90 to 90"),
        ("latitude", -91, "from -90 to 90"),
        ("longitude", 180.5, "from -180 to 180"),
        ("longitude", -181, "from -180 to 180"),
        ("latitude", "46.1", "must be a number"),
        ("longitude", True, "must be a number"),
        ("latitude", float("nan"), "must be a number"),
        ("longitude", float("inf"), "must be a number"),
        ("latitude", [1], "must be a number"),
    ],
)
def test_location_coordinate_ranges(key, value, fragment):
    location = {**SEED_LOCATION["location"], key: value}
    assert_only_error(check({"location": location}), f"location.{key}", fragment)


def test_location_caption_is_ignored():
    location = {**SEED_LOCATION["location"], "caption": "here"}
    assert accepted({"location": location}) == ["location.caption"]


@pytest.mark.parametrize("kind", ["text", "photo", "document", "video", "voice", "location"])
def test_null_content_is_absent(kind):
    assert_only_error(check({kind: None}), "", "must contain one content")
    assert accepted({kind: None, **SEED_TEXT}) == []


# --------------------------------------------------------------------------
# All problems at once, robustness, content_kind
# --------------------------------------------------------------------------


def test_every_problem_is_reported_at_once():
    block = {
        "silent": "no",
        "extra": 1,
        "document": {"url": "https://example.com/a.exe", "caption": "c" * 2000, "parseMode": "HTML", "x": 1},
    }
    fields = sorted(e.field for e in check(block))
    assert fields == ["document.caption", "document.url", "silent"]  # parseMode "HTML" is Html now
    assert sorted(decode(block, BLOCK).ignored) == ["document.x", "extra"]


@pytest.mark.parametrize(
    "block",
    [
        {1: 2},
        {None: "x", "text": {}},
        {"text": {"message": None, "parseMode": {}, "noPreview": []}},
        {"text": {("tuple",): 1}},
        {"photo": {"url": {"nested": True}, "caption": 5, "parseMode": ["Html"]}},
        {"location": {"latitude": None, "longitude": {}}},
        {"location": {"latitude": 10**400, "longitude": -(10**400)}},
        {"text": {"message": "<" * 1000 + "&#xFFFFFFFF;&#0;", "parseMode": "Html"}},
        {"text": {"message": "[" * 500 + "`" * 7 + "\\", "parseMode": "MarkdownV2"}},
        {"text": {"message": "```" + "_" * 100, "parseMode": "Markdown"}},
        {"document": {"url": "https://[::1"}},
        {"document": {"url": "http://example.com:99999/a.pdf"}},
    ],
)
def test_garbage_never_raises(block):
    errs = check(block)
    assert errs  # every one of these is invalid


def test_random_garbage_never_raises():
    rng = random.Random(2002)
    atoms = [None, True, 0, -1, 1.5, float("nan"), "", "x", "<b>", "*", "\\", "https://e.com/a.pdf", [], {}]
    keys = ["text", "photo", "document", "video", "voice", "location", "silent", "message", "url", "caption"]
    keys += ["parseMode", "noPreview", "latitude", "longitude", "Html", "MarkdownV2", "Markdown"]

    def build(depth: int):
        if depth == 0 or rng.random() < 0.3:
            return rng.choice(atoms + keys)
        if rng.random() < 0.2:
            return [build(depth - 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(keys): build(depth - 1) for _ in range(rng.randint(0, 4))}

    for _ in range(2000):
        check(build(4))


def test_content_kind_refuses_an_invalid_block():
    with pytest.raises(ValueError, match="valid telegram block"):
        content_kind({"text": {"message": ""}})
    with pytest.raises(ValueError):
        content_kind({**SEED_TEXT, **SEED_LOCATION})
