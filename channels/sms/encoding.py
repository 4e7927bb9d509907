"""GSM-7 versus UCS-2 for SMS text, and how a text is split into the segments a handset receives.

The GSM 7-bit default alphabet and its extension table are those of 3GPP TS 23.038 (section 6.2.1).
An extension character is sent as the escape septet 0x1B followed by its code, so it costs two septets.
A single SMS carries 140 octets: 160 septets in GSM-7 or 70 UTF-16 code units in UCS-2. The parts of a
concatenated SMS lose 6 octets to the user data header (3GPP TS 23.040, 8-bit reference), leaving 153
septets or 67 units. An escape is never separated from its character and a surrogate pair is never split,
so a part may hold one septet or unit less than the maximum.

Public API: :data:`GSM7`, :data:`UCS2`, :func:`encoding_for`, :func:`segments`, :func:`segment_count`.
"""

from __future__ import annotations

__all__ = ["GSM7", "UCS2", "encoding_for", "segments", "segment_count", "non_gsm_characters"]

GSM7 = "GSM7"
UCS2 = "UCS2"

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

SINGLE_GSM7 = 160  # septets in one SMS
PART_GSM7 = 153  # septets in each part of a concatenated SMS
SINGLE_UCS2 = 70  # UTF-16 code units in one SMS
PART_UCS2 = 67  # UTF-16 code units in each part of a concatenated SMS

_LIMITS = {GSM7: (SINGLE_GSM7, PART_GSM7), UCS2: (SINGLE_UCS2, PART_UCS2)}


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


def segments(text: str, encoding: str | None = None) -> list[str]:
    """`text` split into the segments a handset receives, in `encoding` (automatic when None).

    GSM-7: one SMS up to 160 septets, else parts of up to 153. UCS-2: one SMS up to 70 UTF-16 code units,
    else parts of up to 67. Empty text is one empty segment. Raises ValueError when `encoding` is GSM7 and
    the text has characters GSM-7 can't encode, or when `encoding` is not GSM7, UCS2 or None.
    """
    if encoding is None:
        encoding = encoding_for(text)
    elif encoding not in _LIMITS:
        raise ValueError(f"unknown SMS encoding {encoding!r}; one of {GSM7}, {UCS2}")
    elif encoding == GSM7:
        bad = non_gsm_characters(text)
        if bad:
            raise ValueError("GSM-7 can't encode " + ", ".join(repr(c) for c in bad))
    cost = _septets if encoding == GSM7 else _utf16_units
    single, part = _LIMITS[encoding]

    costs = [cost(char) for char in text]
    if sum(costs) <= single:
        return [text]
    parts: list[str] = []
    start = used = 0
    for index, char_cost in enumerate(costs):
        if used + char_cost > part:
            parts.append(text[start:index])
            start, used = index, 0
        used += char_cost
    parts.append(text[start:])
    return parts


def segment_count(text: str, encoding: str | None = None) -> int:
    """len(segments(text, encoding))."""
    return len(segments(text, encoding))


def _septets(char: str) -> int:
    return 2 if char in GSM_EXTENSION else 1


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1
