"""The sms block of a send request: seed 002 plus type/reference/validity of the SMS HTTP API (seed 004)."""

import pytest

from channels.sms.blocks import message_parts, validate_block

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


def test_unknown_keys_are_named():
    found = errors(ok(callback="https://x", flash=True))
    assert ("callback", "unknown field; the sms block allows only: text, sender, type, reference, validity") in found
    assert [f for f, _ in found] == ["callback", "flash"]


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


@pytest.mark.parametrize("value", ["gsm", "UNICODE", "Auto", "Binary", "Byte", "", None, 1, ["GSM"], {"a": 1}])
def test_type_must_be_one_of(value):
    field, message = only_error(ok(type=value))
    assert field == "type" and "must be one of GSM, Unicode, auto" in message


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
        ("", "must not be empty"),
        (12345, "must be a string"),
        ("12345678901234567", "numeric sender must be at most 16 characters (got 17)"),
        ("+1234567890123456", "numeric sender must be at most 16 characters (got 17)"),
        ("MITTOSMS1234", "alphanumeric sender must be at most 11 characters (got 12)"),
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


def test_long_alphanumeric_with_bad_chars_reports_both():
    found = errors(ok(sender="MITTO SMS!!!"))
    assert [f for f, _ in found] == ["sender", "sender"]


# --- reference and validity -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "must not be empty"),
        ("r" * 256, "at most 255 characters (got 256)"),
        (5, "must be a string"),
        (None, "must be a string"),
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


@pytest.mark.parametrize("value", [0, -5, 10081, 60.0, "60", True, None, [60]])
def test_validity_out_of_range_or_not_an_integer(value):
    field, message = only_error(ok(validity=value))
    assert field == "validity" and "whole number of minutes from 1 to 10080" in message


# --- all at once, never raises -----------------------------------------------------------------------


def test_all_problems_reported_together():
    found = errors({"text": "", "sender": "+", "type": "x", "reference": "", "validity": 0, "extra": 1})
    assert sorted(f for f, _ in found) == ["extra", "reference", "sender", "text", "type", "validity"]


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
