"""A Telegram destination is checked when the message is accepted: a chat id (an integer, negative for groups)
or ``@channelusername`` (https://core.telegram.org/bots/api#sendmessage), never a message that fails later."""

from __future__ import annotations

import pytest

from tests.conftest import assert_problem, new_tenant

BLOCK = {"text": {"message": "hi"}}


@pytest.mark.parametrize(
    "destination", ["+385911234567", "385 91 123 4567", "abc", "@abcd", "@" + "a" * 33, "@mitto-channel", "0", ""]
)
async def test_what_is_no_chat_id_is_a_400_naming_destination(client, destination):
    tenant = await new_tenant(client, channels=("telegram",))
    payload = {"trafficAccountId": tenant.accounts["telegram"], "destination": destination, "telegram": BLOCK}
    response = await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "destination")


@pytest.mark.parametrize("destination", ["1861312834", "-1001234567890", "-4012345678", "@mitto_channel"])
async def test_chat_ids_and_channel_usernames_are_accepted(client, destination):
    tenant = await new_tenant(client, channels=("telegram",))
    payload = {"trafficAccountId": tenant.accounts["telegram"], "destination": destination, "telegram": BLOCK}
    response = await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert response.status_code == 200, response.text
    assert response.json()["conversation"]["participants"][1] == {"messagingAppIdentifier": destination}
