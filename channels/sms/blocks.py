"""Validation of the ``sms`` block of a send request.

The block is seed 002's ``{"text", "sender"}`` plus the per-message options of the SMS HTTP API
(seeds 001 and 004) that make sense to a gateway client: ``type`` (encoding), ``reference`` (metadata
echoed in delivery reports) and ``validity`` (minutes). ``callback``, ``test``, ``udh``, ``pid`` and
``flash`` are not exposed: the gateway sets the callback itself (it carries the per-message token),
sandbox traffic accounts replace test mode, and binary/UDH messages don't fit a text block.

Public API: :func:`validate_block`, :func:`message_parts` and the limits below.
"""

from __future__ import annotations

import re
from typing import Any

from channels.checks import add, is_int
from channels.sms.encoding import (
    GSM7,
    PART_GSM7,
    PART_UCS2,
    UCS2,
    encoding_for,
    non_gsm_characters,
    segment_count,
)
from wire.errors import FieldError

__all__ = [
    "ALLOWED_KEYS",
    "TYPES",
    "MAX_PARTS",
    "REFERENCE_MAX",
    "VALIDITY_MINUTES",
    "SENDER_NUMERIC_MAX",
    "SENDER_ALPHANUMERIC_MAX",
    "validate_block",
    "message_parts",
]

ALLOWED_KEYS = ("text", "sender", "type", "reference", "validity")

# Seed 004, `type`: GSM (the API's default), Unicode, or auto for automatic detection. The API also has
# Binary/Byte, which needs hex text and a UDH, so it is not offered in a text block. When `type` is
# absent the gateway chooses GSM-7 or UCS-2 itself (issue 3), i.e. it behaves like auto.
TYPES = ("GSM", "Unicode", "auto")
_TYPE_ENCODING = {"GSM": GSM7, "Unicode": UCS2}

# Neither seed caps the text; the cap is the gateway's: 10 parts (1530 GSM-7 septets / 670 UCS-2 units).
MAX_PARTS = 10
# Seed 004 says `reference` is free-form text with no documented length; 255 keeps it sane in callbacks.
REFERENCE_MAX = 255
# Seed 004: `validity` is an int in minutes, default 2880 (48 h), the supplier's shorter period wins. No
# range is documented; the gateway takes 1 minute to 7 days.
VALIDITY_MINUTES = (1, 10_080)

# Seed 002: sender numeric 1-16 characters or alphanumeric 1-11 characters. (Seed 004's responseCode 6
# text says 3-14 / 3-11; seed 002 and issue 3 are the gateway's rule.)
SENDER_NUMERIC_MAX = 16
SENDER_ALPHANUMERIC_MAX = 11
_NUMERIC_SENDER_RE = re.compile(r"\+?[0-9]+")
# Seed 004 calls `from` free-form text (example "MITTO SMS"); the gateway takes the characters every
# network accepts in an alphanumeric originator: ASCII letters, digits, space and . - _ &.
_ALPHANUMERIC_SENDER_RE = re.compile(r"[A-Za-z0-9 .\-_&]+")
_HAS_LETTER_RE = re.compile(r"[A-Za-z]")

Errors = list[FieldError]


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with this channel's block of a send request; [] when it is valid. Field names are
    relative to the block ("text", "sender", "validity"): the gateway prefixes the channel key. Never
    raises, whatever `block` is."""
    errs: Errors = []
    if not isinstance(block, dict):
        add(errs, "", 'must be an object like {"text": "...", "sender": "..."}')
        return errs
    for key in block:
        if key not in ALLOWED_KEYS:
            add(errs, str(key), f"unknown field; the sms block allows only: {', '.join(ALLOWED_KEYS)}")
    encoding = _check_type(errs, block)
    _check_text(errs, block, encoding)
    _check_sender(errs, block.get("sender"))
    _check_reference(errs, block)
    _check_validity(errs, block)
    return errs


def message_parts(block: dict) -> int:
    """Number of SMS segments of a valid block's text, in its chosen or automatic encoding.

    Safe on any input: 0 when there is no text string; a GSM type whose text needs UCS-2 counts as auto.
    """
    if not isinstance(block, dict) or not isinstance(block.get("text"), str):
        return 0
    text = block["text"]
    return segment_count(text, _effective_encoding(text, block.get("type")))


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _effective_encoding(text: str, sms_type: Any) -> str:
    """The encoding the text is sent in: the chosen one when it can carry the text, else automatic."""
    chosen = _TYPE_ENCODING.get(sms_type) if isinstance(sms_type, str) else None
    if chosen == UCS2 or (chosen == GSM7 and not non_gsm_characters(text)):
        return chosen
    return encoding_for(text)


def _check_type(errs: Errors, block: dict) -> str | None:
    """Check `type`; return it when it is one of TYPES (or None when absent or invalid)."""
    if "type" not in block:
        return None
    value = block["type"]
    if not isinstance(value, str) or value not in TYPES:
        add(errs, "type", f"must be one of {', '.join(TYPES)} (binary messages are not supported)")
        return None
    text = block.get("text")
    if value == "GSM" and isinstance(text, str):
        bad = non_gsm_characters(text)
        if bad:
            shown = ", ".join(repr(c) for c in bad[:5]) + (", ..." if len(bad) > 5 else "")
            add(errs, "type", f"GSM can't encode these characters of the text: {shown}; use Unicode or auto")
    return value


def _check_text(errs: Errors, block: dict, sms_type: str | None) -> None:
    text = block.get("text")
    if text is None:
        add(errs, "text", "is required: the message text")
        return
    if not isinstance(text, str):
        add(errs, "text", "must be a string")
        return
    if not text:
        add(errs, "text", "must not be empty")
        return
    encoding = _effective_encoding(text, sms_type)
    parts = segment_count(text, encoding)
    if parts > MAX_PARTS:
        name = "GSM-7" if encoding == GSM7 else "UCS-2"
        add(
            errs,
            "text",
            f"is too long: {parts} SMS parts in {name}; at most {MAX_PARTS} parts "
            f"({MAX_PARTS * PART_GSM7} GSM-7 characters, extension characters counting 2, "
            f"or {MAX_PARTS * PART_UCS2} UCS-2 characters)",
        )


def _check_sender(errs: Errors, sender: Any) -> None:
    rule = (
        f"a number of 1-{SENDER_NUMERIC_MAX} characters (digits, optionally a leading +) or a name of "
        f"1-{SENDER_ALPHANUMERIC_MAX} characters (letters, digits, spaces and . - _ &, with at least one letter)"
    )
    if sender is None:
        add(errs, "sender", f"is required: {rule}")
        return
    if not isinstance(sender, str):
        add(errs, "sender", f"must be a string: {rule}")
        return
    if not sender:
        add(errs, "sender", f"must not be empty: {rule}")
        return
    if _NUMERIC_SENDER_RE.fullmatch(sender):
        if len(sender) > SENDER_NUMERIC_MAX:
            add(errs, "sender", f"a numeric sender must be at most {SENDER_NUMERIC_MAX} characters (got {len(sender)})")
        return
    if not _HAS_LETTER_RE.search(sender):
        add(errs, "sender", f"must be {rule}")
        return
    if not _ALPHANUMERIC_SENDER_RE.fullmatch(sender):
        add(errs, "sender", "an alphanumeric sender may contain only letters A-Z a-z, digits, spaces and . - _ &")
    elif sender != sender.strip(" "):
        add(errs, "sender", "must not start or end with a space")
    if len(sender) > SENDER_ALPHANUMERIC_MAX:
        add(
            errs,
            "sender",
            f"an alphanumeric sender must be at most {SENDER_ALPHANUMERIC_MAX} characters (got {len(sender)})",
        )


def _check_reference(errs: Errors, block: dict) -> None:
    if "reference" not in block:
        return
    value = block["reference"]
    if not isinstance(value, str):
        add(errs, "reference", f"must be a string of 1-{REFERENCE_MAX} characters")
    elif not value:
        add(errs, "reference", f"must not be empty (1-{REFERENCE_MAX} characters); omit it instead")
    elif len(value) > REFERENCE_MAX:
        add(errs, "reference", f"must be at most {REFERENCE_MAX} characters (got {len(value)})")


def _check_validity(errs: Errors, block: dict) -> None:
    if "validity" not in block:
        return
    value = block["validity"]
    low, high = VALIDITY_MINUTES
    if not is_int(value) or not low <= value <= high:
        add(errs, "validity", f"must be a whole number of minutes from {low} to {high} (7 days)")
