"""The SMS API's callbacks end to end, on the real server (SQLite and Postgres): an SMS sent through /sms goes to
the sandbox provider, whose delivery report (seed 004's callback parameters, channels/sms/protocol.py) reaches the
gateway, and the customer's endpoint gets each report in the SMS API's format: a GET of its URL template filled in
(both delimiters), or a POST of the fields as JSON; a user's SMS is forwarded to the account's inboundUrl."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import parse_qs

import httpx

from channels.sms.protocol import REPORT_FIELDS
from tests.conftest import ADMIN
from tests.integration import webhook_fixtures as wf
from tests.integration.conftest import tenant_on, wait_for_status, webhook_events
from tests.integration.webhook_fixtures import Receiver

receiver = wf.receiver
SMS = {"from": "MITTO SMS", "text": "Your code is 1234"}


async def with_settings(server: httpx.AsyncClient, tenant: Any, **settings: Any) -> None:
    changed = await server.patch(
        f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts['sms']}",
        json={"settings": settings},
        headers=ADMIN,
    )
    assert changed.status_code == 200, changed.text


async def send(server: httpx.AsyncClient, tenant: Any, **fields: Any) -> str:
    sent = await server.post("/sms", json={**SMS, **fields}, headers=tenant.key)
    assert sent.status_code == 200, sent.text
    return sent.json()["id"]


async def test_reports_by_get_fill_in_the_template(server: httpx.AsyncClient, receiver: Receiver) -> None:
    tenant = await tenant_on(server)
    await with_settings(server, tenant, callbackMethod="GET")
    template = receiver.url("/dlr") + "?id=<msgid>&s=$status$&e=<errorcode>&r=$reference$"
    message_id = await send(server, tenant, to="447700900123", callback=template, reference="A/B 1")
    await wait_for_status(server, tenant, message_id, "Delivered")
    reports = await receiver.wait_for(2, "/dlr")  # Sent, then Delivered
    assert [(r.method, parse_qs(r.query)) for r in reports] == [
        ("GET", {"id": [message_id], "s": [state], "e": ["0"], "r": ["A/B 1"]}) for state in ("SENT", "DELIVERED")
    ]
    assert reports[0].body == b"" and "webhook-signature" not in reports[0].headers


async def test_reports_by_post_to_the_accounts_callback_url(server: httpx.AsyncClient, receiver: Receiver) -> None:
    tenant = await tenant_on(server)
    await with_settings(server, tenant, callbackUrl=receiver.url("/reports"))
    # The sandbox provider reports a number ending in 1027 UNDELIVERED with error code 27 (Absent subscriber).
    message_id = await send(server, tenant, to="447700901027", deliveryStatusesToNotify="UNDELIVERED")
    await wait_for_status(server, tenant, message_id, "Failed")
    [report] = await receiver.wait_for(1, "/reports")
    assert report.method == "POST" and report.headers["content-type"] == "application/json"
    fields = json.loads(report.body)
    assert (fields["msgid"], fields["status"], fields["errorcode"], fields["receiver"]) == (
        message_id,
        "UNDELIVERED",
        "27",
        "447700901027",
    )
    assert set(fields) == set(REPORT_FIELDS)  # seed 004 (a jsonb column keeps no order)


async def test_a_users_sms_is_forwarded_to_the_inbound_url(server: httpx.AsyncClient, receiver: Receiver) -> None:
    tenant = await tenant_on(server)
    await with_settings(server, tenant, inboundUrl=receiver.url("/inbound"), phoneNumber="+385910001111")
    user = {"trafficAccountId": tenant.accounts["sms"], "from": "447700900123", "text": "Да", "msgid": "in-1"}
    answer = await server.post("/sandbox/sms/inbound", json=user)
    assert answer.status_code == 200, answer.text
    [forwarded] = await receiver.wait_for(1, "/inbound")
    assert forwarded.method == "POST"
    assert json.loads(forwarded.body) == {
        "coding": "UCS2",
        "sender": "447700900123",
        "content": "Да",
        "receiver": "385910001111",
        "msgid": uuid.UUID(answer.json()["messageId"]).hex,
    }


async def test_buffered_is_reported_and_changes_no_status(server: httpx.AsyncClient, receiver: Receiver) -> None:
    """The sandbox provider reports a number ending in 0002 BUFFERED, then DELIVERED: the customer gets a BUFFERED
    report between SENT and DELIVERED, and the message's history has no status for it."""
    tenant = await tenant_on(server)
    await with_settings(server, tenant, callbackUrl=receiver.url("/reports"))
    message_id = await send(server, tenant, to="447700900002")
    only_buffered = await send(
        server, tenant, to="447700900002", callback=receiver.url("/buffered"), deliveryStatusesToNotify="BUFFERED"
    )
    message = await wait_for_status(server, tenant, message_id, "Delivered")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]
    reports = await receiver.wait_for(3, "/reports")
    assert [(json.loads(r.body)["msgid"], json.loads(r.body)["status"]) for r in reports] == [
        (message_id, state) for state in ("SENT", "BUFFERED", "DELIVERED")
    ]
    await wait_for_status(server, tenant, only_buffered, "Delivered")
    [buffered] = await receiver.wait_for(1, "/buffered")
    assert (json.loads(buffered.body)["msgid"], json.loads(buffered.body)["status"]) == (only_buffered, "BUFFERED")
    assert {e.event for e in await webhook_events(server, only_buffered)} == {"BUFFERED"}


async def test_buffered_on_a_ready_message_again_and_after_the_end(server_without_worker: httpx.AsyncClient) -> None:
    """A BUFFERED that overtakes the recording of the send makes the message Sent (the provider has it) and is
    reported after that SENT; a repeat is reported again; one after DELIVERED is not (the message is past it).
    The message's status history has none of them."""
    server = server_without_worker
    tenant = await tenant_on(server)
    message_id = await send(server, tenant, to="447700900123", callback="https://example.com/dlr")
    token = server.app.state.runtime.callbacks.tokens.issue(uuid.UUID(message_id))
    url = f"/callbacks/sms/{tenant.accounts['sms']}?token={token}"

    async def report(status: str) -> None:
        assert (await server.post(url, json={"msgid": "p-1", "status": status})).status_code == 200

    await report("BUFFERED")
    await wait_for_status(server, tenant, message_id, "Sent")
    await report("buffered")  # any case, as the other states
    await report("DELIVERED")
    await report("BUFFERED")
    message = await wait_for_status(server, tenant, message_id, "Delivered")
    assert [change["status"] for change in message["statusHistory"]] == ["Ready", "Sent", "Delivered"]
    events = await webhook_events(server, message_id)
    # Each report a sequence of its own, after the one before: the webhook deliverer sends them in that order.
    assert sorted((e.sequence, e.event, e.payload["body"]["status"]) for e in events) == [
        (2, "Sent", "SENT"),
        (3, "BUFFERED", "BUFFERED"),
        (4, "BUFFERED", "BUFFERED"),
        (5, "Delivered", "DELIVERED"),
    ]


async def test_the_forwarded_receiver_is_the_number_the_user_texted(
    server: httpx.AsyncClient, receiver: Receiver
) -> None:
    """An account may be reached on several numbers: the provider's receiver is forwarded, not the phoneNumber."""
    tenant = await tenant_on(server)
    await with_settings(server, tenant, inboundUrl=receiver.url("/inbound"), phoneNumber="+385910001111")
    user = {"trafficAccountId": tenant.accounts["sms"], "from": "447700900123", "text": "Hi"}
    for to in ("+44 7860 099299", "MITTO"):
        answer = await server.post("/sandbox/sms/inbound", json={**user, "to": to})
        assert answer.status_code == 200, answer.text
    forwarded = await receiver.wait_for(2, "/inbound")
    assert sorted(json.loads(r.body)["receiver"] for r in forwarded) == ["447860099299", "MITTO"]
