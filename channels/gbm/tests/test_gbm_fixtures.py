"""Google Business Messages from its fixture files: conversations.messages.create with the OAuth grant, the
webhook's payloads and verification, and the sandbox provider (channels/testing.py runs them)."""

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from channels.gbm import channel
from channels.gbm.tests.keys import KEY
from channels.testing import cases, run_incoming, run_outgoing, run_sandbox

HERE = Path(__file__).parent
ACCOUNT = {"settings": {"agentId": "a1"}, "credentials": {"serviceAccountKey": KEY, "clientToken": "SJENCPGJESMGUFPY"}}


def sign(account, body, case):
    """X-Goog-Signature: the base64 HMAC-SHA512 of the raw body, keyed with the webhook's client token."""
    digest = hmac.new(account.credentials["clientToken"].encode(), body, hashlib.sha512).digest()
    return {"headers": {"X-Goog-Signature": base64.b64encode(digest).decode()}}


@pytest.mark.parametrize("case", cases(HERE / "outgoing"))
async def test_outgoing(case):
    await run_outgoing(channel, case, placeholders={"service_account_key": KEY})


@pytest.mark.parametrize("case", cases(HERE / "incoming"))
async def test_incoming(case):
    await run_incoming(channel, case, account=ACCOUNT, signer=sign)


@pytest.mark.parametrize("case", cases(HERE / "sandbox"))
async def test_sandbox(case):
    await run_sandbox(channel, case)
