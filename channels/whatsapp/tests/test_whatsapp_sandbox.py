"""The WhatsApp sandbox provider where one request and its answer don't say it all: its magic recipients and
the notifications it builds parsing as Meta's. Its answers to single requests (accepted sends, Graph API
errors, authentication, the checks Meta makes, the simulated user's input) are fixture files (sandbox/);
the end-to-end behaviour is in tests/integration/test_whatsapp_pipeline.py."""

from __future__ import annotations

import json
import uuid

import pytest

from channels.base import Account
from channels.whatsapp import sandbox
from channels.whatsapp.adapter import phone_number_id
from channels.whatsapp.callbacks import parse_notification
from channels.whatsapp.sandbox import behaviour

TOKEN = "sandbox-access-token"
CREDENTIALS = {"accessToken": TOKEN, "appSecret": "s", "verifyToken": "v"}


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


def test_notifications_are_what_the_callback_route_parses():
    account = Account(uuid.uuid4(), "http://x", {"wabaId": "102290129340398"}, CREDENTIALS, True)
    payload = sandbox.notification(
        account,
        str(account.id),
        {"statuses": [sandbox.status_object("wamid.A", "447700900003", state) for state in ("sent", "failed")]},
    )
    assert payload["entry"][0]["id"] == "102290129340398"
    assert payload["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] == str(account.id)
    sent, failed = parse_notification(json.dumps(payload).encode(), phone_number_id(account)).found
    assert parse_notification(json.dumps(payload).encode(), "106540352242922").ignored == [str(account.id)]
    assert sent.status == "Sent" and sent.provider_message_id == "wamid.A"
    assert failed.status == "Failed" and failed.error_code == "whatsapp.131026"
