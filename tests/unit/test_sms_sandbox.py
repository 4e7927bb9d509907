"""The SMS sandbox provider's ``POST /sms``: it takes what the SMS HTTP API takes (seed 004), binary
messages with udh, pid and flash included, and refuses with seed 004's status codes (the end-to-end
behaviour is in tests/integration/test_sms_pipeline.py)."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from channels.sms.sandbox import send_sms
from tests.unit.fakes import given_callbacks

KEY = {"X-Mitto-API-Key": "any"}
SMS = {"from": "MITTO SMS", "to": "447700900123", "text": "Hello, World!"}


class FakeCallbacks:
    def is_own_callback(self, url):
        return False  # nothing leaves this test


@pytest.fixture
async def client():
    app = Litestar(route_handlers=[send_sms], dependencies=given_callbacks(FakeCallbacks()))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


async def answer(client, **changes):
    response = await client.post("/sandbox/sms/sms", json=SMS | changes, headers=KEY)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"type": "GSM", "text": "€ [ok]"},
        {"type": "unicode", "text": "Здравствуй, Мир!"},  # seed 004's OpenAPI example writes it in lower case
        {"type": "auto", "text": "Łódź"},
        {"type": "Byte", "text": "48656C6C6F", "udh": "06050415811581", "pid": 0, "flash": True},
        {"type": "Binary", "text": "0a0b"},
        {"flash": True, "pid": 64},
        {"type": None},  # null: the default
    ],
)
async def test_what_the_sms_api_takes_is_sent(client, changes):
    body = await answer(client, **changes)
    assert body["responseCode"] == 0 and body["responseText"] == "SMS sent" and body["id"], body


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"type": "UCS2"}, 2),
        ({"type": ""}, 2),
        ({"type": 5}, 2),
        ({"type": "GSM", "text": "Łódź"}, 4),  # seed 004: characters the type's encoding can't carry
        ({"type": "Byte", "text": "Hello"}, 4),
        ({"type": "binary", "text": "ABC"}, 4),
        ({"text": ""}, 3),
        ({"from": ""}, 5),
        ({"to": "+447700900123"}, 8),
    ],
)
async def test_what_it_refuses_answers_seed_004s_status_code(client, changes, code):
    body = await answer(client, **changes)
    assert body["responseCode"] == code and "id" not in body, body
