"""Planning a valid send (gateway.messages.validation): the messages to store, one, or one per step of a
failover chain with its chain; the same for each destination of a bulk send. No I/O."""

from __future__ import annotations

import datetime
import operator
from dataclasses import dataclass, fields, replace
from uuid import UUID

from channels.registry import all_channels
from gateway.lib.ids import new_id
from gateway.messages.failover import NewChain
from gateway.messages.validation import Checked, Recipient, SendRequest
from gateway.models import TrafficAccount
from gateway.store import statuses
from gateway.store.messages import NewMessage

DEFAULT_VALIDITY = datetime.timedelta(hours=48)
# A message's values in its fields' order: copied through NewMessage(*values) at a third of the cost of
# dataclasses.replace, which a bulk send pays for each of its 10,000 recipients.
_values_of = operator.attrgetter(*(f.name for f in fields(NewMessage)))


@dataclass(slots=True)
class Plan:
    """The messages of one send: one, or the steps of a failover chain, each to its address as the request
    wrote it (``given``; the messages hold it canonical)."""

    messages: list[NewMessage]
    chain: NewChain | None
    accounts: list[TrafficAccount]
    given: list[str]
    checked: Checked

    def to(self, recipient: Recipient) -> Plan:
        """The same send to another recipient (new ids), for bulk sends."""
        chain = replace(self.chain, id=new_id()) if self.chain else None
        given = self.checked.addresses(recipient)
        messages = []
        for m, address in zip(self.messages, given, strict=True):
            copy = NewMessage(*_values_of(m))
            copy.id = new_id()
            copy.destination = all_channels()[m.channel].canonical_address(address, m.content)
            copy.conversation_id = None
            copy.failover_chain_id = chain.id if chain else None
            messages.append(copy)
        return Plan(messages, chain, self.accounts, given, self.checked)

    @property
    def chains(self) -> list[NewChain]:
        return [self.chain] if self.chain else []


@dataclass(slots=True)
class BulkResult:
    bulk_id: UUID
    # (each step's address as given, the plan, whether a repeat of an earlier recipient: then its plan)
    plans: list[tuple[list[str], Plan, bool]]

    @property
    def messages(self) -> list[NewMessage]:
        """The messages to store: a repeated recipient's plan is its first one's."""
        return [m for _, plan, duplicate in self.plans if not duplicate for m in plan.messages]

    @property
    def chains(self) -> list[NewChain]:
        return [c for _, plan, duplicate in self.plans if not duplicate for c in plan.chains]


def plan_of(
    tenant_id: UUID, request: SendRequest, recipient: Recipient, checked: Checked, bulk_id: UUID | None = None
) -> Plan:
    """The messages of one valid send, Ready to go (the first step) or Created (the steps that wait), each
    to its step's address (its own, or the recipient's) spelt as its channel and block spell it."""
    accounts, failover, blocks = checked.accounts, request.failover, checked.blocks
    at = datetime.datetime.now(datetime.UTC)
    chain = None
    if failover is not None:
        timeout = failover.timeout_failover
        due = at + datetime.timedelta(seconds=timeout.timeout_in_seconds)
        chain = NewChain(new_id(), tenant_id, timeout.status, timeout.timeout_in_seconds, len(accounts), due, at)
    messages = []
    given = checked.addresses(recipient)
    for step, (account, destination) in enumerate(zip(accounts, given, strict=True)):
        channel, block = all_channels()[account.channel], blocks[account.channel]
        messages.append(
            NewMessage(
                tenant_id=tenant_id,
                traffic_account_id=account.id,
                channel=account.channel,
                destination=channel.canonical_address(destination, block),
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
    return Plan(messages, chain, accounts, given, checked)
