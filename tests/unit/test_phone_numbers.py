"""channels.base.international_number: phonenumbers.parse's result for a plus and digits, taken by a shorter
path through the same library (its private steps: a new phonenumbers release that changes them fails here)."""

from __future__ import annotations

import random

import phonenumbers
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from channels.base import international_number, normalise_phone_number, phone_number_problem


def parsed(digits: str) -> phonenumbers.PhoneNumber | None:
    try:
        return phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None


def samples() -> list[str]:
    rng = random.Random(21)

    def some(count: int) -> str:
        return "".join(rng.choice("0123456789") for _ in range(count))

    every_country = [
        f"{code}{'0' * zeros}{some(length)}"  # national prefixes and Italian leading zeros included
        for code in COUNTRY_CODE_TO_REGION_CODE
        for zeros in range(3)
        for length in range(0, 19, 2)
    ]
    lengths = [some(length) for length in (*range(25), 248, 249, 250, 251) for _ in range(200)]
    return [*every_country, *lengths, "", "0", "44", "447", "4477009001234567890"]


def test_the_same_number_as_parse_or_none_where_parse_refuses() -> None:
    checked = samples()
    assert sum(parsed(digits) is None for digits in checked) > 1000  # refusals of every kind are among them
    for digits in checked:
        assert international_number(digits) == parsed(digits), digits


def test_the_same_problems_as_phonenumbers_finds() -> None:
    """phone_number_problem takes is_possible_number's length test from what international_number found:
    the same answer as phonenumbers' own steps, for every sample spelt as digits, with a plus, or spaced."""

    def reference(value: str) -> str | None:
        digits = "".join(c for c in value if c in "0123456789")
        if not value.strip() or any(c not in "0123456789+ -()" for c in value.strip()):
            return "must be a phone number in international form, e.g. +447700900123"
        if (number := parsed(digits)) is None:
            return "must be a phone number in international form, e.g. +447700900123"
        if not phonenumbers.is_possible_number(number):
            return "is not a possible phone number (country code and length)"
        return None

    checked = samples()
    spellings = [spelt for digits in checked for spelt in (digits, f"+{digits}", f" +{digits[:2]} {digits[2:]}-")]
    problems = [phone_number_problem(spelt) for spelt in spellings]
    assert problems == [reference(spelt) for spelt in spellings]
    assert {None, "is not a possible phone number (country code and length)"} < set(problems)
    for other in ["+44x7700900123", "+４４7700900123", "+44 7700 9001२3", "+44.7700"]:
        assert phone_number_problem(other) == reference(other) is not None, other


def test_phone_number_problems_unchanged() -> None:
    assert phone_number_problem("+44 7700 900123") is None
    assert phone_number_problem("+12") == "must be a phone number in international form, e.g. +447700900123"
    assert phone_number_problem("+999 123456") == "must be a phone number in international form, e.g. +447700900123"
    assert phone_number_problem("+44 12") == "is not a possible phone number (country code and length)"


def test_normalising_keeps_the_ascii_digits_only_whatever_the_spelling() -> None:
    """The usual ``+`` and digits take a shorter path; any other spelling the general one, alike."""
    spellings = ["+447700900123", "447700900123", "+44 7700-900123", "(+44) 7700 900123", "", "+", "++44", "+-1"]
    spellings += ["+४४७७००", "+44²", "①23", "+４４7700", " +44", "0044 7700"]  # other digits: not kept
    for spelling in spellings:
        assert normalise_phone_number(spelling) == "".join(c for c in spelling if c in "0123456789"), spelling
