"""Group commit of accepted sends: many concurrent sends, few transactions, each answer its own."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest
from advanced_alchemy.exceptions import RepositoryError
from litestar.connection import ASGIConnection
from litestar.testing import AsyncTestClient
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.api import deps
from gateway.api.deps import session_of
from gateway.demo import ensure_demo
from gateway.lib.db import create_engine, session_maker
from gateway.messages.acceptor import Acceptor
from gateway.models import Conversation, Message, MessageEvent
from gateway.store import messages as store_module
from gateway.store.messages import NewMessage
from gateway.tenants.service import TenantService
from tests.conftest import ADMIN, assert_problem, in_app_loop, new_tenant

SMS = {"sender": "Acme", "text": "hi"}


def _message(tenant_id: str, account_id: str, destination: str) -> NewMessage:
    at = datetime.datetime.now(datetime.UTC)
    return NewMessage(
        tenant_id=uuid.UUID(tenant_id),
        traffic_account_id=uuid.UUID(account_id),
        channel="sms",
        destination=destination,
        content={"sender": "Acme", "text": "hi"},
        message_parts=1,
        reference=None,
        created_at=at,
        valid_until=at + datetime.timedelta(hours=1),
        next_attempt_at=at,
    )


async def test_concurrent_sends_share_transactions_and_fail_alone(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    engine = client.app.state.runtime.engine
    committed: list[int] = []
    acceptor = Acceptor(engine, on_committed=lambda messages, chains: _record(committed, messages, chains))
    good = [_message(tenant.id, tenant.accounts["sms"], f"+4477009{n % 7:05d}") for n in range(60)]
    bad = _message(tenant.id, str(uuid.uuid4()), "+447700900001")  # no such traffic account: refused by the FK

    async def work() -> list[BaseException | None]:
        commits = []

        def count(_connection: object) -> None:
            commits.append(1)

        event.listen(engine.sync_engine, "commit", count)
        try:
            await asyncio.gather(*(acceptor.accept([m]) for m in good[:50]))
        finally:
            event.remove(engine.sync_engine, "commit", count)
        # 50 sends, but far fewer commits: they were written together.
        assert len(commits) < 10, len(commits)
        # A batch holding a bad message is written again one request at a time: only the bad one fails.
        outcomes = await asyncio.gather(*(acceptor.accept([m]) for m in [*good[50:], bad]), return_exceptions=True)
        async with engine.connect() as connection:
            ids = [m.id for m in good]
            stored = await connection.scalar(select(func.count()).select_from(Message).where(Message.id.in_(ids)))
            events = await connection.scalar(
                select(func.count()).select_from(MessageEvent).where(MessageEvent.message_id.in_(ids))
            )
            conversations = await connection.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(Conversation.traffic_account_id == uuid.UUID(tenant.accounts["sms"]))
            )
        assert (stored, events, conversations) == (60, 60, 7)
        return outcomes

    outcomes = in_app_loop(client, work)
    assert outcomes[:10] == [None] * 10
    assert isinstance(outcomes[10], Exception)  # only the bad one failed
    assert sum(committed) == 60  # only committed messages reach the dispatch index
    assert len({m.conversation_id for m in good}) == 7  # one conversation per user, reused


async def _record(committed: list[int], messages: list[NewMessage], _chains: object) -> None:
    committed.append(len(messages))


async def test_a_revoked_api_key_stops_working_at_once(client: AsyncTestClient) -> None:
    """API keys are remembered for a moment per process; a revocation through the API forgets them."""
    tenant = await new_tenant(client, ("sms",))
    key = (await client.post(f"/admin/tenants/{tenant.id}/api-keys", json={"name": "x"}, headers=ADMIN)).json()
    body = {
        "trafficAccountId": tenant.accounts["sms"],
        "destination": "+447700900123",
        "sms": {"sender": "Acme", "text": "x"},
    }
    headers = {"X-Mitto-API-Key": key["key"]}
    assert (await client.post("/api/v1/Message/send", json=body, headers=headers)).status_code == 200
    revoked = await client.delete(f"/admin/tenants/{tenant.id}/api-keys/{key['id']}", headers=ADMIN)
    assert revoked.status_code == 204
    assert (await client.post("/api/v1/Message/send", json=body, headers=headers)).status_code == 401


async def test_a_send_whose_traffic_account_is_remembered_makes_no_session(
    client: AsyncTestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The message service's session is made on first use (gateway.api.deps): the first send reads its traffic
    account, the next ones find it remembered (gateway.lib.lookups) and need none."""
    tenant = await new_tenant(client, ("sms",))
    made = []

    def counted(connection: ASGIConnection) -> AsyncSession:
        made.append(connection.scope["path"])
        return session_of(connection)

    monkeypatch.setattr(deps, "session_of", counted)
    body = {
        "trafficAccountId": tenant.accounts["sms"],
        "destination": "+447700900123",
        "sms": {"sender": "Acme", "text": "x"},
    }
    headers = {"X-Mitto-API-Key": tenant.api_key}
    for _ in range(3):
        assert (await client.post("/api/v1.1/Messages/send", json=body, headers=headers)).status_code == 200
    assert len(made) == 1, made


async def test_a_large_batch_is_stored_whole(client: AsyncTestClient) -> None:
    """Hundreds of messages at once (Postgres takes them through COPY): every column as given."""
    tenant = await new_tenant(client, ("sms",))
    engine = client.app.state.runtime.engine
    messages = [_message(tenant.id, tenant.accounts["sms"], f"+4477009{n:05d}") for n in range(300)]
    shared = {"sender": "Acme", "text": "one for many"}  # one object, as a bulk send's messages hold it
    for n, message in enumerate(messages):
        message.content = shared if n % 2 else {"sender": "Acme", "text": f"own {n}"}
    messages[7].content = {"sender": "Acme", "text": "ünïcödé ✓", "reference": "r-7"}
    messages[7].reference = "r-7"

    async def work() -> list[Message]:
        await Acceptor(engine).accept(messages)
        async with engine.connect() as connection:
            rows = (await connection.execute(select(Message).where(Message.id.in_([m.id for m in messages])))).all()
            events = await connection.scalar(
                select(func.count())
                .select_from(MessageEvent)
                .where(MessageEvent.message_id.in_([m.id for m in messages]))
            )
        assert events == 300
        return rows

    rows = {row.id: row for row in in_app_loop(client, work)}
    assert len(rows) == 300
    assert all(rows[m.id].content == m.content for m in messages)  # each its own, whether shared or not
    stored = rows[messages[7].id]
    assert stored.content == messages[7].content and stored.reference == "r-7"
    assert stored.status == "Ready" and stored.sequence == 1 and stored.attempts == 0
    assert stored.created_at == messages[7].created_at and stored.conversation_id == messages[7].conversation_id


async def test_conversations_made_elsewhere_are_found_and_new_ones_made_once(client: AsyncTestClient) -> None:
    """A second process (an acceptor that remembers nothing yet) reuses the conversations in the database
    and creates the missing ones, in one batch of both kinds."""
    tenant = await new_tenant(client, ("sms",))
    engine = client.app.state.runtime.engine
    account = tenant.accounts["sms"]
    first = [_message(tenant.id, account, f"+4477009{n:05d}") for n in range(0, 6)]
    second = [_message(tenant.id, account, f"+4477009{n:05d}") for n in range(3, 9)]  # 3 known, 3 new

    async def work() -> int:
        await Acceptor(engine).accept(first)
        await Acceptor(engine).accept(second)
        async with engine.connect() as connection:
            return await connection.scalar(
                select(func.count())
                .select_from(Conversation)
                .where(Conversation.traffic_account_id == uuid.UUID(account))
            )

    assert in_app_loop(client, work) == 9
    known = {m.destination: m.conversation_id for m in first}
    assert all(m.conversation_id == known[m.destination] for m in second[:3])
    assert len({m.conversation_id for m in [*first, *second]}) == 9


async def test_sends_to_known_conversations_are_written_in_one_statement(client: AsyncTestClient, monkeypatch) -> None:
    """On Postgres, a batch whose conversations are known is one statement (messages and first events), and
    the rows of one that makes them are that statement too, in its transaction: stored exactly as SQLite's
    INSERTs store them, and a bad message still fails alone."""
    tenant = await new_tenant(client, ("sms",))
    engine = client.app.state.runtime.engine
    account = tenant.accounts["sms"]
    in_one = []
    original = store_module.insert_with_first_events

    async def counted(connection, messages):  # type: ignore[no-untyped-def]
        in_one.append(len(messages))
        await original(connection, messages)

    monkeypatch.setattr(store_module, "insert_with_first_events", counted)
    acceptor = Acceptor(engine)
    first = _message(tenant.id, account, "+447700900001")  # makes the conversation: several statements
    later = [_message(tenant.id, account, "+447700900001") for _ in range(12)]
    later[3].content = {"sender": "Acme", "text": "ünïcödé ✓ 'quoted' \"too\"", "reference": "r-3"}
    later[3].reference = "r-3"
    later[5].valid_until = None
    for message in [first, *later]:  # not due: the app's dispatcher leaves them as written
        message.next_attempt_at = message.created_at + datetime.timedelta(days=1)
    bad = _message(tenant.id, account, "+447700900001")
    bad.channel = None  # type: ignore[assignment]  (refused by the database: NOT NULL)

    async def work() -> tuple[list[BaseException | None], dict, dict, list[int]]:
        await acceptor.accept([first])
        made = list(in_one)  # the conversation made in a transaction, the rows still in the one statement
        outcomes = await asyncio.gather(*(acceptor.accept([m]) for m in [*later, bad]), return_exceptions=True)
        ids = [m.id for m in [first, *later, bad]]
        async with engine.connect() as connection:
            rows = (await connection.execute(select(Message).where(Message.id.in_(ids)))).all()
            events = (await connection.execute(select(MessageEvent).where(MessageEvent.message_id.in_(ids)))).all()
        return outcomes, {r.id: r for r in rows}, {e.message_id: e for e in events}, made

    outcomes, rows, events, made = in_app_loop(client, work)
    assert outcomes[:12] == [None] * 12 and isinstance(outcomes[12], Exception)
    assert set(rows) == set(events) == {m.id for m in [first, *later]}
    if engine.dialect.name == "postgresql":
        assert made == [1]
        assert sum(in_one) >= 13  # the later ones (and the bad one's batch, tried whole first)
    else:
        assert in_one == []  # SQLite: the transaction of several statements
    unset = ("error_code", "description", "provider_message_id", "lease_owner", "lease_until")
    for message in later:
        stored, given = rows[message.id], message.row()
        assert {column: getattr(stored, column) for column in given} == given
        # What a send does not set is left empty, as the INSERTs of SQLAlchemy leave it.
        assert [getattr(stored, c) for c in unset] == [getattr(rows[first.id], c) for c in unset] == [None] * 5
        event = events[message.id]
        assert (event.sequence, event.status, event.occurred_at) == (1, "Ready", message.created_at)
    assert rows[later[3].id].content == later[3].content and rows[later[5].id].valid_until is None


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)  # a server whose backend can die
async def test_a_connection_that_died_fails_one_batch_not_every_later_one(client: AsyncTestClient) -> None:
    """The one statement goes through SQLAlchemy: a pooled connection whose backend died (a database
    restart) is thrown away after the batch it failed, not handed to every later send."""
    tenant = await new_tenant(client, ("sms",))
    account = tenant.accounts["sms"]
    engine = create_engine(client.app.state.runtime.settings.database_url)  # a pool of its own, to know its connection
    acceptor = Acceptor(engine)

    async def work() -> list[bool]:
        try:
            await acceptor.accept([_message(tenant.id, account, "+447700900001")])  # makes the conversation
            await acceptor.accept([_message(tenant.id, account, "+447700900001")])  # the one statement
            async with engine.connect() as connection:
                pid = (await connection.exec_driver_sql("SELECT pg_backend_pid()")).scalar()
            async with client.app.state.runtime.engine.connect() as other:
                await other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            stored = []
            for _ in range(4):
                try:
                    await acceptor.accept([_message(tenant.id, account, "+447700900001")])
                    stored.append(True)
                except Exception:  # noqa: BLE001  (the batch on the dead connection)
                    stored.append(False)
            return stored
        finally:
            await engine.dispose()

    stored = in_app_loop(client, work)
    assert stored.count(False) <= 1 and stored[1:] == [True, True, True], stored


async def _demo(client: AsyncTestClient) -> dict:
    """`gateway demo`: the demo tenant, its key and its traffic accounts, with their stable ids."""

    async def work() -> dict:
        async with session_maker(client.app.state.runtime.engine)() as session:
            return await ensure_demo(session)

    return in_app_loop(client, work)


async def _delete_tenant(client: AsyncTestClient, tenant_id: str) -> None:
    """DELETE it, again after a 409 (`conflict`: its cascade can deadlock with the worker still sending
    the tenant's messages)."""
    for _ in range(10):
        response = await client.delete(f"/admin/tenants/{tenant_id}", headers=ADMIN)
        if response.status_code != 409:
            break
        await asyncio.sleep(0.1)
    assert response.status_code == 204, response.text


def _delete_tenant_elsewhere(client: AsyncTestClient, tenant_id: str) -> None:
    """What another process (another API, the CLI) does: nothing in this process hears of it."""

    async def delete() -> None:
        for attempt in range(10):
            try:
                async with session_maker(client.app.state.runtime.engine)() as session:
                    return await TenantService(session).delete(uuid.UUID(tenant_id))
            except RepositoryError:  # a deadlock with the worker, as above
                if attempt == 9:
                    raise
                await asyncio.sleep(0.1)

    in_app_loop(client, delete)


@pytest.mark.parametrize("deleted_by", ["this process", "another process"])
async def test_sends_after_the_demo_tenant_was_deleted_and_made_again(client: AsyncTestClient, deleted_by) -> None:
    """`DELETE /admin/tenants/{id}` then `gateway demo`: the traffic accounts come back with the same ids,
    their conversations don't. A conversation this process remembered must not fail a send (nor a bulk
    send, which Postgres writes with COPY)."""
    demo = await _demo(client)
    key = {"X-Mitto-API-Key": demo["apiKey"]}
    one = {"trafficAccountId": demo["trafficAccounts"]["sms"], "destination": "+447700900123", "sms": SMS}
    many = {**one, "destinations": [f"+4477009{n:05d}" for n in range(200, 420)]}
    del many["destination"]

    async def send_both() -> tuple[dict, dict]:
        sent = await client.post("/api/v1/Message/send", json=one, headers=key)
        assert sent.status_code == 200, sent.text
        bulk = await client.post("/api/v1.1/Messages/sendbulk", json=many, headers=key)
        assert bulk.status_code == 200, bulk.text
        message = (await client.get(f"/api/v1/Message/{sent.json()['messageId']}", headers=key)).json()
        last = bulk.json()["messages"][-1]["messageId"]
        return message, (await client.get(f"/api/v1/Message/{last}", headers=key)).json()

    before = await send_both()
    if deleted_by == "this process":
        await _delete_tenant(client, demo["tenantId"])
    else:
        _delete_tenant_elsewhere(client, demo["tenantId"])
    assert await _demo(client) == demo  # the same ids again
    after = await send_both()
    for old, new in zip(before, after, strict=True):
        assert new["conversation"]["id"] != old["conversation"]["id"]  # a fresh conversation
        listed = await client.get(f"/api/v1/Conversations/{new['conversation']['id']}/Messages", headers=key)
        assert [m["messageId"] for m in listed.json()["items"]] == [new["messageId"]]
    await _delete_tenant(client, demo["tenantId"])


async def test_a_send_just_after_another_process_deleted_the_tenant_is_no_500(client: AsyncTestClient) -> None:
    """This process remembers the API key and the traffic account for a moment (gateway.lib.lookups); the
    tenant was deleted elsewhere meanwhile: the account is not found, as it will be once forgotten."""
    tenant = await new_tenant(client, ("sms",))
    body = {"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "sms": SMS}
    assert (await client.post("/api/v1/Message/send", json=body, headers=tenant.key)).status_code == 200
    _delete_tenant_elsewhere(client, tenant.id)
    assert_problem(await client.post("/api/v1/Message/send", json=body, headers=tenant.key), 404, "not_found")
    assert_problem(await client.post("/api/v1/Message/send", json=body, headers=tenant.key), 401, "unauthorized")
