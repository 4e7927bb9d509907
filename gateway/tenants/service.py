"""Operator operations: tenants, their customers and their API keys."""

from __future__ import annotations

import datetime
from uuid import UUID, uuid4

from advanced_alchemy.exceptions import DuplicateKeyError
from msgspec import UNSET, UnsetType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.registry import all_channels
from gateway.lib.crypto import api_key_digest, hash_password, new_api_key
from gateway.lib.pagination import Cursor, page_query
from gateway.lib.problems import Problem, invalid, not_found
from gateway.models import ApiKey, Customer, Tenant, TrafficAccount
from gateway.tenants.repositories import ApiKeyRepository, CustomerRepository, TenantRepository
from wire.errors import FieldError

MIN_PASSWORD_LENGTH = 10
MAX_EMAIL_LENGTH = 320


class TenantService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.tenants = TenantRepository(session=session)

    async def create(self, name: str, tenant_id: UUID | None = None, rate_limit_quota: int | None = None) -> Tenant:
        tenant = await self.tenants.add(Tenant(id=tenant_id or uuid4(), name=name, rate_limit_quota=rate_limit_quota))
        await self.session.commit()
        return tenant

    async def update(
        self, tenant_id: UUID, name: str | None = None, rate_limit_quota: int | None | UnsetType = UNSET
    ) -> Tenant:
        """``rate_limit_quota`` None: back to the installation's default; UNSET: unchanged."""
        tenant = await self.get(tenant_id)
        if name is not None:
            tenant.name = name
        if rate_limit_quota is not UNSET:
            tenant.rate_limit_quota = rate_limit_quota
        await self.session.commit()
        return tenant

    async def page(self, limit: int, cursor: Cursor | None) -> tuple[list[Tenant], Cursor | None]:
        return await page_query(self.session, select(Tenant), Tenant, limit, cursor)

    async def get(self, tenant_id: UUID) -> Tenant:
        tenant = await self.tenants.get_one_or_none(id=tenant_id)
        if tenant is None:
            raise not_found("tenant")
        return tenant

    async def delete(self, tenant_id: UUID) -> None:
        """Everything of the tenant goes with it (ON DELETE CASCADE)."""
        await self.get(tenant_id)
        await self.tenants.delete(tenant_id)
        await self.session.commit()

    async def create_customer(self, tenant_id: UUID, email: str, password: str) -> Customer:
        await self.get(tenant_id)
        email = normalise_email(email)
        errors = password_errors("password", password)
        if len(email) > MAX_EMAIL_LENGTH:
            errors.append(FieldError("email", f"must be at most {MAX_EMAIL_LENGTH} characters"))
        if errors:
            raise invalid(errors)
        customers = CustomerRepository(session=self.session)
        if await customers.exists(email=email):
            raise _email_taken()
        customer = Customer(tenant_id=tenant_id, email=email, password_hash=await hash_password(password))
        try:
            await customers.add(customer)
            await self.session.commit()
        except DuplicateKeyError:  # the same email, created at the same moment by another request
            await self.session.rollback()
            raise _email_taken() from None
        return customer

    async def create_api_key(
        self, tenant_id: UUID, name: str, bound: dict[str, UUID] | None = None
    ) -> tuple[ApiKey, str, TrafficAccount | None]:
        """The key itself is returned this once; only its digest is stored. ``bound``: the traffic account the key
        sends through on a channel's compatible API, as ``{channel: account id}`` (at most one): an account of
        the tenant and of that channel, which must serve one. Returned with the key."""
        await self.get(tenant_id)
        account = await self._bound_account(tenant_id, {c: a for c, a in (bound or {}).items() if a is not None})
        key = new_api_key()
        row = await ApiKeyRepository(session=self.session).add(
            ApiKey(
                tenant_id=tenant_id,
                name=name,
                digest=api_key_digest(key),
                prefix=key[:10],
                traffic_account_id=account.id if account else None,
            )
        )
        await self.session.commit()
        return row, key, account

    async def _bound_account(self, tenant_id: UUID, bound: dict[str, UUID]) -> TrafficAccount | None:
        if not bound:
            return None
        if len(bound) > 1:
            raise invalid(
                [FieldError(bound_key_field(c), "a key is bound to one traffic account at most") for c in bound]
            )
        ((channel, account_id),) = bound.items()
        field = bound_key_field(channel)
        account = await self.session.get(TrafficAccount, account_id)
        if account is None or account.tenant_id != tenant_id:
            raise invalid([FieldError(field, "no traffic account of the tenant with this id")])
        if account.channel != channel:
            raise invalid([FieldError(field, f"is a {account.channel} traffic account, not a {channel} one")])
        if not all_channels()[channel].compatible_routes:
            raise invalid([FieldError(field, f"the {channel} channel serves no compatible API to send through")])
        return account

    async def revoke_api_key(self, tenant_id: UUID, key_id: UUID) -> None:
        key = await ApiKeyRepository(session=self.session).get_owned(tenant_id, key_id)
        if key is None:
            raise not_found("API key")
        if key.revoked_at is None:
            key.revoked_at = datetime.datetime.now(datetime.UTC)
            await self.session.commit()


def compatible_channels() -> tuple[str, ...]:
    """The channels that serve a compatible API (channels.base.Channel.compatible_routes): an API key may be
    bound to a traffic account of one of them."""
    return tuple(name for name, channel in all_channels().items() if channel.compatible_routes)


def bound_key_field(channel: str) -> str:
    """The API key's field naming the traffic account it is bound to on ``channel`` (``<channel>TrafficAccountId``)."""
    return f"{channel}TrafficAccountId"


def _email_taken() -> Problem:
    return Problem(
        409,
        "email_taken",
        "A customer with this email exists already.",
        errors=[FieldError("email", "is already in use")],
    )


def normalise_email(email: str) -> str:
    """Emails are unique per installation and compared case-insensitively: stored trimmed and lower-cased."""
    return email.strip().lower()


def password_errors(field: str, password: str) -> list[FieldError]:
    if len(password) < MIN_PASSWORD_LENGTH:
        return [FieldError(field, f"must be at least {MIN_PASSWORD_LENGTH} characters")]
    return []
