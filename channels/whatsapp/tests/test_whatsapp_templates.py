"""Tests for channels.whatsapp.templates (Meta template creation rules)."""

from __future__ import annotations

import copy

import pytest

from channels.whatsapp.sending import template_send_errors
from channels.whatsapp.templates import (
    TEMPLATE_NAME_MAX,
    TemplateBody,
    TemplateButtons,
    TemplateFooter,
    TemplateHeader,
    body_placeholder_count,
    stored_components,
    validate_template,
)
from wire.errors import FieldError

# --------------------------------------------------------------------------
# Fixtures as plain builders (fresh deep copies every call)
# --------------------------------------------------------------------------

_MARKETING = {
    "language": {"code": "en_US"},
    "category": "MARKETING",
    "components": [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Our {{1}} is on!",
            "example": {"header_text": ["Summer Sale"]},
        },
        {
            "type": "BODY",
            "text": ("Shop now through {{1}} and use code {{2}} to get 25% off.\nSee you soon!"),
            "example": {"body_text": [["the end of August", "25OFF"]]},
        },
        {"type": "FOOTER", "text": "Reply STOP to unsubscribe"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Unsubscribe"},
                {"type": "QUICK_REPLY", "text": "Tell me more"},
                {
                    "type": "URL",
                    "text": "Shop now",
                    "url": "https://shop.example.com/sale/{{1}}",
                    "example": ["https://shop.example.com/sale/summer"],
                },
                {"type": "PHONE_NUMBER", "text": "Call us", "phone_number": "+14155552671"},
            ],
        },
    ],
}

_AUTHENTICATION = {
    "language": {"code": "en_US"},
    "category": "AUTHENTICATION",
    "components": [
        {"type": "BODY", "add_security_recommendation": True},
        {"type": "FOOTER", "code_expiration_minutes": 10},
        {
            "type": "BUTTONS",
            "buttons": [
                {
                    "type": "OTP",
                    "otp_type": "ONE_TAP",
                    "text": "Copy code",
                    "autofill_text": "Autofill",
                    "package_name": "com.example.app",
                    "signature_hash": "K8a/AINcGX7",
                }
            ],
        },
    ],
}

HEADER, BODY, FOOTER, BUTTONS = 0, 1, 2, 3  # indices in the marketing template
QR1, QR2, URL_BTN, PHONE_BTN = 0, 1, 2, 3  # indices of its buttons


def marketing() -> dict:
    return copy.deepcopy(_MARKETING)


def authentication() -> dict:
    return copy.deepcopy(_AUTHENTICATION)


def comp(body: dict, index: int) -> dict:
    return body["components"][index]


def buttons(body: dict) -> list:
    return body["components"][BUTTONS]["buttons"]


def describe(errs: list[FieldError]) -> str:
    return "\n".join(f"  {e.field}: {e.message}" for e in errs) or "  (no errors)"


def assert_error(errs: list[FieldError], field: str, fragment: str) -> None:
    """Some error is on `field` and its message contains `fragment`."""
    assert any(e.field == field and fragment in e.message for e in errs), (
        f"expected an error on {field!r} containing {fragment!r}; got:\n{describe(errs)}"
    )


def assert_only_error(errs: list[FieldError], field: str, fragment: str) -> None:
    """Exactly one error, on `field`, whose message contains `fragment`."""
    assert len(errs) == 1, f"expected exactly one error on {field!r}; got:\n{describe(errs)}"
    assert_error(errs, field, fragment)


def check(body: dict, name: str = "summer_sale_2024") -> list[FieldError]:
    errs = validate_template(name, body)
    assert isinstance(errs, list)
    assert all(isinstance(e, FieldError) for e in errs)
    return errs


# --------------------------------------------------------------------------
# Valid templates
# --------------------------------------------------------------------------


def test_valid_marketing_template():
    assert check(marketing()) == []


def test_valid_marketing_template_is_not_mutated():
    body = marketing()
    check(body)
    assert body == _MARKETING


def test_valid_utility_template_with_minimal_components():
    body = {
        "language": {"code": "pt_BR"},
        "category": "UTILITY",
        "components": [
            {"type": "BODY", "text": "Seu pedido {{1}} foi enviado."},
        ],
    }
    body["components"][0]["example"] = {"body_text": [["#1234"]]}
    assert check(body, "order_shipped") == []


def test_valid_authentication_template():
    assert check(authentication(), "verify_code") == []


def test_valid_authentication_template_copy_code_otp_needs_no_package():
    body = authentication()
    body["components"][2]["buttons"] = [{"type": "OTP", "otp_type": "COPY_CODE"}]
    del body["components"][1]  # the FOOTER is optional
    assert check(body, "verify_code") == []


@pytest.mark.parametrize("code", ["en", "en_US", "pt_BR", "zh_HK", "fil", "es_AR"])
def test_valid_language_codes(code):
    body = marketing()
    body["language"] = {"code": code}
    assert check(body) == []


@pytest.mark.parametrize("fmt", ["IMAGE", "VIDEO", "DOCUMENT"])
def test_valid_media_header(fmt):
    body = marketing()
    body["components"][HEADER] = {
        "type": "HEADER",
        "format": fmt,
        "example": {"header_handle": ["4::aW1hZ2UvanBlZw==:ARb..."]},
    }
    assert check(body) == []


def test_valid_location_header():
    body = marketing()
    body["components"][HEADER] = {"type": "HEADER", "format": "LOCATION"}
    assert check(body) == []


def test_valid_text_header_without_placeholder_needs_no_example():
    body = marketing()
    body["components"][HEADER] = {"type": "HEADER", "format": "TEXT", "text": "x" * 60}
    assert check(body) == []


def test_boundary_lengths_are_accepted():
    body = marketing()
    comp(body, BODY)["text"] = "a" * 1024
    del comp(body, BODY)["example"]
    comp(body, FOOTER)["text"] = "f" * 60
    buttons(body)[QR1]["text"] = "b" * 25
    assert check(body, "a" * TEMPLATE_NAME_MAX) == []


def test_repeated_placeholder_numbers_are_allowed():
    body = marketing()
    comp(body, BODY)["text"] = "Hi {{1}}, your code {{2}} is for {{1}} only."
    assert check(body) == []


def test_quick_replies_after_other_buttons_are_allowed():
    body = marketing()
    b = buttons(body)
    body["components"][BUTTONS]["buttons"] = [b[URL_BTN], b[PHONE_BTN], b[QR1], b[QR2]]
    assert check(body) == []


def test_formatted_phone_number_with_plus_is_accepted():
    body = marketing()
    buttons(body)[PHONE_BTN]["phone_number"] = "+1 415-555-2671"
    assert check(body) == []


def test_copy_code_and_flow_buttons_are_accepted():
    body = marketing()
    body["components"][BUTTONS]["buttons"] = [
        {"type": "COPY_CODE", "example": "SUMMER25"},
        {"type": "FLOW", "text": "Book now", "flow_id": "123456"},
        {"type": "URL", "text": "Shop", "url": "http://shop.example.com"},
    ]
    assert check(body) == []


def test_ten_buttons_are_accepted():
    body = marketing()
    body["components"][BUTTONS]["buttons"] = [{"type": "QUICK_REPLY", "text": f"Option {i}"} for i in range(10)]
    assert check(body) == []


# --------------------------------------------------------------------------
# name
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("", "must be a template name"),
        ("summer_sale\n", "only lowercase letters a-z, digits and underscores"),
        ("Summer_Sale", "only lowercase letters a-z, digits and underscores"),
        ("summer-sale", "only lowercase letters a-z, digits and underscores"),
        ("summer sale", "only lowercase letters a-z, digits and underscores"),
        ("été", "only lowercase letters a-z, digits and underscores"),
        ("a" * (TEMPLATE_NAME_MAX + 1), "at most 512 characters"),
        (None, "must be a string"),
        (42, "must be a string"),
    ],
)
def test_name_rules(name, fragment):
    assert_only_error(check(marketing(), name), "name", fragment)


def test_name_too_long_and_bad_characters_both_named():
    errs = check(marketing(), "A" * 600)
    assert_only_error(errs, "name", "only lowercase letters")
    assert_error(errs, "name", "at most 512 characters")


def test_template_name_max_constant():
    assert TEMPLATE_NAME_MAX == 512


# --------------------------------------------------------------------------
# language
# --------------------------------------------------------------------------


def test_language_as_plain_string_gets_explicit_message():
    body = marketing()
    body["language"] = "en_US"
    errs = check(body)
    assert errs == [FieldError(field="language", message='must be an object like {"code": "en_US"}, not a string')]


@pytest.mark.parametrize("value", [["en_US"], 5, True])
def test_language_not_an_object(value):
    body = marketing()
    body["language"] = value
    assert check(body) == [FieldError(field="language", message="must be an object")]


def test_language_missing():
    body = marketing()
    del body["language"]
    assert_only_error(check(body), "language", "is required")


def test_language_code_missing():
    body = marketing()
    body["language"] = {}
    assert_only_error(check(body), "language.code", "is required")


@pytest.mark.parametrize("code", ["EN_us", "en-US", "es_419", "english", "e", "en_usa", "en\n", ""])
def test_language_code_shape(code):
    body = marketing()
    body["language"] = {"code": code}
    assert_only_error(check(body), "language.code", "locale code like en")


@pytest.mark.parametrize("code", [5, ["en"]])
def test_language_code_must_be_a_string(code):
    body = marketing()
    body["language"] = {"code": code}
    assert_only_error(check(body), "language.code", "must be a string")


@pytest.mark.parametrize("key", ["Code", "CODE"])
def test_language_code_is_written_as_meta_writes_it(key):
    # The gateway stores the template as written and reads language.code.
    body = marketing()
    body["language"] = {key: "en_US"}
    assert_only_error(check(body), "language.code", "is required")


def test_language_unknown_key_is_ignored():
    body = marketing()
    body["language"]["policy"] = "deterministic"
    assert check(body) == []


# --------------------------------------------------------------------------
# category
# --------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["marketing", "PROMOTIONAL", "", 3, ["MARKETING"]])
def test_category_must_be_known(value):
    body = marketing()
    body["category"] = value
    assert_only_error(check(body), "category", "must be one of MARKETING, UTILITY, AUTHENTICATION")


def test_category_missing():
    body = marketing()
    del body["category"]
    assert_only_error(check(body), "category", "is required")


# --------------------------------------------------------------------------
# components (structure)
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("x", "must be a list"),
        ({"type": "BODY"}, "must be a list"),
        ([], "must not be empty"),
    ],
)
def test_components_must_be_non_empty_list(value, fragment):
    body = marketing()
    body["components"] = value
    assert_only_error(check(body), "components", fragment)


def test_components_missing():
    body = marketing()
    del body["components"]
    assert_only_error(check(body), "components", "is required")


def test_component_not_an_object():
    body = marketing()
    body["components"].append(5)
    assert_only_error(check(body), "components[4]", "must be an object")


def test_component_type_missing():
    body = marketing()
    del comp(body, FOOTER)["type"]
    assert_only_error(check(body), "components[2].type", "must be one of HEADER, BODY, FOOTER, BUTTONS")


@pytest.mark.parametrize("ctype", ["TITLE", "body", ["BODY"], 1])
def test_component_type_unknown(ctype):
    body = marketing()
    comp(body, FOOTER)["type"] = ctype
    assert_only_error(check(body), "components[2].type", "must be one of HEADER, BODY, FOOTER, BUTTONS")


def test_component_type_rules_are_named_beside_other_problems():
    body = marketing()
    comp(body, FOOTER)["text"] = "f" * 61
    body["components"].append({"type": "BODY", "text": "again"})
    errs = check(body)
    assert_error(errs, "components[2].text", "at most 60 characters")
    assert_error(errs, "components[4]", "only one BODY component is allowed")
    assert len(errs) == 2


def test_body_component_required():
    body = marketing()
    del body["components"][BODY]
    assert_only_error(check(body), "components", "exactly one BODY component")


@pytest.mark.parametrize("index, ctype", [(HEADER, "HEADER"), (BODY, "BODY"), (FOOTER, "FOOTER"), (BUTTONS, "BUTTONS")])
def test_each_component_type_at_most_once(index, ctype):
    body = marketing()
    body["components"].append(copy.deepcopy(comp(body, index)))
    assert_only_error(check(body), "components[4]", f"only one {ctype} component is allowed")


@pytest.mark.parametrize(
    "index, key, allowed",
    [
        (HEADER, "buttons", "type, format, text, example"),
        (BODY, "format", "type, text, example, add_security_recommendation"),
        (FOOTER, "example", "type, text, code_expiration_minutes"),
        (BUTTONS, "text", "type, buttons"),
    ],
)
def test_unknown_component_keys_rejected(index, key, allowed):
    body = marketing()
    comp(body, index)[key] = "x"
    errs = check(body)
    assert_only_error(errs, f"components[{index}].{key}", "unknown field")
    assert allowed in errs[0].message


def test_component_keys_written_in_another_case_are_unknown():
    body = marketing()
    comp(body, FOOTER)["Text"] = comp(body, FOOTER).pop("text")
    errs = check(body)
    assert_error(errs, "components[2].Text", "unknown field")
    assert_error(errs, "components[2].text", "is required")
    assert len(errs) == 2


# --------------------------------------------------------------------------
# HEADER
# --------------------------------------------------------------------------


def test_header_format_missing():
    body = marketing()
    del comp(body, HEADER)["format"]
    assert_only_error(check(body), "components[0].format", "is required")


@pytest.mark.parametrize("fmt", ["GIF", "text", 1])
def test_header_format_unknown(fmt):
    body = marketing()
    comp(body, HEADER)["format"] = fmt
    assert_only_error(check(body), "components[0].format", "must be one of TEXT, IMAGE, VIDEO, DOCUMENT, LOCATION")


def test_text_header_requires_text():
    body = marketing()
    del comp(body, HEADER)["text"]
    del comp(body, HEADER)["example"]
    assert_only_error(check(body), "components[0].text", "is required when format is TEXT")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x" * 61, "must be at most 60 characters"),
        ("", "must not be empty"),
        ("Big\nsale", "must not contain newlines"),
        (12, "must be a string"),
    ],
)
def test_text_header_text_rules(text, fragment):
    body = marketing()
    comp(body, HEADER)["text"] = text
    del comp(body, HEADER)["example"]
    assert_only_error(check(body), "components[0].text", fragment)


def test_text_header_at_most_one_placeholder():
    body = marketing()
    comp(body, HEADER)["text"] = "Our {{1}} for {{2}}"
    assert_only_error(check(body), "components[0].text", "at most one placeholder")


def test_text_header_placeholder_must_be_1():
    body = marketing()
    comp(body, HEADER)["text"] = "Our {{2}} is on"
    assert_only_error(check(body), "components[0].text", "only placeholder allowed is {{1}}")


def test_text_header_malformed_placeholder():
    body = marketing()
    comp(body, HEADER)["text"] = "Our {{ 1 }} is on"
    assert_only_error(check(body), "components[0].text", "malformed placeholders: {{ 1 }}")


def test_text_header_placeholder_requires_example():
    body = marketing()
    del comp(body, HEADER)["example"]
    assert_only_error(check(body), "components[0].example.header_text", "is required")


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        (["a", "b"], "header_text", "exactly one non-empty string"),
        ([], "header_text", "exactly one non-empty string"),
        ("Summer Sale", "header_text", "must be a list"),
        ([5], "header_text[0]", "must be a string"),
        ([""], "header_text[0]", "must be a non-empty string"),
    ],
)
def test_text_header_example_must_be_one_string(value, field, fragment):
    body = marketing()
    comp(body, HEADER)["example"] = {"header_text": value}
    assert_only_error(check(body), f"components[0].example.{field}", fragment)


def test_header_example_must_be_object():
    body = marketing()
    comp(body, HEADER)["example"] = ["Summer Sale"]
    assert_only_error(check(body), "components[0].example", "must be an object")


@pytest.mark.parametrize("fmt", ["IMAGE", "VIDEO", "DOCUMENT"])
def test_media_header_rejects_text(fmt):
    body = marketing()
    comp(body, HEADER).update(format=fmt, example={"header_handle": ["4::abc"]})
    assert_only_error(check(body), "components[0].text", f"not allowed when format is {fmt}")


@pytest.mark.parametrize("fmt", ["IMAGE", "VIDEO", "DOCUMENT"])
def test_media_header_requires_handle(fmt):
    body = marketing()
    body["components"][HEADER] = {"type": "HEADER", "format": fmt}
    assert_only_error(check(body), "components[0].example.header_handle", f"is required for {fmt} headers")


@pytest.mark.parametrize(
    ("handle", "field", "fragment"),
    [
        ([], "header_handle", "exactly one non-empty string"),
        (["a", "b"], "header_handle", "exactly one non-empty string"),
        ([""], "header_handle[0]", "must be a non-empty string"),
        ("4::abc", "header_handle", "must be a list"),
        ([7], "header_handle[0]", "must be a string"),
    ],
)
def test_media_header_handle_shape(handle, field, fragment):
    body = marketing()
    body["components"][HEADER] = {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": handle}}
    assert_only_error(check(body), f"components[0].example.{field}", fragment)


def test_location_header_rejects_text_and_example():
    body = marketing()
    comp(body, HEADER)["format"] = "LOCATION"
    errs = check(body)
    assert_error(errs, "components[0].text", "not allowed when format is LOCATION")
    assert_error(errs, "components[0].example", "not allowed when format is LOCATION")
    assert len(errs) == 2


# --------------------------------------------------------------------------
# BODY
# --------------------------------------------------------------------------


def test_body_text_required():
    body = marketing()
    del comp(body, BODY)["text"]
    del comp(body, BODY)["example"]
    assert_only_error(check(body), "components[1].text", "is required")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("a" * 1025, "must be at most 1024 characters"),
        ("", "must not be empty"),
        (12, "must be a string"),
    ],
)
def test_body_text_rules(text, fragment):
    body = marketing()
    comp(body, BODY)["text"] = text
    del comp(body, BODY)["example"]
    assert_only_error(check(body), "components[1].text", fragment)


def test_body_placeholder_gap():
    body = marketing()
    comp(body, BODY)["text"] = "Hi {{1}}, your order {{3}} shipped."
    errs = check(body)
    assert errs == [
        FieldError(
            field="components[1].text",
            message="placeholders must be numbered {{1}}..{{n}} without gaps; found {{1}}, {{3}}",
        )
    ]


def test_body_placeholders_must_start_at_1():
    body = marketing()
    comp(body, BODY)["text"] = "Hi {{2}}, your order {{3}} shipped."
    assert_only_error(check(body), "components[1].text", "without gaps; found {{2}}, {{3}}")


@pytest.mark.parametrize("token", ["{{ 1 }}", "{{a}}", "{{0}}", "{{-1}}", "{{1.5}}", "{{}}"])
def test_body_malformed_placeholder(token):
    body = marketing()
    comp(body, BODY)["text"] = f"Shop through {{{{1}}}} with code {{{{2}}}} and {token} today."
    errs = check(body)
    assert_only_error(errs, "components[1].text", "malformed placeholders")
    assert token in errs[0].message


@pytest.mark.parametrize(
    "text", ["Shop {{1} with {{2}} now", "Shop {1}} with {{2}} now", "Shop {{{1}}} with {{2}} now"]
)
def test_body_unbalanced_braces(text):
    body = marketing()
    comp(body, BODY)["text"] = text
    comp(body, BODY)["example"] = {"body_text": [["x"]]}
    errs = check(body)
    assert_error(errs, "components[1].text", "unbalanced")


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{{1}} is ready, code {{2}}.", "must not start with a placeholder"),
        ("  {{1}} is ready, code {{2}}.", "must not start with a placeholder"),
        ("Hello {{1}}, code {{2}}", "must not end with a placeholder"),
        ("Hello {{1}}, code {{2}}\n", "must not end with a placeholder"),
    ],
)
def test_body_placeholder_at_start_or_end(text, fragment):
    body = marketing()
    comp(body, BODY)["text"] = text
    assert_only_error(check(body), "components[1].text", fragment)


def test_body_placeholders_require_example():
    body = marketing()
    del comp(body, BODY)["example"]
    assert_only_error(check(body), "components[1].example.body_text", "is required when the text has placeholders")


@pytest.mark.parametrize(
    ("value", "field", "fragment"),
    [
        ("a", "body_text", "must be a list"),
        ([], "body_text", "must be a list containing one list of example values"),
        ([["a", "b"], ["c", "d"]], "body_text", "must be a list containing one list of example values"),
        (["ab"], "body_text[0]", "must be a list"),
    ],
)
def test_body_example_shape(value, field, fragment):
    body = marketing()
    comp(body, BODY)["example"] = {"body_text": value}
    assert_only_error(check(body), f"components[1].example.{field}", fragment)


def test_body_example_count_must_match_placeholders():
    body = marketing()
    comp(body, BODY)["example"] = {"body_text": [["the end of August"]]}
    assert_only_error(check(body), "components[1].example.body_text", "exactly 2 example values")


def test_body_example_values_must_be_non_empty_strings():
    body = marketing()
    comp(body, BODY)["example"] = {"body_text": [["the end of August", ""]]}
    assert_only_error(check(body), "components[1].example.body_text[0][1]", "non-empty string")


def test_body_example_must_be_object():
    body = marketing()
    comp(body, BODY)["example"] = [["a", "b"]]
    assert_only_error(check(body), "components[1].example", "must be an object")


def test_body_security_recommendation_only_for_authentication():
    body = marketing()
    comp(body, BODY)["add_security_recommendation"] = True
    assert_only_error(check(body), "components[1].add_security_recommendation", "only allowed in AUTHENTICATION")


# --------------------------------------------------------------------------
# FOOTER
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, fragment",
    [
        (None, "is required"),
        ("f" * 61, "must be at most 60 characters"),
        ("", "must not be empty"),
        ("Offer ends {{1}}", "must not contain placeholders"),
        (["x"], "must be a string"),
    ],
)
def test_footer_text_rules(text, fragment):
    body = marketing()
    if text is None:
        del comp(body, FOOTER)["text"]
    else:
        comp(body, FOOTER)["text"] = text
    assert_only_error(check(body), "components[2].text", fragment)


def test_footer_code_expiration_only_for_authentication():
    body = marketing()
    comp(body, FOOTER)["code_expiration_minutes"] = 10
    assert_only_error(check(body), "components[2].code_expiration_minutes", "only allowed in AUTHENTICATION")


# --------------------------------------------------------------------------
# BUTTONS
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, fragment",
    [
        (None, "is required"),
        ("x", "must be a list"),
        ([], "must contain 1 to 10 buttons (got 0)"),
    ],
)
def test_buttons_must_be_list_of_1_to_10(value, fragment):
    body = marketing()
    if value is None:
        del comp(body, BUTTONS)["buttons"]
    else:
        comp(body, BUTTONS)["buttons"] = value
    assert_only_error(check(body), "components[3].buttons", fragment)


def test_more_than_ten_buttons():
    body = marketing()
    comp(body, BUTTONS)["buttons"] = [{"type": "QUICK_REPLY", "text": f"Option {i}"} for i in range(11)]
    errs = check(body)
    assert_error(errs, "components[3].buttons", "must contain 1 to 10 buttons (got 11)")
    assert_error(errs, "components[3].buttons", "at most 10 QUICK_REPLY buttons")
    assert len(errs) == 2


def test_button_not_an_object():
    body = marketing()
    buttons(body)[QR1] = 5
    assert_only_error(check(body), "components[3].buttons[0]", "must be an object")


def test_button_type_missing():
    body = marketing()
    del buttons(body)[QR1]["type"]
    assert_only_error(check(body), "components[3].buttons[0].type", "must be one of QUICK_REPLY, URL")


@pytest.mark.parametrize("btype", ["CALL", "quick_reply", {"x": 1}])
def test_button_type_unknown(btype):
    body = marketing()
    buttons(body)[QR1]["type"] = btype
    errs = check(body)
    assert_only_error(errs, "components[3].buttons[0].type", "must be one of")
    assert "QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, OTP, FLOW" in errs[0].message


@pytest.mark.parametrize("index", [QR1, URL_BTN, PHONE_BTN])
def test_button_text_required(index):
    body = marketing()
    del buttons(body)[index]["text"]
    assert_only_error(check(body), f"components[3].buttons[{index}].text", "is required")


def test_flow_button_text_required():
    body = marketing()
    buttons(body)[PHONE_BTN] = {"type": "FLOW", "flow_id": "1"}
    assert_only_error(check(body), "components[3].buttons[3].text", "is required")


@pytest.mark.parametrize(
    "text, fragment",
    [("b" * 26, "at most 25 characters"), ("", "must not be empty"), (3, "must be a string")],
)
def test_button_text_length(text, fragment):
    body = marketing()
    buttons(body)[QR2]["text"] = text
    assert_only_error(check(body), "components[3].buttons[1].text", fragment)


@pytest.mark.parametrize(
    "extra, fragment",
    [
        ({"type": "URL", "text": "More", "url": "https://example.com/a"}, "at most 2 URL buttons (got 3)"),
        (
            {"type": "PHONE_NUMBER", "text": "Call", "phone_number": "+447911123456"},
            "at most 1 PHONE_NUMBER button (got 2)",
        ),
    ],
)
def test_button_type_limits(extra, fragment):
    body = marketing()
    if extra["type"] == "URL":  # the template already has one URL button
        buttons(body)[3:3] = [extra, copy.deepcopy(extra)]
    else:
        buttons(body).append(extra)
    assert_only_error(check(body), "components[3].buttons", fragment)


def test_copy_code_button_limit():
    body = marketing()
    buttons(body).extend([{"type": "COPY_CODE", "example": "A1"}, {"type": "COPY_CODE", "example": "B2"}])
    assert_only_error(check(body), "components[3].buttons", "at most 1 COPY_CODE button (got 2)")


@pytest.mark.parametrize(
    "order",
    [
        [QR1, URL_BTN, QR2, PHONE_BTN],
        [URL_BTN, QR1, QR2, PHONE_BTN],
        [QR1, PHONE_BTN, URL_BTN, QR2],
    ],
)
def test_quick_replies_must_be_grouped(order):
    body = marketing()
    b = buttons(body)
    comp(body, BUTTONS)["buttons"] = [b[i] for i in order]
    assert_only_error(check(body), "components[3].buttons", "QUICK_REPLY buttons must be grouped together")


# URL buttons


def test_url_button_requires_url():
    body = marketing()
    del buttons(body)[URL_BTN]["url"]
    del buttons(body)[URL_BTN]["example"]
    assert_only_error(check(body), "components[3].buttons[2].url", "is required")


@pytest.mark.parametrize(
    "url",
    [
        "ftp://shop.example.com/x",
        "shop.example.com/sale",
        "/sale",
        "https://",
        "https:///path",
        "https://shop example.com",
    ],
)
def test_url_button_must_be_absolute_http(url):
    body = marketing()
    buttons(body)[URL_BTN]["url"] = url
    del buttons(body)[URL_BTN]["example"]
    assert_only_error(check(body), "components[3].buttons[2].url", "absolute http(s) URL")


def test_url_button_max_length():
    body = marketing()
    buttons(body)[URL_BTN]["url"] = "https://example.com/" + "a" * 1981
    del buttons(body)[URL_BTN]["example"]
    assert_only_error(check(body), "components[3].buttons[2].url", "at most 2000 characters")


def test_url_button_2000_characters_ok():
    body = marketing()
    buttons(body)[URL_BTN]["url"] = "https://example.com/" + "a" * 1980
    del buttons(body)[URL_BTN]["example"]
    assert check(body) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/{{1}}/details",
        "https://example.com/{{2}}",
        "https://example.com/{{1}}/{{1}}",
        "https://example.com/{{1}}?a={{2}}",
    ],
)
def test_url_button_placeholder_only_1_at_end(url):
    body = marketing()
    buttons(body)[URL_BTN]["url"] = url
    assert_only_error(check(body), "components[3].buttons[2].url", "at most one placeholder, {{1}}, at the very end")


def test_url_button_placeholder_cannot_be_the_host():
    body = marketing()
    buttons(body)[URL_BTN]["url"] = "https://{{1}}"
    assert_only_error(check(body), "components[3].buttons[2].url", "absolute http(s) URL")


def test_url_button_placeholder_requires_example():
    body = marketing()
    del buttons(body)[URL_BTN]["example"]
    assert_only_error(check(body), "components[3].buttons[2].example", "is required when the URL has a placeholder")


@pytest.mark.parametrize(
    ("example", "field", "fragment"),
    [
        (["a", "b"], "example", "exactly one non-empty string"),
        ([], "example", "exactly one non-empty string"),
        ("https://x.example.com", "example", "must be a list"),
        ([""], "example[0]", "must be a non-empty string"),
    ],
)
def test_url_button_example_shape(example, field, fragment):
    body = marketing()
    buttons(body)[URL_BTN]["example"] = example
    assert_only_error(check(body), f"components[3].buttons[2].{field}", fragment)


@pytest.mark.parametrize("key", ["url", "phone_number"])
def test_button_values_must_be_strings(key):
    body = marketing()
    button = buttons(body)[URL_BTN if key == "url" else PHONE_BTN]
    button[key] = 42
    button.pop("example", None)
    assert_only_error(
        check(body), f"components[3].buttons[{URL_BTN if key == 'url' else PHONE_BTN}].{key}", "must be a string"
    )


# PHONE_NUMBER buttons


def test_phone_button_requires_number():
    body = marketing()
    del buttons(body)[PHONE_BTN]["phone_number"]
    assert_only_error(check(body), "components[3].buttons[3].phone_number", "is required")


@pytest.mark.parametrize(
    "number",
    [
        "14155552671",  # no leading +
        "+15550001234",  # possible but not a valid (assigned) number
        "+1415555267",  # too short
        "+999123",  # unknown country code
        "call me",
        "",
    ],
)
def test_phone_button_must_be_valid_e164(number):
    body = marketing()
    buttons(body)[PHONE_BTN]["phone_number"] = number
    assert_only_error(check(body), "components[3].buttons[3].phone_number", "E.164")


def test_phone_button_max_20_characters():
    body = marketing()
    buttons(body)[PHONE_BTN]["phone_number"] = "+1 (415)   555 - 2671"  # valid digits, 21 chars
    assert_only_error(check(body), "components[3].buttons[3].phone_number", "at most 20 characters")


# COPY_CODE buttons


@pytest.mark.parametrize(
    "example, fragment",
    [
        (None, "is required"),
        ("C" * 16, "at most 15 characters"),
        ("", "must not be empty"),
        (["A1"], "must be a string"),
    ],
)
def test_copy_code_example(example, fragment):
    body = marketing()
    button = {"type": "COPY_CODE"}
    if example is not None:
        button["example"] = example
    buttons(body).append(button)
    assert_only_error(check(body), "components[3].buttons[4].example", fragment)


def test_otp_button_rejected_outside_authentication():
    body = marketing()
    buttons(body).append({"type": "OTP", "otp_type": "COPY_CODE"})
    assert_only_error(check(body), "components[3].buttons[4].type", "OTP buttons are only for AUTHENTICATION templates")


# --------------------------------------------------------------------------
# AUTHENTICATION
# --------------------------------------------------------------------------

AUTH_BODY, AUTH_FOOTER, AUTH_BUTTONS = 0, 1, 2


def test_authentication_rejects_header():
    body = authentication()
    body["components"].insert(0, {"type": "HEADER", "format": "TEXT", "text": "Your code"})
    assert_only_error(check(body), "components[0]", "HEADER is not allowed in AUTHENTICATION templates")


def test_authentication_body_text_optional_but_validated():
    body = authentication()
    comp(body, AUTH_BODY)["text"] = "x" * 1025
    assert_only_error(check(body), "components[0].text", "at most 1024 characters")


def test_authentication_security_recommendation_must_be_bool():
    body = authentication()
    comp(body, AUTH_BODY)["add_security_recommendation"] = "yes"
    assert_only_error(check(body), "components[0].add_security_recommendation", "must be true or false")


def test_authentication_footer_rejects_text():
    body = authentication()
    comp(body, AUTH_FOOTER)["text"] = "Do not share"
    assert_only_error(check(body), "components[1].text", "not allowed in AUTHENTICATION templates")


@pytest.mark.parametrize("minutes", [1, 90])
def test_authentication_code_expiration_bounds_ok(minutes):
    body = authentication()
    comp(body, AUTH_FOOTER)["code_expiration_minutes"] = minutes
    assert check(body) == []


@pytest.mark.parametrize("minutes", [0, 91, -5])
def test_authentication_code_expiration_range(minutes):
    body = authentication()
    comp(body, AUTH_FOOTER)["code_expiration_minutes"] = minutes
    assert_only_error(check(body), "components[1].code_expiration_minutes", "integer from 1 to 90")


@pytest.mark.parametrize("minutes", ["10", 10.0, True])
def test_authentication_code_expiration_is_a_whole_number(minutes):
    body = authentication()
    comp(body, AUTH_FOOTER)["code_expiration_minutes"] = minutes
    assert_only_error(check(body), "components[1].code_expiration_minutes", "must be a whole number")


def test_authentication_code_expiration_null_is_absent():
    body = authentication()
    comp(body, AUTH_FOOTER)["code_expiration_minutes"] = None
    assert check(body) == []


def test_authentication_requires_buttons_component():
    body = authentication()
    del body["components"][AUTH_BUTTONS]
    assert_only_error(check(body), "components", "need a BUTTONS component with one OTP button")


def test_authentication_exactly_one_button():
    body = authentication()
    b = comp(body, AUTH_BUTTONS)["buttons"]
    b.append(copy.deepcopy(b[0]))
    assert_only_error(check(body), "components[2].buttons", "exactly one button, of type OTP")


def test_authentication_button_must_be_otp():
    body = authentication()
    comp(body, AUTH_BUTTONS)["buttons"] = [{"type": "QUICK_REPLY", "text": "Resend"}]
    assert_only_error(check(body), "components[2].buttons[0].type", "must be OTP in AUTHENTICATION templates")


@pytest.mark.parametrize(
    "otp_type, fragment",
    [("MAGIC", "must be one of"), ("one_tap", "must be one of")],
)
def test_otp_type(otp_type, fragment):
    body = authentication()
    button = comp(body, AUTH_BUTTONS)["buttons"][0]
    button["otp_type"] = otp_type
    errs = check(body)
    assert_only_error(errs, "components[2].buttons[0].otp_type", fragment)
    assert "COPY_CODE, ONE_TAP, ZERO_TAP" in errs[0].message


def test_otp_type_is_required():
    body = authentication()
    del comp(body, AUTH_BUTTONS)["buttons"][0]["otp_type"]
    assert_only_error(check(body), "components[2].buttons[0].otp_type", "is required")


@pytest.mark.parametrize("otp_type", ["ONE_TAP", "ZERO_TAP"])
@pytest.mark.parametrize("key", ["package_name", "signature_hash"])
def test_one_tap_and_zero_tap_need_package_and_signature(otp_type, key):
    body = authentication()
    button = comp(body, AUTH_BUTTONS)["buttons"][0]
    button["otp_type"] = otp_type
    del button[key]
    assert_only_error(check(body), f"components[2].buttons[0].{key}", f"is required for {otp_type}")


def test_authentication_otp_button_text_optional_but_limited():
    body = authentication()
    comp(body, AUTH_BUTTONS)["buttons"][0]["text"] = "x" * 26
    assert_only_error(check(body), "components[2].buttons[0].text", "at most 25 characters")


# --------------------------------------------------------------------------
# Many problems at once
# --------------------------------------------------------------------------


def test_all_problems_reported_together():
    body = marketing()
    body["language"] = "en_US"
    body["category"] = "marketing"
    comp(body, HEADER)["text"] = "x" * 61
    comp(body, BODY)["text"] = "Hi {{1}}, order {{3}} shipped."
    del comp(body, FOOTER)["text"]
    buttons(body)[QR1]["text"] = "y" * 26
    buttons(body)[PHONE_BTN]["phone_number"] = "12345"
    errs = check(body, "Bad-Name")
    assert {e.field for e in errs} == {
        "name",
        "language",
        "category",
        "components[0].text",
        "components[1].text",
        "components[2].text",
        "components[3].buttons[0].text",
        "components[3].buttons[3].phone_number",
    }
    assert_error(errs, "language", "not a string")
    assert_error(errs, "components[1].text", "found {{1}}, {{3}}")


# --------------------------------------------------------------------------
# Garbage input never raises
# --------------------------------------------------------------------------

ODD_VALUES = [None, 0, 5, -1, 1.5, True, "", "x", "{{", [], [5], [[]], [None], {}, {"x": 1}, {"type": "BODY"}]


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "language"),
        ({}, "category"),
        ({}, "components"),
        ({"components": "x"}, "components"),
        ({"components": [5]}, "components[0]"),
        ({"components": [{"type": "BODY", "text": 12}]}, "components[0].text"),
        ({"components": [{"type": "BUTTONS", "buttons": [None, "x", 3]}]}, "components[0].buttons[1]"),
        ({"components": [{"type": "HEADER", "format": "TEXT", "text": {"a": 1}}]}, "components[0].text"),
        ({"language": [], "category": {}, "components": {}}, "language"),
    ],
)
def test_garbage_reported_on_the_right_field(body, field):
    errs = check(body)
    assert any(e.field == field for e in errs), describe(errs)


@pytest.mark.parametrize("body", ODD_VALUES)
def test_garbage_body_never_raises(body):
    if isinstance(body, dict):
        errs = check(body)
    else:
        errs = validate_template("x", body)
        assert [e.field for e in errs] == ["body"]
    assert errs  # never silently valid


def _paths(value, path=()):
    """Every path (tuple of keys/indices) inside a JSON-like value."""
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, path + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, path + (i,))


def _replaced(value, path, new):
    value = copy.deepcopy(value)
    if not path:
        return new
    target = value
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
    return value


@pytest.mark.parametrize("template", [_MARKETING, _AUTHENTICATION], ids=["marketing", "authentication"])
def test_any_value_replaced_by_garbage_never_raises(template):
    # Replace every node of a valid template by every odd value: the validator
    # must always return a list of FieldError and never raise.
    for path in _paths(template):
        for odd in ODD_VALUES:
            body = _replaced(template, path, odd)
            errs = validate_template("ok_name", body)
            assert isinstance(errs, list)
            for e in errs:
                assert isinstance(e, FieldError)
                assert isinstance(e.field, str) and isinstance(e.message, str) and e.message


def test_structural_garbage_is_reported_not_accepted():
    for odd in ODD_VALUES:
        for key in ("language", "category", "components"):
            body = marketing()
            body[key] = odd
            if key == "language" and isinstance(odd, dict) and odd.get("code") == "en_US":
                continue
            assert check(body), f"{key}={odd!r} accepted"


# --------------------------------------------------------------------------
# body_placeholder_count
# --------------------------------------------------------------------------


def test_body_placeholder_count_of_valid_template():
    assert body_placeholder_count(marketing()["components"]) == 2


def test_body_placeholder_count_counts_distinct_numbers():
    components = [{"type": "BODY", "text": "Hi {{1}}, {{2}} and {{1}} again, {{3}}."}]
    assert body_placeholder_count(components) == 3


def test_body_placeholder_count_ignores_other_components_and_malformed():
    components = [
        {"type": "HEADER", "format": "TEXT", "text": "Hi {{1}}"},
        {"type": "BODY", "text": "Plain text with {{ 1 }} and {{a}} only."},
        {"type": "FOOTER", "text": "x"},
    ]
    assert body_placeholder_count(components) == 0


@pytest.mark.parametrize(
    "components",
    [
        [],
        None,
        "x",
        5,
        [5],
        [{"type": "HEADER", "text": "{{1}}"}],
        [{"type": "BODY"}],
        [{"type": "BODY", "text": 12}],
    ],
)
def test_body_placeholder_count_zero_for_missing_or_garbage(components):
    assert body_placeholder_count(components) == 0


def test_body_placeholder_count_authentication_preset_body():
    assert body_placeholder_count(authentication()["components"]) == 0


# --------------------------------------------------------------------------
# The send check reads stored components through the same model
# --------------------------------------------------------------------------


def test_stored_components_are_read_as_validated():
    kinds = [type(c) for c in stored_components(marketing()["components"])]
    assert kinds == [TemplateHeader, TemplateBody, TemplateFooter, TemplateButtons]
    assert [type(c) for c in stored_components(authentication()["components"])][0] is TemplateBody


def send_block(*parameters: str) -> dict:
    body = {"type": "body", "parameters": [{"type": "text", "text": p} for p in parameters]}
    return {
        "type": "template",
        "template": {"name": "summer_sale", "language": {"code": "en_US"}, "components": [body]},
    }


def test_template_send_gives_one_body_parameter_per_placeholder():
    stored = marketing()["components"]
    assert template_send_errors(send_block("August", "25OFF"), stored) == []
    errs = template_send_errors(send_block("August"), stored)
    assert errs == [
        FieldError("template.components", "the template's body has 2 placeholder(s); 1 body parameter(s) given")
    ]
