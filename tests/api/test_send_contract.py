"""The send request as clients of the real service write it (issue 16): tolerant where its JSON binding is
(names and enums in any case, null and {} as absent, unknown fields ignored and named in a header), and one
answer naming every problem: type errors, rules, failover, and every bulk index at fault."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from tests.conftest import assert_problem, error_fields, new_tenant

SMS = {"sender": "Acme", "text": "Hello"}
SEND = "/api/v1/Message/send"
SENDBULK = "/api/v1.1/Messages/sendbulk"
MESSAGESBULK = "/api/v1.1/Messages/sendmessagesbulk"
IGNORED = "gateway-ignored-fields"


async def stored_block(client: AsyncTestClient, tenant: Any, message_id: str) -> dict[str, Any]:
    return (await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)).json()["requestInfo"]


async def test_blocks_for_channels_not_used_may_be_null_or_empty(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {
        "destination": "+447700900123",
        "trafficAccountId": tenant.accounts["sms"],
        "sms": SMS,
        "whatsApp": {},
        "viber": None,
        "gbm": {},
        "telegram": None,
        "failover": {},
    }
    response = await client.post(SEND, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    assert IGNORED not in response.headers
    assert await stored_block(client, tenant, response.json()["messageId"]) == SMS


async def test_failover_null_means_none(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {"destination": "+447700900123", "trafficAccountId": tenant.accounts["sms"], "sms": SMS, "failover": None}
    response = await client.post(SEND, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    detail = (await client.get(f"/api/v1/Message/{response.json()['messageId']}", headers=tenant.key)).json()
    assert detail["failover"] is None


async def test_an_empty_block_for_the_accounts_channel_is_a_missing_block(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {"destination": "+447700900123", "trafficAccountId": tenant.accounts["sms"], "sms": {}}
    assert_problem(await client.post(SEND, json=body, headers=tenant.key), 400, "validation_error", "sms")


async def test_names_match_in_any_case_and_twice_is_an_error(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {"Destination": "+447700900123", "TRAFFICACCOUNTID": tenant.accounts["sms"], "Sms": SMS}
    response = await client.post(SEND, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    twice = {"destination": "+447700900123", "trafficAccountId": tenant.accounts["sms"], "sms": SMS, "SMS": SMS}
    response = await client.post(SEND, json=twice, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "SMS")


async def test_unknown_fields_are_ignored_and_named_in_a_header(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {
        "destination": "+447700900123",
        "trafficAccountId": tenant.accounts["sms"],
        "sms": SMS | {"sedner": "typo"},
        "priority": "high",
    }
    response = await client.post(SEND, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    assert response.headers[IGNORED] == "priority, sms.sedner"
    assert await stored_block(client, tenant, response.json()["messageId"]) == SMS  # not stored, not sent


async def test_a_refusal_names_the_ignored_fields_too(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {
        "destination": "+447700900123",
        "trafficAccountId": tenant.accounts["sms"],
        "sms": {"text": "hi", "sedner": "A"},
    }
    response = await client.post(SEND, json=body, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "sms.sender")
    assert response.headers[IGNORED] == "sms.sedner"


async def test_bulk_ignored_fields_are_named_by_index(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    message = {"destination": "+447700900123", "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    body = {"messages": [message, message | {"note": 1}], "campaign": "x"}
    response = await client.post(MESSAGESBULK, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    assert response.headers[IGNORED] == "campaign, messages[1].note"


async def test_a_bad_failover_hides_no_missing_block(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "whatsapp"))
    body = {
        "destination": "+447700900123",
        "sms": SMS,
        "failover": {
            "type": "Timeout",
            "timeoutFailover": {
                "timeoutInSeconds": 1,
                "status": "Delivered",
                "trafficAccounts": [tenant.accounts["whatsapp"], tenant.accounts["sms"]],
            },
        },
    }
    response = await client.post(SEND, json=body, headers=tenant.key)
    assert_problem(response, 400, "validation_error", "failover.timeoutFailover.timeoutInSeconds", "whatsApp")


async def test_sendbulk_names_every_bad_destination_with_the_other_problems(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {
        "destinations": ["nope", "+447700900101", "12", 7],
        "trafficAccountId": tenant.accounts["sms"],
        "sms": {"sender": "Acme"},
    }
    response = await client.post(SENDBULK, json=body, headers=tenant.key)
    problem = assert_problem(response, 400, "validation_error")
    assert sorted(error_fields(response)) == ["destinations[0]", "destinations[2]", "destinations[3]", "sms.text"], (
        problem
    )


async def test_sendmessagesbulk_names_every_message_at_fault_in_one_answer(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "whatsapp"))
    good = {"destination": "+447700900123", "trafficAccountId": tenant.accounts["sms"], "sms": SMS}
    body = {
        "messages": [
            good,
            good | {"sms": {"text": 5, "sender": "Acme"}},  # a type error
            good | {"destination": "not a number"},  # a rule of the channel
            good | {"trafficAccountId": tenant.accounts["whatsapp"]},  # no block for the account's channel
            good | {"failover": {"type": "Timeout"}},  # a failover without its accounts
        ]
    }
    response = await client.post(MESSAGESBULK, json=body, headers=tenant.key)
    assert_problem(
        response,
        400,
        "validation_error",
        "messages[1].sms.text",
        "messages[2].destination",
        "messages[3].whatsApp",
        "messages[3].sms",
        "messages[4].failover.timeoutFailover",
    )
    assert not any(field.startswith("messages[0]") for field in error_fields(response))


@pytest.mark.parametrize("body", [None, [], "x", {"messages": []}, {"messages": {}}])
async def test_sendmessagesbulk_needs_a_list_of_messages(client: AsyncTestClient, body: Any) -> None:
    tenant = await new_tenant(client, ("sms",))
    response = await client.post(MESSAGESBULK, json=body, headers=tenant.key)
    assert_problem(response, 400, "validation_error")
    assert error_fields(response) in (["body"], ["messages"])


async def test_an_ignored_field_of_any_name_is_named_in_ascii(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    body = {"destination": "+447700900123", "trafficAccountId": tenant.accounts["sms"], "sms": SMS, "é\u001f": 1}
    response = await client.post(
        SEND, content=json.dumps(body), headers=tenant.key | {"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.headers[IGNORED] == "\\u00e9\\u001f"
