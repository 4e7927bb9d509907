"""advanced-alchemy repositories, one per table. Tenant-owned rows are always fetched through ``get_owned``
so that an id of another tenant answers exactly like an id that doesn't exist."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import select

from gateway import models

M = TypeVar("M", bound=models.UUIDBase | models.UUIDAuditBase)


class _TenantOwned(SQLAlchemyAsyncRepository[M]):
    async def get_owned(self, tenant_id: UUID, id_: UUID, lock: bool = False) -> M | None:
        """The row if this tenant owns it; ``lock`` holds it (SELECT ... FOR UPDATE) until commit."""
        query = select(self.model_type).where(self.model_type.id == id_, self.model_type.tenant_id == tenant_id)
        return await self.session.scalar(query.with_for_update() if lock else query)


class TenantRepository(SQLAlchemyAsyncRepository[models.Tenant]):
    model_type = models.Tenant


class CustomerRepository(SQLAlchemyAsyncRepository[models.Customer]):
    model_type = models.Customer


class ApiKeyRepository(_TenantOwned[models.ApiKey]):
    model_type = models.ApiKey


class TrafficAccountRepository(_TenantOwned[models.TrafficAccount]):
    model_type = models.TrafficAccount


class WebhookRepository(_TenantOwned[models.Webhook]):
    model_type = models.Webhook
