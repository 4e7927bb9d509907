"""The ``sms`` block of a send request, declared: seed 002's ``{"text", "sender"}`` plus the per-message
options of the SMS HTTP API (seed 004) ``type``, ``reference``, ``validity``, ``udh``, ``pid`` and ``flash``.
Not ``callback`` (the gateway's own carries the per-message token) nor ``test`` (sandbox accounts are).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from channels.sms.encoding import (
    BINARY,
    GSM7,
    UCS2,
    encoding_of,
    is_hex,
    non_gsm_characters,
    part_capacity,
    segment_count,
)
from wire.errors import FieldError
from wire.shapes import decode

__all__ = ["BLOCK", "EXAMPLES", "SmsMessage", "MAX_PARTS", "validate_block", "message_parts"]

_UNITS = {GSM7: ("GSM-7", "septets"), UCS2: ("UCS-2", "UTF-16 units"), BINARY: ("binary", "hex digits")}

# Neither seed caps the text; the cap is the gateway's: 10 parts (1530 GSM-7 septets, 670 UCS-2 units or
# 1340 octets, with no udh of the client's).
MAX_PARTS = 10
# Seed 004 says `reference` is free-form text with no documented length; 255 keeps it sane in callbacks.
REFERENCE_MAX = 255
# Seed 004: `validity` is an int in minutes, default 2880 (48 h), the supplier's shorter period wins. No
# range is documented; the gateway takes 1 minute to 7 days.
VALIDITY_MINUTES = (1, 10_080)

# Python's `$` also matches before a final newline; `(?!\n)` makes it the end of the string here and in
# the ECMAScript regex of the OpenAPI document alike.
_END = r"$(?!\n)"
# Seed 002: sender numeric 1-16 characters (a leading + counts) or alphanumeric 1-11 characters. (Seed
# 004's responseCode 6 text says 3-14 / 3-11; seed 002 and issue 3 are the gateway's rule.) Seed 004 calls
# `from` free-form text (example "MITTO SMS"); the gateway takes the characters every network accepts in
# an alphanumeric originator: ASCII letters, digits, space and . - _ &, at least one letter, and no space
# at either end.
_NUMERIC = r"\+[0-9]{1,15}|[0-9]{1,16}"
_NAME = r"(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9.\-_&](?:[A-Za-z0-9 .\-_&]{0,9}[A-Za-z0-9.\-_&])?"
SENDER_RULE = (
    "must be a number of 1-16 characters (digits, optionally a leading +) or a name of 1-11 characters "
    "with at least one letter, that may contain only letters A-Z a-z, digits, spaces and . - _ & "
    "and must not start or end with a space"
)
# Seed 004: "Custom Hex-encoded User Data Header. Example: 06050415811581"; at most the 140 octets of an SMS.
_UDH = r"(?:[0-9A-Fa-f]{2}){1,140}"

Text = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        description="The message; for type Binary or Byte, octets written as hex.",
        extra={"error": "must not be empty"},
    ),
]
Sender = Annotated[
    str,
    msgspec.Meta(
        pattern=f"^(?:{_NUMERIC}|{_NAME}){_END}",
        description="What the recipient sees as the sender (seed 002).",
        extra={"error": SENDER_RULE},
    ),
]
# Seed 004, `type`: GSM (the API's default), Unicode, auto for automatic detection, and "for Binary, set
# type to be Byte" (its status code 2 lists Binary too), so both name binary here. Left out, the gateway
# picks GSM-7 or UCS-2 itself (issue 3), like auto.
SmsType = Annotated[
    Literal["GSM", "Unicode", "auto", "Binary", "Byte"],
    msgspec.Meta(description="The encoding (seed 004), in any case; left out, GSM or Unicode as the text needs."),
]
Reference = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=REFERENCE_MAX,
        description="Metadata returned in delivery reports (seed 004).",
        extra={"error": f"must not be empty (omit it instead) and at most {REFERENCE_MAX} characters"},
    ),
]
Validity = Annotated[
    int,
    msgspec.Meta(
        ge=VALIDITY_MINUTES[0],
        le=VALIDITY_MINUTES[1],
        description="Minutes the provider keeps trying (seed 004); the message's own validity caps it.",
        extra={"error": "must be a whole number of minutes from 1 to 10080 (7 days)"},
    ),
]
Udh = Annotated[
    str,
    msgspec.Meta(
        pattern=f"^{_UDH}{_END}",
        description="A custom user data header, hex-encoded, its length octet first (seed 004).",
        examples=["06050415811581"],
        extra={"error": "must be hex-encoded octets (two digits each, at most 140 octets), e.g. 06050415811581"},
    ),
]
# Seed 004 says only "int, defaults to 0"; TP-PID is one octet (3GPP TS 23.040 9.2.3.9).
Pid = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=255,
        description="The protocol identifier, consistent with the udh (seed 004).",
        extra={"error": "must be a protocol identifier from 0 to 255 (one octet)"},
    ),
]


class SmsMessage(msgspec.Struct, rename="camel", omit_defaults=True):
    """An SMS through the SMS HTTP API: text in GSM-7 or UCS-2 (type GSM, Unicode or auto; left out,
    whichever the text needs), or binary data written as hex (type Binary, or its alias Byte), with an
    optional user data header (udh), protocol identifier (pid) and flash mode, passed upstream as seed 004
    names them. At most 10 SMS parts."""

    text: Text
    sender: Sender
    type: SmsType | None = None
    reference: Reference | None = None
    validity: Validity | None = None
    udh: Udh | None = None
    pid: Pid | None = None
    flash: Annotated[bool, msgspec.Meta(description="Flash mode (seed 004): shown at once, not stored.")] | None = None

    def problems(self) -> list[FieldError]:
        return udh_problems(self.udh) + text_problems(self.text, self.type, udh_octets(self.udh))


BLOCK = SmsMessage
# The limits of a block, for the README (gateway docs: a (field, limit) row each).
LIMITS = (
    (
        "text",
        f"at most {MAX_PARTS} SMS parts: {MAX_PARTS * 153} GSM-7 characters (extension characters count 2), "
        f"{MAX_PARTS * 67} UCS-2 units, or {MAX_PARTS * 134} octets of binary (as hex); one part holds 160, 70 or 140",
    ),
    (
        "sender",
        "a number of 1-16 characters (digits, optionally a leading +) or a name of 1-11 letters, digits, "
        "spaces and . - _ & with at least one letter",
    ),
    ("type", "GSM, Unicode, auto (the default: GSM-7 when it can, else UCS-2), Binary or Byte (hex text); any case"),
    ("udh", "hex, 1-140 octets, its first octet their length; `pid` 0-255; `flash` true or false"),
    ("reference", f"1-{REFERENCE_MAX} characters, echoed in delivery reports and webhooks"),
    ("validity", f"{VALIDITY_MINUTES[0]}-{VALIDITY_MINUTES[1]} minutes (7 days); 48 hours when left out"),
)

EXAMPLES = {
    "SmsMessage": {"text": "Hi, this is test msg.", "sender": "+44123456789123"},  # seed 002
    # Seed 004's UDH (a 16-bit port address) with "Hello" in hex.
    "SmsBinary": {"text": "48656C6C6F", "sender": "Acme", "type": "Binary", "udh": "06050415811581"},
}


def validate_block(block: Any) -> list[FieldError]:
    """Every problem with the sms block of a send request, named relative to the block; [] when valid."""
    return decode(block, BLOCK).errors


def udh_problems(udh: str | None) -> list[FieldError]:
    """A header's first octet (UDHL) counts the octets after it (3GPP TS 23.040 9.2.3.24)."""
    if udh is None or int(udh[:2], 16) == len(udh) // 2 - 1:
        return []
    return [FieldError("udh", "must start with its length: the first octet counts the octets after it")]


def text_problems(text: str, sms_type: str | None, header: int) -> list[FieldError]:
    """The text against its type (GSM-7 characters, hex for binary) and the cap of MAX_PARTS parts."""
    encoding = encoding_of(text, sms_type)
    if encoding == GSM7 and (bad := non_gsm_characters(text)):  # only when the type says GSM
        shown = ", ".join(repr(c) for c in bad[:5]) + (", ..." if len(bad) > 5 else "")
        return [FieldError("type", f"GSM can't encode these characters of the text: {shown}; use Unicode or auto")]
    if encoding == BINARY and not is_hex(text):
        return [FieldError("text", f"must be hex-encoded octets (two digits each) when type is {sms_type}")]
    try:
        parts = segment_count(text, encoding, header)
    except ValueError as error:  # a header too long for the parts of a long message
        return [FieldError("udh", str(error))]
    if parts <= MAX_PARTS:
        return []
    name, unit = _UNITS[encoding]
    per_part = part_capacity(encoding, header)
    return [
        FieldError("text", f"is too long: {parts} SMS parts in {name}; at most {MAX_PARTS} parts of {per_part} {unit}")
    ]


def message_parts(block: dict) -> int:
    """Number of SMS parts of a stored block, in its chosen or automatic encoding, beside its udh.

    Safe on any input: 0 when there is no text string; a type that can't carry the text counts as auto.
    """
    if not isinstance(block, dict) or not isinstance(block.get("text"), str):
        return 0
    text, header = block["text"], udh_octets(block.get("udh"))
    try:
        return segment_count(text, encoding_of(text, block.get("type")), header)
    except ValueError:  # garbage: a type that can't carry the text, a header that leaves no room
        return segment_count(text)


def udh_octets(udh: Any) -> int:
    """The octets of a header written as hex (0 for none, or for one that is no hex)."""
    return len(udh) // 2 if isinstance(udh, str) and is_hex(udh) else 0
