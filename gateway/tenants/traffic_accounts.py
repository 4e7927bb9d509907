"""Traffic accounts: one channel each, provider settings split into plain settings and encrypted credentials."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.base import Channel
from channels.registry import all_channels
from gateway.lib.problems import invalid, not_found
from gateway.models import TrafficAccount
from gateway.tenants.repositories import TrafficAccountRepository
from wire.errors import FieldError


def channel_for(name: str, field: str = "channel") -> Channel:
    channels = all_channels()
    if name not in channels:
        raise invalid([FieldError(field, f"unknown channel {name!r}; one of: {', '.join(channels)}")])
    return channels[name]


def credentials_of(account: TrafficAccount) -> dict[str, str]:
    return json.loads(account.credentials)


class TrafficAccountService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.accounts = TrafficAccountRepository(session=session)

    async def create(
        self,
        tenant_id: UUID,
        name: str,
        channel_name: str,
        sandbox: bool,
        settings: dict[str, Any],
        account_id: UUID | None = None,
    ) -> TrafficAccount:
        channel = channel_for(channel_name)
        account = TrafficAccount(
            id=account_id or uuid4(), tenant_id=tenant_id, name=name, channel=channel.name, sandbox=sandbox
        )
        self._apply_settings(account, channel, settings)
        await self.accounts.add(account)
        await self.session.commit()
        return account

    async def list(self, tenant_id: UUID) -> list[TrafficAccount]:
        return list(
            await self.session.scalars(
                select(TrafficAccount)
                .where(TrafficAccount.tenant_id == tenant_id)
                .order_by(TrafficAccount.created_at, TrafficAccount.id)
            )
        )

    async def get(
        self, tenant_id: UUID, account_id: UUID, field: str | None = None, lock: bool = False
    ) -> TrafficAccount:
        account = await self.accounts.get_owned(tenant_id, account_id, lock=lock)
        if account is None:
            raise not_found("traffic account", field)
        return account

    async def update(
        self,
        tenant_id: UUID,
        account_id: UUID,
        *,
        name: str | None,
        sandbox: bool | None,
        settings_patch: dict[str, Any] | None,
    ) -> TrafficAccount:
        """``settings_patch`` is a JSON merge patch (RFC 7396): given keys replace, null removes. The row is
        locked while the patch is merged, so two concurrent patches can't lose one another's keys."""
        account = await self.get(tenant_id, account_id, lock=True)
        if name is not None:
            account.name = name
        if sandbox is not None:
            account.sandbox = sandbox
        merged = {**account.settings, **credentials_of(account)}
        for key, value in (settings_patch or {}).items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        self._apply_settings(account, channel_for(account.channel), merged)
        await self.session.commit()
        return account

    async def rotate_callback_token(self, tenant_id: UUID, account_id: UUID) -> TrafficAccount:
        """A new token in the account's callbackUrl; the URLs handed out before stop working."""
        account = await self.get(tenant_id, account_id, lock=True)
        account.callback_token_version += 1
        await self.session.commit()
        return account

    async def delete(self, tenant_id: UUID, account_id: UUID) -> None:
        await self.get(tenant_id, account_id)
        await self.accounts.delete(account_id)
        await self.session.commit()

    @staticmethod
    def _apply_settings(account: TrafficAccount, channel: Channel, settings: dict[str, Any]) -> None:
        if errors := channel.validate_settings(settings, sandbox=account.sandbox):
            raise invalid(errors)
        secret_keys = set(channel.settings.credentials)
        credentials = {key: value for key, value in settings.items() if key in secret_keys}
        account.settings = {key: value for key, value in settings.items() if key not in secret_keys}
        account.credentials = json.dumps(credentials)
