"""advanced-alchemy repositories, one per table. Tenant-owned rows are always fetched through ``get_owned``
so that an id of another tenant answers exactly like an id that doesn't exist."""

from __future__ import annotations

from typing import TypeVar
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository

from gateway import models

M = TypeVar("M", bound=models.UUIDBase | models.UUIDAuditBase)


class _TenantOwned(SQLAlchemyAsyncRepository[M]):
    async def get_owned(self, tenant_id: UUID, id_: UUID) -> M | None:
        return await self.get_one_or_none(id=id_, tenant_id=tenant_id)


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


class WebhookLinkRepository(SQLAlchemyAsyncRepository[models.WebhookTrafficAccount]):
    model_type = models.WebhookTrafficAccount


class TemplateRepository(SQLAlchemyAsyncRepository[models.MessageTemplate]):
    model_type = models.MessageTemplate
