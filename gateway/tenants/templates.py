"""Message templates of a traffic account (WhatsApp's, for now), validated by the channel's own rules."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from channels.registry import all_channels
from gateway.lib.problems import Problem, invalid
from gateway.models import MessageTemplate, TrafficAccount
from gateway.tenants.traffic_accounts import TrafficAccountService, channel_for
from wire.errors import FieldError


class TemplateService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _account(self, tenant_id: UUID, account_id: UUID) -> TrafficAccount:
        account = await TrafficAccountService(self.session).get(tenant_id, account_id, "trafficAccountId")
        if channel_for(account.channel).validate_template is None:
            raise invalid(
                [
                    FieldError(
                        "trafficAccountId",
                        f"is a {account.channel} traffic account; templates need one of: "
                        + ", ".join(name for name, channel in all_channels().items() if channel.validate_template),
                    )
                ],
                "This traffic account's channel has no message templates.",
            )
        return account

    async def list(self, tenant_id: UUID, account_id: UUID) -> list[MessageTemplate]:
        await self._account(tenant_id, account_id)
        return list(
            await self.session.scalars(
                select(MessageTemplate)
                .where(MessageTemplate.traffic_account_id == account_id)
                .order_by(MessageTemplate.name, MessageTemplate.language)
            )
        )

    async def create(self, tenant_id: UUID, account_id: UUID, name: str, body: dict[str, Any]) -> MessageTemplate:
        account = await self._account(tenant_id, account_id)
        validate = channel_for(account.channel).validate_template
        assert validate is not None
        if errors := validate(name, body):
            raise invalid(errors, "The template does not meet the provider's template rules.")
        template = MessageTemplate(
            tenant_id=tenant_id,
            traffic_account_id=account_id,
            name=name,
            language=body["language"]["code"],
            category=body["category"],
            components=body["components"],
            # A sandbox provider approves at once; a live one is submitted to the provider and starts PENDING.
            status="APPROVED" if account.sandbox else "PENDING",
        )
        self.session.add(template)
        try:
            await self.session.commit()
        except IntegrityError:
            await self.session.rollback()
            raise Problem(
                409,
                "template_exists",
                f"A template {name!r} in language {template.language!r} exists already.",
                errors=[FieldError("name", "is taken for this language")],
            ) from None
        return template

    async def delete(self, tenant_id: UUID, account_id: UUID, name: str, language: str | None) -> None:
        """Deletes the template in every language, or in one when ``language`` is given (as Meta does)."""
        await self._account(tenant_id, account_id)
        query = delete(MessageTemplate).where(
            MessageTemplate.traffic_account_id == account_id, MessageTemplate.name == name
        )
        if language:
            query = query.where(MessageTemplate.language == language)
        result = await self.session.execute(query)
        if not result.rowcount:
            raise Problem(
                404, "not_found", "No template with this name.", errors=[FieldError("name", "no such template")]
            )
        await self.session.commit()
