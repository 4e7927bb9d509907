"""Operator operations: tenants, their customers and their API keys."""

from __future__ import annotations

import datetime
from uuid import UUID, uuid4

from advanced_alchemy.exceptions import DuplicateKeyError
from msgspec import UNSET, UnsetType
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lib.crypto import api_key_digest, hash_password, new_api_key
from gateway.lib.pagination import Cursor, page_query
from gateway.lib.problems import Problem, invalid, not_found
from gateway.models import ApiKey, Customer, Tenant
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

    async def create_api_key(self, tenant_id: UUID, name: str) -> tuple[ApiKey, str]:
        """The key itself is returned this once; only its digest is stored."""
        await self.get(tenant_id)
        key = new_api_key()
        row = await ApiKeyRepository(session=self.session).add(
            ApiKey(tenant_id=tenant_id, name=name, digest=api_key_digest(key), prefix=key[:10])
        )
        await self.session.commit()
        return row, key

    async def revoke_api_key(self, tenant_id: UUID, key_id: UUID) -> None:
        key = await ApiKeyRepository(session=self.session).get_owned(tenant_id, key_id)
        if key is None:
            raise not_found("API key")
        if key.revoked_at is None:
            key.revoked_at = datetime.datetime.now(datetime.UTC)
            await self.session.commit()


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
