"""The WhatsApp sandbox provider's Cloud API surface: answers shaped like Meta's, the checks Meta makes,
the magic recipients and the signed notifications it builds (the end-to-end behaviour is in
tests/integration/test_whatsapp_pipeline.py)."""

from __future__ import annotations

import json
import uuid

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from channels.base import Account
from channels.whatsapp import sandbox
from channels.whatsapp.callbacks import parse_notification
from channels.whatsapp.sandbox import behaviour, send_message, user_sends_message
from tests.unit.fakes import given_callbacks

TOKEN = "sandbox-access-token"
CREDENTIALS = {"accessToken": TOKEN, "appSecret": "s", "verifyToken": "v"}


class FakeCallbacks:
    def __init__(self) -> None:
        self.account_id = uuid.uuid4()
        self.live_id = uuid.uuid4()

    async def account(self, account_id, channel):
        if channel != "whatsapp" or account_id not in (self.account_id, self.live_id):
            return None
        return Account(account_id, "http://x/sandbox/whatsapp", {}, CREDENTIALS, account_id == self.account_id)

    def callback_url(self, channel, account_id):
        return f"http://elsewhere.invalid/callbacks/{channel}/{account_id}"

    def is_own_callback(self, url):
        return False  # nothing leaves this test


@pytest.fixture
async def client():
    callbacks = FakeCallbacks()
    app = Litestar(route_handlers=[send_message, user_sends_message], dependencies=given_callbacks(callbacks))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client, callbacks


def text(to: str = "447700900123", **extra) -> dict:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": {"body": "hi"},
        **extra,
    }


async def post(client, pipeline, body, token=TOKEN, phone_number_id=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    url = f"/sandbox/whatsapp/{phone_number_id or pipeline.account_id}/messages"
    return await client.post(url, content=json.dumps(body).encode(), headers=headers)


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("447700900001", ("silent", None)),
        ("447700900002", ("read", None)),
        ("447700900003", ("failed", None)),
        ("447700901047", ("refused", 131047)),
        ("447700901026", ("refused", 131026)),
        ("447700901000", ("refused", 131000)),
        ("447700900500", ("error", None)),
        ("447700900429", ("throttled", None)),
        ("447700900408", ("timeout", None)),
        ("447700900123", ("delivered", None)),
    ],
)
def test_magic_recipients(to, expected):
    assert behaviour(to) == expected


async def test_an_accepted_send_answers_like_the_cloud_api(client):
    client, pipeline = client
    response = await post(client, pipeline, text("+44 7700 900123"))
    body = response.json()
    assert response.status_code == 200 and body["messaging_product"] == "whatsapp"
    assert body["contacts"] == [{"input": "+44 7700 900123", "wa_id": "447700900123"}]
    (message,) = body["messages"]
    assert message["id"].startswith("wamid.") and "message_status" not in message
    template = {"messaging_product": "whatsapp", "to": "447700900123", "type": "template"}
    template["template"] = {"name": "hello_world", "language": {"code": "en_US"}}
    assert (await post(client, pipeline, template)).json()["messages"][0]["message_status"] == "accepted"
    # type defaults to text, as in the Cloud API
    untyped = {"messaging_product": "whatsapp", "to": "447700900123", "text": {"body": "hi"}}
    assert (await post(client, pipeline, untyped)).status_code == 200


@pytest.mark.parametrize(
    ("to", "status", "code"),
    [
        ("447700901047", 400, 131047),
        ("447700901026", 400, 131026),
        ("447700901056", 400, 131056),
        ("447700901000", 500, 131000),
        ("447700900500", 500, 1),
        ("447700900429", 429, 130429),
    ],
)
async def test_refusals_are_graph_api_errors(client, to, status, code):
    client, pipeline = client
    response = await post(client, pipeline, text(to))
    error = response.json()["error"]
    assert response.status_code == status and error["code"] == code
    assert error["type"] == "OAuthException" and error["fbtrace_id"] and error["message"]
    if code == 131047:
        assert "24 hours" in error["error_data"]["details"] and error["message"] == "(#131047) Re-engagement message"
    if code == 130429:
        assert response.headers["Retry-After"] == "1"


async def test_authentication_and_the_phone_number_id_are_checked(client):
    client, pipeline = client
    missing = await post(client, pipeline, text(), token=None)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == 104
    wrong = await post(client, pipeline, text(), token="not-it")
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == 190
    for phone_number_id in ("106540352242922", str(uuid.uuid4()), str(pipeline.live_id)):
        unknown = await post(client, pipeline, text(), phone_number_id=phone_number_id)
        error = unknown.json()["error"]
        assert unknown.status_code == 400 and error["code"] == 100 and error["error_subcode"] == 33
        assert phone_number_id in error["message"]


@pytest.mark.parametrize(
    ("body", "code", "says"),
    [
        ([1], 100, "JSON object"),
        ({"to": "447700900123", "type": "text", "text": {"body": "x"}}, 100, "messaging_product is required"),
        ({**text(), "messaging_product": "sms"}, 100, "messaging_product must be one of"),
        ({**text(), "recipient_type": "group"}, 100, "individual"),
        ({**text(), "to": ""}, 100, "to is required"),
        ({**text(), "to": "abc"}, 131009, "phone number"),
        ({**text(), "type": "carrier_pigeon"}, 100, "type must be one of"),
        ({**text(), "text": "hi"}, 131008, "'text'"),
        ({**text(), "text": {"preview_url": True}}, 131008, "text.body"),
        ({**text(), "type": "image", "image": {"caption": "x"}}, 131008, "image.link"),
        ({**text(), "type": "template", "template": {"name": "x", "language": {}}}, 131008, "template.language.code"),
        ({**text(), "type": "interactive", "interactive": {"type": "button"}}, 131008, "interactive.action"),
        ({**text(), "type": "location", "location": {"latitude": 1}}, 131008, "location.longitude"),
    ],
)
async def test_bodies_the_cloud_api_refuses(client, body, code, says):
    client, pipeline = client
    response = await post(client, pipeline, body)
    error = response.json()["error"]
    assert response.status_code == 400 and error["code"] == code
    assert says in error["message"] + error.get("error_data", {}).get("details", "")


def test_notifications_are_what_the_callback_route_parses():
    account = Account(uuid.uuid4(), "http://x", {"wabaId": "102290129340398"}, CREDENTIALS, True)
    payload = sandbox.notification(
        account,
        str(account.id),
        {"statuses": [sandbox.status_object("wamid.A", "447700900003", state) for state in ("sent", "failed")]},
    )
    assert payload["entry"][0]["id"] == "102290129340398"
    assert payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] == str(account.id)
    sent, failed = parse_notification(json.dumps(payload).encode())
    assert sent.status == "Sent" and sent.provider_message_id == "wamid.A"
    assert failed.status == "Failed" and failed.error_code == "whatsapp.131026"


async def test_inbound_needs_a_sandbox_account_and_says_what_is_missing(client):
    client, pipeline = client
    live = {"trafficAccountId": str(pipeline.live_id), "from": "+447700900123", "text": "hi"}
    assert (await client.post("/sandbox/whatsapp/inbound", json=live)).status_code == 404
    response = await client.post(
        "/sandbox/whatsapp/inbound", json={"trafficAccountId": "x", "from": "y", "buttonReply": 5}
    )
    assert response.status_code == 400
    assert {e["key"] for e in response.json()["extra"]} == {"from", "buttonReply"}
    response = await client.post(
        "/sandbox/whatsapp/inbound", json={"trafficAccountId": "x", "from": "+1 650 555 1234", "text": "hi"}
    )
    assert response.status_code == 400 and "UUID" in response.text
    message = {"trafficAccountId": str(pipeline.account_id), "from": "447700900123", "message": {"type": "location"}}
    assert (await client.post("/sandbox/whatsapp/inbound", json=message)).status_code == 400
    # Nothing is sent to a URL that isn't this gateway's own callback route.
    good = {"trafficAccountId": str(pipeline.account_id), "from": "447700900123", "text": "hi", "wamid": "wamid.X"}
    assert (await client.post("/sandbox/whatsapp/inbound", json=good)).json() == {
        "wamid": "wamid.X",
        "gatewayStatus": None,
    }
