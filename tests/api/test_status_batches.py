"""Status changes written in batches: delivery reports and send outcomes that arrive together share a
transaction, and each still gets its own answer, its own event and its own webhook event."""

from __future__ import annotations

import asyncio
import datetime
import uuid

from litestar.testing import AsyncTestClient
from sqlalchemy import event, select

from channels.base import StatusReport
from gateway.lib.db import session_maker
from gateway.models import Message, MessageEvent, WebhookEvent
from gateway.store.messages import NewMessage, StatusChange, change_statuses
from tests.conftest import in_app_loop, new_tenant

HOOK = {"url": "https://93.184.216.34/hook", "webhookTriggers": ["Delivered", "Read"]}


def _messages(tenant_id: str, account_id: str, count: int) -> list[NewMessage]:
    at = datetime.datetime.now(datetime.UTC)
    later = at + datetime.timedelta(days=1)  # not due: the embedded worker leaves them alone
    return [
        NewMessage(
            tenant_id=uuid.UUID(tenant_id),
            traffic_account_id=uuid.UUID(account_id),
            channel="sms",
            destination=f"+4477009{n:05d}",
            content={"sender": "Acme", "text": "hi"},
            message_parts=1,
            reference=f"ref-{n}",
            created_at=at,
            valid_until=later,
            next_attempt_at=later,
        )
        for n in range(count)
    ]


async def test_concurrent_reports_share_transactions_and_each_gets_its_answer(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    account = tenant.accounts["sms"]
    hook = await client.post(
        "/api/v1/Webhook", json={**HOOK, "linkTrafficAccountIds": [account]}, headers=tenant.bearer
    )
    assert hook.status_code == 201, hook.text
    messages = _messages(tenant.id, account, 40)
    engine, pipeline = client.app.state.runtime.engine, client.app.state.runtime.callbacks

    async def work() -> tuple[list[bool], int]:
        await client.app.state.runtime.acceptor.accept(messages)
        commits = []

        def count(_connection: object) -> None:
            commits.append(1)

        event.listen(engine.sync_engine, "commit", count)
        reports = [(uuid.UUID(account), StatusReport(status="Delivered", message_id=m.id)) for m in messages]
        stranger = (uuid.uuid4(), StatusReport(status="Delivered", message_id=messages[0].id))  # not its account
        answers = await asyncio.gather(*(pipeline.report(*report) for report in [*reports, stranger]))
        event.remove(engine.sync_engine, "commit", count)
        return answers, len(commits)

    answers, commits = in_app_loop(client, work)
    assert answers == [True] * 40 + [False]
    assert commits < 10, commits  # 40 reports, far fewer transactions

    async def stored() -> tuple[list, list, list]:
        ids = [m.id for m in messages]
        async with engine.connect() as connection:
            rows = (await connection.execute(select(Message.status, Message.sequence).where(Message.id.in_(ids)))).all()
            events = (
                await connection.execute(
                    select(MessageEvent.status).where(MessageEvent.message_id.in_(ids), MessageEvent.sequence == 3)
                )
            ).all()
            hooks = (
                await connection.execute(
                    select(WebhookEvent.message_id, WebhookEvent.sequence, WebhookEvent.payload).where(
                        WebhookEvent.message_id.in_(ids)
                    )
                )
            ).all()
        return rows, events, hooks

    rows, events, hooks = in_app_loop(client, stored)
    assert set(rows) == {("Delivered", 3)}  # Ready, then the Sent a report on a Ready message implies
    assert len(events) == 40 and {e.status for e in events} == {"Delivered"}
    assert len(hooks) == 40  # one webhook event per message, each its own payload
    by_message = {h.message_id: h for h in hooks}
    for m in messages:
        payload = by_message[m.id].payload
        assert (payload["messageId"], payload["reference"], payload["sequence"]) == (str(m.id), m.reference, 3)


async def test_two_changes_of_one_message_in_one_batch_apply_in_order(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    first, second = _messages(tenant.id, tenant.accounts["sms"], 2)

    async def work() -> list:
        await client.app.state.runtime.acceptor.accept([first, second])
        async with session_maker(client.app.state.runtime.engine)() as session:
            moved = await change_statuses(
                session,
                [
                    StatusChange(first.id, "Delivered"),
                    StatusChange(second.id, "Read"),
                    StatusChange(first.id, "Read"),
                    StatusChange(second.id, "Delivered"),  # after Read: refused
                    StatusChange(first.id, "Failed", "x", "too late"),  # after Read: refused
                ],
            )
            await session.commit()
            history = (
                await session.execute(
                    select(MessageEvent.message_id, MessageEvent.sequence, MessageEvent.status).order_by(
                        MessageEvent.sequence
                    )
                )
            ).all()
        return [m is not None for m in moved.moved], history

    applied, history = in_app_loop(client, work)
    assert applied == [True, True, True, False, False]
    assert [(s, status) for m, s, status in history if m == first.id] == [(1, "Ready"), (2, "Delivered"), (3, "Read")]
    assert [(s, status) for m, s, status in history if m == second.id] == [(1, "Ready"), (2, "Read")]


async def test_a_change_under_a_lease_applies_only_for_its_holder(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    (message,) = _messages(tenant.id, tenant.accounts["sms"], 1)

    async def work() -> list:
        await client.app.state.runtime.acceptor.accept([message])
        async with session_maker(client.app.state.runtime.engine)() as session:
            release = {"lease_owner": None, "provider_message_id": "p-1"}
            moved = (
                await change_statuses(session, [StatusChange(message.id, "Sent", values=release, lease_owner="w")])
            ).moved
            await session.commit()
            stored = await session.get(Message, message.id)
        return [moved[0], stored.status, stored.provider_message_id]

    # Nobody holds the lease: the worker "w" records nothing.
    assert in_app_loop(client, work) == [None, "Ready", None]


async def test_changes_with_their_own_values_in_one_batch_keep_each_its_own(client: AsyncTestClient) -> None:
    """Failed reports with different codes and texts, written together: each message gets its own."""
    tenant = await new_tenant(client, ("sms",))
    account = tenant.accounts["sms"]
    messages = _messages(tenant.id, account, 12)
    engine, pipeline = client.app.state.runtime.engine, client.app.state.runtime.callbacks

    async def work() -> list:
        await client.app.state.runtime.acceptor.accept(messages)
        reports = [
            StatusReport(status="Failed", message_id=m.id, error_code=f"sms.dlr.{n}", description=f"reason {n}")
            for n, m in enumerate(messages)
        ]
        assert await asyncio.gather(*(pipeline.report(uuid.UUID(account), r) for r in reports)) == [True] * 12
        async with engine.connect() as connection:
            query = select(Message.id, Message.status, Message.error_code, Message.description)
            return (await connection.execute(query.where(Message.id.in_([m.id for m in messages])))).all()

    stored = {row.id: row for row in in_app_loop(client, work)}
    for n, m in enumerate(messages):
        assert tuple(stored[m.id])[1:] == ("Failed", f"sms.dlr.{n}", f"reason {n}")
