"""Tests for channels.gbm.blocks (the gbm block of a send request, Google Business Messages)."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest

from channels.gbm.blocks import BLOCK, EXAMPLES, GbmMessage, content_kind, validate_block
from wire.errors import FieldError
from wire.shapes import decode

# --------------------------------------------------------------------------
# Seed 002's examples (the gbm blocks, verbatim)
# --------------------------------------------------------------------------

_REPRESENTATIVE = {
    "avatarImage": "https://www.w3schools.com/howto/img_avatar.png",
    "displayName": "Mark Marcus",
    "representativeType": "HUMAN",
}


def _card(n: int) -> dict:
    return {
        "title": f"card {n}",
        "description": f"This is a card {n}",
        "media": {
            "height": "SHORT",
            "contentInfo": {
                "fileUrl": f"https://picsum.photos/1920/1080?random={n}",
                "altText": f"alternative text for card{n} image",
            },
        },
    }


_SEED: dict[str, dict] = {
    "force_fallback": {
        "forceFallback": True,
        "fallback": (
            "This is just a fallback message, the image part is ignored. The purpose of this message is to have "
            "some feedback even on devices which does not support media content."
        ),
        "image": {
            "fileUrl": "https://file-examplescom.github.io/uploads/2017/10/file_example_JPG_100kB.jpg",
            "thumbnailUrl": "https://picsum.photos/200/300?random=1",
            "forceRefresh": True,
            "altText": "alternative text for image",
        },
        "representative": _REPRESENTATIVE,
    },
    "text": {"text": {"message": "Hi, this is test message."}, "representative": _REPRESENTATIVE},
    "url_text": {"text": {"message": "https://mitto.ch"}},
    "rich_text": {
        "text": {
            "message": "Hi, this is test message. **bold** Visit: [Click here](https://mitto.ch)",
            "containsRichText": True,
        },
        "representative": _REPRESENTATIVE,
    },
    "image": {
        "image": {
            "fileUrl": "https://picsum.photos/1920/1080?random=1",
            "thumbnailUrl": "https://picsum.photos/200?random=1",
            "forceRefresh": True,
            "altText": "alternative text for image",
        },
        "representative": _REPRESENTATIVE,
    },
    "replies": {
        "text": {"containsRichText": True, "message": "Trying **replies**!"},
        "suggestions": [
            {"reply": {"text": "Reply one", "postbackData": "hello-reply-1"}},
            {"reply": {"text": "Reply two", "postbackData": "hello-reply-2"}},
            {"reply": {"text": "Reply three", "postbackData": "hello-reply-3"}},
        ],
        "representative": _REPRESENTATIVE,
    },
    "card": {
        "standaloneCard": {
            "title": "card 1",
            "description": "This is a card",
            "media": {
                "height": "SHORT",
                "contentInfo": {
                    "fileUrl": "https://picsum.photos/1920/1080?random=1",
                    "thumbnailUrl": "https://picsum.photos/200?random=1",
                    "altText": "alternative text for card image",
                },
            },
        },
        "representative": _REPRESENTATIVE,
    },
    "card_with_suggestions": {
        "standaloneCard": {
            "title": "card 1",
            "description": "This is a card",
            "media": {
                "height": "SHORT",
                "contentInfo": {
                    "fileUrl": "https://picsum.photos/1920/1080?random=1",
                    "thumbnailUrl": "https://picsum.photos/200?random=1",
                    "altText": "alternative text for card image",
                },
            },
            "suggestions": [
                {"reply": {"text": "Hello", "postbackData": "hello-formal"}},
                {"reply": {"text": "Hi!", "postbackData": "hello-informal"}},
            ],
        },
        "representative": _REPRESENTATIVE,
    },
    "carousel": {
        "carouselCard": {"cardWidth": "SMALL", "cardContents": [_card(n) for n in range(1, 7)]},
        "representative": _REPRESENTATIVE,
    },
}

_OPEN_URL = {"action": {"text": "Open site", "postbackData": "open", "openUrlAction": {"url": "https://mitto.ch"}}}
_DIAL = {"action": {"text": "Call us", "postbackData": "call", "dialAction": {"phoneNumber": "+41445008000"}}}


def seed(name: str) -> dict:
    return copy.deepcopy(_SEED[name])


def with_actions() -> dict:
    block = seed("replies")
    block["suggestions"] += [copy.deepcopy(_OPEN_URL), copy.deepcopy(_DIAL)]
    return block


def carousel(block: dict) -> dict:
    return block["carouselCard"]


def cards(block: dict) -> list:
    return block["carouselCard"]["cardContents"]


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


def accepted(block: Any) -> GbmMessage:
    """The block decoded without a problem."""
    decoded = decode(block, BLOCK)
    assert decoded.errors == [], describe(decoded.errors)
    return decoded.value


def ignored(block: Any) -> list[str]:
    """The paths of the fields of an accepted block that were ignored (issue 16: unknown fields)."""
    decoded = decode(block, BLOCK)
    assert decoded.errors == [], describe(decoded.errors)
    return decoded.ignored


def stored(block: Any) -> dict:
    """The block as the gateway stores it and the adapter reads it."""
    return msgspec.to_builtins(accepted(block))


# --------------------------------------------------------------------------
# Valid blocks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_SEED))
def test_seed_002_examples_are_valid(name):
    assert check(seed(name)) == []


@pytest.mark.parametrize("name", sorted(_SEED))
def test_stored_block_is_what_the_client_sent(name):
    assert stored(seed(name)) == _SEED[name]


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_examples_are_accepted_whole(name):
    assert ignored(EXAMPLES[name]) == []
    assert stored(EXAMPLES[name]) == EXAMPLES[name]


def test_suggested_actions_are_valid():
    assert check(with_actions()) == []
    assert stored(with_actions()) == with_actions()


def test_false_is_kept_as_sent():
    block = seed("image")
    block["image"]["forceRefresh"] = False
    block["forceFallback"] = False
    assert stored(block) == block


@pytest.mark.parametrize("phone", ["+41445008000", "+1-201-555-0123", "+1.201.555.0123", "+1(201)5550123"])
def test_dial_action_phone_number_forms(phone):
    block = seed("text")
    block["suggestions"] = [copy.deepcopy(_DIAL)]
    block["suggestions"][0]["action"]["dialAction"]["phoneNumber"] = phone
    assert check(block) == []


def test_tall_media_is_fine_in_a_standalone_card_and_a_medium_carousel():
    block = seed("card")
    block["standaloneCard"]["media"]["height"] = "TALL"
    assert check(block) == []
    block = seed("carousel")
    carousel(block)["cardWidth"] = "MEDIUM"
    cards(block)[0]["media"]["height"] = "TALL"
    assert check(block) == []


def test_card_with_title_only_or_media_only():
    block = seed("card")
    del block["standaloneCard"]["media"], block["standaloneCard"]["description"]
    assert check(block) == []
    block = seed("card")
    del block["standaloneCard"]["title"], block["standaloneCard"]["description"]
    assert check(block) == []


def test_validation_does_not_mutate_the_block():
    block = seed("carousel")
    check(block)
    assert block == _SEED["carousel"]


# --------------------------------------------------------------------------
# The block and its content
# --------------------------------------------------------------------------


@pytest.mark.parametrize("block", [None, [], "hello", 1, True])
def test_block_must_be_an_object(block):
    assert_only_error(check(block), "", "must be an object")


def test_unknown_block_key_is_ignored():
    block = seed("text")
    block["richCard"] = {"standaloneCard": {}}
    assert ignored(block) == ["richCard"]
    assert stored(block) == _SEED["text"]


def test_containsRichText_belongs_inside_text():
    block = seed("text")
    block["containsRichText"] = True
    assert ignored(block) == ["containsRichText"]
    assert "containsRichText" not in stored(block)


def test_names_match_in_any_case():
    block = {"Text": {"MESSAGE": "Hi", "containsrichtext": True}, "FORCEFALLBACK": False}
    assert stored(block) == {"text": {"message": "Hi", "containsRichText": True}, "forceFallback": False}


def test_null_optional_fields_are_absent():
    block = seed("replies")
    block["text"]["containsRichText"] = None
    block.update(suggestions=None, fallback=None, forceFallback=None, representative=None, image=None)
    assert stored(block) == {"text": {"message": "Trying **replies**!"}}


def test_empty_object_for_another_content_is_absent():
    block = seed("text")
    block.update(image={}, standaloneCard={}, carouselCard={}, representative={})
    assert stored(block) == {"text": {"message": "Hi, this is test message."}}


def test_content_is_required():
    block = {"representative": copy.deepcopy(_REPRESENTATIVE)}
    assert_only_error(check(block), "", "must contain one content: text, image, standaloneCard, carouselCard")


def test_null_content_counts_as_missing():
    assert_only_error(check({"text": None}), "", "must contain one content")


def test_only_one_content():
    block = seed("text")
    block["image"] = copy.deepcopy(_SEED["image"]["image"])
    assert_only_error(check(block), "image", "is not allowed together with text; a message has exactly one content")


# Text


@pytest.mark.parametrize("value", ["Hello", ["Hello"], 3])
def test_text_must_be_an_object(value):
    assert_only_error(check({"text": value}), "text", "must be an object")


def test_text_message_is_required():
    assert_only_error(check({"text": {"containsRichText": True}}), "text.message", "is required")


@pytest.mark.parametrize("value", ["", "   ", 5])
def test_text_message_must_be_a_non_empty_string(value):
    assert_only_error(check({"text": {"message": value}}), "text.message", "must")


def test_text_message_length_limit_3072():
    assert check({"text": {"message": "m" * 3072}}) == []
    assert_only_error(check({"text": {"message": "m" * 3073}}), "text.message", "at most 3072 characters")


def test_lengths_count_code_points():
    assert check({"text": {"message": "😀" * 3072}}) == []
    assert_only_error(check({"text": {"message": "😀" * 3073}}), "text.message", "at most 3072 characters")


@pytest.mark.parametrize("value", ["true", 1, []])
def test_contains_rich_text_must_be_boolean(value):
    block = seed("rich_text")
    block["text"]["containsRichText"] = value
    assert_only_error(check(block), "text.containsRichText", "must be true or false")


def test_text_unknown_key_is_ignored():
    block = seed("text")
    block["text"]["text"] = "x"
    assert ignored(block) == ["text.text"]


# Image


def test_image_must_be_an_object():
    assert_only_error(check({"image": "https://example.com/a.jpg"}), "image", "must be an object")


def test_image_file_url_is_required():
    block = seed("image")
    del block["image"]["fileUrl"]
    assert_only_error(check(block), "image.fileUrl", "is required")


@pytest.mark.parametrize("key", ["fileUrl", "thumbnailUrl"])
@pytest.mark.parametrize("value", ["picsum.photos/200", "ftp://example.com/a.jpg", "https://", ""])
def test_image_urls_must_be_absolute_http_urls(key, value):
    block = seed("image")
    block["image"][key] = value
    assert_only_error(check(block), f"image.{key}", "must be an absolute http(s) URL")


@pytest.mark.parametrize("key", ["fileUrl", "thumbnailUrl"])
def test_image_urls_must_be_strings(key):
    block = seed("image")
    block["image"][key] = 5
    assert_only_error(check(block), f"image.{key}", "must be a string")


def test_image_force_refresh_must_be_boolean():
    block = seed("image")
    block["image"]["forceRefresh"] = "yes"
    assert_only_error(check(block), "image.forceRefresh", "must be true or false")


def test_image_alt_text_must_be_a_non_empty_string():
    block = seed("image")
    block["image"]["altText"] = ""
    assert_only_error(check(block), "image.altText", "must not be empty")


def test_image_unknown_key_is_ignored():
    block = seed("image")
    block["image"]["contentInfo"] = {}
    assert ignored(block) == ["image.contentInfo"]


# Standalone card


def test_card_must_be_an_object():
    assert_only_error(check({"standaloneCard": []}), "standaloneCard", "must be an object")


def test_card_needs_a_title_or_media():
    block = seed("card")
    del block["standaloneCard"]["title"], block["standaloneCard"]["media"]
    assert_only_error(check(block), "standaloneCard", "a card must contain at least a title or media")


def test_card_title_length_limit_200():
    block = seed("card")
    block["standaloneCard"]["title"] = "t" * 200
    assert check(block) == []
    block["standaloneCard"]["title"] = "t" * 201
    assert_only_error(check(block), "standaloneCard.title", "at most 200 characters")


def test_card_description_length_limit_2000():
    block = seed("card")
    block["standaloneCard"]["description"] = "d" * 2000
    assert check(block) == []
    block["standaloneCard"]["description"] = "d" * 2001
    assert_only_error(check(block), "standaloneCard.description", "at most 2000 characters")


def test_card_unknown_key_is_ignored():
    block = seed("card")
    block["standaloneCard"]["cardContent"] = {}
    assert ignored(block) == ["standaloneCard.cardContent"]


def test_card_suggestions_at_most_4():
    block = seed("card_with_suggestions")
    block["standaloneCard"]["suggestions"] = [{"reply": {"text": f"R{i}"}} for i in range(4)]
    assert check(block) == []
    block["standaloneCard"]["suggestions"].append({"reply": {"text": "R5"}})
    assert_only_error(check(block), "standaloneCard.suggestions", "a card can have at most 4 suggestions")


def test_card_suggestions_are_checked():
    block = seed("card_with_suggestions")
    block["standaloneCard"]["suggestions"][1]["reply"]["text"] = "r" * 26
    assert_only_error(check(block), "standaloneCard.suggestions[1].reply.text", "at most 25 characters")


# Media


def test_media_must_be_an_object():
    block = seed("card")
    block["standaloneCard"]["media"] = "https://example.com/a.jpg"
    assert_only_error(check(block), "standaloneCard.media", "must be an object")


def test_media_height_is_required():
    block = seed("card")
    del block["standaloneCard"]["media"]["height"]
    assert_only_error(check(block), "standaloneCard.media.height", "is required")


@pytest.mark.parametrize("value", ["LARGE", "HEIGHT_UNSPECIFIED", 112])
def test_media_height_values(value):
    block = seed("card")
    block["standaloneCard"]["media"]["height"] = value
    assert_only_error(check(block), "standaloneCard.media.height", "must be one of SHORT, MEDIUM, TALL")


def test_media_height_in_any_case_is_stored_as_declared():
    block = seed("card")
    block["standaloneCard"]["media"]["height"] = "short"
    assert stored(block) == _SEED["card"]


def test_media_content_info_is_required():
    block = seed("card")
    del block["standaloneCard"]["media"]["contentInfo"]
    assert_only_error(check(block), "standaloneCard.media.contentInfo", "is required")


def test_media_content_info_file_url_is_checked():
    block = seed("card")
    block["standaloneCard"]["media"]["contentInfo"]["fileUrl"] = "not a url"
    assert_only_error(check(block), "standaloneCard.media.contentInfo.fileUrl", "must be an absolute http(s) URL")


def test_media_unknown_key_is_ignored():
    block = seed("card")
    block["standaloneCard"]["media"]["width"] = "SMALL"
    assert ignored(block) == ["standaloneCard.media.width"]


# Carousel


def test_carousel_must_be_an_object():
    assert_only_error(check({"carouselCard": [_card(1), _card(2)]}), "carouselCard", "must be an object")


def test_carousel_card_width_is_required():
    block = seed("carousel")
    del carousel(block)["cardWidth"]
    assert_only_error(check(block), "carouselCard.cardWidth", "is required")


@pytest.mark.parametrize("value", ["LARGE", "WIDTH_UNSPECIFIED", 136])
def test_carousel_card_width_values(value):
    block = seed("carousel")
    carousel(block)["cardWidth"] = value
    assert_only_error(check(block), "carouselCard.cardWidth", "must be one of SMALL, MEDIUM")


def test_carousel_card_width_in_any_case_is_stored_as_declared():
    block = seed("carousel")
    carousel(block)["cardWidth"] = "small"
    assert accepted(block).carousel_card.card_width == "SMALL"
    assert stored(block) == _SEED["carousel"]


def test_carousel_card_width_in_any_case_keeps_tall_media_out():
    block = seed("carousel")
    carousel(block)["cardWidth"] = "Small"
    cards(block)[0]["media"]["height"] = "tall"
    assert_only_error(check(block), "carouselCard.cardContents[0].media.height", "TALL media can't be used")


def test_carousel_cards_are_required():
    block = seed("carousel")
    del carousel(block)["cardContents"]
    assert_only_error(check(block), "carouselCard.cardContents", "is required")


def test_carousel_cards_must_be_a_list():
    block = seed("carousel")
    carousel(block)["cardContents"] = _card(1)
    assert_only_error(check(block), "carouselCard.cardContents", "must be a list")


@pytest.mark.parametrize("count", [0, 1, 11])
def test_carousel_holds_2_to_10_cards(count):
    block = seed("carousel")
    carousel(block)["cardContents"] = [_card(n) for n in range(count)]
    assert_only_error(check(block), "carouselCard.cardContents", "must contain 2 to 10 cards")


@pytest.mark.parametrize("count", [2, 10])
def test_carousel_limits_are_inclusive(count):
    block = seed("carousel")
    carousel(block)["cardContents"] = [_card(n) for n in range(count)]
    assert check(block) == []


def test_small_carousel_cannot_carry_tall_media():
    block = seed("carousel")
    cards(block)[3]["media"]["height"] = "TALL"
    assert_only_error(
        check(block),
        "carouselCard.cardContents[3].media.height",
        "TALL media can't be used in a carousel whose cardWidth is SMALL",
    )


def test_carousel_cards_are_checked_each():
    block = seed("carousel")
    cards(block)[0]["title"] = "t" * 201
    cards(block)[5] = "card 6"
    errs = check(block)
    assert_error(errs, "carouselCard.cardContents[0].title", "at most 200 characters")
    assert_error(errs, "carouselCard.cardContents[5]", "must be an object")
    assert len(errs) == 2


def test_carousel_card_needs_a_title_or_media():
    block = seed("carousel")
    cards(block)[1] = {"description": "only a description"}
    assert_only_error(check(block), "carouselCard.cardContents[1]", "at least a title or media")


def test_carousel_unknown_key_is_ignored():
    block = seed("carousel")
    carousel(block)["cards"] = []
    assert ignored(block) == ["carouselCard.cards"]


# --------------------------------------------------------------------------
# Suggestions
# --------------------------------------------------------------------------


def test_suggestions_must_be_a_list():
    block = seed("replies")
    block["suggestions"] = {"reply": {"text": "x"}}
    assert_only_error(check(block), "suggestions", "must be a list")


def test_at_most_13_suggestions():
    block = seed("text")
    block["suggestions"] = [{"reply": {"text": f"Reply {i}"}} for i in range(13)]
    assert check(block) == []
    block["suggestions"].append({"reply": {"text": "Reply 13"}})
    assert_only_error(check(block), "suggestions", "a message can have at most 13 suggestions")


def test_suggestions_are_allowed_with_every_content():
    for name in ("image", "card", "carousel"):
        block = seed(name)
        block["suggestions"] = [copy.deepcopy(_OPEN_URL)]
        assert check(block) == [], name


def test_suggestion_must_be_an_object():
    block = seed("replies")
    block["suggestions"][0] = "Reply one"
    assert_only_error(check(block), "suggestions[0]", "must be an object")


@pytest.mark.parametrize(
    "suggestion", [{}, {"reply": {"text": "a"}, "action": {"text": "b", "openUrlAction": {"url": "https://mitto.ch"}}}]
)
def test_suggestion_has_exactly_one_of_reply_or_action(suggestion):
    block = seed("replies")
    block["suggestions"][1] = suggestion
    assert_only_error(check(block), "suggestions[1]", "must contain exactly one of reply or action")


def test_suggestion_unknown_kind_is_ignored():
    block = seed("replies")
    block["suggestions"][2]["liveAgentRequest"] = {}
    assert ignored(block) == ["suggestions[2].liveAgentRequest"]


def test_suggestion_of_an_unknown_kind_alone_is_refused():
    block = seed("replies")
    block["suggestions"][2] = {"liveAgentRequest": {}}
    assert_only_error(check(block), "suggestions[2]", "must contain exactly one of reply or action")


def test_reply_must_be_an_object():
    block = seed("replies")
    block["suggestions"][0]["reply"] = "Reply one"
    assert_only_error(check(block), "suggestions[0].reply", "must be an object")


def test_reply_text_is_required():
    block = seed("replies")
    del block["suggestions"][0]["reply"]["text"]
    assert_only_error(check(block), "suggestions[0].reply.text", "is required")


def test_reply_text_length_limit_25():
    block = seed("replies")
    block["suggestions"][0]["reply"]["text"] = "r" * 25
    assert check(block) == []
    block["suggestions"][0]["reply"]["text"] = "r" * 26
    assert_only_error(check(block), "suggestions[0].reply.text", "at most 25 characters")


def test_reply_postback_data_is_optional():
    block = seed("replies")
    del block["suggestions"][0]["reply"]["postbackData"]
    assert check(block) == []


def test_postback_data_length_limit_2048():
    block = seed("replies")
    block["suggestions"][0]["reply"]["postbackData"] = "p" * 2048
    assert check(block) == []
    block["suggestions"][0]["reply"]["postbackData"] = "p" * 2049
    assert_only_error(check(block), "suggestions[0].reply.postbackData", "at most 2048 characters")


@pytest.mark.parametrize("value", ["", 42, {"a": 1}])
def test_postback_data_must_be_a_non_empty_string(value):
    block = seed("replies")
    block["suggestions"][0]["reply"]["postbackData"] = value
    assert_only_error(check(block), "suggestions[0].reply.postbackData", "must")


def test_reply_unknown_key_is_ignored():
    block = seed("replies")
    block["suggestions"][0]["reply"]["openUrlAction"] = {"url": "https://mitto.ch"}
    assert ignored(block) == ["suggestions[0].reply.openUrlAction"]


def test_action_text_is_required():
    block = with_actions()
    del block["suggestions"][3]["action"]["text"]
    assert_only_error(check(block), "suggestions[3].action.text", "is required")


def test_action_text_length_limit_25():
    block = with_actions()
    block["suggestions"][4]["action"]["text"] = "a" * 25
    assert check(block) == []
    block["suggestions"][4]["action"]["text"] = "a" * 26
    assert_only_error(check(block), "suggestions[4].action.text", "at most 25 characters")


def test_action_postback_data_length_limit_2048():
    block = with_actions()
    block["suggestions"][3]["action"]["postbackData"] = "p" * 2049
    assert_only_error(check(block), "suggestions[3].action.postbackData", "at most 2048 characters")


def test_action_needs_an_action():
    block = with_actions()
    del block["suggestions"][3]["action"]["openUrlAction"]
    assert_only_error(check(block), "suggestions[3].action", "must contain exactly one of openUrlAction or dialAction")


def test_action_has_only_one_action():
    block = with_actions()
    block["suggestions"][3]["action"]["dialAction"] = {"phoneNumber": "+41445008000"}
    assert_only_error(check(block), "suggestions[3].action", "must contain exactly one of openUrlAction or dialAction")


def test_action_unknown_key_is_ignored():
    block = with_actions()
    block["suggestions"][3]["action"]["shareLocationAction"] = {}
    assert ignored(block) == ["suggestions[3].action.shareLocationAction"]


def test_open_url_action_must_be_an_object():
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"] = "https://mitto.ch"
    assert_only_error(check(block), "suggestions[3].action.openUrlAction", "must be an object")


def test_open_url_action_url_is_required():
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"] = {"url": None}
    assert_only_error(check(block), "suggestions[3].action.openUrlAction.url", "is required")


@pytest.mark.parametrize("kind", ["openUrlAction", "dialAction"])
def test_empty_action_object_is_no_action(kind):
    block = with_actions()
    index = 3 if kind == "openUrlAction" else 4
    block["suggestions"][index]["action"][kind] = {}
    assert_only_error(
        check(block), f"suggestions[{index}].action", "must contain exactly one of openUrlAction or dialAction"
    )


@pytest.mark.parametrize("value", ["mitto.ch", "javascript:alert(1)", "https://mit to.ch", ""])
def test_open_url_action_url_must_be_an_http_url(value):
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"]["url"] = value
    assert_only_error(check(block), "suggestions[3].action.openUrlAction.url", "must be an absolute http(s) URL")


def test_open_url_action_url_must_be_a_string():
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"]["url"] = 1
    assert_only_error(check(block), "suggestions[3].action.openUrlAction.url", "must be a string")


def test_open_url_action_unknown_key_is_ignored():
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"]["webviewViewMode"] = "FULL"
    assert ignored(block) == ["suggestions[3].action.openUrlAction.webviewViewMode"]


def test_dial_action_phone_number_is_required():
    block = with_actions()
    block["suggestions"][4]["action"]["dialAction"] = {"phoneNumber": None}
    assert_only_error(check(block), "suggestions[4].action.dialAction.phoneNumber", "is required")


@pytest.mark.parametrize(
    "value",
    ["41445008000", "+41 44 500 80 00", "+4", "+1234567890123456789", "tel:+41445008000", "", "+41445008000\n"],
)
def test_dial_action_phone_number_must_be_international(value):
    block = with_actions()
    block["suggestions"][4]["action"]["dialAction"]["phoneNumber"] = value
    assert_only_error(
        check(block),
        "suggestions[4].action.dialAction.phoneNumber",
        "must be an international phone number like +15556767888",
    )


def test_dial_action_phone_number_must_be_a_string():
    block = with_actions()
    block["suggestions"][4]["action"]["dialAction"]["phoneNumber"] = 41445008000
    assert_only_error(check(block), "suggestions[4].action.dialAction.phoneNumber", "must be a string")


def test_dial_action_unknown_key_is_ignored():
    block = with_actions()
    block["suggestions"][4]["action"]["dialAction"]["number"] = "+41445008000"
    assert ignored(block) == ["suggestions[4].action.dialAction.number"]


# --------------------------------------------------------------------------
# Fallback and representative
# --------------------------------------------------------------------------


def test_fallback_length_limit_3072():
    block = seed("text")
    block["fallback"] = "f" * 3072
    assert check(block) == []
    block["fallback"] = "f" * 3073
    assert_only_error(check(block), "fallback", "at most 3072 characters")


@pytest.mark.parametrize("value", ["", " ", 5, ["x"]])
def test_fallback_must_be_a_non_empty_string(value):
    block = seed("text")
    block["fallback"] = value
    assert_only_error(check(block), "fallback", "must")


def test_fallback_may_hold_line_breaks():
    block = seed("text")
    block["fallback"] = "Line one\nLine two\r\nLine three"
    assert check(block) == []


def test_force_fallback_needs_a_fallback():
    block = seed("force_fallback")
    del block["fallback"]
    assert_only_error(check(block), "fallback", "is required when forceFallback is true")


def test_force_fallback_false_needs_no_fallback():
    block = seed("force_fallback")
    del block["fallback"]
    block["forceFallback"] = False
    assert check(block) == []


@pytest.mark.parametrize("value", ["true", 1, []])
def test_force_fallback_must_be_boolean(value):
    block = seed("force_fallback")
    block["forceFallback"] = value
    assert_only_error(check(block), "forceFallback", "must be true or false")


def test_force_fallback_still_needs_content():
    block = seed("force_fallback")
    del block["image"]
    assert_only_error(check(block), "", "must contain one content")


def test_representative_is_optional():
    block = seed("text")
    del block["representative"]
    assert check(block) == []


def test_representative_must_be_an_object():
    block = seed("text")
    block["representative"] = "Mark Marcus"
    assert_only_error(check(block), "representative", "must be an object")


def test_representative_type_is_required():
    block = seed("text")
    del block["representative"]["representativeType"]
    assert_only_error(check(block), "representative.representativeType", "is required")


@pytest.mark.parametrize("value", ["AGENT", "REPRESENTATIVE_TYPE_UNSPECIFIED", 1])
def test_representative_type_values(value):
    block = seed("text")
    block["representative"]["representativeType"] = value
    assert_only_error(check(block), "representative.representativeType", "must be one of BOT, HUMAN")


@pytest.mark.parametrize("value", ["bot", "Bot", "BOT"])
def test_representative_type_in_any_case_is_stored_as_declared(value):
    block = seed("text")
    block["representative"]["representativeType"] = value
    assert stored(block)["representative"]["representativeType"] == "BOT"


def test_representative_bot_without_name_or_avatar():
    block = seed("text")
    block["representative"] = {"representativeType": "BOT"}
    assert check(block) == []


@pytest.mark.parametrize("value", ["", "  ", 3])
def test_representative_display_name_must_be_a_non_empty_string(value):
    block = seed("text")
    block["representative"]["displayName"] = value
    assert_only_error(check(block), "representative.displayName", "must")


@pytest.mark.parametrize("value", ["img_avatar.png", "data:image/png;base64,AAAA"])
def test_representative_avatar_must_be_an_http_url(value):
    block = seed("text")
    block["representative"]["avatarImage"] = value
    assert_only_error(check(block), "representative.avatarImage", "must be an absolute http(s) URL of the avatar image")


def test_representative_avatar_must_be_a_string():
    block = seed("text")
    block["representative"]["avatarImage"] = 5
    assert_only_error(check(block), "representative.avatarImage", "must be a string")


def test_representative_unknown_key_is_ignored():
    block = seed("text")
    block["representative"]["type"] = "HUMAN"
    assert ignored(block) == ["representative.type"]


# --------------------------------------------------------------------------
# All problems at once
# --------------------------------------------------------------------------


def test_every_field_problem_is_reported_at_once():
    block = seed("carousel")
    carousel(block)["cardContents"] = carousel(block)["cardContents"][:1]
    block["representative"]["representativeType"] = "ROBOT"
    block["suggestions"] = [{"reply": {"text": "r" * 26}}]
    block["fallback"] = "f" * 3073
    fields = {e.field for e in check(block)}
    assert fields == {
        "carouselCard.cardContents",
        "representative.representativeType",
        "suggestions[0].reply.text",
        "fallback",
    }


def test_a_rule_runs_beside_a_bad_sibling():
    block = seed("carousel")
    cards(block)[0]["media"]["height"] = "TALL"
    block["representative"]["representativeType"] = "ROBOT"
    fields = {e.field for e in check(block)}
    assert fields == {"carouselCard.cardContents[0].media.height", "representative.representativeType"}


@pytest.mark.xfail(
    strict=True,
    reason="a wrong type below a Struct leaves it untyped, so its rules can't run: ROBOT (no representativeType) "
    "hides the block's forceFallback rule, and the carousel's bad count hides its own TALL rule",
)
def test_every_problem_is_reported_at_once():
    block = seed("carousel")
    carousel(block)["cardContents"] = carousel(block)["cardContents"][:1]
    cards(block)[0]["media"]["height"] = "TALL"
    block["representative"]["representativeType"] = "ROBOT"
    block["forceFallback"] = True
    fields = {e.field for e in check(block)}
    assert fields == {
        "carouselCard.cardContents",
        "carouselCard.cardContents[0].media.height",
        "representative.representativeType",
        "fallback",
    }


# --------------------------------------------------------------------------
# content_kind
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("text", "text"),
        ("rich_text", "text"),
        ("replies", "text"),
        ("image", "image"),
        ("force_fallback", "image"),
        ("card", "richCard"),
        ("card_with_suggestions", "richCard"),
        ("carousel", "carousel"),
    ],
)
def test_content_kind(name, kind):
    assert content_kind(seed(name)) == kind


@pytest.mark.parametrize("block", [{}, {"text": None}, {"representative": {}}, None, [], "text"])
def test_content_kind_without_content(block):
    assert content_kind(block) == ""


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


def _examples() -> list[dict]:
    block = with_actions()
    block["fallback"] = "fallback"
    block["forceFallback"] = True
    card = seed("card_with_suggestions")
    card["standaloneCard"]["suggestions"].append(copy.deepcopy(_DIAL))
    small = seed("carousel")
    del cards(small)[2:]
    return [block, seed("image"), card, small]


@pytest.mark.parametrize("example", _examples(), ids=content_kind)
def test_any_value_anywhere_never_raises(example):
    for path in _paths(example):
        for weird in _WEIRD:
            block = _replaced(example, path, weird)
            errs = check(block)
            assert all(isinstance(e.field, str) and e.message for e in errs)
            content_kind(block)


@pytest.mark.parametrize(
    "block",
    [
        {"text": {"message": []}, "suggestions": [[], None, {"reply": [], "action": None}]},
        {"carouselCard": {"cardWidth": [], "cardContents": [None, [], {"media": {"height": {}}}]}},
        {"standaloneCard": {"media": {"contentInfo": []}, "suggestions": "x"}},
        {"image": {"fileUrl": {"a": 1}}, "representative": {"representativeType": []}},
        {1: 2, None: 3},
    ],
)
def test_odd_shapes_never_raise(block):
    assert check(block) != []
