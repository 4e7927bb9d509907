"""Resetting a tenant's sandbox data (``DELETE /api/v1/sandbox/data``), so that a test suite can start
every test from nothing: the messages of the tenant's sandbox traffic accounts with their status
events, webhook events and attempts, their conversations, failover chains and parked reports, the
sandbox journal and the catchers' requests, the sandbox accounts' provider behaviours (one test's chaos
must not leak into the next), the catchers' pending answers (they answer 200 again), and the tenant's
answered Idempotency-Keys when it has no live account.
Traffic accounts, webhooks, templates, catchers and API keys stay; nothing of a live account is touched.

It is one transaction of set-based DELETEs (no row is read into Python), so it takes milliseconds for
thousands of messages. Work in flight finds its rows gone and drops it, as it does for a deleted
traffic account: a worker's send outcome or a callback's report changes no row, a webhook attempt of
a deleted event is not recorded (gateway.webhooks.deliverer), a failover timer finds no chain. What is
remembered in memory is forgotten here for this process (the acceptor's conversation ids, the failover
timers); another process's acceptor finds a forgotten conversation gone when its insert fails and
looks it up again (gateway.messages.acceptor).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, exists, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import Delete, Update

from gateway.lib.due import DueIndex
from gateway.messages.acceptor import Acceptor
from gateway.models import (
    Conversation,
    FailoverChain,
    IdempotencyKey,
    Message,
    MessageEvent,
    PendingReport,
    SandboxBehaviour,
    SandboxCatcher,
    SandboxCatcherRequest,
    SandboxExchange,
    TrafficAccount,
    WebhookAttempt,
    WebhookEvent,
)
from gateway.sandbox_journal import Journal

# A reset deletes rows that workers and callbacks update at the same moment, in another order: Postgres
# may pick it as a deadlock's victim. It is tried again; by then the others have committed.
ATTEMPTS = 3
DEADLOCK_SQLSTATES = ("40P01", "40001")  # deadlock detected, serialization failure


@dataclass(frozen=True, slots=True)
class Deleted:
    """How many rows of each kind a reset deleted."""

    messages: int
    message_events: int
    webhook_events: int
    webhook_attempts: int
    conversations: int
    failover_chains: int
    pending_reports: int
    requests: int  # the sandbox journal's provider requests and callbacks
    catcher_requests: int
    behaviours: int  # the sandbox accounts' provider behaviours
    catcher_answers: int  # catchers told to answer otherwise, answering 200 again
    idempotency_keys: int


class SandboxReset:
    def __init__(
        self,
        session_maker: async_sessionmaker[AsyncSession],
        acceptor: Acceptor,
        failover_index: DueIndex,
        journal: Journal | None,
    ) -> None:
        self.session_maker = session_maker
        self.acceptor = acceptor
        self.failover_index = failover_index
        self.journal = journal

    async def reset(self, tenant_id: UUID) -> Deleted:
        if self.journal is not None:  # this process's exchanges waiting to be written go before, not after
            await self.journal.flush()
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with self.session_maker() as session:
                    deleted, account_ids, chain_ids = await _delete(session, tenant_id)
                    await session.commit()
                break
            except DBAPIError as error:
                if attempt == ATTEMPTS or not _deadlocked(error):
                    raise
                await asyncio.sleep(0.05 * attempt)
        self.acceptor.forget_conversations(account_ids)
        await self.failover_index.forget([str(chain_id) for chain_id in chain_ids])
        return deleted


async def _delete(session: AsyncSession, tenant_id: UUID) -> tuple[Deleted, list[UUID], list[UUID]]:
    """The deletions, in the caller's transaction: children first (their counts are the answer's; the
    foreign keys' cascades would delete them too, uncounted). The sandbox accounts, and the failover
    chains deleted."""
    account_ids = list(
        await session.scalars(
            select(TrafficAccount.id).where(TrafficAccount.tenant_id == tenant_id, TrafficAccount.sandbox.is_(True))
        )
    )
    has_live = bool(
        await session.scalar(
            select(exists().where(TrafficAccount.tenant_id == tenant_id, TrafficAccount.sandbox.is_(False)))
        )
    )
    sandbox = Message.traffic_account_id.in_(account_ids)
    messages = select(Message.id).where(sandbox)
    events = select(WebhookEvent.id).where(WebhookEvent.message_id.in_(messages))

    async def count(statement: Delete | Update) -> int:
        """Rows deleted by ``statement`` (set-based: no ORM objects are loaded or synchronised)."""
        return (await session.execute(statement.execution_options(synchronize_session=False))).rowcount

    # A chain of sandbox messages goes with them; one with a step on a live account (a chain may fail over
    # from one to the other) stays with its live messages.
    with_live_step = exists().where(Message.failover_chain_id == FailoverChain.id, ~sandbox)
    chains = list(
        await session.scalars(
            delete(FailoverChain)
            .where(
                FailoverChain.tenant_id == tenant_id,
                FailoverChain.id.in_(select(Message.failover_chain_id).where(sandbox)),
                ~with_live_step,
            )
            .returning(FailoverChain.id)
            .execution_options(synchronize_session=False)
        )
    )
    webhook_attempts = await count(delete(WebhookAttempt).where(WebhookAttempt.webhook_event_id.in_(events)))
    webhook_events = await count(delete(WebhookEvent).where(WebhookEvent.message_id.in_(messages)))
    message_events = await count(delete(MessageEvent).where(MessageEvent.message_id.in_(messages)))
    message_count = await count(delete(Message).where(Message.traffic_account_id.in_(account_ids)))
    conversations = await count(delete(Conversation).where(Conversation.traffic_account_id.in_(account_ids)))
    deleted = Deleted(
        messages=message_count,
        message_events=message_events,
        webhook_events=webhook_events,
        webhook_attempts=webhook_attempts,
        conversations=conversations,
        failover_chains=len(chains),
        pending_reports=await count(delete(PendingReport).where(PendingReport.traffic_account_id.in_(account_ids))),
        requests=await count(delete(SandboxExchange).where(SandboxExchange.tenant_id == tenant_id)),
        catcher_requests=await count(delete(SandboxCatcherRequest).where(SandboxCatcherRequest.tenant_id == tenant_id)),
        behaviours=await count(delete(SandboxBehaviour).where(SandboxBehaviour.tenant_id == tenant_id)),
        catcher_answers=await count(
            update(SandboxCatcher)
            .where(SandboxCatcher.tenant_id == tenant_id, SandboxCatcher.answer_remaining > 0)
            .values(answer_status=None, answer_remaining=0)
        ),
        # The answers of earlier sends name messages deleted now: a test that uses the same keys again must
        # send again, not be answered with a message that no longer exists. Keys belong to the tenant, not to
        # an account, and a live send's key must keep its answer (a client's retry of it after a reset would
        # send to a real user again): so they go only when the tenant has no live account. Claims still in
        # flight stay: their sends are being stored.
        idempotency_keys=0
        if has_live
        else await count(
            delete(IdempotencyKey).where(
                IdempotencyKey.tenant_id == tenant_id, IdempotencyKey.response_status.is_not(None)
            )
        ),
    )
    return deleted, account_ids, chains


def _deadlocked(error: DBAPIError) -> bool:
    return str(getattr(error.orig, "sqlstate", "")).startswith(DEADLOCK_SQLSTATES)
