"""The SMS HTTP API's format (channels/sms/protocol.py), against the documents' own examples: seed 004's tables,
the public OpenAPI (ballerina-platform/openapi-connectors openapi/mitto.sms/openapi.yml) and the Power Platform
connector (microsoft/PowerPlatformConnectors certified-connectors/Mitto/apiDefinition.swagger.json)."""

import datetime
import re
import uuid
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest

from channels.base import Notify
from channels.sms import countries, protocol
from channels.sms.blocks import validate_block
from channels.sms.protocol import Invalid, read_send

LONG = (
    "Due to the limitations of GSM/PDU standard, the body text of an SMS message cannot be longer than 160 "
    "characters (70 characters if the text is Unicode format). MITTO's SMS API overcomes this limitations by "
    "splitting larger messages into several smaller messages, each of which conforms to that standards."
)


@pytest.mark.parametrize(
    "body",
    [
        {"from": "MITTO SMS", "to": "15555552795", "text": "Hello, World!", "test": True},  # Make a Test API Call
        {"from": "MITTO SMS", "to": "15555552795", "text": "Hello, World!"},  # Send an SMS
        {"from": "MITTO SMS", "to": "491725551234", "text": LONG, "type": "auto"},  # Send a Long SMS
        {"from": "MITTO SMS", "to": "491725551234", "text": "Здравствуй, Мир!", "type": "auto"},  # Another Language
        {
            "from": "MITTO SMS",
            "to": "491725551234",
            "text": "Enjoy the stunning Spring 2019 visuals in our gallery!",
            "reference": "Campaign 2019-05, B-split message",
        },  # Add Metadata to a Message
        {"from": "Mitto", "to": "+491775682913", "text": "Hello World", "type": "GSM", "reference": "MyId-123"},
    ],
)
def test_the_public_specs_examples_are_valid_and_make_valid_blocks(body):
    request = read_send(body, bulk=False)
    assert request.to == [body["to"]]
    assert request.test is (body.get("test") is True)
    assert validate_block(request.block) == []
    assert request.block["text"] == body["text"] and request.block["sender"] == body["from"]


def test_the_block_takes_every_option_and_validity_defaults_to_2880_minutes():
    request = read_send({"from": "Acme", "to": "385911234567", "text": "Hi"}, bulk=False)
    assert request.block == {"text": "Hi", "sender": "Acme", "type": "GSM", "validity": 2880}
    body = {
        "from": "Acme",
        "to": "385911234567",
        "text": "48656C6C6F",
        "type": "byte",
        "reference": "r1",
        "udh": "06050415811581",
        "pid": 0,
        "flash": True,
        "validity": 60,
        "callback": "https://example.com/dlr?id=<msgid>",
        "deliveryStatusesToNotify": "delivered, UNDELIVERED",
    }
    request = read_send(body, bulk=False)
    assert request.block == {
        "text": "48656C6C6F",
        "sender": "Acme",
        "type": "Byte",
        "reference": "r1",
        "udh": "06050415811581",
        "pid": 0,
        "flash": True,
        "validity": 60,
    }
    assert validate_block(request.block) == []
    assert request.callback == body["callback"]
    assert request.statuses == ("DELIVERED", "UNDELIVERED")


def test_blank_optional_fields_are_absent():
    # What a form client (the Power Platform connector) sends for the fields left blank.
    blank = {"reference": "", "udh": "", "callback": "", "deliveryStatusesToNotify": ""}
    request = read_send({"from": "Mitto", "to": "+491775682913", "text": "Hello World", **blank}, bulk=False)
    assert request.block == {"text": "Hello World", "sender": "Mitto", "type": "GSM", "validity": 2880}
    assert (request.callback, request.statuses) == (None, ())
    with pytest.raises(Invalid) as refused:  # a blank type is no type: seed 004's responseCode 2
        read_send({"from": "Mitto", "to": "+491775682913", "text": "Hello World", "type": ""}, bulk=False)
    assert refused.value.code == 2


@pytest.mark.parametrize(
    "given,block",
    [("GSM", "GSM"), ("gsm", "GSM"), ("UNICODE", "Unicode"), ("Auto", "auto"), ("binary", "Binary"), ("Byte", "Byte")],
)
def test_type_in_any_case(given, block):
    text = "0a0b" if block in ("Binary", "Byte") else "Hi"
    assert read_send({"from": "Acme", "to": "1555", "text": text, "type": given}, bulk=False).block["type"] == block


@pytest.mark.parametrize(
    "to,receivers",
    [
        (["+491775648254", "+423394994884"], ["+491775648254", "+423394994884"]),  # the Power Platform's example
        ("359898876737,359898876738", ["359898876737", "359898876738"]),  # the public OpenAPI: comma-separated
        ("359898876737, 359898876737", ["359898876737", "359898876737"]),  # a number twice: two messages
        ("359898876737", ["359898876737"]),
    ],
)
def test_bulk_receivers(to, receivers):
    assert read_send({"from": "Mitto", "to": to, "text": "Hello World"}, bulk=True).to == receivers


def refused(body, bulk=False):
    with pytest.raises(Invalid) as caught:
        read_send(body, bulk=bulk)
    return caught.value.code, [(e.field, e.message) for e in caught.value.errors]


OK = {"from": "MITTO SMS", "to": "359898876737", "text": "Hello"}


@pytest.mark.parametrize(
    "change,code,field",
    [
        ({"type": "Latin1"}, 2, "type"),
        ({"type": 7}, 2, "type"),
        ({"text": ""}, 3, "text"),
        ({"text": None}, 3, "text"),
        ({"text": "Łódź"}, 4, "text"),  # GSM is the default type (seed 004)
        ({"text": "Łódź", "type": "GSM"}, 4, "text"),
        ({"text": "zz", "type": "Binary"}, 4, "text"),
        ({"text": 5}, 4, "text"),
        ({"from": ""}, 5, "from"),
        ({"from": None}, 5, "from"),
        ({"from": "AB"}, 6, "from"),  # alphanumeric: 3-11 characters
        ({"from": "ABCDEFGHIJKL"}, 6, "from"),
        ({"from": "12"}, 6, "from"),  # numeric: 3-14
        ({"from": "+123456789012345"}, 6, "from"),
        ({"from": 123}, 6, "from"),
        ({"to": ""}, 7, "to"),
        ({"to": None}, 7, "to"),
        ({"to": "+44 7700 900123"}, 8, "to"),
        ({"to": "abc"}, 8, "to"),
        ({"to": "1234567890123456"}, 8, "to"),  # E.164: at most 15 digits
        ({"to": ["359898876737"]}, 8, "to"),  # /sms takes one receiver
        ({"to": "359898876737,359898876738"}, 8, "to"),
        ({"validity": "60"}, 1, "validity"),
        ({"callback": "ftp://x"}, 1, "callback"),
        ({"deliveryStatusesToNotify": "DELIVERED,READ"}, 1, "deliveryStatusesToNotify"),
        ({"test": "yes"}, 1, "test"),
    ],
)
def test_each_response_code(change, code, field):
    got_code, errors = refused({**OK, **change})
    assert got_code == code
    assert [f for f, _ in errors] == [field]


def test_the_lowest_code_answers_and_every_problem_is_named():
    code, errors = refused({"from": "", "to": "x", "text": "", "type": "bad"})
    assert code == 2
    assert [f for f, _ in errors] == ["type", "text", "from", "to"]
    code, errors = refused({"from": "Acme", "to": ["1555", "x", 7], "text": "Hi"}, bulk=True)
    assert code == 8 and [f for f, _ in errors] == ["to[1]", "to[2]"]
    assert refused("not an object") == (1, [("body", "must be a JSON object")])
    assert refused({**OK, "to": []}, bulk=True)[0] == 7


@pytest.mark.parametrize("sender", ["ABC", "ABCDEFGHIJK", "123", "12345678901234", "+12345678901234", "MITTO SMS"])
def test_seed_004_senders(sender):
    assert read_send({**OK, "from": sender}, bulk=False).block["sender"] == sender


AT = datetime.datetime(2019, 4, 13, 12, 7, 57, 862557, tzinfo=datetime.UTC)
ID = uuid.UUID("715118ef-01aa-4480-bbd6-7324a0459b0b")


def test_the_answer_of_send_sms_is_the_public_openapis():
    entry = protocol.sent_entry(ID, AT, "41751231234", "Hello, World!")
    assert protocol.sms_answer(entry, test=False) == {
        "id": "715118ef01aa4480bbd67324a0459b0b",
        "timestamp": "2019-04-13T12:07:57.8625570Z",
        "to": "41751231234",
        "textLength": 13,
        "responseCode": 0,
        "responseText": "SMS sent",
    }
    test = protocol.sms_answer(protocol.sent_entry(None, AT, "15555552795", "Hello, World!"), test=True)
    assert "id" not in test and test["test"] is True and test["responseCode"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", test["timestamp"])


def test_the_bulk_answer_is_the_power_platforms():
    entries = [protocol.sent_entry(ID, AT, to, "Hello World") for to in ("+491775648254", "+491775648254")]
    answer = protocol.bulk_answer(entries, test=False)
    assert list(answer) == ["messages", "responseCode", "responseText"]
    assert [set(m) for m in answer["messages"]] == [{"id", "timestamp", "to", "textLength"}] * 2
    assert protocol.bulk_answer([], test=True)["test"] is True


def test_a_refusal_carries_the_problem_members():
    answer = protocol.refusal(
        8, 400, "validation_error", "The request is not valid.", [protocol.FieldError("to", "bad")]
    )
    assert answer == {
        "responseCode": 8,
        "responseText": "Invalid receiver",
        "textLength": 0,
        "type": "urn:gateway:problem:validation_error",
        "title": "Bad Request",
        "status": 400,
        "detail": "The request is not valid.",
        "code": "validation_error",
        "errors": [{"field": "to", "message": "bad"}],
    }


def test_gateway_errors_become_response_codes_and_client_fields():
    E = protocol.FieldError
    assert protocol.response_code_of([E("messages[0].sms.text", "x"), E("messages[1].destination", "y")]) == 4
    assert protocol.response_code_of([E("messages[0].sms.sender", "x")]) == 6
    assert protocol.response_code_of([E("messages[0].sms.validity", "x")]) == 1
    assert protocol.client_field("messages[2].destination", bulk=True) == "to[2]"
    assert protocol.client_field("messages[0].destination", bulk=False) == "to"
    assert protocol.client_field("messages[0].sms.sender", bulk=False) == "from"
    assert protocol.client_field("messages[0].sms.udh", bulk=False) == "udh"
    assert protocol.client_field("messages", bulk=True) == "to"
    assert protocol.client_field("notify.url", bulk=False) == "callback"


def test_xml_has_the_same_fields():
    answer = protocol.bulk_answer([protocol.sent_entry(ID, AT, "1555", "a<b")], test=True)
    assert protocol.xml(answer) == (
        b'<?xml version="1.0" encoding="utf-8"?><response><messages><message><id>715118ef01aa4480bbd67324a0459b0b</id>'
        b"<timestamp>2019-04-13T12:07:57.8625570Z</timestamp><to>1555</to><textLength>3</textLength></message>"
        b"</messages><responseCode>0</responseCode><responseText>SMS sent</responseText><test>true</test></response>"
    )
    assert protocol.wants_xml("/sms.xml", None)
    assert protocol.wants_xml("/sms", "application/xml")
    assert not protocol.wants_xml("/sms", "application/json, application/xml")
    assert not protocol.wants_xml("/sms.json", "*/*")


def stored(**fields):
    base = dict(
        id=ID,
        destination="+385911234567",
        created_at=AT,
        message_parts=2,
        error_code=None,
        reference="Spring campaign",
        content={"text": "Hi", "sender": "Acme"},
    )
    return SimpleNamespace(**{**base, **fields})


SENT_AT = datetime.datetime(2019, 4, 13, 12, 8, 0, tzinfo=datetime.UTC)


def test_report_fields_are_seed_004s_callback_parameters():
    fields = protocol.report_fields(stored(), "DELIVERED", SENT_AT, {"prices": {"HRV": 0.9, "default": 1.2}})
    assert fields == {
        "msgid": "715118ef01aa4480bbd67324a0459b0b",
        "sendtime": "2019-04-13T12:07:57.8625570Z",
        "status": "DELIVERED",
        "receiver": "385911234567",
        "mcc": "",
        "mnc": "",
        "cost": "1.8",  # 2 parts at 0.9
        "errorcode": "0",
        "sendtimestamp": str(int(SENT_AT.timestamp())),
        "reference": "Spring campaign",
    }
    assert (
        protocol.report_fields(stored(destination="+491775648254"), "SENT", SENT_AT, {"prices": {"default": 1.2}})[
            "cost"
        ]
        == "2.4"
    )
    assert protocol.report_fields(stored(), "SENT", SENT_AT, {})["cost"] == "0"


def test_a_report_parses_the_receiver_only_for_a_price_by_country(monkeypatch):
    parsed: list[str] = []
    monkeypatch.setattr(protocol, "country_of", lambda number: parsed.append(number) or "HRV")
    for prices in (None, {}, {"default": 1.2}):
        protocol.report_fields(stored(), "SENT", SENT_AT, {"prices": prices})
    assert parsed == []  # about 0.1 ms a report, for no price
    assert protocol.report_fields(stored(), "SENT", SENT_AT, {"prices": {"HRV": 0.9}})["cost"] == "1.8"
    assert parsed == ["385911234567"]


def test_a_receivers_country_is_parsed_once():
    countries.country_of.cache_clear()
    assert [countries.country_of("+385911234567") for _ in range(3)] == ["HRV"] * 3
    assert (countries.country_of.cache_info().hits, countries.country_of.cache_info().misses) == (2, 1)


@pytest.mark.parametrize(
    "status,error,state,errorcode",
    [
        ("Sent", None, "SENT", 0),
        ("Delivered", None, "DELIVERED", 0),
        ("Read", None, "DELIVERED", 0),
        ("Failed", "sms.dlr.27", "UNDELIVERED", 27),
        ("Failed", "sms.dlr.failed.13", "FAILED", 13),  # a DLR's FAILED: rejected by the carrier
        ("Failed", "sms.dlr.failed", "FAILED", 999),
        ("Failed", "sms.dlr.undelivered", "UNDELIVERED", 999),
        ("Failed", "sms.8", "FAILED", 604),
        ("Failed", "sms.6", "FAILED", 603),
        ("Failed", "no_route", "FAILED", 999),
        ("Expired", "sms.dlr.expired", "EXPIRED", 0),
        ("Ready", None, None, None),
        ("Received", None, None, None),
    ],
)
def test_gateway_statuses_are_seed_004s_states_and_error_codes(status, error, state, errorcode):
    assert protocol.state_of(status, error) == state
    if state:
        assert protocol.error_code_of(state, error) == errorcode


FIELDS = {"msgid": "715118ef01aa4480bbd67324a0459b0b", "status": "DELIVERED", "reference": "Spring campaign"}


@pytest.mark.parametrize(
    "template,expected",
    [
        (
            "https://x.example/dlr?id=<msgid>&s=<status>",
            "https://x.example/dlr?id=715118ef01aa4480bbd67324a0459b0b&s=DELIVERED",
        ),
        ("https://x.example/dlr/$msgid$/$status$", "https://x.example/dlr/715118ef01aa4480bbd67324a0459b0b/DELIVERED"),
        ("https://x.example/dlr?r=$reference$&s=<status>", "https://x.example/dlr?r=Spring%20campaign&s=DELIVERED"),
        (
            "https://x.example/dlr?x=<other>&id=<msgid>",
            "https://x.example/dlr?x=<other>&id=715118ef01aa4480bbd67324a0459b0b",
        ),
    ],
)
def test_templates_with_both_delimiters(template, expected):
    assert protocol.callback_request(Notify(template, "GET"), FIELDS) == {
        "method": "GET",
        "url": expected,
        "body": None,
    }
    post = protocol.callback_request(Notify(template, "POST"), FIELDS)
    assert post == {"method": "POST", "url": expected, "body": FIELDS}


@pytest.mark.parametrize("delimiters", [("<", ">"), ("$", "$")])
def test_every_report_field_is_a_placeholder_in_either_delimiter(delimiters):
    """Seed 004's ten Callback API parameters, each filled in URL-encoded (a report's every field, with values
    that need encoding: a reference with a space, slash and ampersand, a cost with a point)."""
    fields = protocol.report_fields(stored(reference="A/B & C"), "UNDELIVERED", SENT_AT, {"prices": {"HRV": 0.9}}) | {
        "mcc": "219",
        "mnc": "10",
    }
    assert set(fields) == set(protocol.REPORT_FIELDS)
    opening, closing = delimiters
    query = "&".join(f"{name}={opening}{name}{closing}" for name in protocol.REPORT_FIELDS)
    for method in ("GET", "POST"):
        request = protocol.callback_request(Notify(f"https://x.example/dlr?{query}", method), fields)
        assert parse_qs(urlsplit(request["url"]).query) == {name: [value] for name, value in fields.items()}
        assert opening not in request["url"].split("?", 1)[1] and "A%2FB%20%26%20C" in request["url"]


def test_without_placeholders_get_sends_a_query_and_post_a_json_body():
    get = protocol.callback_request(Notify("https://x.example/dlr?k=1", "GET"), FIELDS)
    parts = urlsplit(get["url"])
    assert parts.path == "/dlr" and get["body"] is None
    assert parse_qs(parts.query) == {"k": ["1"], **{key: [value] for key, value in FIELDS.items()}}
    post = protocol.callback_request(Notify("https://x.example/dlr", "POST"), FIELDS)
    assert post == {"method": "POST", "url": "https://x.example/dlr", "body": FIELDS}


def test_inbound_fields_are_seed_004s_2_way_parameters():
    message = stored(destination="+447700900123", content={"type": "text", "text": "Hello"})
    assert protocol.inbound_fields(message, "+385 91 000 1111") == {
        "coding": "GSM",
        "sender": "447700900123",
        "content": "Hello",
        "receiver": "385910001111",
        "msgid": "715118ef01aa4480bbd67324a0459b0b",
    }
    unicode = stored(content={"type": "text", "text": "Здравствуй"})
    assert protocol.inbound_fields(unicode, "MITTO SMS")["coding"] == "UCS2"
    assert protocol.inbound_fields(unicode, "MITTO SMS")["receiver"] == "MITTO SMS"
