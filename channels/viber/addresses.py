"""The two kinds of Viber address (seed 002, Viber section): bot messages (``session``, ``regular``) go
through the REST bot API to a **Viber user id** (the ``sender.id`` of the user's messages, e.g.
``01234567890A=``); business messages (``promotional``, ``transactional``) go through the Viber Business
Messages upstream to a **phone number**."""

from __future__ import annotations

import re
from typing import Any

from channels.base import ID_MAX

VIBER_ID = "viberId"
PHONE_NUMBER = "phoneNumber"
BUSINESS_TYPES = frozenset({"promotional", "transactional"})  # the business message categories of seed 002
# A Viber user id is base64 text (the REST bot API's examples: "01234567890A="; real ones are 24 characters
# ending in "=="); seed 002's regular example sends to "01234567890", which is one too.
_VIBER_ID = re.compile(rf"[A-Za-z0-9+/=]{{1,{ID_MAX}}}")
# What a phone number looks like once stored ("+" and digits): never a Viber id (those don't start so).
_STORED_PHONE_NUMBER = re.compile(r"\+[0-9]+")


def block_address_kind(block: dict[str, Any]) -> str:
    """Business messages go to a phone number, bot messages to a Viber user id. The decoded block holds the
    type as declared (lower case); a raw one may spell it in any case."""
    kind = block.get("type")
    return PHONE_NUMBER if isinstance(kind, str) and kind.lower() in BUSINESS_TYPES else VIBER_ID


def is_business(block: dict[str, Any]) -> bool:
    return block_address_kind(block) == PHONE_NUMBER


def address_problem(kind: str, address: str) -> str | None:
    """What is wrong with a Viber user id (the only kind besides phone numbers, which the gateway checks)."""
    if _STORED_PHONE_NUMBER.fullmatch(address.strip()):
        return (
            "must be the Viber user's id (e.g. 01234567890A=, the sender of their messages), not a phone number: "
            "session and regular messages go through the bot API; promotional and transactional ones to phone numbers"
        )
    if not _VIBER_ID.fullmatch(address):
        return f"must be the Viber user's id: 1-{ID_MAX} characters of A-Z, a-z, 0-9, +, / and =, no spaces"
    return None


def stored_address_kind(address: str) -> str:
    """A stored ``+digits`` is a phone number (business messages are stored so); anything else a Viber id."""
    return PHONE_NUMBER if _STORED_PHONE_NUMBER.fullmatch(address) else VIBER_ID
