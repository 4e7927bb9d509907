"""Tests for channels.whatsapp.blocks (the whatsapp block of a send request)."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from channels.whatsapp.blocks import BLOCK, EXAMPLES, body_parameter_count, template_reference, validate_block
from wire.errors import FieldError
from wire.shapes import decode

# --------------------------------------------------------------------------
# Builders (fresh deep copies every call)
# --------------------------------------------------------------------------

# Seed 002 (failover example), verbatim apart from the placeholder text.
_SEED_002 = {"type": "regular", "regular": {"text": "Hi, this is test msg.", "type": "text"}}

_REGULARS: dict[str, dict] = {
    "text": {"type": "text", "text": "See https://example.com", "preview_url": True},
    "image": {"type": "image", "image": {"link": "https://example.com/a.jpg", "caption": "A picture"}},
    "video": {"type": "video", "video": {"link": "https://example.com/a.mp4", "caption": "A film"}},
    "audio": {"type": "audio", "audio": {"link": "https://example.com/a.ogg"}},
    "document": {
        "type": "document",
        "document": {"link": "https://example.com/invoice.pdf", "caption": "Your invoice", "filename": "invoice.pdf"},
    },
    "interactive": {
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
                    {"type": "reply", "reply": {"id": "cancel", "title": "Cancel order"}},
                ]
            },
        },
    },
    "location": {
        "type": "location",
        "location": {"latitude": 46.2044, "longitude": 6.1432, "name": "Office", "address": "Rue du Rhone 1, Geneva"},
    },
}

_TEMPLATE = {
    "type": "template",
    "template": {
        "name": "order_shipped_2",
        "language": {"code": "en_US", "policy": "deterministic"},
        "components": [
            {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://example.com/box.png"}}]},
            {
                "type": "body",
                "parameters": [
                    {"type": "text", "text": "Ana"},
                    {
                        "type": "currency",
                        "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990},
                    },
                    {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}},
                ],
            },
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "ORD-42"}]},
            {
                "type": "button",
                "sub_type": "quick_reply",
                "index": 1,
                "parameters": [{"type": "payload", "payload": "stop"}],
            },
        ],
    },
}


def regular(kind: str) -> dict:
    return {"type": "regular", "regular": copy.deepcopy(_REGULARS[kind])}


def template() -> dict:
    return copy.deepcopy(_TEMPLATE)


def body_only(*parameters: dict) -> dict:
    return {
        "type": "template",
        "template": {
            "name": "hello",
            "language": {"code": "it"},
            "components": [{"type": "body", "parameters": list(parameters)}],
        },
    }


def interactive(block: dict) -> dict:
    return block["regular"]["interactive"]


def buttons(block: dict) -> list:
    return interactive(block)["action"]["buttons"]


def components(block: dict) -> list:
    return block["template"]["components"]


HEADER, BODY, URL_BUTTON, QR_BUTTON = 0, 1, 2, 3  # component indexes of the template


def describe(errs: list[FieldError]) -> str:
    return "\n".join(f"  {e.field}: {e.message}" for e in errs) or "  (no errors)"


def check(block: Any) -> list[FieldError]:
    errs = validate_block(block)
    assert isinstance(errs, list)
    assert all(isinstance(e, FieldError) for e in errs)
    return errs


def assert_error(errs: list[FieldError], field: str, fragment: str) -> None:
    """Some error is on `field` and its message contains `fragment`."""
    assert any(e.field == field and fragment in e.message for e in errs), (
        f"expected an error on {field!r} containing {fragment!r}; got:\n{describe(errs)}"
    )


def assert_only_error(errs: list[FieldError], field: str, fragment: str) -> None:
    """Exactly one error, on `field`, whose message contains `fragment`."""
    assert len(errs) == 1, f"expected exactly one error on {field!r}; got:\n{describe(errs)}"
    assert_error(errs, field, fragment)


def assert_ignored(block: dict, *paths: str) -> None:
    """The block is valid and the fields at `paths` are ignored (unknown to its message type)."""
    decoded = decode(block, BLOCK)
    assert decoded.errors == [], describe(decoded.errors)
    assert set(paths) <= set(decoded.ignored), decoded.ignored


def stored(block: dict) -> dict:
    """The block as the gateway stores it: decoded, then written back as declared."""
    decoded = decode(block, BLOCK)
    assert decoded.errors == [], describe(decoded.errors)
    return msgspec.to_builtins(decoded.value)


# --------------------------------------------------------------------------
# Valid blocks
# --------------------------------------------------------------------------


def test_seed_002_example_is_valid():
    assert check(copy.deepcopy(_SEED_002)) == []


@pytest.mark.parametrize("kind", sorted(_REGULARS))
def test_valid_regular_messages(kind):
    assert check(regular(kind)) == []


def test_valid_template():
    assert check(template()) == []


def test_valid_template_without_components_or_policy():
    block = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
    assert check(block) == []


def test_valid_template_with_empty_components():
    block = {"type": "template", "template": {"name": "hello_world", "language": {"code": "en"}, "components": []}}
    assert check(block) == []


@pytest.mark.parametrize(
    "header",
    [
        {"type": "image", "image": {"link": "https://example.com/a.png"}},
        {"type": "video", "video": {"link": "https://example.com/a.mp4"}},
        {"type": "document", "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf"}},
    ],
)
def test_valid_interactive_media_headers(header):
    block = regular("interactive")
    interactive(block)["header"] = header
    assert check(block) == []


def test_valid_interactive_minimal():
    block = regular("interactive")
    del interactive(block)["header"], interactive(block)["footer"]
    del buttons(block)[1:]
    assert check(block) == []


@pytest.mark.parametrize(
    "parameter",
    [
        {"type": "text", "text": "Order 42"},
        {"type": "currency", "currency": {"fallback_value": "10 EUR", "code": "EUR", "amount_1000": 10000}},
        {"type": "date_time", "date_time": {"fallback_value": "tomorrow"}},
        {"type": "video", "video": {"link": "https://example.com/a.mp4"}},
        {"type": "document", "document": {"link": "https://example.com/a.pdf", "filename": "a.pdf"}},
        {"type": "location", "location": {"latitude": 1.5, "longitude": -2, "name": "Shop", "address": "Main St 1"}},
    ],
)
def test_valid_header_parameter_types(parameter):
    block = template()
    components(block)[HEADER]["parameters"] = [parameter]
    assert check(block) == []


def test_validation_does_not_mutate_the_block():
    block = template()
    check(block)
    assert block == _TEMPLATE


@pytest.mark.parametrize("block", [template(), *(regular(kind) for kind in _REGULARS)], ids=str)
def test_the_stored_form_is_the_block_as_written(block):
    # The adapter reads the stored dict: it must hold what the client sent, with the same names.
    assert stored(block) == block


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_message_type_has_a_valid_example(name):
    value = decode(EXAMPLES[name], BLOCK).value
    assert value is not None
    inner = getattr(value, "regular", value)
    assert type(inner).__name__ == name
    assert type(inner).__doc__


# --------------------------------------------------------------------------
# The block itself
# --------------------------------------------------------------------------


@pytest.mark.parametrize("block", [None, [], "text", 3, True, 1.5])
def test_block_must_be_an_object(block):
    assert_only_error(check(block), "", "must be an object")


def test_unknown_block_key_is_ignored():
    block = copy.deepcopy(_SEED_002)
    block["text"] = "hello"
    assert_ignored(block, "text")
    assert "text" not in stored(block)


def test_type_is_required():
    block = copy.deepcopy(_SEED_002)
    del block["type"]
    assert_only_error(check(block), "type", "must be one of regular, template")


@pytest.mark.parametrize("value", ["text", "", [], {}, 1])
def test_type_must_be_regular_or_template(value):
    block = copy.deepcopy(_SEED_002)
    block["type"] = value
    assert_only_error(check(block), "type", "must be one of regular, template")


def test_types_and_names_in_any_case_are_accepted():
    block = {"Type": "Regular", "REGULAR": {"type": "TEXT", "Text": "Hi", "Preview_URL": True}}
    assert stored(block) == {"type": "regular", "regular": {"type": "text", "text": "Hi", "preview_url": True}}


def test_without_a_valid_type_only_the_type_is_named():
    # The type says which message the block is: without it, the rest can't be read.
    block = {"regular": {"type": "text", "text": ""}}
    assert_only_error(check(block), "type", "must be one of regular, template")


def test_regular_is_required_for_type_regular():
    assert_only_error(check({"type": "regular"}), "regular", "is required")


def test_regular_null_counts_as_missing():
    assert_only_error(check({"type": "regular", "regular": None}), "regular", "is required")


def test_template_is_required_for_type_template():
    assert_only_error(check({"type": "template"}), "template", "is required")


def test_template_is_ignored_with_type_regular():
    block = copy.deepcopy(_SEED_002)
    block["template"] = template()["template"]
    assert_ignored(block, "template")
    assert stored(block) == _SEED_002


def test_regular_is_ignored_with_type_template():
    block = template()
    block["regular"] = copy.deepcopy(_SEED_002["regular"])
    assert_ignored(block, "regular")
    assert stored(block) == _TEMPLATE


# --------------------------------------------------------------------------
# Regular messages
# --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["text", [], 1])
def test_regular_must_be_an_object(value):
    assert_only_error(check({"type": "regular", "regular": value}), "regular", "must be an object")


def test_regular_type_is_required():
    block = copy.deepcopy(_SEED_002)
    del block["regular"]["type"]
    assert_only_error(check(block), "regular.type", "must be one of text, image")


@pytest.mark.parametrize("value", ["sticker", "template", "", 5, []])
def test_regular_type_must_be_known(value):
    block = copy.deepcopy(_SEED_002)
    block["regular"]["type"] = value
    assert_only_error(check(block), "regular.type", "must be one of text, image, video, audio, document, interactive")


def test_another_types_object_is_ignored():
    block = copy.deepcopy(_SEED_002)
    block["regular"]["image"] = {"link": "https://example.com/a.jpg"}
    assert_ignored(block, "regular.image")


def test_preview_url_is_ignored_but_for_text():
    block = regular("image")
    block["regular"]["preview_url"] = True
    assert_ignored(block, "regular.preview_url")
    assert "preview_url" not in stored(block)["regular"]


def test_unknown_regular_key_is_ignored():
    block = copy.deepcopy(_SEED_002)
    block["regular"]["previewUrl"] = True  # not preview_url: a typo the client sees in the ignored fields
    assert_ignored(block, "regular.previewUrl")


# Text


def test_text_is_required():
    block = copy.deepcopy(_SEED_002)
    del block["regular"]["text"]
    assert_only_error(check(block), "regular.text", "is required")


@pytest.mark.parametrize("value", ["", "   ", "\n\t"])
def test_text_must_not_be_empty(value):
    block = copy.deepcopy(_SEED_002)
    block["regular"]["text"] = value
    assert_only_error(check(block), "regular.text", "must not be empty")


@pytest.mark.parametrize("value", [{"body": "hi"}, ["hi"], 5])
def test_text_must_be_a_string(value):
    block = copy.deepcopy(_SEED_002)
    block["regular"]["text"] = value
    assert_only_error(check(block), "regular.text", "must be a string")


def test_text_length_limit_4096():
    block = copy.deepcopy(_SEED_002)
    block["regular"]["text"] = "é" * 4096
    assert check(block) == []
    block["regular"]["text"] = "é" * 4097
    assert_only_error(check(block), "regular.text", "at most 4096 characters")


@pytest.mark.parametrize("value", ["true", 1, []])
def test_preview_url_must_be_boolean(value):
    block = regular("text")
    block["regular"]["preview_url"] = value
    assert_only_error(check(block), "regular.preview_url", "must be true or false")


def test_optional_fields_given_as_null_are_absent():
    block = regular("document")
    block["regular"]["document"].update(caption=None, filename=None)
    block["regular"]["preview_url"] = None
    assert stored(block)["regular"] == {"type": "document", "document": {"link": "https://example.com/invoice.pdf"}}


# Media


@pytest.mark.parametrize("kind", ["image", "video", "audio", "document"])
def test_media_object_is_required(kind):
    block = regular(kind)
    del block["regular"][kind]
    assert_only_error(check(block), f"regular.{kind}", "is required")


@pytest.mark.parametrize("kind", ["image", "video", "audio", "document"])
def test_media_object_must_be_an_object(kind):
    block = regular(kind)
    block["regular"][kind] = "https://example.com/a.jpg"
    assert_only_error(check(block), f"regular.{kind}", "must be an object")


@pytest.mark.parametrize("kind", ["image", "video", "audio", "document"])
def test_media_link_is_required(kind):
    block = regular(kind)
    del block["regular"][kind]["link"]
    assert_only_error(check(block), f"regular.{kind}.link", "is required")


@pytest.mark.parametrize(
    "link",
    [
        "example.com/a.jpg",
        "/a.jpg",
        "https://",
        "https://exa mple.com/a.jpg",
        "https://example.com/a.jpg\n",
        "ftp://example.com/a",
        "",
    ],
)
def test_media_link_must_be_an_absolute_url(link):
    block = regular("image")
    block["regular"]["image"]["link"] = link
    assert_only_error(check(block), "regular.image.link", "must be an absolute https URL")


def test_media_link_must_be_a_string():
    block = regular("image")
    block["regular"]["image"]["link"] = 7
    assert_only_error(check(block), "regular.image.link", "must be a string")


def test_media_link_must_be_https():
    block = regular("video")
    block["regular"]["video"]["link"] = "http://example.com/a.mp4"
    assert_only_error(check(block), "regular.video.link", "must be an absolute https URL")


def test_media_id_is_ignored():
    # Uploaded media ids are not offered: the media goes by link.
    block = regular("image")
    block["regular"]["image"]["id"] = "1013859600285441"
    assert_ignored(block, "regular.image.id")
    del block["regular"]["image"]["link"]
    assert_only_error(check(block), "regular.image.link", "is required")


@pytest.mark.parametrize("kind", ["image", "video", "document"])
def test_caption_length_limit_1024(kind):
    block = regular(kind)
    block["regular"][kind]["caption"] = "c" * 1024
    assert check(block) == []
    block["regular"][kind]["caption"] = "c" * 1025
    assert_only_error(check(block), f"regular.{kind}.caption", "at most 1024 characters")


def test_caption_must_not_be_empty():
    block = regular("image")
    block["regular"]["image"]["caption"] = ""
    assert_only_error(check(block), "regular.image.caption", "must not be empty")


def test_audio_has_no_caption():
    block = regular("audio")
    block["regular"]["audio"]["caption"] = "listen"
    assert_ignored(block, "regular.audio.caption")
    assert "caption" not in stored(block)["regular"]["audio"]


def test_filename_is_only_for_documents():
    block = regular("image")
    block["regular"]["image"]["filename"] = "a.jpg"
    assert_ignored(block, "regular.image.filename")


@pytest.mark.parametrize("value", ["", 5, "f" * 256])
def test_document_filename_rules(value):
    block = regular("document")
    block["regular"]["document"]["filename"] = value
    assert_only_error(check(block), "regular.document.filename", "must")


# Location


@pytest.mark.parametrize("key", ["latitude", "longitude"])
def test_location_coordinates_are_required(key):
    block = regular("location")
    del block["regular"]["location"][key]
    assert_only_error(check(block), f"regular.location.{key}", "is required")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("latitude", 90.0001),
        ("latitude", -91),
        ("longitude", 180.5),
        ("longitude", -181),
        ("longitude", float("nan")),
        ("longitude", float("inf")),
    ],
)
def test_location_coordinates_must_be_in_range(key, value):
    block = regular("location")
    block["regular"]["location"][key] = value
    bound = 90 if key == "latitude" else 180
    assert_only_error(check(block), f"regular.location.{key}", f"from -{bound} to {bound}")


@pytest.mark.parametrize("value", ["46.2", True])
def test_location_coordinates_must_be_numbers(value):
    block = regular("location")
    block["regular"]["location"]["latitude"] = value
    assert_only_error(check(block), "regular.location.latitude", "must be a number")


def test_location_extremes_are_valid():
    block = regular("location")
    block["regular"]["location"].update(latitude=-90, longitude=180)
    del block["regular"]["location"]["name"], block["regular"]["location"]["address"]
    assert check(block) == []


@pytest.mark.parametrize("key", ["name", "address"])
def test_location_name_and_address_must_be_non_empty_strings(key):
    block = regular("location")
    block["regular"]["location"][key] = ""
    assert_only_error(check(block), f"regular.location.{key}", "must not be empty")


def test_location_unknown_key_is_ignored():
    block = regular("location")
    block["regular"]["location"]["lat"] = 1
    assert_ignored(block, "regular.location.lat")


# Interactive reply buttons


def test_interactive_object_is_required():
    block = regular("interactive")
    del block["regular"]["interactive"]
    assert_only_error(check(block), "regular.interactive", "is required")


def test_interactive_type_is_required():
    block = regular("interactive")
    del interactive(block)["type"]
    assert_only_error(check(block), "regular.interactive.type", "is required")


@pytest.mark.parametrize("value", ["list", "cta_url", 1])
def test_interactive_type_must_be_button(value):
    block = regular("interactive")
    interactive(block)["type"] = value
    assert_only_error(check(block), "regular.interactive.type", "must be one of button")


def test_interactive_and_button_types_in_any_case():
    block = regular("interactive")
    interactive(block)["type"] = "BUTTON"
    buttons(block)[0]["type"] = "Reply"
    assert stored(block) == regular("interactive")


def test_interactive_unknown_key_is_ignored():
    block = regular("interactive")
    interactive(block)["buttons"] = []
    assert_ignored(block, "regular.interactive.buttons")


def test_interactive_body_is_required():
    block = regular("interactive")
    del interactive(block)["body"]
    assert_only_error(check(block), "regular.interactive.body", "is required")


def test_interactive_body_must_be_an_object():
    block = regular("interactive")
    interactive(block)["body"] = "Do you want to change it?"
    assert_only_error(check(block), "regular.interactive.body", "must be an object")


def test_interactive_body_text_is_required():
    block = regular("interactive")
    interactive(block)["body"] = {}
    assert_only_error(check(block), "regular.interactive.body.text", "is required")


def test_interactive_body_length_limit_1024():
    block = regular("interactive")
    interactive(block)["body"]["text"] = "b" * 1024
    assert check(block) == []
    interactive(block)["body"]["text"] = "b" * 1025
    assert_only_error(check(block), "regular.interactive.body.text", "at most 1024 characters")


def test_interactive_body_unknown_key_is_ignored():
    block = regular("interactive")
    interactive(block)["body"]["caption"] = "x"
    assert_ignored(block, "regular.interactive.body.caption")


def test_interactive_footer_length_limit_60():
    block = regular("interactive")
    interactive(block)["footer"]["text"] = "f" * 60
    assert check(block) == []
    interactive(block)["footer"]["text"] = "f" * 61
    assert_only_error(check(block), "regular.interactive.footer.text", "at most 60 characters")


def test_interactive_header_text_length_limit_60():
    block = regular("interactive")
    interactive(block)["header"]["text"] = "h" * 60
    assert check(block) == []
    interactive(block)["header"]["text"] = "h" * 61
    assert_only_error(check(block), "regular.interactive.header.text", "at most 60 characters")


def test_interactive_header_type_must_be_known():
    block = regular("interactive")
    interactive(block)["header"] = {"type": "audio", "audio": {"link": "https://example.com/a.ogg"}}
    assert_only_error(check(block), "regular.interactive.header.type", "must be one of text, image, video, document")


def test_interactive_header_type_is_required():
    block = regular("interactive")
    del interactive(block)["header"]["type"]
    assert_only_error(check(block), "regular.interactive.header.type", "must be one of text, image, video, document")


def test_interactive_header_media_is_required():
    block = regular("interactive")
    interactive(block)["header"] = {"type": "image"}
    assert_only_error(check(block), "regular.interactive.header.image", "is required")


def test_interactive_header_media_must_be_https():
    block = regular("interactive")
    interactive(block)["header"] = {"type": "image", "image": {"link": "http://example.com/a.png"}}
    assert_only_error(check(block), "regular.interactive.header.image.link", "must be an absolute https URL")


def test_interactive_header_media_has_no_caption():
    block = regular("interactive")
    interactive(block)["header"] = {"type": "image", "image": {"link": "https://example.com/a.png", "caption": "x"}}
    assert_ignored(block, "regular.interactive.header.image.caption")


def test_interactive_header_text_with_other_key():
    block = regular("interactive")
    interactive(block)["header"]["image"] = {"link": "https://example.com/a.png"}
    assert_ignored(block, "regular.interactive.header.image")


def test_interactive_header_and_footer_given_as_null_or_empty_are_absent():
    block = regular("interactive")
    interactive(block).update(header=None, footer={})
    assert "header" not in interactive(stored(block)) and "footer" not in interactive(stored(block))


def test_interactive_action_is_required():
    block = regular("interactive")
    del interactive(block)["action"]
    assert_only_error(check(block), "regular.interactive.action", "is required")


def test_interactive_buttons_are_required():
    block = regular("interactive")
    interactive(block)["action"] = {}
    assert_only_error(check(block), "regular.interactive.action.buttons", "is required")


def test_interactive_action_unknown_key_is_ignored():
    block = regular("interactive")
    interactive(block)["action"]["button"] = "Options"
    assert_ignored(block, "regular.interactive.action.button")


@pytest.mark.parametrize("count", [0, 4])
def test_interactive_button_count_1_to_3(count):
    block = regular("interactive")
    interactive(block)["action"]["buttons"] = [
        {"type": "reply", "reply": {"id": f"id{i}", "title": f"Title {i}"}} for i in range(count)
    ]
    assert_only_error(check(block), "regular.interactive.action.buttons", "must contain 1 to 3 buttons")


def test_interactive_buttons_must_be_a_list():
    block = regular("interactive")
    interactive(block)["action"]["buttons"] = {"type": "reply"}
    assert_only_error(check(block), "regular.interactive.action.buttons", "must be a list")


def test_button_must_be_an_object():
    block = regular("interactive")
    buttons(block)[1] = "Keep"
    assert_only_error(check(block), "regular.interactive.action.buttons[1]", "must be an object")


@pytest.mark.parametrize(("value", "fragment"), [("url", "must be one of reply"), (None, "is required")])
def test_button_type_must_be_reply(value, fragment):
    block = regular("interactive")
    if value is None:
        del buttons(block)[0]["type"]
    else:
        buttons(block)[0]["type"] = value
    assert_only_error(check(block), "regular.interactive.action.buttons[0].type", fragment)


def test_button_reply_is_required():
    block = regular("interactive")
    del buttons(block)[2]["reply"]
    assert_only_error(check(block), "regular.interactive.action.buttons[2].reply", "is required")


def test_button_unknown_keys_are_ignored():
    block = regular("interactive")
    buttons(block)[0]["title"] = "Change"
    buttons(block)[1]["reply"]["payload"] = "x"
    assert_ignored(
        block, "regular.interactive.action.buttons[0].title", "regular.interactive.action.buttons[1].reply.payload"
    )


def test_button_id_length_limit_256():
    block = regular("interactive")
    buttons(block)[0]["reply"]["id"] = "i" * 256
    assert check(block) == []
    buttons(block)[0]["reply"]["id"] = "i" * 257
    assert_only_error(check(block), "regular.interactive.action.buttons[0].reply.id", "at most 256 characters")


@pytest.mark.parametrize("value", [" change", "change ", "\tchange"])
def test_button_id_without_surrounding_whitespace(value):
    block = regular("interactive")
    buttons(block)[0]["reply"]["id"] = value
    assert_only_error(
        check(block), "regular.interactive.action.buttons[0].reply.id", "must not start or end with whitespace"
    )


@pytest.mark.parametrize("key", ["id", "title"])
def test_button_id_and_title_are_required(key):
    block = regular("interactive")
    del buttons(block)[1]["reply"][key]
    assert_only_error(check(block), f"regular.interactive.action.buttons[1].reply.{key}", "is required")


def test_button_title_length_limit_20():
    block = regular("interactive")
    buttons(block)[2]["reply"]["title"] = "t" * 20
    assert check(block) == []
    buttons(block)[2]["reply"]["title"] = "t" * 21
    assert_only_error(check(block), "regular.interactive.action.buttons[2].reply.title", "at most 20 characters")


def test_button_title_must_not_be_empty():
    block = regular("interactive")
    buttons(block)[2]["reply"]["title"] = ""
    assert_only_error(check(block), "regular.interactive.action.buttons[2].reply.title", "must not be empty")


@pytest.mark.parametrize("key", ["id", "title"])
def test_button_ids_and_titles_are_unique(key):
    block = regular("interactive")
    buttons(block)[2]["reply"][key] = buttons(block)[0]["reply"][key]
    assert_only_error(
        check(block),
        f"regular.interactive.action.buttons[2].reply.{key}",
        "must be unique among the buttons (same as buttons[0])",
    )


# --------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["text", 1, []])
def test_template_must_be_an_object(value):
    assert_only_error(check({"type": "template", "template": value}), "template", "must be an object")


def test_template_unknown_key_is_ignored():
    block = template()
    block["template"]["namespace"] = "abc"
    assert_ignored(block, "template.namespace")


def test_template_name_is_required():
    block = template()
    del block["template"]["name"]
    assert_only_error(check(block), "template.name", "is required")


@pytest.mark.parametrize("value", ["Order_Shipped", "order-shipped", "order shipped"])
def test_template_name_characters(value):
    block = template()
    block["template"]["name"] = value
    assert_only_error(check(block), "template.name", "only lowercase letters a-z, digits and underscores")


def test_template_name_must_not_be_empty():
    block = template()
    block["template"]["name"] = ""
    assert_only_error(check(block), "template.name", "must be a template name")


@pytest.mark.parametrize("value", [5, ["x"]])
def test_template_name_must_be_a_string(value):
    block = template()
    block["template"]["name"] = value
    assert_only_error(check(block), "template.name", "must be a string")


def test_template_name_length_limit_512():
    block = template()
    block["template"]["name"] = "n" * 512
    assert check(block) == []
    block["template"]["name"] = "n" * 513
    assert_only_error(check(block), "template.name", "at most 512 characters")


def test_template_language_is_required():
    block = template()
    del block["template"]["language"]
    assert_only_error(check(block), "template.language", "is required")


@pytest.mark.parametrize("value", ["it", "en_US", ["en"], 7])
def test_template_language_must_be_an_object(value):
    block = template()
    block["template"]["language"] = value
    assert_only_error(check(block), "template.language", "must be an object")


def test_template_language_code_is_required():
    block = template()
    block["template"]["language"] = {"policy": "deterministic"}
    assert_only_error(check(block), "template.language.code", "is required")


@pytest.mark.parametrize("value", ["english", "EN", "en-US", "en_us", "en\n", ""])
def test_template_language_code_format(value):
    block = template()
    block["template"]["language"]["code"] = value
    assert_only_error(check(block), "template.language.code", "must be a locale code like en, fil or en_US")


def test_template_language_code_must_be_a_string():
    block = template()
    block["template"]["language"]["code"] = 5
    assert_only_error(check(block), "template.language.code", "must be a string")


def test_template_language_policy_must_be_deterministic():
    block = template()
    block["template"]["language"]["policy"] = "fallback"
    assert_only_error(check(block), "template.language.policy", "must be one of deterministic")


def test_template_enums_in_any_case_are_stored_as_the_cloud_api_spells_them():
    block = template()
    block["template"]["language"]["policy"] = "DETERMINISTIC"
    components(block)[URL_BUTTON].update(type="BUTTON", sub_type="URL")
    components(block)[BODY]["type"] = "Body"
    assert stored(block) == _TEMPLATE


def test_template_language_unknown_key_is_ignored():
    block = template()
    block["template"]["language"]["locale"] = "en_US"
    assert_ignored(block, "template.language.locale")


def test_components_must_be_a_list():
    block = template()
    block["template"]["components"] = {"type": "body"}
    assert_only_error(check(block), "template.components", "must be a list")


def test_component_must_be_an_object():
    block = template()
    components(block).append("body")
    assert_only_error(check(block), "template.components[4]", "must be an object")


def test_component_type_is_required():
    block = template()
    del components(block)[BODY]["type"]
    assert_only_error(check(block), "template.components[1].type", "must be one of header, body, button")


@pytest.mark.parametrize("value", ["footer", "buttons", 3])
def test_component_type_must_be_known(value):
    block = template()
    components(block)[BODY]["type"] = value
    assert_only_error(check(block), "template.components[1].type", "must be one of header, body, button")


def test_component_unknown_key_is_ignored():
    block = template()
    components(block)[BODY]["text"] = "Hello {{1}}"
    assert_ignored(block, "template.components[1].text")


@pytest.mark.parametrize("index", [HEADER, BODY])
def test_only_one_header_and_one_body(index):
    block = template()
    components(block).append(copy.deepcopy(components(block)[index]))
    kind = components(block)[index]["type"]
    assert_only_error(check(block), "template.components[4]", f"only one {kind} component is allowed")


@pytest.mark.parametrize("index", [HEADER, BODY])
def test_parameters_are_required(index):
    block = template()
    del components(block)[index]["parameters"]
    assert_only_error(check(block), f"template.components[{index}].parameters", "is required")


@pytest.mark.parametrize("index", [HEADER, BODY])
def test_parameters_must_not_be_empty(index):
    block = template()
    components(block)[index]["parameters"] = []
    assert_only_error(check(block), f"template.components[{index}].parameters", "must not be empty")


def test_parameters_must_be_a_list():
    block = template()
    components(block)[BODY]["parameters"] = {"type": "text", "text": "x"}
    assert_only_error(check(block), "template.components[1].parameters", "must be a list")


def test_header_takes_exactly_one_parameter():
    block = template()
    components(block)[HEADER]["parameters"] = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert_only_error(check(block), "template.components[0].parameters", "must contain exactly one parameter")


def test_header_parameter_type_must_be_allowed():
    block = template()
    components(block)[HEADER]["parameters"] = [{"type": "payload", "payload": "x"}]
    assert_only_error(
        check(block), "template.components[0].parameters[0].type", "must be one of text, currency, date_time, image"
    )


def test_header_text_parameter_length_limit_60():
    block = template()
    components(block)[HEADER]["parameters"] = [{"type": "text", "text": "h" * 60}]
    assert check(block) == []
    components(block)[HEADER]["parameters"] = [{"type": "text", "text": "h" * 61}]
    assert_only_error(check(block), "template.components[0].parameters[0].text", "at most 60 characters")


def test_header_media_parameter_must_be_https():
    block = template()
    components(block)[HEADER]["parameters"][0]["image"]["link"] = "http://example.com/box.png"
    assert_only_error(check(block), "template.components[0].parameters[0].image.link", "must be an absolute https URL")


def test_header_media_parameter_has_no_caption():
    block = template()
    components(block)[HEADER]["parameters"][0]["image"]["caption"] = "x"
    assert_ignored(block, "template.components[0].parameters[0].image.caption")


def test_header_media_parameter_object_is_required():
    block = template()
    components(block)[HEADER]["parameters"] = [{"type": "image"}]
    assert_only_error(check(block), "template.components[0].parameters[0].image", "is required")


@pytest.mark.parametrize("ptype", ["image", "video", "document", "location", "payload"])
def test_body_parameter_types(ptype):
    block = template()
    components(block)[BODY]["parameters"].append({"type": ptype, ptype: {"link": "https://example.com/a"}})
    assert_only_error(
        check(block), "template.components[1].parameters[3].type", "must be one of text, currency, date_time"
    )


def test_parameter_type_is_required():
    block = template()
    del components(block)[BODY]["parameters"][0]["type"]
    assert_only_error(check(block), "template.components[1].parameters[0].type", "must be one of text, currency")


def test_parameter_must_be_an_object():
    block = template()
    components(block)[BODY]["parameters"][0] = "Ana"
    assert_only_error(check(block), "template.components[1].parameters[0]", "must be an object")


def test_parameter_unknown_key_is_ignored():
    block = template()
    components(block)[BODY]["parameters"][0]["parameter_name"] = "first_name"
    assert_ignored(block, "template.components[1].parameters[0].parameter_name")


def test_text_parameter_value_is_required():
    block = template()
    del components(block)[BODY]["parameters"][0]["text"]
    assert_only_error(check(block), "template.components[1].parameters[0].text", "is required")


@pytest.mark.parametrize("value", ["", "  ", 5])
def test_text_parameter_must_be_a_non_empty_string(value):
    block = template()
    components(block)[BODY]["parameters"][0]["text"] = value
    assert_only_error(check(block), "template.components[1].parameters[0].text", "must")


@pytest.mark.parametrize("value", ["line\nbreak", "cr\rhere", "tab\there", "five     spaces"])
def test_text_parameter_without_newlines_tabs_or_long_space_runs(value):
    block = template()
    components(block)[BODY]["parameters"][0]["text"] = value
    assert_only_error(
        check(block),
        "template.components[1].parameters[0].text",
        "must not contain newlines, tabs or more than 4 consecutive",
    )


def test_text_parameter_four_spaces_is_fine():
    block = template()
    components(block)[BODY]["parameters"][0]["text"] = "four    spaces"
    assert check(block) == []


def test_body_text_parameter_limit_1024_with_other_components():
    block = template()
    components(block)[BODY]["parameters"][0]["text"] = "b" * 1024
    assert check(block) == []
    components(block)[BODY]["parameters"][0]["text"] = "b" * 1025
    assert_only_error(check(block), "template.components[1].parameters[0].text", "at most 1024 characters")


def test_body_text_parameter_limit_32768_when_body_is_alone():
    assert check(body_only({"type": "text", "text": "b" * 32768})) == []
    assert_only_error(
        check(body_only({"type": "text", "text": "b" * 32769})),
        "template.components[0].parameters[0].text",
        "at most 32768 characters",
    )


@pytest.mark.parametrize("key", ["fallback_value", "code", "amount_1000"])
def test_currency_fields_are_required(key):
    block = template()
    del components(block)[BODY]["parameters"][1]["currency"][key]
    assert_only_error(check(block), f"template.components[1].parameters[1].currency.{key}", "is required")


@pytest.mark.parametrize("value", ["usd", "US", "USDT", "USD\n"])
def test_currency_code_is_iso_4217(value):
    block = template()
    components(block)[BODY]["parameters"][1]["currency"]["code"] = value
    assert_only_error(
        check(block), "template.components[1].parameters[1].currency.code", "must be an ISO 4217 currency code"
    )


@pytest.mark.parametrize("value", [100.99, "100990", True])
def test_currency_amount_must_be_an_integer(value):
    block = template()
    components(block)[BODY]["parameters"][1]["currency"]["amount_1000"] = value
    assert_only_error(
        check(block), "template.components[1].parameters[1].currency.amount_1000", "must be a whole number"
    )


def test_currency_object_is_required():
    block = template()
    components(block)[BODY]["parameters"][1] = {"type": "currency"}
    assert_only_error(check(block), "template.components[1].parameters[1].currency", "is required")


def test_date_time_fallback_value_is_required():
    block = template()
    components(block)[BODY]["parameters"][2]["date_time"] = {}
    assert_only_error(check(block), "template.components[1].parameters[2].date_time.fallback_value", "is required")


def test_date_time_unknown_key_is_ignored():
    block = template()
    components(block)[BODY]["parameters"][2]["date_time"]["day_of_week"] = 5
    assert_ignored(block, "template.components[1].parameters[2].date_time.day_of_week")


def test_button_sub_type_is_required():
    block = template()
    del components(block)[URL_BUTTON]["sub_type"]
    assert_only_error(check(block), "template.components[2].sub_type", "is required")


@pytest.mark.parametrize("value", ["copy_code", "phone_number", 1])
def test_button_sub_type_must_be_known(value):
    block = template()
    components(block)[URL_BUTTON]["sub_type"] = value
    assert_only_error(check(block), "template.components[2].sub_type", "must be one of quick_reply, url")


def test_button_index_is_required():
    block = template()
    del components(block)[URL_BUTTON]["index"]
    assert_only_error(check(block), "template.components[2].index", "is required")


@pytest.mark.parametrize("value", ["10", 10, -1, "-1", "a", ""])
def test_button_index_range_0_to_9(value):
    block = template()
    components(block)[URL_BUTTON]["index"] = value
    assert_only_error(check(block), "template.components[2].index", "0 to 9")


@pytest.mark.parametrize("value", [True, 1.0, [0]])
def test_button_index_is_a_number_or_a_string(value):
    block = template()
    components(block)[URL_BUTTON]["index"] = value
    assert_only_error(check(block), "template.components[2].index", "")


@pytest.mark.parametrize("value", [0, "9", 9])
def test_button_index_accepts_numbers_and_digit_strings(value):
    block = template()
    components(block)[URL_BUTTON]["index"] = value
    assert check(block) == []


def test_button_index_is_unique():
    block = template()
    components(block)[QR_BUTTON]["index"] = "0"
    assert_only_error(check(block), "template.components[3].index", "button index 0 is already given by components[2]")


def test_button_parameters_are_required():
    block = template()
    del components(block)[QR_BUTTON]["parameters"]
    assert_only_error(check(block), "template.components[3].parameters", "is required")


@pytest.mark.parametrize(
    "value", [[], "stop", [{"type": "payload", "payload": "a"}, {"type": "payload", "payload": "b"}]]
)
def test_button_takes_exactly_one_parameter(value):
    block = template()
    components(block)[QR_BUTTON]["parameters"] = value
    assert_only_error(check(block), "template.components[3].parameters", "must be a list")


def test_quick_reply_button_takes_a_payload():
    block = template()
    components(block)[QR_BUTTON]["parameters"] = [{"type": "text", "text": "stop"}]
    assert_only_error(
        check(block), "template.components[3].parameters[0].type", "must be payload for a quick_reply button"
    )


def test_url_button_takes_text():
    block = template()
    components(block)[URL_BUTTON]["parameters"] = [{"type": "payload", "payload": "ORD-42"}]
    assert_only_error(check(block), "template.components[2].parameters[0].type", "must be text for a url button")


def test_button_parameter_value_is_required():
    block = template()
    components(block)[QR_BUTTON]["parameters"] = [{"type": "payload"}]
    assert_only_error(check(block), "template.components[3].parameters[0].payload", "is required")


def test_button_parameter_must_not_be_empty():
    block = template()
    components(block)[URL_BUTTON]["parameters"][0]["text"] = ""
    assert_only_error(check(block), "template.components[2].parameters[0].text", "must not be empty")


def test_url_button_text_has_no_whitespace():
    block = template()
    components(block)[URL_BUTTON]["parameters"][0]["text"] = "ORD 42"
    assert_only_error(check(block), "template.components[2].parameters[0].text", "must not contain whitespace")


def test_button_parameter_unknown_key_is_ignored():
    block = template()
    components(block)[QR_BUTTON]["parameters"][0]["text"] = "stop"
    assert_ignored(block, "template.components[3].parameters[0].text")


def test_button_component_unknown_key_is_ignored():
    block = template()
    components(block)[QR_BUTTON]["text"] = "Stop"
    assert_ignored(block, "template.components[3].text")


# --------------------------------------------------------------------------
# All problems at once
# --------------------------------------------------------------------------


def test_every_problem_is_reported_at_once():
    block = template()
    block["template"]["language"] = "en"
    block["template"]["name"] = "Bad Name"
    components(block)[BODY]["parameters"][0]["text"] = "a\nb"
    components(block)[URL_BUTTON]["sub_type"] = "call"
    fields = {e.field for e in check(block)}
    assert fields == {
        "template.language",
        "template.name",
        "template.components[1].parameters[0].text",
        "template.components[2].sub_type",
    }


# --------------------------------------------------------------------------
# template_reference and body_parameter_count
# --------------------------------------------------------------------------


def test_template_reference_of_a_valid_template():
    assert template_reference(template()) == ("order_shipped_2", "en_US")


def test_template_reference_of_an_invalid_template_is_none():
    block = template()
    block["template"]["language"] = "en_US"
    assert template_reference(block) is None


@pytest.mark.parametrize("block", [copy.deepcopy(_SEED_002), {}, None, [], "template", {"type": "template"}])
def test_template_reference_of_anything_else_is_none(block):
    assert template_reference(block) is None


def test_body_parameter_count_counts_every_body_parameter():
    assert body_parameter_count(template()) == 3


def test_body_parameter_count_of_a_single_text_parameter():
    assert body_parameter_count(body_only({"type": "text", "text": "x"})) == 1


@pytest.mark.parametrize(
    "block",
    [
        {"type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}},
        {"type": "template", "template": {"name": "x", "language": {"code": "en"}, "components": "body"}},
        {"type": "template", "template": {"components": [{"type": "body", "parameters": "x"}]}},
        {"type": "template", "template": {"components": [{"type": "header", "parameters": [{}]}]}},
        {"type": "template", "template": None},
        copy.deepcopy(_SEED_002),
        {},
        None,
        [1, 2],
    ],
)
def test_body_parameter_count_is_zero_without_a_body(block):
    assert body_parameter_count(block) == 0


# --------------------------------------------------------------------------
# Garbage never raises
# --------------------------------------------------------------------------

_WEIRD = (None, [], {}, "", "x", 0, -1, 1.5, float("nan"), True, [None], {"": None}, ["a", 1])


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys / indexes) into nested dicts and lists."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replaced(value: Any, path: tuple, new: Any) -> Any:
    value = copy.deepcopy(value)
    target = value
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return value


_EXAMPLES = [template(), *(regular(kind) for kind in _REGULARS)]


@pytest.mark.parametrize("example", _EXAMPLES, ids=lambda b: b.get("regular", {}).get("type", "template"))
def test_any_value_anywhere_never_raises(example):
    for path in _paths(example):
        for weird in _WEIRD:
            block = _replaced(example, path, weird)
            errs = check(block)
            assert all(isinstance(e.field, str) and e.message for e in errs)
            body_parameter_count(block)
            template_reference(block)


@pytest.mark.parametrize(
    "block",
    [
        {"type": "regular", "regular": {"type": "interactive", "interactive": {"action": {"buttons": [[], None, 1]}}}},
        {"type": "template", "template": {"components": [{"type": "button", "index": [], "parameters": [[]]}]}},
        {"type": "template", "template": {"components": [{"type": "header", "parameters": [{"type": []}]}]}},
        {"type": {"a": 1}, "regular": {"type": {}}, "template": {"language": {"code": []}}},
        {1: 2, None: 3},
    ],
)
def test_odd_shapes_never_raise(block):
    assert check(block) != []
