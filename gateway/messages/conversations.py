"""One conversation per user of a traffic account, created by the first message either way."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import Conversation, TrafficAccount


async def conversation_for(session: AsyncSession, account: TrafficAccount, participant: str) -> Conversation:
    query = select(Conversation).where(
        Conversation.traffic_account_id == account.id, Conversation.participant == participant
    )
    if found := await session.scalar(query):
        return found
    conversation = Conversation(
        tenant_id=account.tenant_id, traffic_account_id=account.id, channel=account.channel, participant=participant
    )
    try:
        async with session.begin_nested():
            session.add(conversation)
    except IntegrityError:  # started by a concurrent message with the same user
        found = await session.scalar(query)
        assert found is not None
        return found
    return conversation
