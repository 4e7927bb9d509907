"""GSM-7, UCS-2 or binary SMS, and how a message is split into the parts a handset receives.

The GSM 7-bit default alphabet and its extension table are those of 3GPP TS 23.038 (section 6.2.1).
An extension character is sent as the escape septet 0x1B followed by its code, so it costs two septets.
A single SMS carries 140 octets of user data (3GPP TS 23.040 9.2.3.24): 160 septets in GSM-7, 70 UTF-16
code units in UCS-2, or 140 octets of binary data. A user data header (UDH: its length octet UDHL and
its information elements) takes its octets from those 140; in GSM-7 the header is padded to a septet
boundary. Each part of a concatenated SMS carries a concatenation element (IEI 00, length 03, reference,
count, sequence: 5 octets, 3GPP TS 23.040 9.2.3.24.1) in its header: 6 octets with the UDHL when the
message has no header of its own (153 septets, 67 units or 134 octets left), 5 more when it has one.
An escape is never separated from its character, a surrogate pair or an octet never split, so a part
may hold one unit less than its room.

Binary text is written as hex, two digits per octet (seed 004: type Binary, sent as Byte).

Public API: :data:`GSM7`, :data:`UCS2`, :data:`BINARY`, :data:`TYPE_ENCODINGS`, :func:`encoding_for`, :func:`encoding_of`, :func:`segments`,
:func:`segment_count`, :func:`capacity`, :func:`part_capacity`, :func:`is_hex`.
"""

from __future__ import annotations

__all__ = [
    "GSM7",
    "UCS2",
    "BINARY",
    "encoding_for",
    "encoding_of",
    "TYPE_ENCODINGS",
    "segments",
    "segment_count",
    "non_gsm_characters",
    "capacity",
    "part_capacity",
    "is_hex",
]

GSM7 = "GSM7"
UCS2 = "UCS2"
BINARY = "BINARY"

# 3GPP TS 23.038 6.2.1 default alphabet, in code order 0x00-0x7F. 0x1B is the escape to the extension table,
# not a character of its own, so it is left out (a literal ESC in a text is not GSM-7).
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
assert len(_BASIC) == 128
GSM_BASIC = frozenset(_BASIC) - {"\x1b"}
# 3GPP TS 23.038 6.2.1.1 extension table: form feed ^ { } \ [ ~ ] | and the euro sign, each escape + char.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

USER_DATA = 140  # octets in one SMS (3GPP TS 23.040 9.2.3.24)
CONCATENATION = 5  # octets of the concatenation element, 8-bit reference (3GPP TS 23.040 9.2.3.24.1)
# What a character costs in the units of its encoding: septets, UTF-16 code units, hex digits (half octets).
_COSTS = {
    GSM7: lambda char: 2 if char in GSM_EXTENSION else 1,
    UCS2: lambda char: 2 if ord(char) > 0xFFFF else 1,
    BINARY: lambda char: 1,
}
_HEX = frozenset("0123456789abcdefABCDEF")


def capacity(encoding: str, header_octets: int = 0) -> int:
    """How many units of ``encoding`` one SMS carries beside a user data header of ``header_octets``
    (UDHL included): septets (160 with no header, 153 beside the 6 octets of concatenation), UTF-16 code
    units (70, 67) or hex digits (280, 268)."""
    room = USER_DATA - header_octets
    return {GSM7: room * 8 // 7, UCS2: room // 2, BINARY: room * 2}[encoding]


def part_capacity(encoding: str, udh_octets: int = 0) -> int:
    """What each part of a concatenated SMS carries: its header adds the concatenation element to the
    client's UDH, or is that element and a UDHL of its own."""
    return capacity(encoding, udh_octets + CONCATENATION if udh_octets else 1 + CONCATENATION)


def is_hex(text: str) -> bool:
    """Whether ``text`` is whole octets written as hex (an even number of 0-9 a-f A-F digits)."""
    return len(text) % 2 == 0 and all(char in _HEX for char in text)


def non_gsm_characters(text: str) -> list[str]:
    """The distinct characters of `text` that GSM-7 can't encode, in order of first appearance."""
    found: dict[str, None] = {}
    for char in text:
        if char not in GSM_BASIC and char not in GSM_EXTENSION:
            found[char] = None
    return list(found)


def encoding_for(text: str) -> str:
    """GSM7 when every character is in the default alphabet or its extension table, else UCS2."""
    for char in text:
        if char not in GSM_BASIC and char not in GSM_EXTENSION:
            return UCS2
    return GSM7


# Seed 004's `type` values, in any case: GSM, Unicode, Binary or its alias Byte; auto chooses by the text.
TYPE_ENCODINGS = {"gsm": GSM7, "unicode": UCS2, "auto": None, "binary": BINARY, "byte": BINARY}


def encoding_of(text: str, sms_type: object) -> str:
    """The encoding ``text`` is sent in with seed 004's ``type`` (auto, none or no type: by the text)."""
    return TYPE_ENCODINGS.get(sms_type.lower() if isinstance(sms_type, str) else "auto") or encoding_for(text)


def segments(text: str, encoding: str | None = None, udh_octets: int = 0) -> list[str]:
    """`text` split into the parts a handset receives, in `encoding` (GSM7 or UCS2 automatically when
    None), beside a user data header of `udh_octets` (its UDHL included; 0 for none).

    With no header: GSM-7 one SMS up to 160 septets, else parts of up to 153; UCS-2 70 units, else 67;
    binary 140 octets, else 134. Empty text is one empty segment. Raises ValueError when `text` can't be
    sent in `encoding` (GSM7 with characters GSM-7 can't encode, BINARY with text that is not hex), when
    `encoding` is unknown, or when the header leaves a part of a long message no room for a character.
    """
    encoding = encoding or encoding_for(text)
    _check(text, encoding)
    costs = [_COSTS[encoding](char) for char in text]
    if sum(costs) <= capacity(encoding, udh_octets):
        return [text]
    room = part_capacity(encoding, udh_octets)
    if room < 2:  # two units: an extension character, a surrogate pair, an octet
        raise ValueError(f"a user data header of {udh_octets} octets leaves no room in the parts of a long message")
    parts: list[str] = []
    start = used = 0
    for index, cost in enumerate(costs):
        if used + cost > room:
            parts.append(text[start:index])
            start, used = index, 0
        used += cost
    parts.append(text[start:])
    return parts


def segment_count(text: str, encoding: str | None = None, udh_octets: int = 0) -> int:
    """len(segments(text, encoding, udh_octets))."""
    return len(segments(text, encoding, udh_octets))


def _check(text: str, encoding: str) -> None:
    if encoding not in _COSTS:
        raise ValueError(f"unknown SMS encoding {encoding!r}; one of {GSM7}, {UCS2}, {BINARY}")
    if encoding == GSM7 and (bad := non_gsm_characters(text)):
        raise ValueError("GSM-7 can't encode " + ", ".join(repr(c) for c in bad))
    if encoding == BINARY and not is_hex(text):
        raise ValueError("binary text must be hex, two digits per octet")
