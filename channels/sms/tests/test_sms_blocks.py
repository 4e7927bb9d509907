"""The sms block of a send request: seed 002 plus type/reference/validity/udh/pid/flash of the SMS HTTP API
(seed 004)."""

import msgspec
import pytest

from channels.sms.blocks import BLOCK, EXAMPLES, SENDER_RULE, message_parts, validate_block
from wire.shapes import decode

SEED_002 = {"text": "Hi, this is test msg.", "sender": "+44123456789123"}


def errors(block):
    return [(e.field, e.message) for e in validate_block(block)]


def only_error(block):
    found = validate_block(block)
    assert len(found) == 1, found
    return found[0].field, found[0].message


def ok(**changes):
    return {**SEED_002, **changes}


# --- valid ------------------------------------------------------------------------------------------


def test_seed_002_examples_are_valid():
    assert validate_block(SEED_002) == []
    assert validate_block({"text": "hello", "sender": "44750732xxxx".replace("x", "0")}) == []


def test_every_optional_field_valid():
    block = ok(type="Unicode", reference="Spring campaign", validity=2880)
    assert validate_block(block) == []
    assert validate_block(ok(type="GSM", text="€ [ok] {x} ~|^\\")) == []
    assert validate_block(ok(type="auto", text="Łódź 😀")) == []


@pytest.mark.parametrize(
    "sender",
    ["1", "+1", "1234567890123456", "+123456789012345", "MITTO SMS", "A", "Shop-24.de", "AT&T", "X_Y", "12345678a0b"],
)
def test_valid_senders(sender):
    assert validate_block(ok(sender=sender)) == []


# --- block shape and unknown keys ------------------------------------------------------------------


@pytest.mark.parametrize("block", [None, "text", 5, [], ["text"], True])
def test_non_object_block(block):
    assert only_error(block)[0] == ""


def test_unknown_keys_are_ignored_and_listed():
    """Issue 16: unknown fields are ignored (as the real service's JSON binding does) and listed."""
    decoded = decode(ok(callback="https://x", Test=True), BLOCK)
    assert decoded.errors == [] and decoded.ignored == ["callback", "Test"]
    assert msgspec.to_builtins(decoded.value) == SEED_002  # not stored


def test_null_is_an_absent_field():
    decoded = decode(ok(type=None, reference=None, validity=None, udh=None, pid=None, flash=None), BLOCK)
    assert decoded.errors == [] and msgspec.to_builtins(decoded.value) == SEED_002


def test_names_match_in_any_case_and_are_stored_as_declared():
    decoded = decode({"Text": "hi", "SENDER": "MITTO", "Type": "unicode"}, BLOCK)
    assert decoded.errors == []
    assert msgspec.to_builtins(decoded.value) == {"text": "hi", "sender": "MITTO", "type": "Unicode"}


def test_the_examples_are_valid():
    assert set(EXAMPLES) == {"SmsMessage", "SmsBinary"}
    assert [validate_block(example) for example in EXAMPLES.values()] == [[], []]


def test_empty_block_reports_text_and_sender():
    found = errors({})
    assert [f for f, _ in found] == ["text", "sender"]
    assert "is required" in found[0][1] and "is required" in found[1][1]


# --- text ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [(None, "is required"), ("", "must not be empty"), (5, "must be a string"), (["a"], "must be a string")],
)
def test_text_rules(text, fragment):
    block = ok(text=text) if text is not None else {"sender": "MITTO"}
    field, message = only_error(block)
    assert field == "text" and fragment in message


def test_text_at_the_cap_gsm7():
    assert validate_block(ok(text="a" * 1530)) == []
    field, message = only_error(ok(text="a" * 1531))
    assert field == "text"
    assert "11 SMS parts in GSM-7" in message and "at most 10 parts" in message


def test_text_at_the_cap_ucs2():
    assert validate_block(ok(text="ж" * 670)) == []
    field, message = only_error(ok(text="ж" * 671))
    assert field == "text" and "11 SMS parts in UCS-2" in message


def test_text_cap_counts_extension_chars_twice():
    # 76 euros (152 septets) per part: a 77th would split an escape pair across the 153 boundary
    assert validate_block(ok(text="€" * 760)) == []
    assert only_error(ok(text="€" * 761))[0] == "text"
    assert validate_block(ok(text="€" * 670, type="Unicode")) == []  # 1 unit each in UCS-2


def test_text_cap_uses_the_chosen_unicode_type():
    assert validate_block(ok(text="a" * 670, type="Unicode")) == []
    field, message = only_error(ok(text="a" * 671, type="Unicode"))
    assert field == "text" and "UCS-2" in message


# --- type ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "stored"),
    [("gsm", "GSM"), ("UNICODE", "Unicode"), ("Auto", "auto"), ("binary", "Binary"), ("BYTE", "Byte")],
)
def test_type_in_any_case_is_stored_as_declared(value, stored):
    """Issue 16: the provider takes the type in any case (its OpenAPI example says ``unicode``)."""
    text = "0B0C" if stored in ("Binary", "Byte") else "hi"
    decoded = decode(ok(type=value, text=text), BLOCK)
    assert decoded.errors == [] and decoded.value.type == stored


@pytest.mark.parametrize("value", ["", "UCS2", 1, ["GSM"], {"a": 1}, True])
def test_type_must_be_one_of(value):
    field, message = only_error(ok(type=value))
    assert field == "type" and "must be one of GSM, Unicode, auto, Binary, Byte" in message


def test_gsm_type_with_non_gsm_text_names_type():
    field, message = only_error(ok(type="GSM", text="Grüße aus Łódź 😀"))
    assert field == "type"
    assert "'Ł'" in message and "'ó'" in message and "use Unicode or auto" in message


def test_gsm_type_with_many_non_gsm_chars_lists_five():
    field, message = only_error(ok(type="GSM", text="абвгдежз"))
    assert field == "type" and "'д', ...;" in message and "'е'" not in message


# --- sender ----------------------------------------------------------------------------------------


def test_sender_required():
    field, message = only_error({"text": "hi"})
    assert field == "sender" and "is required" in message


@pytest.mark.parametrize(
    ("sender", "fragment"),
    [
        ("", "must be a number of 1-16"),
        (12345, "must be a string"),
        ("12345678901234567", "must be a number of 1-16 characters"),
        ("+1234567890123456", "must be a number of 1-16 characters (digits, optionally a leading +)"),
        ("MITTOSMS1234", "or a name of 1-11 characters"),
        ("MITTO\n", "must be a number of 1-16"),  # Python's $ alone would take a final newline
        ("1234\n", "must be a number of 1-16"),
        ("+", "must be a number of 1-16"),
        ("123 456", "must be a number of 1-16"),
        ("1+2", "must be a number of 1-16"),
        ("   ", "must be a number of 1-16"),
        ("+MITTO", "may contain only letters"),
        ("Café", "may contain only letters"),
        ("MITTO!", "may contain only letters"),
        (" MITTO", "must not start or end with a space"),
        ("MITTO ", "must not start or end with a space"),
    ],
)
def test_sender_rules(sender, fragment):
    field, message = only_error(ok(sender=sender))
    assert field == "sender" and fragment in message


def test_a_bad_sender_is_one_error_naming_the_whole_rule():
    """The rule is the sender's declared pattern, so it is named even when other fields are wrong."""
    assert errors(ok(sender="MITTO SMS!!!")) == [("sender", SENDER_RULE)]
    assert ("sender", SENDER_RULE) in errors({"text": "", "sender": "WAY TOO LONG SENDER"})


# --- reference and validity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be empty"),
        ("r" * 256, "at most 255 characters"),
        (5, "must be a string"),
    ],
)
def test_reference_rules(value, fragment):
    field, message = only_error(ok(reference=value))
    assert field == "reference" and fragment in message


def test_reference_at_limit():
    assert validate_block(ok(reference="r" * 255)) == []


@pytest.mark.parametrize("value", [1, 2880, 10080])
def test_validity_in_range(value):
    assert validate_block(ok(validity=value)) == []


@pytest.mark.parametrize("value", [0, -5, 10081])
def test_validity_out_of_range(value):
    field, message = only_error(ok(validity=value))
    assert field == "validity" and "whole number of minutes from 1 to 10080" in message


@pytest.mark.parametrize("value", [60.0, "60", True, [60]])
def test_validity_not_an_integer(value):
    assert only_error(ok(validity=value)) == ("validity", "must be a whole number")


# --- all at once, never raises -----------------------------------------------------------------------


def test_all_problems_reported_together():
    block = {"text": "", "sender": "+", "type": "x", "reference": "", "validity": 0, "udh": "0", "pid": 256}
    found = errors({**block, "flash": "yes", "extra": 1})
    assert sorted(f for f, _ in found) == ["flash", "pid", "reference", "sender", "text", "type", "udh", "validity"]


@pytest.mark.parametrize(
    "block",
    [
        {1: 2, None: 3},
        {"text": {"a": 1}, "sender": [1], "type": {"b": 2}, "reference": [], "validity": {}},
        {"text": "\ud800 lone surrogate", "sender": "\x00", "type": "GSM"},
        {"text": "a" * 100_000, "sender": "S" * 1000},
        {"type": [], "text": None},
    ],
)
def test_garbage_never_raises(block):
    assert isinstance(validate_block(block), list)
    assert isinstance(message_parts(block), int)


# --- message_parts ----------------------------------------------------------------------------------


def test_message_parts():
    assert message_parts(SEED_002) == 1
    assert message_parts(ok(text="a" * 161)) == 2
    assert message_parts(ok(text="a" * 71, type="Unicode")) == 2
    assert message_parts(ok(text="a" * 71, type="GSM")) == 1
    assert message_parts(ok(text="a" * 71 + "ł")) == 2
    assert message_parts(ok(text="a" * 71 + "ł", type="auto")) == 2
    assert message_parts(ok(text="€" * 81)) == 2
    assert message_parts(ok(text="")) == 1


def test_message_parts_on_odd_input():
    assert message_parts(None) == 0
    assert message_parts({"sender": "x"}) == 0
    assert message_parts(ok(text="a" * 71 + "ł", type="GSM")) == 2  # counts as auto


def test_message_parts_reads_the_type_in_any_case():
    """The stored block holds the declared spelling; a block stored as the client wrote it counts alike."""
    assert message_parts(ok(text="a" * 71, type="unicode")) == 2
    assert message_parts(ok(text="ab" * 141, type="byte")) == 2


# --- binary, udh, pid, flash (seed 004; issue 16) -------------------------------------------------------

BINARY = ok(type="Binary", text="48656C6C6F", udh="06050415811581", pid=0, flash=True)


def test_a_binary_message_with_every_option_is_stored_as_given():
    decoded = decode(BINARY, BLOCK)
    assert decoded.errors == [] and msgspec.to_builtins(decoded.value) == BINARY
    assert validate_block({**BINARY, "type": "Byte", "text": "0a0B", "flash": False, "pid": 255}) == []


def test_udh_pid_and_flash_go_with_text_too():
    assert validate_block(ok(udh="0500030A0201", pid=64, flash=True, type="Unicode")) == []


@pytest.mark.parametrize("text", ["Hello", "ABC", "0G", "0x0A", "0A 0B", "€€"])
def test_binary_text_must_be_hex_octets(text):
    for binary in ("Binary", "byte"):
        field, message = only_error({**BINARY, "type": binary, "text": text})
        assert field == "text" and "must be hex-encoded octets" in message


@pytest.mark.parametrize("udh", ["0", "0605041581158", "ZZ", "06 05 04", "", "0605\n", "7F" + "00" * 140, 6])
def test_udh_must_be_hex_octets(udh):
    field, message = only_error({**BINARY, "udh": udh})
    assert field == "udh" and ("must be hex-encoded octets" in message or "must be a string" in message)


@pytest.mark.parametrize("udh", ["05050415811581", "0805041581158100", "00AA"])
def test_udh_must_start_with_its_length(udh):
    field, message = only_error({**BINARY, "udh": udh})
    assert field == "udh" and "must start with its length" in message


@pytest.mark.parametrize(("pid", "message"), [(-1, "from 0 to 255"), (256, "from 0 to 255"), ("0", "whole number")])
def test_pid_is_one_octet(pid, message):
    field, found = only_error({**BINARY, "pid": pid})
    assert field == "pid" and message in found


@pytest.mark.parametrize("flash", ["true", 1, 0])
def test_flash_is_true_or_false(flash):
    assert only_error({**BINARY, "flash": flash}) == ("flash", "must be true or false")


# 3GPP TS 23.040: 140 octets of user data; a header takes its octets from them, and each part of a long
# message carries a concatenation element (5 octets, plus the UDHL when there was no header).
@pytest.mark.parametrize(
    ("octets", "udh", "parts"),
    [
        (140, None, 1),
        (141, None, 2),  # parts of 134 octets
        (268, None, 2),
        (269, None, 3),
        (133, "06050415811581", 1),  # 140 - 7
        (134, "06050415811581", 2),  # parts of 140 - 7 - 5 = 128 octets
        (256, "06050415811581", 2),
        (257, "06050415811581", 3),
    ],
)
def test_binary_parts_are_counted_in_octets_beside_the_header(octets, udh, parts):
    block = {**BINARY, "text": "AB" * octets, "udh": udh}
    assert validate_block(block) == []
    assert message_parts({k: v for k, v in block.items() if v is not None}) == parts


def test_a_header_shortens_text_parts_too():
    udh = "06050415811581"  # 7 octets: 8 septets with the fill bits
    assert message_parts(ok(text="a" * 152, udh=udh)) == 1
    assert message_parts(ok(text="a" * 153, udh=udh)) == 2  # parts of 146 septets
    assert message_parts(ok(text="ж" * 66, udh=udh)) == 1
    assert message_parts(ok(text="ж" * 67, udh=udh)) == 2  # parts of 64 units


def test_binary_at_the_cap():
    assert validate_block({**BINARY, "text": "AB" * 1340, "udh": None}) == []
    field, message = only_error({**BINARY, "text": "AB" * 1341, "udh": None})
    assert field == "text" and message == "is too long: 11 SMS parts in binary; at most 10 parts of 268 hex digits"
    field, message = only_error({**BINARY, "text": "AB" * 1281})  # with the 7-octet header: 128 per part
    assert field == "text" and "11 SMS parts in binary; at most 10 parts of 256 hex digits" in message


def test_a_header_that_leaves_no_room_for_parts():
    udh = "86" + "00" * 134  # 135 octets: 5 left in one SMS, none in the parts of a long one
    assert validate_block({**BINARY, "text": "AB" * 5, "udh": udh}) == []
    field, message = only_error({**BINARY, "text": "AB" * 6, "udh": udh})
    assert field == "udh" and "leaves no room" in message
    assert message_parts({**BINARY, "text": "AB" * 6, "udh": udh}) == 1  # garbage in: counted as text


def test_gsm_type_with_binary_options_is_still_checked_as_text():
    field, message = only_error({**BINARY, "type": "GSM", "text": "Łódź"})
    assert field == "type" and "use Unicode or auto" in message
