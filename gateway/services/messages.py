"""Accepting messages: validation against the traffic account's channel, then one transaction.

Accepted means durable: the message row (status Ready), its conversation and its first status event
are committed before the answer; nothing upstream is awaited (the dispatcher sends it).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import FieldError
from channels.registry import all_channels
from gateway.lookups import MISSING, Lookups
from gateway.models import Conversation, Message, MessageEvent, MessageTemplate, TrafficAccount
from gateway.pagination import Cursor, page_query
from gateway.pipeline.acceptor import Acceptor, NewMessage
from gateway.problems import invalid, not_found
from gateway.services.traffic_accounts import TrafficAccountService

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


@dataclass(frozen=True, slots=True)
class Accepted:
    message: Message
    account: TrafficAccount


class MessageService:
    def __init__(self, session: AsyncSession, acceptor: Acceptor, lookups: Lookups) -> None:
        self.session = session
        self.acceptor = acceptor  # writes accepted messages (group commit) and tells the dispatcher
        self.lookups = lookups

    async def account(self, tenant_id: UUID, account_id: UUID) -> TrafficAccount:
        """The tenant's traffic account (a 404 naming trafficAccountId otherwise), briefly remembered:
        every send looks it up."""
        if (account := self.lookups.get(("traffic account", tenant_id, account_id))) is MISSING:
            account = await TrafficAccountService(self.session).get(tenant_id, account_id, "trafficAccountId")
            self.session.expunge(account)
            self.lookups.put(("traffic account", tenant_id, account_id), account)
        return account

    async def send(self, tenant_id: UUID, account_id: UUID, destination: str, blocks: dict[str, Any]) -> Accepted:
        account = await self.account(tenant_id, account_id)
        channel = all_channels()[account.channel]
        keys: dict[str | None, str] = {}
        errors = block_errors(blocks)
        for key in blocks:
            if block_key(key) in keys:
                errors.append(FieldError(key, f"repeats the {keys[block_key(key)]} block"))
            keys[block_key(key)] = key
        if account.channel not in keys:
            errors.append(
                FieldError(account.channel, f"is required: the traffic account is a {account.channel} account")
            )
        errors += [
            FieldError(key, f"is a {name} block, but the traffic account is a {account.channel} account")
            for name, key in keys.items()
            if name != account.channel
        ]
        if problem := channel.destination_problem(destination):
            errors.append(FieldError("destination", problem))
        if errors:
            raise invalid(errors, "The message can't be sent as it is.")
        block = blocks[keys[account.channel]]
        if errors := await self._template_errors(account, keys[account.channel], block):
            raise invalid(errors, "The message's template can't be used as it is.")
        at = datetime.datetime.now(datetime.UTC)
        message = NewMessage(
            tenant_id=tenant_id,
            traffic_account_id=account.id,
            channel=account.channel,
            destination=channel.canonical_address(destination),
            content=block,
            message_parts=channel.message_parts(block),
            reference=block.get("reference") if isinstance(block.get("reference"), str) else None,
            created_at=at,
            valid_until=at + min(DEFAULT_VALIDITY, channel.validity(block) or DEFAULT_VALIDITY),
            next_attempt_at=at,
        )
        # Let go of this request's connection first: the acceptor writes on a connection of its own, and
        # requests holding theirs while waiting for it would drain the pool under load.
        await self.session.close()
        await self.acceptor.accept([message])
        return Accepted(message.as_message(), account)

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
