"""Telegram from its fixture files: the Bot API's send methods and answers, the webhook's Updates, and the
sandbox provider (channels/testing.py runs them)."""

from pathlib import Path

import pytest

from channels.inbound import decode_content
from channels.telegram import channel
from channels.testing import cases, run_incoming, run_outgoing, run_sandbox

HERE = Path(__file__).parent
ACCOUNT = {
    "credentials": {
        "botToken": "110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",
        "webhookSecret": "s3cr3t_Token-0123456789",
    }
}


def sign(account, body, case):
    """setWebhook's secret_token comes back in a header of every Update."""
    return {"headers": {"X-Telegram-Bot-Api-Secret-Token": account.credentials["webhookSecret"]}}


@pytest.mark.parametrize("case", cases(HERE / "outgoing"))
async def test_outgoing(case):
    await run_outgoing(channel, case)


@pytest.mark.parametrize("case", cases(HERE / "incoming"))
async def test_incoming(case):
    gateway = await run_incoming(channel, case, account=ACCOUNT, signer=sign)
    for _, message in gateway.received:  # one vocabulary of what users send, for every channel
        decode_content(message.content)


@pytest.mark.parametrize("case", cases(HERE / "sandbox"))
async def test_sandbox(case):
    await run_sandbox(channel, case)
