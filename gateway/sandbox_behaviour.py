"""Provider behaviour (chaos) of a sandbox traffic account: a latency, a share of transient errors, the next
N sends answered with a given failure. Set through PUT /api/v1/sandbox/trafficAccounts/{id}/behaviour.

The gateway applies it to each send request of the account before the request leaves, answering in the
provider's place with the channel's own failing answers (``Channel.sandbox_failures``), so the adapter's
real parsing runs. It is read from the database at every send (the worker may be another process, and a
PUT must apply to the very next send); ``failNext`` is counted down by one conditional UPDATE, so N fails
exactly N sends however many workers send."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import Row, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.registry import all_channels
from gateway.lib.clock import now
from gateway.lib.group_commit import GroupCommit
from gateway.lib.problems import not_found
from gateway.models import SandboxBehaviour, TrafficAccount
from gateway.tenants.traffic_accounts import TrafficAccountService

FAILURES = ("transient", "throttled", "timeout", "rejected")  # what failNext.with may name
MAX_LATENCY_MS = 60_000
MAX_FAIL_NEXT = 1_000_000
B = SandboxBehaviour
APPLIED = (B.latency_min_ms, B.latency_max_ms, B.error_rate, B.fail_next_count)  # what a send reads


@dataclass(frozen=True, slots=True)
class Behaviour:
    """What a PUT sets (validated by the API): a latency from ``latency_min_ms`` to ``latency_max_ms``
    (equal: fixed), a share of sends answered a transient error, the next ``fail_next_count`` sends answered
    ``fail_next_with``."""

    latency_min_ms: int = 0
    latency_max_ms: int = 0
    error_rate: float = 0.0
    fail_next_count: int = 0
    fail_next_with: str | None = None


async def sandbox_account(
    session: AsyncSession, tenant_id: UUID, account_id: UUID, field: str | None = None
) -> TrafficAccount:
    """The tenant's sandbox traffic account; a live account, or another tenant's, is not found (404,
    naming ``field`` when the id came in one)."""
    account = await TrafficAccountService(session).get(tenant_id, account_id, field)
    if not account.sandbox:
        raise not_found("sandbox traffic account", field)
    return account


async def behaviour_of(
    session: AsyncSession, tenant_id: UUID, account_id: UUID, field: str | None = None
) -> SandboxBehaviour | None:
    """The account's behaviour, None when it has none (it answers as its magic destinations say)."""
    await sandbox_account(session, tenant_id, account_id, field)
    return await session.scalar(select(SandboxBehaviour).where(SandboxBehaviour.traffic_account_id == account_id))


async def set_behaviour(
    session: AsyncSession, tenant_id: UUID, account_id: UUID, behaviour: Behaviour, field: str | None = None
) -> SandboxBehaviour:
    """Replace the account's behaviour (committed: the next send, in any process, applies it). One upsert, so
    two first PUTs at once both succeed (the later one wins)."""
    await sandbox_account(session, tenant_id, account_id, field)
    values = dataclasses.asdict(behaviour) | {"updated_at": now()}
    dialect = postgresql if (await session.connection()).dialect.name == "postgresql" else sqlite
    await session.execute(
        dialect.insert(SandboxBehaviour)
        .values(tenant_id=tenant_id, traffic_account_id=account_id, **values)
        .on_conflict_do_update(index_elements=[SandboxBehaviour.traffic_account_id], set_=values)
    )
    await session.commit()
    row = await session.scalar(select(SandboxBehaviour).where(SandboxBehaviour.traffic_account_id == account_id))
    assert row is not None  # just written; only a reset or DELETE removes it
    return row


async def clear_behaviour(session: AsyncSession, tenant_id: UUID, account_id: UUID, field: str | None = None) -> None:
    """Back to the sandbox's plain behaviour (its magic destinations)."""
    await sandbox_account(session, tenant_id, account_id, field)
    await session.execute(delete(SandboxBehaviour).where(SandboxBehaviour.traffic_account_id == account_id))
    await session.commit()


class Behaviours:
    """The behaviours applied to sandbox sends. Read from the database at each send, with no cache that
    could be stale; the reads of sends made at the same moment are one query (group commit's batching:
    a worker sends up to 50 messages at once, and a query each cost more than the send itself)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._reads = GroupCommit(self._read, max_batch=500)

    async def _read(self, account_ids: list[UUID]) -> list[Row[Any] | None]:
        async with self.sessions() as session:
            query = select(B.traffic_account_id, *APPLIED).where(B.traffic_account_id.in_(set(account_ids)))
            found = {row.traffic_account_id: row for row in await session.execute(query)}
        return [found.get(account_id) for account_id in account_ids]

    async def provider_answer(self, account_id: UUID, channel: str, request: httpx.Request) -> httpx.Response | None:
        """Apply the account's behaviour to a request about to leave: wait its latency, then the answer the
        provider gives in its place (a failure it was told to give), or None to send the request. Raises
        httpx.ReadTimeout for a ``timeout`` (the adapter sees no answer)."""
        failures = all_channels()[channel].sandbox_failures
        if failures is None or not failures.is_send(request.url.path):
            return None  # not a send (an OAuth token, a bot's name): the provider answers it as usual
        row = await self._reads.submit(account_id)
        if row is None:
            return None
        latency, kind = random.randint(row.latency_min_ms, row.latency_max_ms), None
        if row.fail_next_count > 0:
            async with self.sessions() as session:
                # Counted down where it is stored: two workers' sends never take the same one.
                kind = await session.scalar(
                    update(B)
                    .where(B.traffic_account_id == account_id, B.fail_next_count > 0)
                    .values(fail_next_count=B.fail_next_count - 1)
                    .returning(B.fail_next_with)
                )
                await session.commit()
        if latency:
            await asyncio.sleep(latency / 1000)
        if kind is None and row.error_rate and random.random() < row.error_rate:
            kind = "transient"
        if kind is None:
            return None
        if kind == "timeout":
            raise httpx.ReadTimeout("no answer (the sandbox account's behaviour: timeout)", request=request)
        answer = getattr(failures, kind)
        return httpx.Response(answer.status, headers=answer.headers, json=answer.body, request=request)
