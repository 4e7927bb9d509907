"""The gateway's side of provider callbacks: per-message callback tokens and applying status reports."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from uuid import UUID

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from channels.base import StatusReport
from gateway.auth import key_id
from gateway.models import Message
from gateway.pipeline import statuses
from gateway.pipeline.events import change_status

TOKEN_AUDIENCE = "callback"


@dataclass(frozen=True, slots=True)
class CallbackTokens:
    """JWTs naming one message, carried in the callback URL a provider reports to. The first key signs,
    all verify (GATEWAY_CALLBACK_KEYS rotate like GATEWAY_JWT_KEYS)."""

    keys: tuple[str, ...]
    lifetime_seconds: int

    def issue(self, message_id: UUID, now: datetime.datetime | None = None) -> str:
        now = now or datetime.datetime.now(datetime.UTC)
        claims = {
            "sub": str(message_id),
            "aud": TOKEN_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + self.lifetime_seconds,
        }
        return jwt.encode(claims, self.keys[0], algorithm="HS256", headers={"kid": key_id(self.keys[0])})

    def message_of(self, token: str | None) -> UUID | None:
        if not token:
            return None
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            secret = next(key for key in self.keys if key_id(key) == kid)
            claims = jwt.decode(
                token, secret, algorithms=["HS256"], audience=TOKEN_AUDIENCE, options={"require": ["exp", "sub"]}
            )
            return UUID(claims["sub"])
        except (jwt.InvalidTokenError, StopIteration, ValueError, TypeError):
            return None


class GatewayPipeline:
    """Implements ``channels.base.Pipeline`` for the channels' callback routes."""

    def __init__(
        self, session_maker: async_sessionmaker[AsyncSession], tokens: CallbackTokens, callback_base_url: str
    ) -> None:
        self.session_maker = session_maker
        self.tokens = tokens
        self.callback_prefix = callback_base_url.rstrip("/") + "/callbacks/"

    def is_own_callback(self, url: str) -> bool:
        return url.startswith(self.callback_prefix)

    def message_of_token(self, token: str | None) -> UUID | None:
        return self.tokens.message_of(token)

    async def report(self, account_id: UUID, report: StatusReport) -> bool:
        if report.status not in statuses.ALL:
            raise ValueError(f"unknown status {report.status!r}")
        async with self.session_maker() as session:
            query = select(Message.id).where(Message.traffic_account_id == account_id)
            if report.message_id is not None:
                query = query.where(Message.id == report.message_id)
            elif report.provider_message_id:
                query = query.where(Message.provider_message_id == report.provider_message_id)
            else:
                return False
            message_id = await session.scalar(query)
            if message_id is None:
                return False
            # A report that can't move the status (a repeat, or one arriving out of order) changes nothing.
            await change_status(
                session, message_id, report.status, error_code=report.error_code, description=report.description
            )
            await session.commit()
            return True
