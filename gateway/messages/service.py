"""Accepting messages: validation against the traffic account's channel, then one transaction.

Accepted means durable: the message row (status Ready), its conversation and its first status event
are committed before the answer; nothing upstream is awaited (the dispatcher sends it).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import FieldError
from channels.registry import all_channels
from gateway.idempotency import KeyedAnswer
from gateway.lib.ids import new_id
from gateway.lib.lookups import Lookups
from gateway.lib.pagination import Cursor, page_query
from gateway.lib.problems import Problem, invalid, not_found
from gateway.messages.acceptor import CONSTRAINT_ERRORS, Acceptor
from gateway.messages.failover import REQUIRED_STATUSES, NewChain
from gateway.models import Conversation, FailoverChain, Message, MessageEvent, MessageTemplate, TrafficAccount
from gateway.store import statuses
from gateway.store.messages import NewMessage
from gateway.tenants.traffic_accounts import TrafficAccountService

DEFAULT_VALIDITY = datetime.timedelta(hours=48)


def block_key(key: str) -> str | None:
    """The channel a top-level key of a send request names (``whatsApp`` and ``whatsapp`` alike)."""
    lower = key.lower()
    return lower if lower in all_channels() else None


def block_errors(blocks: dict[str, Any]) -> list[FieldError]:
    """Every problem with the channel blocks of a request, named by the key the client used."""
    errors = []
    for key, block in blocks.items():
        channel = all_channels()[block_key(key) or key]
        errors += [FieldError(f"{key}.{e.field}" if e.field else key, e.message) for e in channel.validate_block(block)]
    return errors


TRAFFIC_ACCOUNTS = "failover.timeoutFailover.trafficAccounts"
MAX_FAILOVER_STEPS = 10
TIMEOUT_RANGE = (5, 7 * 24 * 3600)  # seconds a failover step may wait for its status


@dataclass(frozen=True, slots=True)
class SendRequest:
    """One message to send, as the API took it (the blocks keyed as the client wrote them)."""

    traffic_account_id: UUID | None
    destination: str
    blocks: dict[str, Any]
    failover: Any = None


@dataclass(frozen=True, slots=True)
class Failover:
    required_status: str
    timeout_seconds: int
    account_ids: list[UUID]


def parse_failover(raw: Any) -> tuple[Failover | None, list[FieldError]]:
    """The ``failover`` object of a send (seed 002); only type Timeout exists."""
    if raw is None:
        return None, []
    if not isinstance(raw, dict):
        return None, [FieldError("failover", 'must be an object like {"type": "Timeout", "timeoutFailover": {...}}')]
    errors = []
    if raw.get("type") != "Timeout":
        errors.append(FieldError("failover.type", 'must be "Timeout"'))
    timeout = raw.get("timeoutFailover")
    if not isinstance(timeout, dict):
        return None, [*errors, FieldError("failover.timeoutFailover", "must be an object")]
    errors += [
        FieldError(
            f"failover.timeoutFailover.{key}", "unknown field; allowed: timeoutInSeconds, status, trafficAccounts"
        )
        for key in timeout
        if key not in ("timeoutInSeconds", "status", "trafficAccounts")
    ]
    seconds = timeout.get("timeoutInSeconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool) or not TIMEOUT_RANGE[0] <= seconds <= TIMEOUT_RANGE[1]:
        errors.append(
            FieldError(
                "failover.timeoutFailover.timeoutInSeconds",
                f"must be a whole number from {TIMEOUT_RANGE[0]} to {TIMEOUT_RANGE[1]}",
            )
        )
    status = timeout.get("status")
    if status not in REQUIRED_STATUSES:
        errors.append(FieldError("failover.timeoutFailover.status", f"must be one of {', '.join(REQUIRED_STATUSES)}"))
    accounts = timeout.get("trafficAccounts")
    ids: list[UUID] = []
    if not isinstance(accounts, list) or not 2 <= len(accounts) <= MAX_FAILOVER_STEPS:
        errors.append(
            FieldError(TRAFFIC_ACCOUNTS, f"must list 2 to {MAX_FAILOVER_STEPS} traffic account ids, in order")
        )
    else:
        for index, value in enumerate(accounts):
            try:
                ids.append(UUID(value))
            except (TypeError, ValueError, AttributeError):
                errors.append(FieldError(f"{TRAFFIC_ACCOUNTS}[{index}]", "must be a traffic account id (a UUID)"))
    if errors:
        return None, errors
    return Failover(status, seconds, ids), []


@dataclass(slots=True)
class Plan:
    """The messages of one send: one, or the steps of a failover chain."""

    messages: list[NewMessage]
    chain: NewChain | None
    accounts: list[TrafficAccount]

    def to(self, destination: str) -> Plan:
        """The same send to another destination (new ids), for bulk sends."""
        chain = replace(self.chain, id=new_id()) if self.chain else None
        messages = [
            replace(
                m,
                id=new_id(),
                destination=all_channels()[m.channel].canonical_address(destination),
                conversation_id=None,
                failover_chain_id=chain.id if chain else None,
            )
            for m in self.messages
        ]
        return Plan(messages, chain, self.accounts)

    @property
    def chains(self) -> list[NewChain]:
        return [self.chain] if self.chain else []


@dataclass(slots=True)
class BulkResult:
    bulk_id: UUID
    plans: list[tuple[str, Plan, bool]]  # (destination as given, its plan, whether a repeat of an earlier one)

    @property
    def messages(self) -> list[NewMessage]:
        """The messages to store: a repeated destination's plan is its first one's."""
        return [m for _, plan, duplicate in self.plans if not duplicate for m in plan.messages]

    @property
    def chains(self) -> list[NewChain]:
        return [c for _, plan, duplicate in self.plans if not duplicate for c in plan.chains]


class MessageService:
    def __init__(self, session: AsyncSession, acceptor: Acceptor, lookups: Lookups) -> None:
        self.session = session
        self.acceptor = acceptor  # writes accepted messages (group commit) and tells the dispatcher
        self.lookups = lookups

    async def account(self, tenant_id: UUID, account_id: UUID, field: str = "trafficAccountId") -> TrafficAccount:
        """The tenant's traffic account (a 404 naming ``field`` otherwise), briefly remembered: every
        send looks it up."""

        async def load() -> TrafficAccount:
            account = await TrafficAccountService(self.session).get(tenant_id, account_id, field)
            self.session.expunge(account)
            return account

        return await self.lookups.remember(("traffic account", tenant_id, account_id), load)

    async def plan(self, tenant_id: UUID, request: SendRequest, bulk_id: UUID | None = None) -> Plan:
        """The messages of one send (one, or one per step of a failover chain), every problem named
        relative to the request; raises only for an unknown traffic account (a 404 naming it)."""
        errors: list[FieldError] = []
        failover, failover_errors = parse_failover(request.failover)
        errors += failover_errors
        if failover is not None:
            if request.traffic_account_id not in (None, failover.account_ids[0]):
                errors.append(
                    FieldError("trafficAccountId", f"must be the first of {TRAFFIC_ACCOUNTS}, or be left out")
                )
            fields = [f"{TRAFFIC_ACCOUNTS}[{n}]" for n in range(len(failover.account_ids))]
            accounts = [await self.account(tenant_id, a, f) for a, f in zip(failover.account_ids, fields, strict=True)]
        elif request.traffic_account_id is None:
            if request.failover is None:
                errors.append(FieldError("trafficAccountId", "is required (or a failover with its traffic accounts)"))
            raise invalid(errors, "The message can't be sent as it is.")
        else:
            fields, accounts = ["trafficAccountId"], [await self.account(tenant_id, request.traffic_account_id)]
        keys: dict[str | None, str] = {}
        errors += block_errors(request.blocks)
        for key in request.blocks:
            if block_key(key) in keys:
                errors.append(FieldError(key, f"repeats the {keys[block_key(key)]} block"))
            keys[block_key(key)] = key
        channels_used = {account.channel for account in accounts}
        for account, field in zip(accounts, fields, strict=True):
            channel = all_channels()[account.channel]
            if account.channel not in keys:
                errors.append(FieldError(account.channel, f"is required: {field} is a {account.channel} account"))
            if failover and failover.required_status not in channel.receipts:
                errors.append(
                    FieldError(
                        field,
                        f"a {account.channel} account never reports {failover.required_status}, "
                        f"so this step could never succeed; wait for {' or '.join(channel.receipts)}",
                    )
                )
            if problem := channel.destination_problem(request.destination):
                errors.append(FieldError("destination", f"{problem} (for the {account.channel} account)"))
        errors += [
            FieldError(key, f"is a {name} block, but no traffic account of the request is a {name} account")
            for name, key in keys.items()
            if name not in channels_used
        ]
        if len({a.id for a in accounts}) < len(accounts):
            errors.append(FieldError(TRAFFIC_ACCOUNTS, "names a traffic account twice"))
        if errors:
            raise invalid(errors, "The message can't be sent as it is.")
        for account in accounts:
            key = keys[account.channel]
            if errors := await self._template_errors(account, key, request.blocks[key]):
                raise invalid(errors, "The message's template can't be used as it is.")
        at = datetime.datetime.now(datetime.UTC)
        chain = None
        if failover is not None:
            due = at + datetime.timedelta(seconds=failover.timeout_seconds)
            chain = NewChain(
                new_id(), tenant_id, failover.required_status, failover.timeout_seconds, len(accounts), due, at
            )
        messages = []
        for step, account in enumerate(accounts):
            channel, block = all_channels()[account.channel], request.blocks[keys[account.channel]]
            messages.append(
                NewMessage(
                    tenant_id=tenant_id,
                    traffic_account_id=account.id,
                    channel=account.channel,
                    destination=channel.canonical_address(request.destination),
                    content=block,
                    message_parts=channel.message_parts(block),
                    reference=block.get("reference") if isinstance(block.get("reference"), str) else None,
                    created_at=at,
                    valid_until=at + min(DEFAULT_VALIDITY, channel.validity(block) or DEFAULT_VALIDITY),
                    next_attempt_at=at if step == 0 else None,
                    status=statuses.READY if step == 0 else statuses.CREATED,
                    bulk_id=bulk_id,
                    failover_chain_id=chain.id if chain else None,
                    failover_step=step if chain else None,
                )
            )
        return Plan(messages, chain, accounts)

    async def plan_bulk(self, tenant_id: UUID, destinations: list[str], request: SendRequest) -> BulkResult:
        """One request, many destinations: validated as a whole (problems named ``destinations[i]``),
        to be written at once. A destination given twice is sent once."""
        if not destinations:
            raise invalid([FieldError("destinations", "needs at least one destination")], "Nothing to send.")
        try:
            first = await self.plan(tenant_id, replace(request, destination=destinations[0]))
        except Problem as problem:  # its destination is the first of the list
            for error in (problem.extra or {}).get("errors", []):
                if error["field"] == "destination":
                    error["field"] = "destinations[0]"
            raise
        errors, plans, seen = [], [], {}
        for index, destination in enumerate(destinations):
            problems = [
                p
                for account in first.accounts
                if (p := all_channels()[account.channel].destination_problem(destination))
            ]
            if problems:
                errors.append(FieldError(f"destinations[{index}]", problems[0]))
                continue
            address = all_channels()[first.accounts[0].channel].canonical_address(destination)
            if address in seen:
                plans.append((destination, seen[address], True))
                continue
            plan = first if index == 0 else first.to(destination)
            seen[address] = plan
            plans.append((destination, plan, False))
        if errors:
            raise invalid(errors, "Some destinations can't be sent to; nothing was sent.")
        result = BulkResult(new_id(), plans)
        for message in result.messages:
            message.bulk_id = result.bulk_id
        return result

    async def plan_messages_bulk(self, tenant_id: UUID, requests: list[SendRequest]) -> BulkResult:
        """Many messages of their own: every one validated first (problems named ``messages[i]...``),
        to be written at once; any problem and nothing is sent."""
        if not requests:
            raise invalid([FieldError("messages", "needs at least one message")], "Nothing to send.")
        errors, plans = [], []
        bulk_id = new_id()
        for index, request in enumerate(requests):
            try:
                plan = await self.plan(tenant_id, request, bulk_id)
            except Problem as problem:  # named by index, so one answer lists every message at fault
                found = (problem.extra or {}).get("errors") or [
                    {"field": "trafficAccountId", "message": problem.detail}
                ]
                errors += [FieldError(f"messages[{index}].{e['field']}", e["message"]) for e in found]
                continue
            plans.append((request.destination, plan, False))
        if errors:
            raise invalid(errors, "Some messages can't be sent; nothing was sent.")
        return BulkResult(bulk_id, plans)

    async def accept(self, planned: Plan | BulkResult, answer: KeyedAnswer | None = None) -> None:
        """Store what was planned (and the request's Idempotency-Key answer with it, in one transaction)."""
        # Let go of this request's connection first: the acceptor writes on a connection of its own, and
        # requests holding theirs while waiting for it would drain the pool under load.
        await self.session.close()
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

    async def get(self, tenant_id: UUID, message_id: UUID) -> tuple[Message, TrafficAccount, list[MessageEvent]]:
        message = await self.session.scalar(
            select(Message).where(Message.id == message_id, Message.tenant_id == tenant_id)
        )
        if message is None:
            raise not_found("message")
        account = await self.session.get(TrafficAccount, message.traffic_account_id)
        assert account is not None
        history = await self.session.scalars(
            select(MessageEvent).where(MessageEvent.message_id == message.id).order_by(MessageEvent.sequence)
        )
        return message, account, list(history)

    async def page(
        self, tenant_id: UUID, filters: MessageFilters, limit: int, cursor: Cursor | None
    ) -> tuple[list[Message], Cursor | None]:
        query = select(Message).where(Message.tenant_id == tenant_id)
        if filters.traffic_account_id:
            query = query.where(Message.traffic_account_id == filters.traffic_account_id)
        if filters.conversation_id:
            query = query.where(Message.conversation_id == filters.conversation_id)
        if filters.destination:
            query = query.where(Message.destination == filters.destination)
        if filters.direction:
            query = query.where(Message.direction == filters.direction)
        if filters.status:
            query = query.where(Message.status == filters.status)
        if filters.created_from:
            query = query.where(Message.created_at >= filters.created_from)
        if filters.created_to:
            query = query.where(Message.created_at < filters.created_to)
        return await page_query(self.session, query, Message, limit, cursor)

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
