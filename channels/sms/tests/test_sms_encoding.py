"""GSM-7 / UCS-2 choice and SMS segmentation (3GPP TS 23.038 / 23.040)."""

import pytest

from channels.sms.encoding import (
    BINARY,
    GSM7,
    UCS2,
    capacity,
    encoding_for,
    is_hex,
    non_gsm_characters,
    part_capacity,
    segment_count,
    segments,
)

EMOJI = "\U0001f600"  # outside the BMP: a surrogate pair, 2 UTF-16 units


def _septets(part: str) -> int:
    return sum(2 if c in "\f^{}\\[~]|€" else 1 for c in part)


def _units(part: str) -> int:
    return len(part.encode("utf-16-le")) // 2


# --- encoding_for ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello, World!",
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?",
        "¡ABCXYZÄÖÑÜ§¿abcxyzäöñüà",
        "€[]{}\\^~|\f",
    ],
)
def test_gsm_texts(text):
    assert encoding_for(text) == GSM7


@pytest.mark.parametrize(
    "text", ["Grüße aus Łódź", "price: 5 ₽", "ç lowercase cedilla", f"hi {EMOJI}", "\x1b", "tab\t"]
)
def test_one_non_gsm_character_switches_to_ucs2(text):
    assert encoding_for(text) == UCS2


def test_non_gsm_characters_are_distinct_in_order():
    assert non_gsm_characters("aŁbŁ€😀") == ["Ł", EMOJI]


# --- GSM-7 ----------------------------------------------------------------------------------------


def test_empty_text_is_one_empty_segment():
    assert segments("") == [""]
    assert segments("", GSM7) == [""]
    assert segments("", UCS2) == [""]
    assert segment_count("") == 1


def test_gsm_160_is_one_segment_161_is_two():
    assert segments("a" * 160) == ["a" * 160]
    parts = segments("a" * 161)
    assert [len(p) for p in parts] == [153, 8]
    assert "".join(parts) == "a" * 161


def test_gsm_extension_chars_count_two_septets_in_a_single_sms():
    assert segment_count("€" * 80) == 1  # 160 septets
    assert segment_count("€" * 80 + "a") == 2  # 161 septets
    assert segment_count("a" * 159 + "€") == 2


def test_gsm_306_is_two_segments_307_is_three():
    assert [len(p) for p in segments("a" * 306)] == [153, 153]
    assert [len(p) for p in segments("a" * 307)] == [153, 153, 1]


def test_extension_char_straddling_153_is_not_split_from_its_escape():
    text = "a" * 152 + "€" + "b" * 10  # the euro would take septets 153 and 154
    parts = segments(text)
    assert parts == ["a" * 152, "€" + "b" * 10]
    assert _septets(parts[0]) == 152
    assert "".join(parts) == text


def test_extension_char_exactly_filling_153():
    parts = segments("a" * 151 + "[" + "b" * 10)
    assert parts[0] == "a" * 151 + "["
    assert _septets(parts[0]) == 153


def test_only_extension_chars():
    assert segment_count("{" * 80) == 1
    parts = segments("{" * 81)  # 162 septets: parts of 76 chars (152 septets, the 77th would make 154)
    assert [len(p) for p in parts] == [76, 5]
    assert all(_septets(p) <= 153 for p in parts)
    assert encoding_for("|" * 3) == GSM7


def test_forced_gsm7_with_non_gsm_text_raises():
    with pytest.raises(ValueError, match="GSM-7"):
        segments("Łódź", GSM7)


def test_unknown_encoding_raises():
    with pytest.raises(ValueError, match="unknown SMS encoding"):
        segments("a", "latin1")
    with pytest.raises(ValueError, match="unknown SMS encoding"):
        segments("a", "gsm7")


# --- UCS-2 ----------------------------------------------------------------------------------------


def test_ucs2_70_is_one_segment_71_is_two():
    assert segments("ж" * 70) == ["ж" * 70]
    assert [len(p) for p in segments("ж" * 71)] == [67, 4]


def test_ucs2_134_is_two_parts_135_is_three():
    assert segment_count("ж" * 134) == 2
    assert segment_count("ж" * 135) == 3


def test_surrogate_pair_counts_two_units_in_a_single_sms():
    assert segment_count(EMOJI * 35) == 1  # 70 units
    assert segment_count(EMOJI * 35 + "a") == 2


def test_emoji_straddling_67_is_not_split():
    text = "ж" * 66 + EMOJI + "ж" * 10  # the emoji would take units 67 and 68
    parts = segments(text)
    assert parts == ["ж" * 66, EMOJI + "ж" * 10]
    assert [_units(p) for p in parts] == [66, 12]
    assert "".join(parts) == text


def test_emoji_exactly_filling_67():
    parts = segments("ж" * 65 + EMOJI + "ж" * 10)
    assert parts[0] == "ж" * 65 + EMOJI
    assert _units(parts[0]) == 67


def test_mixed_text_switches_to_ucs2_because_of_one_char():
    text = "a" * 100 + "ł"
    assert encoding_for(text) == UCS2
    assert segment_count(text) == 2  # 101 units: 67 + 34
    assert segment_count("a" * 101) == 1  # GSM-7 without it


def test_gsm_text_forced_to_ucs2():
    assert segment_count("a" * 71, UCS2) == 2
    assert segment_count("€" * 70, UCS2) == 1


def test_every_part_within_limits_and_reassembles():
    text = ("Hello € [x] 😀 ж " * 40)[:-1]
    for encoding in (None, UCS2):
        parts = segments(text, encoding)
        assert "".join(parts) == text
        assert all(_units(p) <= 67 for p in parts)


# --- user data headers and binary -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "single", "part", "with_udh", "udh_part"),
    [(GSM7, 160, 153, 152, 146), (UCS2, 70, 67, 66, 64), (BINARY, 280, 268, 266, 256)],
)
def test_capacity_beside_a_header(encoding, single, part, with_udh, udh_part):
    """140 octets less the header (UDHL included); GSM-7 pads the header to a septet boundary."""
    assert capacity(encoding) == single and part_capacity(encoding) == part
    assert capacity(encoding, 6) == part  # the concatenation header alone: 6 octets
    assert capacity(encoding, 7) == with_udh and part_capacity(encoding, 7) == udh_part  # 7 + 5 octets


def test_binary_is_split_into_whole_octets():
    assert segments("ab" * 140, BINARY) == ["ab" * 140]
    assert [len(p) // 2 for p in segments("0F" * 141, BINARY)] == [134, 7]
    assert [len(p) // 2 for p in segments("0F" * 134, BINARY, 7)] == [128, 6]
    assert segment_count("", BINARY) == 1


@pytest.mark.parametrize("text", ["abc", "0g", "0x", " 0a", "é0"])
def test_binary_text_that_is_no_hex_raises(text):
    assert not is_hex(text)
    with pytest.raises(ValueError, match="hex"):
        segments(text, BINARY)


def test_a_header_counts_in_text_parts():
    assert segment_count("a" * 152, GSM7, 7) == 1
    assert [len(p) for p in segments("a" * 153, GSM7, 7)] == [146, 7]
    assert [len(p) for p in segments("ж" * 67, None, 7)] == [64, 3]


def test_a_header_that_leaves_no_room_in_the_parts_raises():
    assert segment_count("ab" * 5, BINARY, 135) == 1
    with pytest.raises(ValueError, match="leaves no room"):
        segments("ab" * 6, BINARY, 135)
