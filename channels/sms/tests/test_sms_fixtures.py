"""SMS from its fixture files: the SMS HTTP API's send requests and answers, delivery reports and 2-way SMS,
and the sandbox provider (channels/testing.py runs them)."""

from pathlib import Path

import pytest

from channels.sms import channel
from channels.testing import ACCOUNT_TOKEN, MESSAGE_TOKEN, cases, run_incoming, run_outgoing, run_sandbox

HERE = Path(__file__).parent
ACCOUNT = {"credentials": {"apiKey": "0123456789abcdef0123456789abcdef"}}


def sign(account, body, case):
    """The SMS API authenticates a callback by the token in its URL: a message's (DLR), the account's (2-way)."""
    return {"query": {"token": ACCOUNT_TOKEN if case.get("path") == "/inbound" else MESSAGE_TOKEN}}


@pytest.mark.parametrize("case", cases(HERE / "outgoing"))
async def test_outgoing(case):
    await run_outgoing(channel, case)


@pytest.mark.parametrize("case", cases(HERE / "incoming"))
async def test_incoming(case):
    await run_incoming(channel, case, account=ACCOUNT, signer=sign)


@pytest.mark.parametrize("case", cases(HERE / "sandbox"))
async def test_sandbox(case):
    await run_sandbox(channel, case)
