"""WhatsApp from its fixture files: the Cloud API's send requests and answers, its webhooks (verification,
signed notifications), and the sandbox provider (channels/testing.py runs them)."""

import hashlib
import hmac
from pathlib import Path

import pytest

from channels.inbound import decode_content
from channels.testing import cases, run_incoming, run_outgoing, run_sandbox
from channels.whatsapp import channel

HERE = Path(__file__).parent
ACCOUNT = {
    "settings": {"phoneNumberId": "106540352242922", "wabaId": "102290129340398"},
    "credentials": {
        "accessToken": "EAAJB3Yx0aBcBAHkZCZBZA9ZCw8sTx1Ff0bQb0ZBZCqj",
        "appSecret": "614fc2afde15eee07a26b2fe3eaee9b9",
        "verifyToken": "meatyhamhock",
    },
}


def sign(account, body, case):
    """X-Hub-Signature-256: ``sha256=`` and the hex HMAC-SHA256 of the raw body, keyed with the app secret."""
    digest = hmac.new(account.credentials["appSecret"].encode(), body, hashlib.sha256).hexdigest()
    return {"headers": {"X-Hub-Signature-256": f"sha256={digest}"}}


@pytest.mark.parametrize("case", cases(HERE / "outgoing"))
async def test_outgoing(case):
    await run_outgoing(channel, case)


@pytest.mark.parametrize("case", cases(HERE / "incoming"))
async def test_incoming(case):
    gateway = await run_incoming(channel, case, account=ACCOUNT, signer=sign)
    for _, message in gateway.received:  # every content is one of channels.inbound's (unknown fields refused)
        decode_content(message.content)


@pytest.mark.parametrize("case", cases(HERE / "sandbox"))
async def test_sandbox(case):
    await run_sandbox(channel, case)
