"""The SMS HTTP API's routes (channels/sms/compatible.py) over a CompatibleApi that keeps what it is given, the
account's settings and the callbacks' hooks. The gateway's side (storing, sending, delivering) is tested in
tests/api/test_sms_api*.py."""

import asyncio
import dataclasses
import datetime
import uuid
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from litestar import Litestar
from litestar.di import Provide
from litestar.testing import AsyncTestClient

from channels.base import CompatibleAccount, InboundMessage, Notify, Refused, Sent, json_object
from channels.sms import channel, compatible, sandbox
from channels.sms.callbacks import report_of
from wire.errors import FieldError

AT = datetime.datetime(2026, 12, 6, 12, 0, 0, 123456, tzinfo=datetime.UTC)
ACCOUNT = CompatibleAccount(
    id=uuid.uuid4(), tenant_id=uuid.uuid4(), name="Starfleet Academy", sandbox=True, settings={}
)


@dataclass
class Gateway:
    """What the routes ask of the gateway, answered from memory."""

    account: CompatibleAccount = ACCOUNT
    refuse: Refused | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)
    converted: set[uuid.UUID] = field(default_factory=set)
    rows: list[tuple[str, int, int]] = field(default_factory=list)

    async def account_of(self, request, channel_name):
        if self.refuse and self.refuse.status == 403:
            raise self.refuse
        return self.account

    async def accounts(self, request, channel_name):
        return [self.account]

    async def send(self, request, account, sends, notify, render, *, test=False):
        self.calls.append({"sends": sends, "notify": notify, "test": test})
        if self.refuse:
            raise self.refuse
        return render([Sent(None if test else uuid.uuid4(), s.destination, AT) for s in sends])

    async def convert(self, request, account_ids, message_id):
        self.calls.append({"convert": message_id, "accounts": account_ids})
        return message_id in self.converted

    async def usage(self, request, account_id, start, end):
        self.calls.append({"usage": (start, end)})
        return self.rows


class Api:
    """The CompatibleApi protocol over a Gateway (``account`` is a method name and a field there)."""

    def __init__(self, gateway):
        self.g = gateway

    async def account(self, request, channel_name):
        return await self.g.account_of(request, channel_name)

    def __getattr__(self, name):
        return getattr(self.g, name)


@pytest.fixture
def gateway():
    return Gateway()


@pytest.fixture
async def client(gateway):
    app = Litestar(
        route_handlers=list(compatible.ROUTES),
        dependencies={"compatible": Provide(lambda: Api(gateway), sync_to_thread=False)},
    )
    async with AsyncTestClient(app) as client:
        yield client


SMS = {"from": "MITTO SMS", "to": "15555552795", "text": "Hello, World!"}  # the public OpenAPI's "Send an SMS"


@pytest.mark.parametrize("path", compatible.SMS_PATHS[:2] + compatible.SMS_PATHS[3:])
async def test_send_an_sms(client, gateway, path):
    answer = await client.post(path, json=SMS)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"id", "timestamp", "to", "textLength", "responseCode", "responseText"}
    assert len(body["id"]) == 32 and body["timestamp"] == "2026-12-06T12:00:00.1234560Z"
    assert (body["to"], body["textLength"], body["responseCode"], body["responseText"]) == (
        "15555552795",
        13,
        0,
        "SMS sent",
    )
    [call] = gateway.calls
    assert [(s.destination, s.block) for s in call["sends"]] == [
        ("15555552795", {"text": "Hello, World!", "sender": "MITTO SMS", "type": "GSM", "validity": 2880})
    ]
    assert call["notify"] is None and call["test"] is False


async def test_test_mode_has_no_id(client, gateway):
    body = (await client.post("/sms", json={**SMS, "test": True})).json()
    assert "id" not in body and body["test"] is True and body["responseCode"] == 0
    assert gateway.calls[0]["test"] is True


async def test_xml_by_path_or_accept(client):
    for answer in (
        await client.post("/sms.xml", json=SMS),
        await client.post("/sms", json=SMS, headers={"Accept": "application/xml"}),
    ):
        assert answer.headers["content-type"].startswith("application/xml")
        assert answer.text.startswith('<?xml version="1.0" encoding="utf-8"?><response><id>')
        assert "<responseText>SMS sent</responseText><textLength>" not in answer.text  # the JSON order
        assert "<to>15555552795</to><textLength>13</textLength><responseCode>0</responseCode>" in answer.text
    refused = await client.post("/smsbulk.xml", json={**SMS, "from": ""})
    assert refused.status_code == 400 and refused.headers["content-type"].startswith("application/xml")
    assert "<responseCode>5</responseCode><responseText>Empty sender</responseText>" in refused.text


async def test_bulk_keeps_order_and_duplicates(client, gateway):
    to = ["+491775648254", "+423394994884", "+491775648254"]
    body = (await client.post("/v2/smsbulk.json", json={**SMS, "to": to})).json()
    assert [m["to"] for m in body["messages"]] == to
    assert len({m["id"] for m in body["messages"]}) == 3
    assert (body["responseCode"], body["responseText"]) == (0, "SMS sent")
    body = (await client.post("/smsbulk", json={**SMS, "to": "359898876737,359898876738", "test": True})).json()
    assert [m["to"] for m in body["messages"]] == ["359898876737", "359898876738"] and body["test"] is True
    assert all("id" not in m for m in body["messages"])


async def test_a_refusal_is_400_with_the_code_and_the_problem(client, gateway):
    answer = await client.post("/sms", json={**SMS, "to": "abc"})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert (body["responseCode"], body["responseText"], body["code"], body["status"]) == (
        8,
        "Invalid receiver",
        "validation_error",
        400,
    )
    assert body["errors"][0]["field"] == "to"
    assert gateway.calls == []  # nothing reached the gateway
    assert (await client.post("/sms", content=b"not json")).json()["responseCode"] == 1


@pytest.mark.parametrize("raw", [b'{"t": "a\\ud800b"}', b'{"t": NaN}', b"\xff", b"[]"])
def test_a_body_is_read_as_the_chat_api_reads_it(raw):
    # json_object reads the SMS API's bodies, the sandbox's and the providers' callbacks: half a surrogate pair
    # or NaN is no JSON (msgspec, as gateway/lib/validation.py), so it never reaches a database or an answer.
    assert json_object(raw) is None
    assert json_object(b'{"t": "\\ud83d\\ude00"}') == {"t": "\U0001f600"}  # a whole pair is one character


async def test_the_gateways_refusals_become_codes_and_the_clients_fields(client, gateway):
    gateway.refuse = Refused(
        400,
        "validation_error",
        "The request is not valid.",
        [FieldError("messages[1].destination", "is not a possible phone number")],
    )
    body = (await client.post("/smsbulk", json={**SMS, "to": ["15555552795", "999"]})).json()
    assert body["responseCode"] == 8 and body["errors"] == [
        {"field": "to[1]", "message": "is not a possible phone number"}
    ]
    gateway.refuse = Refused(403, "several_traffic_accounts", "Bind the key to one.")
    answer = await client.post("/sms", json=SMS)
    assert answer.status_code == 403
    assert (answer.json()["code"], answer.json()["responseCode"]) == ("several_traffic_accounts", 1)


def with_settings(**settings):
    return dataclasses.replace(ACCOUNT, settings=settings)


async def test_reports_go_to_the_request_callback_else_the_accounts(client, gateway):
    await client.post("/sms", json=SMS)
    gateway.account = with_settings(callbackUrl="https://example.com/dlr", callbackMethod="GET")
    await client.post("/sms", json=SMS)
    await client.post(
        "/sms", json={**SMS, "callback": "https://example.com/x?id=$msgid$", "deliveryStatusesToNotify": "DELIVERED"}
    )
    assert [call["notify"] for call in gateway.calls] == [
        None,
        Notify("https://example.com/dlr", "GET"),
        Notify("https://example.com/x?id=$msgid$", "GET", ("DELIVERED",)),
    ]


async def test_converted(client, gateway):
    message = uuid.uuid4()
    answer = await client.post("/sms/converted", json={"messageId": message.hex})
    assert answer.status_code == 400
    assert answer.json()["error"] == "Conversion rate tracking is not enabled for this customer account"
    assert gateway.calls == []
    gateway.account = with_settings(conversionTracking=True)
    gateway.converted.add(message)
    for given in (message.hex, str(message)):  # the 32-hex form of our answers and the dashed one
        answer = await client.post("/sms/converted", json={"messageId": given})
        assert (answer.status_code, answer.json()) == (200, "OK")
    answer = await client.post("/sms/converted", json={"messageId": "069d0e82-a437-47bc-b158-0f4065e83fce"})
    assert answer.status_code == 404
    assert answer.json()["error"] == 'No convertible message found for id "069d0e82-a437-47bc-b158-0f4065e83fce"'
    assert (await client.post("/sms/converted", json={"messageId": "nope"})).status_code == 404
    answer = await client.post("/sms/converted", json={})
    assert answer.status_code == 400 and answer.json()["errors"][0]["field"] == "messageId"


async def test_usage_by_country(client, gateway):
    gateway.account = with_settings(prices={"HRV": 0.9, "default": 1.2})
    gateway.rows = [("+385911234567", 2, 3), ("+385981234567", 1, 1), ("+491775648254", 4, 4), ("+999", 1, 1)]
    usage = {"startDate": "2020-02-15", "endDate": "20200228", "accountName": "Starfleet Academy"}
    answer = await client.post("/usage/bycountry", json=usage)
    assert answer.status_code == 200
    assert answer.json() == [
        {"country": "DEU", "messagesCount": 4, "cost": 4.8},
        {"country": "HRV", "messagesCount": 3, "cost": 3.6},
        {"country": "XXX", "messagesCount": 1, "cost": 1.2},
    ]
    start, end = gateway.calls[0]["usage"]
    assert (start.isoformat(), end.isoformat()) == ("2020-02-15T00:00:00+00:00", "2020-02-29T00:00:00+00:00")
    answer = await client.post("/usage/bycountry", json={**usage, "startDate": "2020-01-01", "endDate": "2020-01-31"})
    assert answer.status_code == 200  # 31 days, both included
    answer = await client.post("/usage/bycountry", json={**usage, "startDate": "2020-01-01", "endDate": "2020-02-01"})
    assert answer.status_code == 400 and answer.json()["error"] == "Maximum queryable period is 31 days"
    answer = await client.post("/usage/bycountry", json={**usage, "accountName": "Other"})
    assert answer.status_code == 404
    answer = await client.post("/usage/bycountry", json={"startDate": "2020-02-30", "endDate": "2020-0228"})
    assert answer.status_code == 400
    assert [e["field"] for e in answer.json()["errors"]] == ["startDate", "endDate", "accountName"]


@pytest.mark.parametrize(
    "start,end,days",
    [
        ("2020-02-15T00:00:00Z", "2020-02-28T23:59:59Z", ("2020-02-15", "2020-02-29")),  # seed 004 types date-time
        ("2020-02-15T10:00:00", "2020-02-28T23:30:00-02:00", ("2020-02-15", "2020-03-01")),  # the day in UTC
        ("2020-02-15T23:00:00+02:00", "20200228", ("2020-02-15", "2020-02-29")),
    ],
)
async def test_usage_dates_may_be_date_times(client, gateway, start, end, days):
    usage = {"startDate": start, "endDate": end, "accountName": "Starfleet Academy"}
    answer = await client.post("/usage/bycountry", json=usage)
    assert answer.status_code == 200, answer.text
    since, until = gateway.calls[0]["usage"]
    assert (since.date().isoformat(), until.date().isoformat()) == days
    assert since.tzinfo is until.tzinfo is datetime.UTC


async def test_usage_parses_each_row_once_and_many_rows_off_the_event_loop(client, gateway, monkeypatch):
    # The gateway gives a row per number prefix; a month's traffic to many countries and networks is still
    # thousands of rows, each parsed (phonenumbers): the event loop must stay free for every tenant's requests.
    parsed: list[str] = []
    on_the_loop: list[bool] = []

    def country_of(number):
        parsed.append(number)
        try:
            on_the_loop.append(asyncio.get_running_loop() is not None)
        except RuntimeError:  # no loop in this thread: a worker's
            on_the_loop.append(False)
        return "HRV" if number.startswith("+385") else "DEU"

    monkeypatch.setattr(compatible, "country_of", country_of)
    gateway.account = with_settings(prices={"HRV": 0.9, "default": 1.2})
    usage = {"startDate": "2020-02-15", "endDate": "2020-02-28", "accountName": "Starfleet Academy"}
    for count, off_the_loop in ((compatible.ROWS_ON_THE_LOOP, False), (compatible.ROWS_ON_THE_LOOP + 1, True)):
        parsed.clear(), on_the_loop.clear()
        gateway.rows = [(f"+385{n:08d}", 2, 3) for n in range(count - 1)] + [("+491775648254", 1, 1)]
        answer = await client.post("/usage/bycountry", json=usage)
        assert answer.json() == [
            {"country": "DEU", "messagesCount": 1, "cost": 1.2},
            {"country": "HRV", "messagesCount": 2 * (count - 1), "cost": round(0.9 * 3 * (count - 1), 4)},
        ]
        assert len(parsed) == count  # once a row: the cost is the country's price by its parts
        assert set(on_the_loop) == {not off_the_loop}


@pytest.mark.parametrize(
    "settings,fields",
    [
        ({"callbackUrl": "https://example.com/dlr?id=<msgid>", "callbackMethod": "GET"}, []),
        ({"inboundUrl": "https://example.com/in", "inboundMethod": "POST"}, []),
        ({"conversionTracking": True, "prices": {"HRV": 0.9, "default": 1.2}}, []),
        ({"callbackUrl": "example.com"}, ["settings.callbackUrl"]),
        ({"callbackMethod": "PUT", "inboundMethod": "get"}, ["settings.callbackMethod", "settings.inboundMethod"]),
        ({"conversionTracking": "yes"}, ["settings.conversionTracking"]),
        ({"prices": {"hr": 1}}, ["settings.prices"]),
        ({"prices": {"HRV": -1}}, ["settings.prices"]),
        ({"prices": [1]}, ["settings.prices"]),
        ({"callbackUrl": 5}, ["settings.callbackUrl"]),
    ],
)
def test_settings(settings, fields):
    errors = channel.validate_settings({"apiKey": "k", **settings}, sandbox=False)
    assert [e.field for e in errors] == fields


MESSAGE = SimpleNamespace(
    id=uuid.UUID("715118ef-01aa-4480-bbd6-7324a0459b0b"),
    destination="+385911234567",
    created_at=AT,
    message_parts=1,
    error_code=None,
    reference=None,
    content={"text": "Hi", "sender": "MITTO SMS"},
)


def test_report_hook():
    notify = Notify("https://example.com/dlr/<msgid>?s=$status$", "GET")
    request = channel.compatible_report(MESSAGE, "Delivered", AT, notify, {})
    assert request == {
        "method": "GET",
        "url": "https://example.com/dlr/715118ef01aa4480bbd67324a0459b0b?s=DELIVERED",
        "body": None,
    }
    only = Notify("https://example.com/dlr", "POST", ("DELIVERED",))
    assert channel.compatible_report(MESSAGE, "Sent", AT, only, {}) is None
    assert channel.compatible_report(MESSAGE, "Delivered", AT, only, {})["body"]["status"] == "DELIVERED"
    assert channel.compatible_report(MESSAGE, "Ready", AT, Notify("https://example.com/dlr"), {}) is None
    failed = SimpleNamespace(**{**MESSAGE.__dict__, "error_code": "sms.dlr.27"})
    body = channel.compatible_report(failed, "Failed", AT, Notify("https://example.com/dlr"), {})["body"]
    assert (body["status"], body["errorcode"]) == ("UNDELIVERED", "27")


def test_buffered_is_an_interim_report_the_customer_gets():
    report = report_of(MESSAGE.id, {"msgid": "p-1", "status": "buffered"})
    assert (report.status, report.interim, report.error_code) == ("Sent", "BUFFERED", None)
    assert report_of(MESSAGE.id, {"status": "DELIVERED"}).interim is None
    body = channel.compatible_report(MESSAGE, report.interim, AT, Notify("https://example.com/dlr"), {})["body"]
    assert (body["status"], body["errorcode"]) == ("BUFFERED", "0")
    only = Notify("https://example.com/dlr", "POST", ("DELIVERED",))
    assert channel.compatible_report(MESSAGE, "BUFFERED", AT, only, {}) is None
    assert sandbox.behaviour("447700900002") == ("buffered", None)


def test_inbound_hooks():
    assert channel.compatible_inbound_target({}) is None
    target = channel.compatible_inbound_target({"inboundUrl": "https://example.com/in"})
    assert target == Notify("https://example.com/in", "POST")
    user = SimpleNamespace(id=MESSAGE.id, destination="+447700900123", content={"type": "text", "text": "Yes"})
    received = InboundMessage("447700900123", user.content, "in-1")
    request = channel.compatible_inbound(user, received, {"phoneNumber": "+385910001111"}, target)
    assert request == {
        "method": "POST",
        "url": "https://example.com/in",
        "body": {
            "coding": "GSM",
            "sender": "447700900123",
            "content": "Yes",
            "receiver": "385910001111",
            "msgid": "715118ef01aa4480bbd67324a0459b0b",
        },
    }
    get = channel.compatible_inbound_target({"inboundUrl": "https://example.com/in", "inboundMethod": "GET"})
    assert channel.compatible_inbound(user, received, {}, get)["url"].startswith("https://example.com/in?coding=GSM&s")
    assert "&receiver=&" in channel.compatible_inbound(user, received, {}, get)["url"]  # no number known
    # The number the user texted, as the provider said, over the account's phoneNumber (an account of several).
    texted = dataclasses.replace(received, recipient="+44 7860 099299")
    assert channel.compatible_inbound(user, texted, {"phoneNumber": "+385910001111"}, target)["body"]["receiver"] == (
        "447860099299"
    )
    alphanumeric = dataclasses.replace(received, recipient="MITTO")
    assert channel.compatible_inbound(user, alphanumeric, {}, target)["body"]["receiver"] == "MITTO"
