"""What the gateway makes of a user's message, whatever the channel: the user's name in the message, the
conversation and the webhook payloads (the latest known one where a message gave none), and ``relatesTo``
resolved to our id of the message it names, on SQLite and on Postgres. Messages come in through the
gateway's side of the callbacks (``Callbacks.receive``), as every channel hands them over."""

from __future__ import annotations

import uuid

import msgspec

from channels import inbound
from channels.base import InboundMessage
from gateway.webhooks.payloads import StatusEvent, UserMessageEvent
from tests.conftest import create_webhook
from tests.integration.conftest import message_row, send_sms, tenant_on, wait_for_status, webhook_events

USER = "+447700900123"


async def receive(server, account_id: str, content: inbound._Content, provider_id: str, name: str | None = None):
    message = InboundMessage(USER, inbound.content(content), provider_id, name)
    assert await server.app.state.runtime.callbacks.receive(uuid.UUID(account_id), message)


async def inbound_messages(server, tenant) -> list[dict]:
    page = (await server.get("/api/v1/Messages?direction=inbound", headers=tenant.key)).json()
    return [
        (await server.get(f"/api/v1/Message/{item['messageId']}", headers=tenant.key)).json() for item in page["items"]
    ]


async def test_relates_to_names_our_message_of_the_same_account(server):
    tenant = await tenant_on(server, ("sms",))
    other = await tenant_on(server, ("sms",))
    account = tenant.accounts["sms"]
    await receive(server, account, inbound.Text(text="first"), "p-1")
    await receive(server, other.accounts["sms"], inbound.Text(text="elsewhere"), "p-2")
    replies = {
        "p-1": inbound.Reaction(emoji="+1", relates_to=inbound.RelatesTo(provider_message_id="p-1")),
        "p-2": inbound.Text(text="not ours", relates_to=inbound.RelatesTo(provider_message_id="p-2")),
        "p-9": inbound.Revoke(relates_to=inbound.RelatesTo(provider_message_id="p-9")),
    }
    for index, content in enumerate(replies.values()):
        await receive(server, account, content, f"r-{index}")
    first, reaction, elsewhere, unknown = await inbound_messages(server, tenant)
    # Found by the provider's id among this account's messages, either way; another account's isn't.
    assert reaction["content"] == {
        "type": "reaction",
        "emoji": "+1",
        "relatesTo": {"providerMessageId": "p-1", "messageId": first["messageId"]},
    }
    assert elsewhere["content"]["relatesTo"] == {"providerMessageId": "p-2"}
    assert unknown["content"] == {"type": "revoke", "relatesTo": {"providerMessageId": "p-9"}}
    # Stored resolved: the UserMessage payload says the same.
    await create_webhook(server, tenant, triggers=("UserMessage",))
    await receive(server, account, replies["p-1"], "r-again")
    [*_, again] = await inbound_messages(server, tenant)
    [event] = await webhook_events(server, again["messageId"])
    assert event.payload["content"]["relatesTo"]["messageId"] == first["messageId"]


async def test_relates_to_a_message_we_sent(server):
    tenant = await tenant_on(server, ("sms",))
    sent = await send_sms(server, tenant, USER)
    await wait_for_status(server, tenant, sent, "Delivered")
    provider_id = (await message_row(server, sent)).provider_message_id
    assert provider_id
    relates_to = inbound.RelatesTo(provider_message_id=provider_id)
    await receive(server, tenant.accounts["sms"], inbound.Text(text="yes", relates_to=relates_to), "u-1")
    [reply] = await inbound_messages(server, tenant)
    assert reply["content"]["relatesTo"] == {"providerMessageId": provider_id, "messageId": sent}


async def test_the_user_s_name_in_messages_conversations_and_payloads(server):
    tenant = await tenant_on(server, ("sms",))
    account = tenant.accounts["sms"]
    await create_webhook(server, tenant, triggers=("UserMessage", "Delivered"))
    await receive(server, account, inbound.Text(text="hello"), "n-1", name="Ana")
    await receive(server, account, inbound.Text(text="no name given"), "n-2")
    first, second = await inbound_messages(server, tenant)
    # An inbound message shows the user as its sender (as its webhook does), with its text on top.
    assert first["sender"] == {"phoneNumber": USER, "name": "Ana"} and first["text"] == "hello"
    assert first["conversation"]["participants"] == [{"id": account, "name": "sms sandbox"}, first["sender"]]
    assert second["sender"] == {"phoneNumber": USER, "name": "Ana"}  # the latest known name
    [event] = await webhook_events(server, first["messageId"])
    assert event.payload["sender"] == first["sender"] and event.payload["text"] == "hello"
    assert event.payload["conversation"]["participants"][1] == first["sender"]
    msgspec.convert(event.payload, UserMessageEvent)  # as documented (content: InboundContent)
    # A new name becomes the conversation's; a message keeps the one it came with.
    await receive(server, account, inbound.Text(text="renamed"), "n-3", name="Ana Horvat")
    first, *_, third = await inbound_messages(server, tenant)
    assert first["sender"]["name"] == "Ana" and third["sender"]["name"] == "Ana Horvat"
    [conversation] = (await server.get("/api/v1/Conversations", headers=tenant.key)).json()["items"]
    assert conversation["participant"] == {"phoneNumber": USER, "name": "Ana Horvat"}
    # The conversation's messages read as one: each with its text and what the user sent.
    talk = await server.get(f"/api/v1/Conversations/{conversation['id']}/Messages", headers=tenant.key)
    assert [(m["text"], m["content"]) for m in talk.json()["items"]] == [
        (text, {"type": "text", "text": text}) for text in ("hello", "no name given", "renamed")
    ]
    # Messages sent to the user, and their status events, name them too.
    sent = await send_sms(server, tenant, USER)
    await wait_for_status(server, tenant, sent, "Delivered")
    outbound = (await server.get(f"/api/v1/Message/{sent}", headers=tenant.key)).json()
    [listed] = [
        m for m in (await server.get("/api/v1/Messages", headers=tenant.key)).json()["items"] if m["messageId"] == sent
    ]
    assert listed["text"] == outbound["text"] and outbound["text"] and listed["content"] is None
    assert outbound["sender"] == {"id": account, "name": "sms sandbox"}
    assert outbound["conversation"]["participants"][1] == {"phoneNumber": USER, "name": "Ana Horvat"}
    [delivered] = [e for e in await webhook_events(server, sent) if e.event == "Delivered"]
    assert delivered.payload["conversation"]["participants"][1] == {"phoneNumber": USER, "name": "Ana Horvat"}
    msgspec.convert(delivered.payload, StatusEvent)
