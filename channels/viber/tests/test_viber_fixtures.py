"""Viber from its fixture files: the REST bot API's requests and answers, its signed callbacks, and the
sandbox provider (channels/testing.py runs them)."""

import hashlib
import hmac
from pathlib import Path

import pytest

from channels.testing import cases, run_incoming, run_outgoing, run_sandbox
from channels.viber import channel

HERE = Path(__file__).parent
ACCOUNT = {"credentials": {"authToken": "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"}}


def sign(account, body, case):
    """X-Viber-Content-Signature: the hex HMAC-SHA256 of the raw body, keyed with the auth token."""
    digest = hmac.new(account.credentials["authToken"].encode(), body, hashlib.sha256).hexdigest()
    return {"headers": {"X-Viber-Content-Signature": digest}}


@pytest.mark.parametrize("case", cases(HERE / "outgoing"))
async def test_outgoing(case):
    await run_outgoing(channel, case)


@pytest.mark.parametrize("case", cases(HERE / "incoming"))
async def test_incoming(case):
    await run_incoming(channel, case, account=ACCOUNT, signer=sign)


@pytest.mark.parametrize("case", cases(HERE / "sandbox"))
async def test_sandbox(case):
    await run_sandbox(channel, case)
