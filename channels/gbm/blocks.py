"""Validation of the ``gbm`` block of a send request (Google Business Messages, legacy).

The block is seed 002's Google Business Messages payload: exactly one content (``text``, ``image``,
``standaloneCard`` or ``carouselCard``), optional ``suggestions``, ``fallback``, ``forceFallback`` and
``representative``:

    {"text": {"message": "Hi **there**", "containsRichText": true},
     "suggestions": [{"reply": {"text": "Yes", "postbackData": "yes"}},
                     {"action": {"text": "Website", "postbackData": "site",
                                 "openUrlAction": {"url": "https://example.com"}}},
                     {"action": {"text": "Call us", "postbackData": "call",
                                 "dialAction": {"phoneNumber": "+15556767888"}}}],
     "fallback": "Hi there. Reply Yes, or visit https://example.com",
     "representative": {"representativeType": "HUMAN", "displayName": "Mark", "avatarImage": "https://..."}}

    {"image": {"fileUrl": "https://...", "thumbnailUrl": "https://...", "forceRefresh": true, "altText": "..."}}
    {"standaloneCard": {"title": "...", "description": "...", "suggestions": [...],
                        "media": {"height": "SHORT", "contentInfo": {"fileUrl": "https://...", ...}}}}
    {"carouselCard": {"cardWidth": "SMALL", "cardContents": [<card>, <card>, ...]}}

Seed 002 flattens two levels of the Business Messages API (``image`` is the API's ``contentInfo``;
``standaloneCard`` is the card content itself); suggestions and actions are the API's objects. Limits
come from seed 002 and the API reference (conversations.messages). Lengths are counted in code points.

Public API: :func:`validate_block`, :func:`content_kind` and the limits below.
"""

from __future__ import annotations

import re
from typing import Any

import phonenumbers

from channels.base import is_http_url
from channels.checks import add, check_unknown_keys, listing, object_, one_of
from wire.errors import FieldError

__all__ = [
    "ALLOWED_KEYS",
    "CONTENT_KEYS",
    "TEXT_MAX",
    "FALLBACK_MAX",
    "SUGGESTIONS_MAX",
    "CARD_SUGGESTIONS_MAX",
    "SUGGESTION_TEXT_MAX",
    "POSTBACK_DATA_MAX",
    "CARD_TITLE_MAX",
    "CARD_DESCRIPTION_MAX",
    "CAROUSEL_CARDS",
    "MEDIA_HEIGHTS",
    "CARD_WIDTHS",
    "REPRESENTATIVE_TYPES",
    "validate_block",
    "content_kind",
]

CONTENT_KEYS = ("text", "image", "standaloneCard", "carouselCard")
ALLOWED_KEYS = (*CONTENT_KEYS, "suggestions", "fallback", "forceFallback", "representative")
_CONTENT_KINDS = {"text": "text", "image": "image", "standaloneCard": "richCard", "carouselCard": "carousel"}

# API reference, Message: text and fallback at most 3,072 characters each.
TEXT_MAX = 3072
FALLBACK_MAX = 3072
# Seed 002: a message has at most 13 suggestions; reply and action text at most 25 characters; a rich
# card carries at most 4 suggested replies and actions.
SUGGESTIONS_MAX = 13
CARD_SUGGESTIONS_MAX = 4
SUGGESTION_TEXT_MAX = 25
# API reference, SuggestedReply / SuggestedAction: postbackData at most 2,048 characters.
POSTBACK_DATA_MAX = 2048
# API reference, CardContent: title at most 200, description at most 2,000 characters.
CARD_TITLE_MAX = 200
CARD_DESCRIPTION_MAX = 2000
# Seed 002: carousels hold 2 to 10 cards; media heights SHORT, MEDIUM, TALL; card widths SMALL and
# MEDIUM, SMALL can't include TALL media.
CAROUSEL_CARDS = (2, 10)
MEDIA_HEIGHTS = ("SHORT", "MEDIUM", "TALL")
CARD_WIDTHS = ("SMALL", "MEDIUM")
# Seed 002: representative type BOT or HUMAN.
REPRESENTATIVE_TYPES = ("BOT", "HUMAN")

TEXT_KEYS = ("message", "containsRichText")
CONTENT_INFO_KEYS = ("fileUrl", "thumbnailUrl", "forceRefresh", "altText")
CARD_KEYS = ("title", "description", "media", "suggestions")
MEDIA_KEYS = ("height", "contentInfo")
CAROUSEL_KEYS = ("cardWidth", "cardContents")
REPRESENTATIVE_KEYS = ("representativeType", "displayName", "avatarImage")
SUGGESTION_KINDS = ("reply", "action")
REPLY_KEYS = ("text", "postbackData")
ACTION_KINDS = ("openUrlAction", "dialAction")
ACTION_KEYS = ("text", "postbackData", *ACTION_KINDS)

# DialAction.phoneNumber: an international number; E.164 (+15556767888) or with RFC 3966 visual
# separators (+1-201-555-0123).
_PHONE_RE = re.compile(r"\+[0-9][0-9\-.()]*")
_PHONE_HINT = "an international phone number like +15556767888 (digits after +; - . ( ) separators allowed)"

Errors = list[FieldError]


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with this channel's block of a send request; [] when it is valid. Field names are
    relative to the block ("text.message", "suggestions[0].reply.text", "carouselCard.cardWidth"): the
    gateway prefixes the channel key. Never raises, whatever `block` is."""
    errs: Errors = []
    if not isinstance(block, dict):
        add(errs, "", 'must be an object like {"text": {"message": "..."}}')
        return errs
    for key in block:
        if key not in ALLOWED_KEYS:
            add(errs, str(key), f"unknown field; the gbm block allows only: {listing(ALLOWED_KEYS)}")

    present = [key for key in CONTENT_KEYS if block.get(key) is not None]
    if not present:
        add(errs, "", f"must contain one content: {listing(CONTENT_KEYS)}")
    for key in present[1:]:
        add(errs, key, f"is not allowed together with {present[0]}; a message has exactly one content")
    for key in present:
        _CONTENT_CHECKS[key](errs, key, block[key])

    if "suggestions" in block:
        _check_suggestions(errs, "suggestions", block["suggestions"], SUGGESTIONS_MAX, "a message")
    _check_fallback(errs, block)
    if "representative" in block:
        _check_representative(errs, block["representative"])
    return errs


def content_kind(block: dict) -> str:
    """The kind of content of a gbm block: "text", "image", "richCard" (standaloneCard) or "carousel"
    (carouselCard); the first one present when there are several, "" when there is none or the block
    is not an object. Safe on any input."""
    if isinstance(block, dict):
        for key in CONTENT_KEYS:
            if block.get(key) is not None:
                return _CONTENT_KINDS[key]
    return ""


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------


def _check_string(errs: Errors, field: str, value: Any, max_len: int | None, *, required: str | None) -> None:
    """A string with some non-whitespace content and at most `max_len` characters.

    `required` is the message used when the value is missing (None: optional).
    """
    if value is None:
        if required is not None:
            add(errs, field, required)
        return
    limit = f"1-{max_len} characters" if max_len is not None else "non-empty"
    if not isinstance(value, str):
        add(errs, field, f"must be a string ({limit})")
    elif not value.strip():
        add(errs, field, f"must not be empty or only whitespace ({limit})")
    elif max_len is not None and len(value) > max_len:
        add(errs, field, f"must be at most {max_len} characters (got {len(value)})")


def _check_bool(errs: Errors, field: str, value: Any) -> None:
    if value is not None and not isinstance(value, bool):
        add(errs, field, "must be true or false")


def _check_url(errs: Errors, field: str, value: Any, *, required: bool, what: str) -> None:
    hint = f"an absolute http(s) URL of {what}, e.g. https://example.com/..."
    if value is None:
        if required:
            add(errs, field, f"is required: {hint}")
    elif not isinstance(value, str) or not is_http_url(value):
        add(errs, field, f"must be {hint}")


def _check_enum(errs: Errors, field: str, value: Any, allowed: tuple[str, ...]) -> str | None:
    """A required enum value; returns it when valid."""
    if value is None:
        add(errs, field, f"is required; one of {listing(allowed)}")
        return None
    if not one_of(value, allowed):
        add(errs, field, f"must be one of {listing(allowed)}")
        return None
    return value


# --------------------------------------------------------------------------
# Content
# --------------------------------------------------------------------------


def _check_text(errs: Errors, path: str, value: Any) -> None:
    text = object_(errs, path, value, None, '{"message": "...", "containsRichText": false}')
    if text is None:
        return
    check_unknown_keys(errs, path, text, TEXT_KEYS, "text")
    _check_string(
        errs,
        f"{path}.message",
        text.get("message"),
        TEXT_MAX,
        required=f"is required: the message text (1-{TEXT_MAX} characters)",
    )
    _check_bool(errs, f"{path}.containsRichText", text.get("containsRichText"))


def _check_content_info(errs: Errors, path: str, info: dict, what: str) -> None:
    """An image / media file: fileUrl, thumbnailUrl, forceRefresh, altText."""
    check_unknown_keys(errs, path, info, CONTENT_INFO_KEYS, what)
    _check_url(errs, f"{path}.fileUrl", info.get("fileUrl"), required=True, what="the file")
    _check_url(errs, f"{path}.thumbnailUrl", info.get("thumbnailUrl"), required=False, what="the thumbnail")
    _check_bool(errs, f"{path}.forceRefresh", info.get("forceRefresh"))
    _check_string(errs, f"{path}.altText", info.get("altText"), None, required=None)


def _check_image(errs: Errors, path: str, value: Any) -> None:
    image = object_(errs, path, value, None, '{"fileUrl": "https://...", "altText": "..."}')
    if image is not None:
        _check_content_info(errs, path, image, "an image")


def _check_standalone_card(errs: Errors, path: str, value: Any) -> None:
    _check_card(errs, path, value, card_width=None)


def _check_carousel(errs: Errors, path: str, value: Any) -> None:
    carousel = object_(errs, path, value, None, '{"cardWidth": "MEDIUM", "cardContents": [...]}')
    if carousel is None:
        return
    check_unknown_keys(errs, path, carousel, CAROUSEL_KEYS, "a carousel card")
    width = _check_enum(errs, f"{path}.cardWidth", carousel.get("cardWidth"), CARD_WIDTHS)
    low, high = CAROUSEL_CARDS
    field = f"{path}.cardContents"
    cards = carousel.get("cardContents")
    if cards is None:
        add(errs, field, f"is required: a list of {low}-{high} cards")
        return
    if not isinstance(cards, list):
        add(errs, field, f"must be a list of {low}-{high} cards")
        return
    if not low <= len(cards) <= high:
        add(errs, field, f"must contain {low} to {high} cards (got {len(cards)})")
    for i, card in enumerate(cards):
        _check_card(errs, f"{field}[{i}]", card, card_width=width)


def _check_card(errs: Errors, path: str, value: Any, *, card_width: str | None) -> None:
    """A rich card's content; `card_width` is the carousel's valid width (None for a standalone card)."""
    card = object_(errs, path, value, None, '{"title": "...", "description": "...", "media": {...}}')
    if card is None:
        return
    check_unknown_keys(errs, path, card, CARD_KEYS, "a card")
    if card.get("title") is None and card.get("media") is None:
        add(errs, path, "a card must contain at least a title or media")
    _check_string(errs, f"{path}.title", card.get("title"), CARD_TITLE_MAX, required=None)
    _check_string(errs, f"{path}.description", card.get("description"), CARD_DESCRIPTION_MAX, required=None)
    if "media" in card:
        _check_media(errs, f"{path}.media", card["media"], card_width)
    if "suggestions" in card:
        _check_suggestions(errs, f"{path}.suggestions", card["suggestions"], CARD_SUGGESTIONS_MAX, "a card")


def _check_media(errs: Errors, path: str, value: Any, card_width: str | None) -> None:
    media = object_(errs, path, value, None, '{"height": "MEDIUM", "contentInfo": {"fileUrl": "https://..."}}')
    if media is None:
        return
    check_unknown_keys(errs, path, media, MEDIA_KEYS, "media")
    height = _check_enum(errs, f"{path}.height", media.get("height"), MEDIA_HEIGHTS)
    if height == "TALL" and card_width == "SMALL":
        add(
            errs,
            f"{path}.height",
            "TALL media can't be used in a carousel whose cardWidth is SMALL; use SHORT or MEDIUM",
        )
    info = object_(
        errs,
        f"{path}.contentInfo",
        media.get("contentInfo"),
        'is required: an object like {"fileUrl": "https://..."}',
        '{"fileUrl": "https://...", "altText": "..."}',
    )
    if info is not None:
        _check_content_info(errs, f"{path}.contentInfo", info, "contentInfo")


_CONTENT_CHECKS = {
    "text": _check_text,
    "image": _check_image,
    "standaloneCard": _check_standalone_card,
    "carouselCard": _check_carousel,
}


# --------------------------------------------------------------------------
# Suggestions
# --------------------------------------------------------------------------


def _check_suggestions(errs: Errors, path: str, value: Any, limit: int, owner: str) -> None:
    if not isinstance(value, list):
        add(errs, path, f"must be a list of at most {limit} suggestions (reply or action objects)")
        return
    if len(value) > limit:
        add(errs, path, f"{owner} can have at most {limit} suggestions (got {len(value)})")
    for i, suggestion in enumerate(value):
        _check_suggestion(errs, f"{path}[{i}]", suggestion)


def _check_suggestion(errs: Errors, path: str, value: Any) -> None:
    suggestion = object_(errs, path, value, None, '{"reply": {"text": "...", "postbackData": "..."}}')
    if suggestion is None:
        return
    check_unknown_keys(errs, path, suggestion, SUGGESTION_KINDS, "a suggestion")
    kinds = [kind for kind in SUGGESTION_KINDS if kind in suggestion]
    if len(kinds) != 1:
        add(errs, path, "must contain exactly one of reply or action")
    if "reply" in suggestion:
        _check_reply(errs, f"{path}.reply", suggestion["reply"])
    if "action" in suggestion:
        _check_action(errs, f"{path}.action", suggestion["action"])


def _check_suggestion_text(errs: Errors, path: str, obj: dict) -> None:
    _check_string(
        errs,
        f"{path}.text",
        obj.get("text"),
        SUGGESTION_TEXT_MAX,
        required=f"is required: the text shown (1-{SUGGESTION_TEXT_MAX} characters)",
    )
    _check_string(errs, f"{path}.postbackData", obj.get("postbackData"), POSTBACK_DATA_MAX, required=None)


def _check_reply(errs: Errors, path: str, value: Any) -> None:
    reply = object_(errs, path, value, None, '{"text": "...", "postbackData": "..."}')
    if reply is None:
        return
    check_unknown_keys(errs, path, reply, REPLY_KEYS, "a suggested reply")
    _check_suggestion_text(errs, path, reply)


def _check_action(errs: Errors, path: str, value: Any) -> None:
    action = object_(
        errs, path, value, None, '{"text": "...", "postbackData": "...", "openUrlAction": {"url": "https://..."}}'
    )
    if action is None:
        return
    check_unknown_keys(errs, path, action, ACTION_KEYS, "a suggested action")
    _check_suggestion_text(errs, path, action)
    kinds = [kind for kind in ACTION_KINDS if kind in action]
    if len(kinds) != 1:
        add(errs, path, "must contain exactly one of openUrlAction or dialAction")
    if "openUrlAction" in action:
        field = f"{path}.openUrlAction"
        open_url = object_(errs, field, action["openUrlAction"], None, '{"url": "https://..."}')
        if open_url is not None:
            check_unknown_keys(errs, field, open_url, ("url",), "openUrlAction")
            _check_url(errs, f"{field}.url", open_url.get("url"), required=True, what="the page to open")
    if "dialAction" in action:
        field = f"{path}.dialAction"
        dial = object_(errs, field, action["dialAction"], None, '{"phoneNumber": "+15556767888"}')
        if dial is not None:
            check_unknown_keys(errs, field, dial, ("phoneNumber",), "dialAction")
            _check_phone(errs, f"{field}.phoneNumber", dial.get("phoneNumber"))


def _check_phone(errs: Errors, field: str, value: Any) -> None:
    if value is None:
        add(errs, field, f"is required: {_PHONE_HINT}")
    elif not isinstance(value, str) or not _PHONE_RE.fullmatch(value) or not _is_possible_phone(value):
        add(errs, field, f"must be {_PHONE_HINT}")


def _is_possible_phone(value: str) -> bool:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(number)


# --------------------------------------------------------------------------
# Fallback and representative
# --------------------------------------------------------------------------


def _check_fallback(errs: Errors, block: dict) -> None:
    _check_string(errs, "fallback", block.get("fallback"), FALLBACK_MAX, required=None)
    force = block.get("forceFallback")
    _check_bool(errs, "forceFallback", force)
    if force is True and block.get("fallback") is None:
        add(errs, "fallback", "is required when forceFallback is true: the text shown instead of the content")


def _check_representative(errs: Errors, value: Any) -> None:
    path = "representative"
    representative = object_(
        errs, path, value, None, '{"representativeType": "BOT", "displayName": "...", "avatarImage": "https://..."}'
    )
    if representative is None:
        return
    check_unknown_keys(errs, path, representative, REPRESENTATIVE_KEYS, "representative")
    _check_enum(errs, f"{path}.representativeType", representative.get("representativeType"), REPRESENTATIVE_TYPES)
    _check_string(errs, f"{path}.displayName", representative.get("displayName"), None, required=None)
    _check_url(errs, f"{path}.avatarImage", representative.get("avatarImage"), required=False, what="the avatar image")
