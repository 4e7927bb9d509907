"""wire.shapes.decode: a request read against its declared shape, every problem named at once."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

import msgspec
import pytest

from wire.errors import FieldError
from wire.shapes import decode


class Button(msgspec.Struct, rename="camel", omit_defaults=True):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=5, extra={"error": "must be 1-5 characters"})]
    url: str | None = None


class Text(msgspec.Struct, tag_field="type", tag="text", rename="camel", omit_defaults=True):
    message: str
    parse_mode: Literal["Html", "Markdown"] = "Html"
    buttons: Annotated[list[Button], msgspec.Meta(max_length=2)] = []
    silent: bool = False
    button: Button | None = None

    def problems(self) -> list[FieldError]:
        return [FieldError("silent", "must be false with buttons")] if self.silent and self.buttons else []


class Picture(msgspec.Struct, tag_field="type", tag="picture", rename="camel"):
    url: str


Block = Annotated[Text, msgspec.Meta(examples=[{"type": "text", "message": "hi"}])] | Picture


class Request(msgspec.Struct, rename="camel"):
    account_id: UUID
    block: Block | None = None
    count: int = 0


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    name: str


def errors(raw: object, shape: object = Request) -> list[tuple[str, str]]:
    return [(e.field, e.message) for e in decode(raw, shape).errors]


def test_a_good_request_decodes_to_its_types() -> None:
    account = uuid4()
    found = decode({"accountId": str(account), "block": {"type": "text", "message": "hi"}}, Request)
    assert found.errors == [] and found.ignored == []
    assert found.value == Request(account, Text("hi"))


def test_names_tags_and_enums_match_in_any_case_and_keep_their_declared_spelling() -> None:
    raw = {"ACCOUNTID": str(uuid4()), "Block": {"TYPE": "TEXT", "Message": "hi", "parsemode": "markdown"}}
    found = decode(raw, Request)
    assert found.errors == []
    assert msgspec.to_builtins(found.value.block) == {"type": "text", "message": "hi", "parseMode": "Markdown"}


def test_a_name_given_twice_in_two_spellings_is_an_error() -> None:
    assert errors({"accountId": str(uuid4()), "AccountId": str(uuid4())}) == [
        ("AccountId", "repeats accountId (names match in any case)")
    ]


def test_null_and_empty_objects_are_absent_where_optional() -> None:
    assert decode({"accountId": str(uuid4()), "block": None, "count": None}, Request).errors == []
    assert decode({"accountId": str(uuid4()), "block": {}}, Request).value.block is None
    assert errors({"accountId": None}) == [("accountId", "is required")]
    assert errors({"accountId": str(uuid4()), "block": {"type": "text", "message": "hi", "button": {}}}) == []


def test_unknown_fields_are_ignored_and_listed_unless_the_struct_forbids_them() -> None:
    raw = {"accountId": str(uuid4()), "colour": "red", "block": {"type": "picture", "url": "u", "size": 1}}
    found = decode(raw, Request)
    assert found.errors == [] and found.ignored == ["colour", "block.size"]
    assert errors({"name": "x", "colour": "red"}, Strict) == [("colour", "is not a known field")]


def test_every_problem_is_named_at_once_with_its_path() -> None:
    raw = {
        "accountId": "not a uuid",
        "count": "3",
        "block": {"type": "text", "message": 5, "parseMode": "Rich", "buttons": [{"text": ""}, {}, {"text": 7}]},
    }
    assert errors(raw) == [
        ("accountId", "must be a UUID"),
        ("block.message", "must be a string"),
        ("block.parseMode", "must be one of Html, Markdown"),
        ("block.buttons", "must hold 0 to 2 items"),  # a bad item hides no bad count
        ("block.buttons[0].text", "must be 1-5 characters"),
        ("block.buttons[1].text", "is required"),
        ("block.buttons[2].text", "must be a string"),
        ("count", "must be a whole number"),
    ]


def test_rules_run_beside_a_broken_constraint_but_not_on_a_mistyped_struct() -> None:
    block = {"type": "text", "message": "hi", "silent": True, "buttons": [{"text": "toolong"}]}
    assert errors({"accountId": str(uuid4()), "block": block}) == [
        ("block.buttons[0].text", "must be 1-5 characters"),
        ("block.silent", "must be false with buttons"),
    ]
    block["message"] = 5  # no typed Text: its rules can't run
    assert errors({"accountId": str(uuid4()), "block": block}) == [
        ("block.message", "must be a string"),
        ("block.buttons[0].text", "must be 1-5 characters"),
    ]


def test_an_unknown_tag_names_the_tag_field() -> None:
    assert errors({"accountId": str(uuid4()), "block": {"type": "video"}}) == [
        ("block.type", "must be one of text, picture")
    ]


def test_a_whole_value_that_is_no_object_is_named_by_its_path() -> None:
    assert errors([1]) == [("", "must be an object")]
    assert decode([1], Request, "messages[2]").errors == [FieldError("messages[2]", "must be an object")]


def test_a_tagged_struct_on_its_own_checks_its_tag() -> None:
    assert errors({"type": "TEXT", "message": "hi"}, Text) == []
    assert errors({"type": "video", "message": "hi"}, Text) == [("type", "must be text")]


class Step(msgspec.Struct, rename="camel"):
    account_id: UUID
    to: Annotated[str, msgspec.Meta(min_length=1)]


class Chain(msgspec.Struct, rename="camel"):
    steps: list[UUID | Step]
    addresses: dict[UUID, Annotated[str, msgspec.Meta(min_length=1)]] = {}


def test_a_value_or_an_object_is_read_as_whichever_was_given() -> None:
    one, two = uuid4(), uuid4()
    found = decode({"steps": [str(one), {"AccountId": str(two), "to": "x"}], "addresses": {str(one): "a"}}, Chain)
    assert found.errors == [] and found.value == Chain([one, Step(two, "x")], {one: "a"})
    raw = {"steps": [{"to": ""}, 5, "nope"], "addresses": {"nope": "a", str(one): "", str(two): 3}}
    assert errors(raw, Chain) == [
        ("steps[0].accountId", "is required"),
        ("steps[0].to", "Expected `str` of length >= 1"),
        ("steps[1]", "must be a UUID or an object"),
        ("steps[2]", "must be a UUID or an object"),
        ("addresses.nope", "the key must be a UUID"),
        (f"addresses.{one}", "Expected `str` of length >= 1"),
        (f"addresses.{two}", "must be a string"),
    ]


class Limited(msgspec.Struct):
    a: Annotated[int, msgspec.Meta(ge=1)]


@pytest.mark.parametrize(
    ("shape", "values"),
    [
        (Annotated[str, msgspec.Meta(min_length=1, max_length=5)], ["", "a", "abcde", "abcdef", "ééééé", 3]),
        (Annotated[str, msgspec.Meta(min_length=2), msgspec.Meta(max_length=3)], ["a", "ab", "abc", "abcd"]),
        (Annotated[int, msgspec.Meta(ge=5, le=10)], [4, 5, 10, 11, True, 7.0]),
        (Annotated[int, msgspec.Meta(gt=0)], [0, 1]),
        (Annotated[str, msgspec.Meta(pattern="^a")], ["a", "b"]),
        (Annotated[str, msgspec.Meta(description="any")], ["", "a", 3]),
        (Annotated[Limited, msgspec.Meta(description="a Struct")], [{"a": 1}, {"a": 0}, {}]),
    ],
)
def test_constraints_checked_without_msgspec_agree_with_it(shape: Any, values: list[Any]) -> None:
    """wire.shapes checks a str's length and an int's range itself, and takes a value walked against a type
    with no constraints as it is (shortcuts): what it lets through, msgspec does too, and a value outside the
    bounds still gets msgspec's own message."""
    for value in values:
        try:
            expected, problems = msgspec.convert(value, shape, strict=True), []
        except msgspec.ValidationError:
            expected, problems = None, ["some"]
        found = decode(value, shape)
        assert (found.value, bool(found.errors)) == (expected, bool(problems)), value
