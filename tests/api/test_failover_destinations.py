"""Failover across channels that know the user by different addresses (issue 17): a step may carry its own
destination (``{trafficAccountId, destination}``), a sendbulk recipient its address per step
(``stepDestinations``); each step is checked and spelt by its own channel's rules."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import TenantFixture, assert_problem, error_fields, message_ids, new_tenant

SMS = {"sender": "Acme", "text": "Hello"}
TELEGRAM = {"text": {"message": "Hello"}}
WHATSAPP = {"type": "regular", "regular": {"type": "text", "text": "Hello"}}
SEND = "/api/v1/Message/send"
SENDBULK = "/api/v1.1/Messages/sendbulk"
MESSAGESBULK = "/api/v1.1/Messages/sendmessagesbulk"
STEPS = "failover.timeoutFailover.trafficAccounts"


def failover(*steps: Any) -> dict[str, Any]:
    return {
        "type": "Timeout",
        "timeoutFailover": {"timeoutInSeconds": 20, "status": "Delivered", "trafficAccounts": list(steps)},
    }


async def detail(client: AsyncTestClient, tenant: TenantFixture, message_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)
    assert response.status_code == 200, response.text
    return response.json()


async def test_an_sms_then_telegram_chain_sends_each_step_to_its_own_address(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "telegram"))
    sms, telegram = tenant.accounts["sms"], tenant.accounts["telegram"]
    body = {
        "destination": "+44 7700 900123",
        "sms": SMS,
        "telegram": TELEGRAM,
        "failover": failover(sms, {"trafficAccountId": telegram, "destination": "1861312834"}),
    }
    response = await client.post(SEND, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    first, second = response.json()  # seed 002: version 1 answers the chain's ids
    one, two = await detail(client, tenant, first), await detail(client, tenant, second)
    assert (one["channel"], one["destination"]) == ("sms", "+447700900123")  # spelt by its channel's rules
    assert (two["channel"], two["destination"]) == ("telegram", "1861312834")
    assert {"phoneNumber": "+447700900123"} in one["conversation"]["participants"]
    assert {"messagingAppIdentifier": "1861312834"} in two["conversation"]["participants"]
    assert one["conversation"]["id"] != two["conversation"]["id"]  # each step in its own address's conversation
    for shown in (one, two):
        steps = shown["failover"]["steps"]
        assert [(s["messageId"], s["destination"]) for s in steps] == [
            (first, "+447700900123"),
            (second, "1861312834"),
        ]
    talk = await client.get(f"/api/v1/Conversations/{two['conversation']['id']}/Messages", headers=tenant.key)
    assert [m["messageId"] for m in talk.json()["items"]] == [second]
    v11 = await client.post("/api/v1.1/Messages/send", json=body, headers=tenant.key)
    assert v11.status_code == 200, v11.text
    assert [m["trafficAccountId"] for m in v11.json()["messages"]] == [sms, telegram]


async def test_a_whatsapp_then_viber_session_chain_reaches_the_viber_user_id(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("whatsapp", "viber"))
    whatsapp, viber = tenant.accounts["whatsapp"], tenant.accounts["viber"]
    body = {
        "destination": "+447700900123",
        "whatsapp": WHATSAPP,
        "viber": {"type": "session", "text": "Hello"},  # a bot message: to the user's Viber id
        "failover": failover(whatsapp, viber),
    }
    problem = assert_problem(await client.post(SEND, json=body, headers=tenant.key), 400, "validation_error")
    [error] = problem["errors"]
    assert error["field"] == "destination" and "viber" in error["message"] and f"{STEPS}[1]" in error["message"]
    steps = [whatsapp, {"trafficAccountId": viber, "destination": "01234567890A="}]
    response = await client.post(SEND, json={**body, "failover": failover(*steps)}, headers=tenant.key)
    assert response.status_code == 200, response.text
    shown = await detail(client, tenant, response.json()[1])
    assert (
        shown["destination"] == "01234567890A="
        and {"viberId": "01234567890A="} in shown["conversation"]["participants"]
    )
    assert [s["destination"] for s in shown["failover"]["steps"]] == ["+447700900123", "01234567890A="]


async def test_a_chain_of_ids_sends_every_step_to_the_destination(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "whatsapp"))  # seed 002's example: ids only
    body = {
        "destination": "447700900123",
        "whatsapp": WHATSAPP,
        "sms": SMS,
        "failover": failover(tenant.accounts["whatsapp"], tenant.accounts["sms"]),
    }
    response = await client.post(SEND, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    steps = (await detail(client, tenant, response.json()[0]))["failover"]["steps"]
    assert [s["destination"] for s in steps] == ["+447700900123", "+447700900123"]


async def test_every_bad_step_address_is_named_by_its_path_at_once(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "telegram", "whatsapp"))
    sms, telegram, whatsapp = (tenant.accounts[c] for c in ("sms", "telegram", "whatsapp"))
    body = {
        "destination": "+447700900123",
        "sms": {"sender": "Acme"},  # no text: named in the same answer
        "telegram": TELEGRAM,
        "whatsapp": WHATSAPP,
        "failover": failover(
            sms,
            {"trafficAccountId": telegram, "destination": "not a chat id"},
            {"trafficAccountId": whatsapp, "destination": "12"},
        ),
    }
    response = await client.post(SEND, json=body, headers=tenant.key)
    problem = assert_problem(
        response, 400, "validation_error", "sms.text", f"{STEPS}[1].destination", f"{STEPS}[2].destination"
    )
    assert "destination" not in error_fields(problem)  # the request's destination suits the SMS step
    assert any("telegram" in e["message"] for e in problem["errors"] if e["field"] == f"{STEPS}[1].destination")
    shapes = {
        **body,
        "sms": SMS,
        "failover": failover(sms, {"trafficAccountId": telegram}, {"destination": "1"}, 42),
    }
    response = await client.post(SEND, json=shapes, headers=tenant.key)
    assert_problem(
        response,
        400,
        "validation_error",
        f"{STEPS}[1].destination",
        f"{STEPS}[2].trafficAccountId",
        f"{STEPS}[3]",
    )
    twice = {**shapes, "failover": failover(telegram, {"trafficAccountId": telegram, "destination": "1861312834"})}
    assert_problem(await client.post(SEND, json=twice, headers=tenant.key), 400, "validation_error", STEPS)
    assert await message_ids(client, tenant) == []


async def test_a_step_that_needs_another_kind_of_address_says_how_to_give_it(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "telegram"))
    body = {
        "destination": "@acme_news",  # a channel's username: a Telegram address, no phone number
        "telegram": TELEGRAM,
        "sms": SMS,
        "failover": failover(tenant.accounts["telegram"], tenant.accounts["sms"]),
    }
    problem = assert_problem(await client.post(SEND, json=body, headers=tenant.key), 400, "validation_error")
    [error] = problem["errors"]
    assert error["field"] == "destination" and "sms" in error["message"]
    assert f"{STEPS}[1]" in error["message"] and "trafficAccountId, destination" in error["message"]
    steps = [tenant.accounts["telegram"], {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123"}]
    response = await client.post(SEND, json={**body, "failover": failover(*steps)}, headers=tenant.key)
    assert response.status_code == 200, response.text


async def test_sendbulk_sends_each_recipient_its_own_step_addresses(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "telegram"))
    sms, telegram = tenant.accounts["sms"], tenant.accounts["telegram"]
    destinations = [
        {"destination": "+447700900101", "stepDestinations": {telegram: "101"}},
        {"destination": "447700900102", "stepDestinations": {telegram: "102"}},
        {"destination": "+44 7700 900102", "stepDestinations": {telegram: "102"}},  # the same recipient again
        {"destination": "+447700900102", "stepDestinations": {telegram: "-100102"}},  # another chat: another one
    ]
    body = {"destinations": destinations, "sms": SMS, "telegram": TELEGRAM, "failover": failover(sms, telegram)}
    response = await client.post(SENDBULK, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    assert [(m["destination"], m["trafficAccountId"], m["duplicate"]) for m in messages] == [
        ("+447700900101", sms, False),
        ("101", telegram, False),
        ("447700900102", sms, False),
        ("102", telegram, False),
        ("+44 7700 900102", sms, True),
        ("102", telegram, True),
        ("+447700900102", sms, False),
        ("-100102", telegram, False),
    ]
    ids = [m["messageId"] for m in messages]
    assert ids[4:6] == ids[2:4] and len(set(ids)) == 6
    assert len(await message_ids(client, tenant)) == 6
    steps = (await detail(client, tenant, ids[3]))["failover"]["steps"]
    assert [(s["messageId"], s["destination"]) for s in steps] == [(ids[2], "+447700900102"), (ids[3], "102")]
    assert (await detail(client, tenant, ids[7]))["destination"] == "-100102"


async def test_sendbulk_takes_plain_addresses_beside_recipients_with_step_addresses(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "whatsapp"))
    sms, whatsapp = tenant.accounts["sms"], tenant.accounts["whatsapp"]
    destinations = ["+447700900101", {"destination": "+447700900102", "stepDestinations": {whatsapp: "+447700900199"}}]
    body = {"destinations": destinations, "sms": SMS, "whatsapp": WHATSAPP, "failover": failover(sms, whatsapp)}
    response = await client.post(SENDBULK, json=body, headers=tenant.key)
    assert response.status_code == 200, response.text
    assert [m["destination"] for m in response.json()["messages"]] == [
        "+447700900101",
        "+447700900101",
        "+447700900102",
        "+447700900199",
    ]


async def test_sendbulk_names_every_bad_recipient_step_address(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "telegram"))
    sms, telegram, stranger = tenant.accounts["sms"], tenant.accounts["telegram"], str(uuid.uuid4())
    destinations = [
        {"destination": "+447700900101", "stepDestinations": {telegram: "a chat"}},
        {"destination": "+447700900102", "stepDestinations": {stranger: "102"}},
        {"destination": "+447700900103", "stepDestinations": {"nope": "103"}},
        {"destination": "nope", "stepDestinations": {telegram: "104"}},
        {"stepDestinations": {telegram: "105"}},
    ]
    body = {"destinations": destinations, "sms": SMS, "telegram": TELEGRAM, "failover": failover(sms, telegram)}
    response = await client.post(SENDBULK, json=body, headers=tenant.key)
    assert_problem(
        response,
        400,
        "validation_error",
        f"destinations[0].stepDestinations.{telegram}",
        f"destinations[1].stepDestinations.{stranger}",
        "destinations[2].stepDestinations.nope",
        "destinations[3].destination",
        "destinations[4].destination",
    )
    assert await message_ids(client, tenant) == []


async def test_sendbulk_refuses_one_fixed_step_address_for_every_recipient(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "telegram"))
    sms, telegram = tenant.accounts["sms"], tenant.accounts["telegram"]
    body = {
        "destinations": ["+447700900101", "+447700900102"],
        "sms": SMS,
        "telegram": TELEGRAM,
        "failover": failover(sms, {"trafficAccountId": telegram, "destination": "1861312834"}),
    }
    problem = assert_problem(await client.post(SENDBULK, json=body, headers=tenant.key), 400, "validation_error")
    [error] = problem["errors"]
    assert error["field"] == f"{STEPS}[1].destination"
    assert "stepDestinations" in error["message"] and telegram in error["message"]
    assert await message_ids(client, tenant) == []


async def test_sendmessagesbulk_takes_steps_with_their_own_destinations(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms", "telegram"))
    sms, telegram = tenant.accounts["sms"], tenant.accounts["telegram"]

    def message(phone: str, chat: str) -> dict[str, Any]:
        steps = failover(sms, {"trafficAccountId": telegram, "destination": chat})
        return {"destination": phone, "sms": SMS, "telegram": TELEGRAM, "failover": steps}

    bad = [message("+447700900101", "101"), message("+447700900102", "no chat")]
    response = await client.post(MESSAGESBULK, json={"messages": bad}, headers=tenant.key)
    problem = assert_problem(response, 400, "validation_error", f"messages[1].{STEPS}[1].destination")
    assert error_fields(problem) == [f"messages[1].{STEPS}[1].destination"]
    good = [message("+447700900101", "101"), message("+447700900102", "102")]
    response = await client.post(MESSAGESBULK, json={"messages": good}, headers=tenant.key)
    assert response.status_code == 200, response.text
    messages = response.json()["messages"]
    assert [(m["destination"], m["trafficAccountId"]) for m in messages] == [
        ("+447700900101", sms),
        ("101", telegram),
        ("+447700900102", sms),
        ("102", telegram),
    ]
    assert (await detail(client, tenant, messages[3]["messageId"]))["destination"] == "102"
