"""The gateway's side of a channel's compatible API (gateway.compatible_api), through a compatible API of the
test's own: routes at the root that hand what they read to the ``compatible`` dependency and answer JSON. The
sms channel serves them here (its own compatible API, the SMS API, is tested in tests/api/test_sms_api*.py)."""

from __future__ import annotations

import dataclasses
import datetime
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar import Request, Response, post
from litestar.params import JSONBody
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from channels.base import CompatibleApiDependency, CompatibleSend, Notify, Refused, Sent
from channels.registry import all_channels
from gateway.app import create_app
from gateway.lib.problems import Problem
from gateway.models import Message, Webhook, WebhookEvent
from gateway.settings import Settings
from gateway.store import messages as store
from gateway.store.messages import StatusChange
from gateway.tenants.service import TenantService, bound_key_field
from tests.conftest import ADMIN, TenantFixture, in_app_loop, make_settings, message_ids, new_tenant

CHANNEL = "sms"


def render(sent: list[Sent]) -> tuple[bytes, str]:
    items = [{"id": s.message_id.hex if s.message_id else None, "to": s.destination} for s in sent]
    return json.dumps({"messages": items, "at": datetime.datetime.now().isoformat()}).encode(), "application/json"


def refused(error: Refused) -> Response[Any]:
    errors = [{"field": e.field, "message": e.message} for e in error.errors]
    return Response({"status": error.status, "code": error.code, "errors": errors}, status_code=error.status)


@post("/compat/send", opt={"idempotent": True}, status_code=200)
async def compat_send(
    request: Request, compatible: CompatibleApiDependency, data: JSONBody[dict[str, Any]]
) -> Response[Any]:
    try:
        account = await compatible.account(request, CHANNEL)
        sends = [CompatibleSend(to, {"text": data.get("text", ""), "sender": "Acme"}) for to in data["to"]]
        notify = None
        if "callback" in data:
            notify = Notify(data["callback"], data.get("method", "POST"), tuple(data.get("statuses", ())))
        body, content_type = await compatible.send(
            request, account, sends, notify, render, test=data.get("test", False)
        )
    except Refused as error:
        return refused(error)
    return Response(body, media_type=content_type)


@post("/compat/converted", status_code=200)
async def compat_converted(
    request: Request, compatible: CompatibleApiDependency, data: JSONBody[dict[str, Any]]
) -> Response[Any]:
    accounts = await compatible.accounts(request, CHANNEL)
    done = await compatible.convert(request, [a.id for a in accounts], uuid.UUID(data["messageId"]))
    return Response({"converted": done}, status_code=200 if done else 404)


@post("/compat/usage", status_code=200)
async def compat_usage(request: Request, compatible: CompatibleApiDependency) -> list[list[Any]]:
    account = await compatible.account(request, CHANNEL)
    day = datetime.timedelta(days=1)
    now = datetime.datetime.now(datetime.UTC)
    return [list(row) for row in await compatible.usage(request, account.id, now - day, now + day)]


def report(message: Any, status: str, at: datetime.datetime, notify: Notify, settings: dict) -> dict | None:
    if notify.statuses and status.upper() not in notify.statuses:
        return None
    return {"method": notify.method, "url": notify.url.replace("<id>", message.id.hex), "body": {"status": status}}


@pytest.fixture
def compatible_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sms channel with the test's compatible API, for the apps made meanwhile (the registry is a cached
    dict: its entry is replaced for the test)."""
    channel = dataclasses.replace(
        all_channels()[CHANNEL],
        compatible_routes=(compat_send, compat_converted, compat_usage),
        compatible_report=report,
    )
    monkeypatch.setitem(all_channels(), CHANNEL, channel)


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The reports' example hosts resolve nowhere: let through here (their check has a test of its own)."""
    return make_settings(database_url, allow_private_webhook_urls=True)


@pytest.fixture
async def client(settings: Settings, compatible_channel: None) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        test_client.tenants = []  # type: ignore[attr-defined]
        yield test_client
        for tenant_id in test_client.tenants:  # type: ignore[attr-defined]
            await test_client.delete(f"/admin/tenants/{tenant_id}", headers=ADMIN)


@pytest.fixture
async def tenant(client: AsyncTestClient) -> TenantFixture:
    return await new_tenant(client, (CHANNEL,))


async def test_a_compatible_send_stores_one_message_per_destination_as_the_chat_api_would(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    sent = await client.post(
        "/compat/send", json={"to": ["+385 91 234 5678", "385912345678"], "text": "Hi"}, headers=tenant.key
    )
    assert sent.status_code == 200, sent.text
    items = sent.json()["messages"]
    # The same number twice: two messages, each answered with its id, in the order given.
    assert [item["to"] for item in items] == ["+385912345678", "+385912345678"]
    assert len({item["id"] for item in items}) == 2
    for item in items:
        message = await client.get(f"/api/v1/Message/{uuid.UUID(item['id'])}", headers=tenant.key)
        assert message.status_code == 200, message.text
        body = message.json()
        assert (body["trafficAccountId"], body["deliveryStatus"]) == (tenant.accounts[CHANNEL], "Ready")
        assert body["requestInfo"] == {"text": "Hi", "sender": "Acme"}
    # A customer's token authenticates as well as the API key; nothing else does.
    assert (
        await client.post("/compat/send", json={"to": ["+385912345678"], "text": "Hi"}, headers=tenant.bearer)
    ).status_code == 200
    assert (await client.post("/compat/send", json={"to": ["+385912345678"], "text": "Hi"})).status_code == 401


async def test_a_refused_send_names_each_message_at_fault_and_stores_nothing(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    answer = await client.post("/compat/send", json={"to": ["+385912345678", "12"], "text": ""}, headers=tenant.key)
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["code"] == "validation_error"
    fields = {e["field"] for e in body["errors"]}
    assert {"messages[0].sms.text", "messages[1].destination", "messages[1].sms.text"} <= fields, body
    assert await message_ids(client, tenant) == []


async def test_test_mode_checks_in_full_and_stores_nothing(client: AsyncTestClient, tenant: TenantFixture) -> None:
    ok = await client.post(
        "/compat/send", json={"to": ["+385912345678"], "text": "Hi", "test": True}, headers=tenant.key
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["messages"] == [{"id": None, "to": "+385912345678"}]
    bad = await client.post("/compat/send", json={"to": ["x"], "text": "Hi", "test": True}, headers=tenant.key)
    assert bad.status_code == 400 and [e["field"] for e in bad.json()["errors"]] == ["messages[0].destination"]
    assert await message_ids(client, tenant) == []


async def test_an_idempotency_key_gets_the_first_answer_again_and_sends_once(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    for body in ({"to": ["+385912345678"], "text": "Hi"}, {"to": ["+385912345678"], "text": "Hi", "test": True}):
        headers = {**tenant.key, "Idempotency-Key": uuid.uuid4().hex}
        first = await client.post("/compat/send", json=body, headers=headers)
        again = await client.post("/compat/send", json=body, headers=headers)
        assert first.status_code == again.status_code == 200, (first.text, again.text)
        assert again.content == first.content and again.headers["idempotent-replay"] == "true"
        assert again.headers["content-type"] == "application/json"
    assert len(await message_ids(client, tenant)) == 1


async def test_the_account_is_the_tenants_only_one_of_the_channel(client: AsyncTestClient) -> None:
    none = await new_tenant(client, ())
    answer = await client.post("/compat/send", json={"to": ["+385912345678"], "text": "Hi"}, headers=none.key)
    assert (answer.status_code, answer.json()["code"]) == (403, "no_traffic_account")
    two = await new_tenant(client, (CHANNEL,))
    created = await client.post(
        f"/admin/tenants/{two.id}/traffic-accounts",
        json={"name": "second", "channel": CHANNEL, "sandbox": True},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    answer = await client.post("/compat/send", json={"to": ["+385912345678"], "text": "Hi"}, headers=two.key)
    assert (answer.status_code, answer.json()["code"]) == (403, "several_traffic_accounts")


async def test_status_reports_go_through_one_compatible_webhook_per_origin_hidden_from_the_webhook_api(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    callback = {"callback": "http://reports.example/r?id=<id>", "method": "GET", "statuses": ["DELIVERED"]}
    ids = []
    for _ in range(2):  # the same origin twice: one webhook
        sent = await client.post(
            "/compat/send", json={"to": ["+385912345678"], "text": "Hi", **callback}, headers=tenant.key
        )
        assert sent.status_code == 200, sent.text
        ids.append(uuid.UUID(sent.json()["messages"][0]["id"]))

    async def change() -> tuple[list[Webhook], list[WebhookEvent]]:
        runtime = client.app.state.runtime
        async with runtime.sessions() as session:
            changes = [StatusChange(ids[0], s) for s in ("Sent", "Delivered")] + [StatusChange(ids[1], "Failed")]
            await store.change_statuses(session, changes)
            await session.commit()
            webhooks = list(await session.scalars(select(Webhook).where(Webhook.tenant_id == uuid.UUID(tenant.id))))
            events = list(await session.scalars(select(WebhookEvent).where(WebhookEvent.message_id.in_(ids))))
        return webhooks, events

    webhooks, events = in_app_loop(client, change)
    assert [(w.kind, w.url, w.method, w.triggers) for w in webhooks] == [
        ("compatible", "http://reports.example", "GET", [])
    ]
    # The channel reports Delivered only, as that Notify asked; the payload is its request.
    assert [(e.message_id, e.event, e.payload) for e in events] == [
        (
            ids[0],
            "Delivered",
            {"method": "GET", "url": f"http://reports.example/r?id={ids[0].hex}", "body": {"status": "Delivered"}},
        )
    ]
    assert events[0].webhook_id == webhooks[0].id
    # The Chat API's webhooks don't show it, nor let it be touched.
    listed = await client.get("/api/v1/Webhooks", headers=tenant.key)
    assert listed.status_code == 200 and listed.json() == [], listed.text
    hidden = await client.get(f"/api/v1/Webhook/{webhooks[0].id}", headers=tenant.key)
    assert hidden.status_code == 404, hidden.text
    deleted = await client.delete(f"/api/v1/Webhook/{webhooks[0].id}", headers=tenant.key)
    assert deleted.status_code == 404, deleted.text


async def test_conversion_and_usage(client: AsyncTestClient, tenant: TenantFixture) -> None:
    sent = await client.post(
        "/compat/send",
        json={"to": ["+385912345678", "+385912345678", "+447700900123"], "text": "Hi"},
        headers=tenant.key,
    )
    first = sent.json()["messages"][0]["id"]
    for _ in range(2):  # again: no change, still 200
        converted = await client.post("/compat/converted", json={"messageId": first}, headers=tenant.key)
        assert converted.status_code == 200, converted.text
    other = await new_tenant(client, (CHANNEL,))
    assert (await client.post("/compat/converted", json={"messageId": first}, headers=other.key)).status_code == 404
    detail = (await client.get(f"/api/v1/Message/{first}", headers=tenant.key)).json()
    assert detail["converted"] is True
    listed = (await client.get("/api/v1/Messages", headers=tenant.key)).json()["items"]
    assert sorted(item["converted"] for item in listed) == [False, False, True]


async def test_per_message_callback_urls_share_their_origins_webhook_each_report_going_to_its_own_url(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    """Dynamic callbacks (a URL per order) make no webhook each: one per (method, origin), the template is the
    message's; statuses asked in another order, or twice, are the same."""
    statuses = [["DELIVERED", "FAILED"], ["FAILED", "DELIVERED"], ["DELIVERED", "FAILED", "FAILED"], [], ["FAILED"]]
    ids = []
    for n, wanted in enumerate(statuses):
        callback = {"callback": f"https://shop.example:8443/dlr?order={n}&id=<id>", "statuses": wanted}
        sent = await client.post(
            "/compat/send", json={"to": ["+385912345678"], "text": "Hi", **callback}, headers=tenant.key
        )
        assert sent.status_code == 200, sent.text
        ids.append(uuid.UUID(sent.json()["messages"][0]["id"]))
    other = await client.post(  # another method: another webhook
        "/compat/send",
        json={"to": ["+385912345678"], "text": "Hi", "callback": "https://shop.example:8443/x", "method": "GET"},
        headers=tenant.key,
    )
    assert other.status_code == 200, other.text

    async def deliver() -> tuple[list[Webhook], list[Message], list[WebhookEvent]]:
        async with client.app.state.runtime.sessions() as session:
            await store.change_statuses(session, [StatusChange(i, "Delivered") for i in ids])
            await session.commit()
            webhooks = list(await session.scalars(select(Webhook).where(Webhook.tenant_id == uuid.UUID(tenant.id))))
            messages = list(await session.scalars(select(Message).where(Message.id.in_(ids))))
            events = list(await session.scalars(select(WebhookEvent).where(WebhookEvent.message_id.in_(ids))))
        return webhooks, messages, events

    webhooks, messages, events = in_app_loop(client, deliver)
    assert sorted((w.url, w.method) for w in webhooks) == [
        ("https://shop.example:8443", "GET"),
        ("https://shop.example:8443", "POST"),
    ]
    post = next(w for w in webhooks if w.method == "POST")
    kept = {m.id: m.notify for m in messages}
    assert [kept[i]["statuses"] for i in ids] == [["DELIVERED", "FAILED"]] * 3 + [[], ["FAILED"]]
    assert {m.notify_webhook_id for m in messages} == {post.id}
    # Each report goes to its message's own URL (the last one asked for failures only: none).
    reports = sorted((e.payload["url"], e.webhook_id) for e in events)
    assert reports == sorted(
        (f"https://shop.example:8443/dlr?order={n}&id={i.hex}", post.id) for n, i in enumerate(ids[:4])
    )


async def test_usage_counts_per_destination_prefix_the_messages_that_left(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    """Rows per prefix ("+" and 8 digits) with its smallest destination, not per number; messages never sent
    (Ready, or failed before the provider took them) count nothing."""
    to = ["+385912345678", "+385912349999", "+385912340000", "+447700900123", "+447700900124", "+385980000000"]
    sent = await client.post("/compat/send", json={"to": to, "text": "Hi"}, headers=tenant.key)
    assert sent.status_code == 200, sent.text
    ids = [uuid.UUID(m["id"]) for m in sent.json()["messages"]]
    upstream = {"provider_message_id": "p"}
    changes = [
        StatusChange(ids[0], "Sent", values=upstream),
        StatusChange(ids[1], "Failed", "sms.dlr.1", values=upstream),  # accepted, then reported failed: counted
        StatusChange(ids[2], "Failed", "sms.8"),  # refused by the provider: not counted
        StatusChange(ids[3], "Sent", values=upstream),
        # ids[4] stays Ready: not counted
        StatusChange(ids[5], "Sent", values=upstream),
    ]

    async def change() -> None:
        async with client.app.state.runtime.sessions() as session:
            await store.change_statuses(session, changes)
            await session.commit()

    in_app_loop(client, change)
    usage = await client.post("/compat/usage", headers=tenant.key)
    assert usage.json() == [["+385912345678", 2, 2], ["+385980000000", 1, 1], ["+447700900123", 1, 1]]


async def test_a_key_bound_to_a_traffic_account_sends_through_it(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, (CHANNEL, "whatsapp"))
    second = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": "second", "channel": CHANNEL, "sandbox": True},
        headers=ADMIN,
    )
    second_id = uuid.UUID(second.json()["id"])
    field = bound_key_field(CHANNEL)

    async def key_bound_to(account_id: uuid.UUID) -> Any:
        async with client.app.state.runtime.sessions() as session:
            try:
                return (
                    await TenantService(session).create_api_key(uuid.UUID(tenant.id), "bound", {CHANNEL: account_id})
                )[1]
            except Problem as problem:
                return problem

    key = in_app_loop(client, lambda: key_bound_to(second_id))
    sent = await client.post(
        "/compat/send", json={"to": ["+385912345678"], "text": "Hi"}, headers={"X-Mitto-API-Key": key}
    )
    assert sent.status_code == 200, sent.text
    message = await client.get(f"/api/v1/Message/{sent.json()['messages'][0]['id']}", headers=tenant.key)
    assert message.json()["trafficAccountId"] == str(second_id)
    # Only an account of the tenant and of that channel.
    for wrong in (uuid.UUID(tenant.accounts["whatsapp"]), uuid.uuid4()):
        refused = in_app_loop(client, lambda wrong=wrong: key_bound_to(wrong))
        assert isinstance(refused, Problem) and refused.status_code == 400
        assert [e["field"] for e in refused.extra["errors"]] == [field]
    # The account gone, the key sends through no other.
    assert (
        await client.delete(f"/admin/tenants/{tenant.id}/traffic-accounts/{second_id}", headers=ADMIN)
    ).status_code == 204
    gone = await client.post(
        "/compat/send", json={"to": ["+385912345678"], "text": "Hi"}, headers={"X-Mitto-API-Key": key}
    )
    assert (gone.status_code, gone.json()["code"]) == (403, "key_bound_elsewhere")


async def test_every_write_path_keeps_the_messages_notify_webhook(
    client: AsyncTestClient, tenant: TenantFixture
) -> None:
    """The acceptor writes a batch with one INSERT, with Postgres' one statement (conversations known, no key) or
    with COPY (from COPY_FROM messages): each keeps the message's webhook."""
    callback = {"callback": "http://reports.example/r", "statuses": ["FAILED", "DELIVERED", "FAILED"], "text": "Hi"}
    many = [f"+38591{n:07d}" for n in range(store.COPY_FROM)]
    for to in (["+385912345678"], ["+385912345678"], many):
        sent = await client.post("/compat/send", json={"to": to, **callback}, headers=tenant.key)
        assert sent.status_code == 200, sent.text

    async def notified() -> list[Any]:
        async with client.app.state.runtime.sessions() as session:
            rows = await session.execute(
                select(Message.notify_webhook_id, Message.notify).where(Message.tenant_id == uuid.UUID(tenant.id))
            )
            return list(rows)

    rows = in_app_loop(client, notified)
    webhook_ids = [webhook_id for webhook_id, _ in rows]
    assert len(webhook_ids) == 2 + len(many) and len(set(webhook_ids)) == 1 and webhook_ids[0] is not None
    assert {json.dumps(notify) for _, notify in rows} == {
        json.dumps({"url": "http://reports.example/r", "statuses": ["DELIVERED", "FAILED"]})
    }


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1/dlr?id=<id>", "private, loopback or link-local"),
        ("http://10.0.0.5/dlr", "private, loopback or link-local"),
        ("https://reports.example/dlr", "could not be resolved"),
        ("https://<reference>/x", "no placeholder"),  # the host would be the customer's reference
        ("https://$reference$.example/x", "no placeholder"),
        ("ftp://93.184.216.34/x", "absolute http(s) URL"),
        ("https://user:pw@93.184.216.34/x", "credentials"),
    ],
)
async def test_a_callback_that_is_not_a_public_target_is_refused_when_asked_for(
    database_url: str, compatible_channel: None, url: str, problem: str
) -> None:
    """As the webhook API refuses such a webhook (GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS false): at once, with the
    field named, rather than reports that the guard then refuses over the whole retry schedule."""
    async with AsyncTestClient(app=create_app(make_settings(database_url))) as test_client:
        test_client.tenants = []  # type: ignore[attr-defined]
        tenant = await new_tenant(test_client, (CHANNEL,))
        try:
            body = {"to": ["+385912345678"], "text": "Hi", "callback": url}
            refused = await test_client.post("/compat/send", json=body, headers=tenant.key)
            assert refused.status_code == 400, refused.text
            [error] = refused.json()["errors"]
            assert error["field"] == "notify.url" and problem in error["message"], error
            public = {**body, "callback": "https://93.184.216.34/dlr?id=<id>"}  # an IP literal: nothing resolved
            assert (await test_client.post("/compat/send", json=public, headers=tenant.key)).status_code == 200
        finally:
            await test_client.delete(f"/admin/tenants/{tenant.id}", headers=ADMIN)
