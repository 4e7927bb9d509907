"""Tests for channels.gbm.blocks (the gbm block of a send request, Google Business Messages)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from channels.gbm.blocks import content_kind, validate_block
from wire.errors import FieldError

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


# --------------------------------------------------------------------------
# Valid blocks
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(_SEED))
def test_seed_002_examples_are_valid(name):
    assert check(seed(name)) == []


def test_suggested_actions_are_valid():
    assert check(with_actions()) == []


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


def test_unknown_block_key():
    block = seed("text")
    block["richCard"] = {}
    assert_only_error(check(block), "richCard", "unknown field; the gbm block allows only: text, image, standaloneCard")


def test_containsRichText_belongs_inside_text():
    block = seed("text")
    block["containsRichText"] = True
    assert_only_error(check(block), "containsRichText", "unknown field")


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
    assert_only_error(
        check({"text": value}), "text", 'must be an object like {"message": "...", "containsRichText": false}'
    )


def test_text_message_is_required():
    assert_only_error(check({"text": {"containsRichText": True}}), "text.message", "is required: the message text")


@pytest.mark.parametrize("value", ["", "   ", 5])
def test_text_message_must_be_a_non_empty_string(value):
    assert_only_error(check({"text": {"message": value}}), "text.message", "must")


def test_text_message_length_limit_3072():
    assert check({"text": {"message": "m" * 3072}}) == []
    assert_only_error(check({"text": {"message": "m" * 3073}}), "text.message", "at most 3072 characters (got 3073)")


@pytest.mark.parametrize("value", ["true", 1, []])
def test_contains_rich_text_must_be_boolean(value):
    block = seed("rich_text")
    block["text"]["containsRichText"] = value
    assert_only_error(check(block), "text.containsRichText", "must be true or false")


def test_text_unknown_key():
    block = seed("text")
    block["text"]["text"] = "x"
    assert_only_error(check(block), "text.text", "unknown field; text allows only: message, containsRichText")


# Image


def test_image_must_be_an_object():
    assert_only_error(check({"image": "https://example.com/a.jpg"}), "image", "must be an object")


def test_image_file_url_is_required():
    block = seed("image")
    del block["image"]["fileUrl"]
    assert_only_error(check(block), "image.fileUrl", "is required: an absolute http(s) URL")


@pytest.mark.parametrize("key", ["fileUrl", "thumbnailUrl"])
@pytest.mark.parametrize("value", ["picsum.photos/200", "ftp://example.com/a.jpg", "https://", "", 5])
def test_image_urls_must_be_absolute_http_urls(key, value):
    block = seed("image")
    block["image"][key] = value
    assert_only_error(check(block), f"image.{key}", "must be an absolute http(s) URL")


def test_image_force_refresh_must_be_boolean():
    block = seed("image")
    block["image"]["forceRefresh"] = "yes"
    assert_only_error(check(block), "image.forceRefresh", "must be true or false")


def test_image_alt_text_must_be_a_non_empty_string():
    block = seed("image")
    block["image"]["altText"] = ""
    assert_only_error(check(block), "image.altText", "must not be empty")


def test_image_unknown_key():
    block = seed("image")
    block["image"]["contentInfo"] = {}
    assert_only_error(check(block), "image.contentInfo", "unknown field; an image allows only: fileUrl, thumbnailUrl")


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
    assert_only_error(check(block), "standaloneCard.title", "at most 200 characters (got 201)")


def test_card_description_length_limit_2000():
    block = seed("card")
    block["standaloneCard"]["description"] = "d" * 2000
    assert check(block) == []
    block["standaloneCard"]["description"] = "d" * 2001
    assert_only_error(check(block), "standaloneCard.description", "at most 2000 characters (got 2001)")


def test_card_unknown_key():
    block = seed("card")
    block["standaloneCard"]["cardContent"] = {}
    assert_only_error(
        check(block), "standaloneCard.cardContent", "unknown field; a card allows only: title, description"
    )


def test_card_suggestions_at_most_4():
    block = seed("card_with_suggestions")
    block["standaloneCard"]["suggestions"] = [{"reply": {"text": f"R{i}"}} for i in range(4)]
    assert check(block) == []
    block["standaloneCard"]["suggestions"].append({"reply": {"text": "R5"}})
    assert_only_error(check(block), "standaloneCard.suggestions", "a card can have at most 4 suggestions (got 5)")


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
    assert_only_error(check(block), "standaloneCard.media.height", "is required; one of SHORT, MEDIUM, TALL")


@pytest.mark.parametrize("value", ["short", "LARGE", "HEIGHT_UNSPECIFIED", 112])
def test_media_height_values(value):
    block = seed("card")
    block["standaloneCard"]["media"]["height"] = value
    assert_only_error(check(block), "standaloneCard.media.height", "must be one of SHORT, MEDIUM, TALL")


def test_media_content_info_is_required():
    block = seed("card")
    del block["standaloneCard"]["media"]["contentInfo"]
    assert_only_error(check(block), "standaloneCard.media.contentInfo", "is required")


def test_media_content_info_file_url_is_checked():
    block = seed("card")
    block["standaloneCard"]["media"]["contentInfo"]["fileUrl"] = "not a url"
    assert_only_error(check(block), "standaloneCard.media.contentInfo.fileUrl", "must be an absolute http(s) URL")


def test_media_unknown_key():
    block = seed("card")
    block["standaloneCard"]["media"]["width"] = "SMALL"
    assert_only_error(
        check(block), "standaloneCard.media.width", "unknown field; media allows only: height, contentInfo"
    )


# Carousel


def test_carousel_must_be_an_object():
    assert_only_error(check({"carouselCard": [_card(1), _card(2)]}), "carouselCard", "must be an object")


def test_carousel_card_width_is_required():
    block = seed("carousel")
    del carousel(block)["cardWidth"]
    assert_only_error(check(block), "carouselCard.cardWidth", "is required; one of SMALL, MEDIUM")


@pytest.mark.parametrize("value", ["LARGE", "small", 136])
def test_carousel_card_width_values(value):
    block = seed("carousel")
    carousel(block)["cardWidth"] = value
    assert_only_error(check(block), "carouselCard.cardWidth", "must be one of SMALL, MEDIUM")


def test_carousel_cards_are_required():
    block = seed("carousel")
    del carousel(block)["cardContents"]
    assert_only_error(check(block), "carouselCard.cardContents", "is required: a list of 2-10 cards")


def test_carousel_cards_must_be_a_list():
    block = seed("carousel")
    carousel(block)["cardContents"] = _card(1)
    assert_only_error(check(block), "carouselCard.cardContents", "must be a list of 2-10 cards")


@pytest.mark.parametrize("count", [0, 1, 11])
def test_carousel_holds_2_to_10_cards(count):
    block = seed("carousel")
    carousel(block)["cardContents"] = [_card(n) for n in range(count)]
    assert_only_error(check(block), "carouselCard.cardContents", f"must contain 2 to 10 cards (got {count})")


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


def test_carousel_unknown_key():
    block = seed("carousel")
    carousel(block)["cards"] = []
    assert_only_error(
        check(block), "carouselCard.cards", "unknown field; a carousel card allows only: cardWidth, cardContents"
    )


# --------------------------------------------------------------------------
# Suggestions
# --------------------------------------------------------------------------


def test_suggestions_must_be_a_list():
    block = seed("replies")
    block["suggestions"] = {"reply": {"text": "x"}}
    assert_only_error(check(block), "suggestions", "must be a list of at most 13 suggestions")


def test_at_most_13_suggestions():
    block = seed("text")
    block["suggestions"] = [{"reply": {"text": f"Reply {i}"}} for i in range(13)]
    assert check(block) == []
    block["suggestions"].append({"reply": {"text": "Reply 13"}})
    assert_only_error(check(block), "suggestions", "a message can have at most 13 suggestions (got 14)")


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


def test_suggestion_unknown_kind():
    block = seed("replies")
    block["suggestions"][2]["liveAgentRequest"] = {}
    assert_only_error(
        check(block), "suggestions[2].liveAgentRequest", "unknown field; a suggestion allows only: reply, action"
    )


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
    assert_only_error(check(block), "suggestions[0].reply.text", "at most 25 characters (got 26)")


def test_reply_postback_data_is_optional():
    block = seed("replies")
    del block["suggestions"][0]["reply"]["postbackData"]
    assert check(block) == []


def test_postback_data_length_limit_2048():
    block = seed("replies")
    block["suggestions"][0]["reply"]["postbackData"] = "p" * 2048
    assert check(block) == []
    block["suggestions"][0]["reply"]["postbackData"] = "p" * 2049
    assert_only_error(check(block), "suggestions[0].reply.postbackData", "at most 2048 characters (got 2049)")


@pytest.mark.parametrize("value", ["", 42, {"a": 1}])
def test_postback_data_must_be_a_non_empty_string(value):
    block = seed("replies")
    block["suggestions"][0]["reply"]["postbackData"] = value
    assert_only_error(check(block), "suggestions[0].reply.postbackData", "must")


def test_reply_unknown_key():
    block = seed("replies")
    block["suggestions"][0]["reply"]["openUrlAction"] = {"url": "https://mitto.ch"}
    assert_only_error(
        check(block), "suggestions[0].reply.openUrlAction", "unknown field; a suggested reply allows only"
    )


def test_action_text_is_required():
    block = with_actions()
    del block["suggestions"][3]["action"]["text"]
    assert_only_error(check(block), "suggestions[3].action.text", "is required")


def test_action_text_length_limit_25():
    block = with_actions()
    block["suggestions"][4]["action"]["text"] = "a" * 25
    assert check(block) == []
    block["suggestions"][4]["action"]["text"] = "a" * 26
    assert_only_error(check(block), "suggestions[4].action.text", "at most 25 characters (got 26)")


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


def test_action_unknown_key():
    block = with_actions()
    block["suggestions"][3]["action"]["shareLocationAction"] = {}
    assert_only_error(
        check(block), "suggestions[3].action.shareLocationAction", "unknown field; a suggested action allows only"
    )


def test_open_url_action_must_be_an_object():
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"] = "https://mitto.ch"
    assert_only_error(
        check(block), "suggestions[3].action.openUrlAction", 'must be an object like {"url": "https://..."}'
    )


def test_open_url_action_url_is_required():
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"] = {}
    assert_only_error(check(block), "suggestions[3].action.openUrlAction.url", "is required: an absolute http(s) URL")


@pytest.mark.parametrize("value", ["mitto.ch", "javascript:alert(1)", "https://mit to.ch", "", 1])
def test_open_url_action_url_must_be_an_http_url(value):
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"]["url"] = value
    assert_only_error(check(block), "suggestions[3].action.openUrlAction.url", "must be an absolute http(s) URL")


def test_open_url_action_unknown_key():
    block = with_actions()
    block["suggestions"][3]["action"]["openUrlAction"]["webviewViewMode"] = "FULL"
    assert_only_error(
        check(block),
        "suggestions[3].action.openUrlAction.webviewViewMode",
        "unknown field; openUrlAction allows only: url",
    )


def test_dial_action_phone_number_is_required():
    block = with_actions()
    block["suggestions"][4]["action"]["dialAction"] = {}
    assert_only_error(
        check(block), "suggestions[4].action.dialAction.phoneNumber", "is required: an international phone number"
    )


@pytest.mark.parametrize(
    "value", ["41445008000", "+41 44 500 80 00", "+4", "+1234567890123456789", "tel:+41445008000", "", 41445008000]
)
def test_dial_action_phone_number_must_be_international(value):
    block = with_actions()
    block["suggestions"][4]["action"]["dialAction"]["phoneNumber"] = value
    assert_only_error(
        check(block),
        "suggestions[4].action.dialAction.phoneNumber",
        "must be an international phone number like +15556767888",
    )


def test_dial_action_unknown_key():
    block = with_actions()
    block["suggestions"][4]["action"]["dialAction"]["number"] = "+41445008000"
    assert_only_error(
        check(block), "suggestions[4].action.dialAction.number", "unknown field; dialAction allows only: phoneNumber"
    )


# --------------------------------------------------------------------------
# Fallback and representative
# --------------------------------------------------------------------------


def test_fallback_length_limit_3072():
    block = seed("text")
    block["fallback"] = "f" * 3072
    assert check(block) == []
    block["fallback"] = "f" * 3073
    assert_only_error(check(block), "fallback", "at most 3072 characters (got 3073)")


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
    assert_only_error(check(block), "representative.representativeType", "is required; one of BOT, HUMAN")


@pytest.mark.parametrize("value", ["bot", "AGENT", "REPRESENTATIVE_TYPE_UNSPECIFIED", 1])
def test_representative_type_values(value):
    block = seed("text")
    block["representative"]["representativeType"] = value
    assert_only_error(check(block), "representative.representativeType", "must be one of BOT, HUMAN")


def test_representative_bot_without_name_or_avatar():
    block = seed("text")
    block["representative"] = {"representativeType": "BOT"}
    assert check(block) == []


@pytest.mark.parametrize("value", ["", "  ", 3])
def test_representative_display_name_must_be_a_non_empty_string(value):
    block = seed("text")
    block["representative"]["displayName"] = value
    assert_only_error(check(block), "representative.displayName", "must")


@pytest.mark.parametrize("value", ["img_avatar.png", "data:image/png;base64,AAAA", 5])
def test_representative_avatar_must_be_an_http_url(value):
    block = seed("text")
    block["representative"]["avatarImage"] = value
    assert_only_error(check(block), "representative.avatarImage", "must be an absolute http(s) URL of the avatar image")


def test_representative_unknown_key():
    block = seed("text")
    block["representative"]["type"] = "HUMAN"
    assert_only_error(
        check(block), "representative.type", "unknown field; representative allows only: representativeType"
    )


# --------------------------------------------------------------------------
# All problems at once
# --------------------------------------------------------------------------


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
