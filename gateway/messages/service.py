"""Sending messages: a send checked (gateway.messages.validation), planned (gateway.messages.planning) and
accepted in one transaction; the messages, bulk sends and conversations read back.

Accepted means durable: the message row (status Ready), its conversation and its first status event
are committed before the answer; nothing upstream is awaited (the dispatcher sends it).
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.registry import all_channels
from gateway.idempotency import KeyedAnswer
from gateway.lib.ids import new_id
from gateway.lib.lookups import Lookups
from gateway.lib.pagination import Cursor, page_query
from gateway.lib.problems import Problem, not_found
from gateway.messages.acceptor import CONSTRAINT_ERRORS, Acceptor
from gateway.messages.planning import BulkResult, Plan, plan_of
from gateway.messages.validation import Recipient, SendRequest, check, raise_if
from gateway.models import Conversation, FailoverChain, Message, MessageEvent, MessageTemplate, TrafficAccount
from gateway.tenants.traffic_accounts import TrafficAccountService
from wire.errors import FieldError

DEFAULT_VALIDITY = datetime.timedelta(hours=48)


class MessageService:
    def __init__(self, session_of: Callable[[], AsyncSession], acceptor: Acceptor, lookups: Lookups) -> None:
        self._session_of = session_of  # the request's session, made on first use (gateway.api.deps)
        self._session: AsyncSession | None = None
        self.acceptor = acceptor  # writes accepted messages (group commit) and tells the dispatcher
        self.lookups = lookups

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self._session_of()
        return self._session

    async def account(self, tenant_id: UUID, account_id: UUID, field: str = "trafficAccountId") -> TrafficAccount:
        """The tenant's traffic account (a 404 naming ``field`` otherwise), briefly remembered: every
        send looks it up."""

        async def load() -> TrafficAccount:
            account = await TrafficAccountService(self.session).get(tenant_id, account_id, field)
            self.session.expunge(account)
            return account

        return await self.lookups.remember(("traffic account", tenant_id, account_id), load)

    async def plan(self, tenant_id: UUID, request: SendRequest) -> Plan:
        """The messages of one send (one, or one per step of a failover chain); a 400 naming every problem
        relative to the request, a 404 for an unknown traffic account."""
        plan, errors = await self._plan(tenant_id, request, [Recipient.of_send(request)])
        raise_if(errors)
        assert plan is not None
        return plan

    async def plan_bulk(self, tenant_id: UUID, request: SendRequest) -> BulkResult:
        """One request, many recipients: validated as a whole (every problem named, ``destinations[i]...``
        for each recipient at fault), to be written at once. A recipient given twice is sent once."""
        recipients = Recipient.of_bulk(request)
        first, errors = await self._plan(tenant_id, request, recipients, bulk=True)
        raise_if(errors, "Some destinations can't be sent to; nothing was sent.")
        assert first is not None
        plans: list[tuple[list[str], Plan, bool]] = []
        seen: dict[tuple[str, ...], Plan] = {}
        for index, recipient in enumerate(recipients):
            plan = first if index == 0 else first.to(recipient)
            # The same user when every step reaches the same address as an earlier recipient's, however spelt.
            if (repeat := seen.get(addresses := tuple(m.destination for m in plan.messages))) is not None:
                plans.append((plan.given, repeat, True))
                continue
            seen[addresses] = plan
            plans.append((plan.given, plan, False))
        result = BulkResult(new_id(), plans)
        for message in result.messages:
            message.bulk_id = result.bulk_id
        return result

    async def plan_messages_bulk(self, tenant_id: UUID, requests: list[SendRequest]) -> BulkResult:
        """Many messages of their own: every one validated first (problems named ``messages[i]...``), to be
        written at once; any problem and nothing is sent."""
        errors, plans = [], []
        bulk_id = new_id()
        for request in requests:
            try:
                plan, found = await self._plan(tenant_id, request, [Recipient.of_send(request)], bulk_id)
            except Problem as problem:  # an unknown traffic account: named, so one answer lists every message
                found = [FieldError(e["field"], e["message"]) for e in (problem.extra or {}).get("errors", [])]
                plan = None
            errors += found
            if plan is not None:
                plans.append((plan.given, plan, False))
        raise_if(errors, "Some messages can't be sent; nothing was sent.")
        return BulkResult(bulk_id, plans)

    async def _plan(
        self,
        tenant_id: UUID,
        request: SendRequest,
        recipients: list[Recipient],
        bulk_id: UUID | None = None,
        *,
        bulk: bool = False,
    ) -> tuple[Plan | None, list[FieldError]]:
        """The plan of a send to the first of ``recipients`` and every problem of it (templates included)."""
        checked, errors = await check(tenant_id, request, recipients, self.account, bulk=bulk)
        if checked is None:
            return None, errors
        for account in checked.accounts:
            if (block := checked.blocks.get(account.channel)) is not None:
                errors += await self._template_errors(account, request.named(checked.keys[account.channel]), block)
        if errors:
            return None, errors
        return plan_of(tenant_id, request, recipients[0], checked, bulk_id), []

    async def accept(self, planned: Plan | BulkResult, answer: KeyedAnswer | None = None) -> None:
        """Store what was planned (and the request's Idempotency-Key answer with it, in one transaction)."""
        # Let go of this request's connection first: the acceptor writes on a connection of its own, and
        # requests holding theirs while waiting for it would drain the pool under load.
        if self._session is not None:  # none made: a send whose traffic account was remembered
            await self._session.close()
        try:
            await self.acceptor.accept(planned.messages, planned.chains, answer)
        except CONSTRAINT_ERRORS:
            # The traffic accounts were remembered for a moment (gateway.lib.lookups): another process may have
            # deleted them (or their tenant) since. Then they are not found, as they will be once forgotten.
            self.lookups.clear()
            wanted = {m.traffic_account_id for m in planned.messages}
            query = select(TrafficAccount.id).where(TrafficAccount.id.in_(wanted))
            if set(await self.session.scalars(query)) != wanted:
                raise not_found("traffic account") from None
            raise

    async def bulk_summary(self, tenant_id: UUID, bulk_id: UUID) -> dict[str, int]:
        rows = await self.session.execute(
            select(Message.status, func.count())
            .where(Message.tenant_id == tenant_id, Message.bulk_id == bulk_id)
            .group_by(Message.status)
        )
        counts = {status: count for status, count in rows}
        if not counts:
            raise not_found("bulk")
        return counts

    async def chain_of(self, message: Message) -> tuple[FailoverChain, list[Message]] | None:
        """The failover chain the message is a step of, with its steps in order."""
        if message.failover_chain_id is None:
            return None
        chain = await self.session.get(FailoverChain, message.failover_chain_id)
        steps = await self.session.scalars(
            select(Message)
            .where(Message.failover_chain_id == message.failover_chain_id)
            .order_by(Message.failover_step)
        )
        return (chain, list(steps)) if chain else None

    async def _template_errors(self, account: TrafficAccount, key: str, block: dict[str, Any]) -> list[FieldError]:
        """A template message must name an approved template of the account, with its parameters."""
        channel = all_channels()[account.channel]
        if (reference := channel.template_reference(block)) is None:
            return []
        name, language = reference
        template = await self.session.scalar(
            select(MessageTemplate).where(
                MessageTemplate.traffic_account_id == account.id,
                MessageTemplate.name == name,
                MessageTemplate.language == language,
            )
        )
        if template is None:
            return [
                FieldError(
                    f"{key}.template.name", f"no template {name!r} in language {language!r} on this traffic account"
                )
            ]
        if template.status != "APPROVED":
            return [
                FieldError(
                    f"{key}.template.name", f"the template is {template.status}; only APPROVED templates can be sent"
                )
            ]
        return [
            FieldError(f"{key}.{e.field}", e.message) for e in channel.template_send_errors(block, template.components)
        ]

    async def get(
        self, tenant_id: UUID, message_id: UUID
    ) -> tuple[Message, TrafficAccount, list[MessageEvent], str | None]:
        """The message, its traffic account, its status history and the user's latest known name."""
        found = (
            await self.session.execute(
                select(Message, Conversation.participant_name)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(Message.id == message_id, Message.tenant_id == tenant_id)
            )
        ).first()
        if found is None:
            raise not_found("message")
        message, name = found
        account = await self.session.get(TrafficAccount, message.traffic_account_id)
        assert account is not None
        history = await self.session.scalars(
            select(MessageEvent).where(MessageEvent.message_id == message.id).order_by(MessageEvent.sequence)
        )
        return message, account, list(history), name

    async def page(
        self, tenant_id: UUID, filters: MessageFilters, limit: int, cursor: Cursor | None
    ) -> tuple[list[Message], Cursor | None]:
        return await page_query(self.session, filters.query(tenant_id), Message, limit, cursor)

    async def conversations(
        self, tenant_id: UUID, limit: int, cursor: Cursor | None
    ) -> tuple[list[Conversation], Cursor | None]:
        return await page_query(
            self.session, select(Conversation).where(Conversation.tenant_id == tenant_id), Conversation, limit, cursor
        )

    async def conversation(self, tenant_id: UUID, conversation_id: UUID) -> Conversation:
        found = await self.session.scalar(
            select(Conversation).where(Conversation.id == conversation_id, Conversation.tenant_id == tenant_id)
        )
        if found is None:
            raise not_found("conversation")
        return found


@dataclass(frozen=True, slots=True)
class MessageFilters:
    traffic_account_id: UUID | None = None
    conversation_id: UUID | None = None
    destination: str | None = None
    direction: str | None = None
    status: str | None = None
    created_from: datetime.datetime | None = None
    created_to: datetime.datetime | None = None

    def query(self, tenant_id: UUID) -> Select[tuple[Message]]:
        """The tenant's messages that pass these self."""
        query = select(Message).where(Message.tenant_id == tenant_id)
        if self.traffic_account_id:
            query = query.where(Message.traffic_account_id == self.traffic_account_id)
        if self.conversation_id:
            query = query.where(Message.conversation_id == self.conversation_id)
        if self.destination:
            query = query.where(Message.destination == self.destination)
        if self.direction:
            query = query.where(Message.direction == self.direction)
        if self.status:
            query = query.where(Message.status == self.status)
        if self.created_from:
            query = query.where(Message.created_at >= self.created_from)
        if self.created_to:
            query = query.where(Message.created_at < self.created_to)
        return query
