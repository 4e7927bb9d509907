"""Every gateway request example of seed 002 (tests/api/seed_requests/*.json), sent as the seed writes it.

Only what can't be sent as written is replaced: the seed's traffic account ids (by sandbox accounts of
this tenant, of the channel the example's blocks imply), destinations that are placeholders or not
addresses of the channel, and masked or placeholder SMS senders. Everything else goes out verbatim,
empty blocks such as ``"whatsApp": {}`` included. Each example must be accepted (200), and every
message id of the answer must be readable with GET /api/v1/Message/{id} and carry the right channel.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from litestar.testing import AsyncTestClient

from channels.registry import all_channels
from tests.conftest import ADMIN, new_tenant

SEED_REQUESTS = Path(__file__).parent / "seed_requests"
FILES = sorted(path.name for path in SEED_REQUESTS.glob("*.json"))

# The top-level keys of a request that are channel blocks, and their channel.
BLOCK_CHANNELS = {
    "sms": "sms",
    "whatsapp": "whatsapp",
    "whatsApp": "whatsapp",
    "viber": "viber",
    "telegram": "telegram",
    "gbm": "gbm",
}
PLACEHOLDER = re.compile(r"^\{\{?[^{}]*\}?\}$")  # {destination}, {{phone-number}}, {SMS sender}
PHONE_NUMBER = "+447700900123"  # used only where the seed's destination is no phone number
SENDER = "Mitto"  # used only where the seed's SMS sender is a placeholder


def load(name: str) -> dict[str, Any]:
    return json.loads((SEED_REQUESTS / name).read_text())


def channels_used(body: dict[str, Any]) -> list[str]:
    """The channels of the request's blocks that carry a message, in the order the request lists them
    (an empty block, like sendbulk's ``"whatsApp": {}``, carries none)."""
    return [BLOCK_CHANNELS[key] for key, value in body.items() if key in BLOCK_CHANNELS and value]


def addressed_by_phone_number(channel: str, body: dict[str, Any]) -> bool:
    """Whether the channel's destination for the request's block is a phone number, as the channel declares
    (seed 002 sends Viber bot messages, session and regular, to a Viber user id: its ``01234567890`` goes out
    as written)."""
    key = next((key for key, name in BLOCK_CHANNELS.items() if name == channel and body.get(key)), None)
    block = body[key] if key is not None else None
    return all_channels()[channel].destination_kind(block) == "phoneNumber"


def is_phone_number(value: str) -> bool:
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse("+" + value.lstrip("+")))
    except phonenumbers.NumberParseException:
        return False


def usable_destination(destination: str, channels: list[str], body: dict[str, Any]) -> str:
    """The seed's destination, unless it is a placeholder or no phone number where one is needed."""
    needs_phone = any(addressed_by_phone_number(channel, body) for channel in channels)
    if PLACEHOLDER.match(destination) or (needs_phone and not is_phone_number(destination)):
        return PHONE_NUMBER
    return destination


def usable_sender(sender: str) -> str:
    """A masked number (``44750732xxxx``) gets zeros for its hidden digits; ``{SMS sender}`` a name."""
    if PLACEHOLDER.match(sender):
        return SENDER
    return re.sub(r"x{2,}$", lambda masked: "0" * len(masked.group()), sender)


async def new_account(client: AsyncTestClient, tenant_id: str, channel: str) -> str:
    created = await client.post(
        f"/admin/tenants/{tenant_id}/traffic-accounts",
        json={"name": f"{channel} sandbox", "channel": channel, "sandbox": True},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def prepared(client: AsyncTestClient, tenant_id: str, body: dict[str, Any]) -> tuple[dict[str, Any], list]:
    """The body to send, and the (traffic account id, channel) of each message the answer must name,
    in the order of the answer."""
    body = copy.deepcopy(body)
    channels = channels_used(body)
    failover = body.get("failover") or {}
    if failover:  # one account per step, each of the channel of the block that step sends, in block order
        steps = failover["timeoutFailover"]["trafficAccounts"]
        assert len(steps) == len(channels), f"{len(steps)} failover steps for the blocks of {channels}"
        accounts = [await new_account(client, tenant_id, channel) for channel in channels]
        failover["timeoutFailover"]["trafficAccounts"] = accounts
        if "trafficAccountId" in body:
            body["trafficAccountId"] = accounts[0]
        expected = list(zip(accounts, channels, strict=True))
    else:
        [channel] = channels  # a send without failover carries one message
        account = await new_account(client, tenant_id, channel)
        body["trafficAccountId"] = account
        expected = [(account, channel)] * len(body.get("destinations", [None]))
    if "destination" in body:
        body["destination"] = usable_destination(body["destination"], channels, body)
    if "destinations" in body:
        body["destinations"] = [usable_destination(d, channels, body) for d in body["destinations"]]
    if isinstance(body.get("sms"), dict) and isinstance(body["sms"].get("sender"), str):
        body["sms"]["sender"] = usable_sender(body["sms"]["sender"])
    return body, expected


def message_ids(path: str, body: dict[str, Any], answer: Any) -> list[str]:
    """The message ids of a send's answer, in order: version 1 answers a send with the message (a
    failover with the list of its chain's ids), version 1.1 and the bulk sends with ``messages``."""
    if isinstance(answer, list):
        return answer
    if "messages" in answer:
        if "destinations" in body:
            assert [m["destination"] for m in answer["messages"]] == body["destinations"], answer
        return [m["messageId"] for m in answer["messages"]]
    assert path.lower().startswith("/api/v1/"), answer
    return [answer["messageId"]]


def test_every_seed_example_is_here() -> None:
    assert len(FILES) == 24, FILES
    for name in FILES:
        example = load(name)
        assert {"method", "path", "seed_line", "body"} <= set(example), name


@pytest.mark.parametrize("name", FILES)
async def test_seed_request_is_accepted(client: AsyncTestClient, name: str) -> None:
    example = load(name)
    tenant = await new_tenant(client, channels=())
    body, expected = await prepared(client, tenant.id, example["body"])
    response = await client.request(example["method"], example["path"], json=body, headers=tenant.key)
    assert response.status_code == 200, f"{name} (seed line {example['seed_line']}): {response.text}"
    ids = message_ids(example["path"], body, response.json())
    assert len(ids) == len(expected), response.json()
    for message_id, (account, channel) in zip(ids, expected, strict=True):
        fetched = await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)
        assert fetched.status_code == 200, fetched.text
        message = fetched.json()
        assert (message["channel"], message["trafficAccountId"]) == (channel, account), message
        sent_to = [body["destination"]] if "destination" in body else body["destinations"]
        assert message["destination"].lstrip("+") in [d.lstrip("+") for d in sent_to], message


def test_viber_bot_messages_go_to_the_seeds_user_id_as_written() -> None:
    # Seed 002's regular (bot) message is sent to the Viber user id it names; its business messages to a
    # phone number (their {{phone-number}} placeholder replaced).
    regular = load("002_viber_regular.json")["body"]
    assert not addressed_by_phone_number("viber", regular)
    assert usable_destination(regular["destination"], ["viber"], regular) == "01234567890"
    promotional = load("002_viber_text_button.json")["body"]
    assert addressed_by_phone_number("viber", promotional)
    assert usable_destination(promotional["destination"], ["viber"], promotional) == PHONE_NUMBER
