"""WhatsApp message templates of a traffic account (seed 000; Meta's template format)."""

from __future__ import annotations

import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, post
from litestar.params import FromPath, JSONBody, QueryParameter

from channels.openapi import problem
from gateway.api.deps import Caller, DbSession
from gateway.models import MessageTemplate
from gateway.schemas import Out, Schema
from gateway.tenants.templates import TemplateService


class TemplateLanguage(Schema):
    code: str


class TemplateIn(Schema):
    """Meta's template format. The fields are taken as they come and checked by the channel's template
    rules in one pass, so that one answer names every problem (a string ``language`` included)."""

    # Required, but defaulted here so that a missing one is named by the template rules with the others.
    language: Annotated[
        Any, msgspec.Meta(description='Required. An object such as {"code": "en_US"}; a plain string is refused')
    ] = None
    category: Annotated[Any, msgspec.Meta(description="Required. MARKETING, UTILITY or AUTHENTICATION")] = None
    components: Annotated[
        Any, msgspec.Meta(description="Required. HEADER, BODY, FOOTER and BUTTONS components, as Meta takes them")
    ] = None


class TemplateOut(Out):
    id: UUID
    traffic_account_id: UUID
    name: str
    language: TemplateLanguage
    category: str
    components: list[dict[str, Any]]
    status: str
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, t: MessageTemplate) -> TemplateOut:
        return cls(
            t.id,
            t.traffic_account_id,
            t.name,
            TemplateLanguage(t.language),
            t.category,
            t.components,
            t.status,
            t.created_at,
            t.updated_at,
        )


class TemplateController(Controller):
    path = "/trafficAccounts/{account_id:str}/WhatsAppTemplates"
    tags = ["message templates"]

    @get("/", summary="The traffic account's templates")
    async def list_templates(
        self, db_session: DbSession, principal: Caller, account_id: FromPath[UUID]
    ) -> list[TemplateOut]:
        return [TemplateOut.of(t) for t in await TemplateService(db_session).list(principal.tenant_id, account_id)]

    @post(
        "/{name:str}",
        summary="Create a template (approved at once on a sandbox traffic account)",
        responses={409: problem("`template_exists`: a template of this name and language exists")},
    )
    async def create_template(
        self,
        db_session: DbSession,
        principal: Caller,
        account_id: FromPath[UUID],
        name: FromPath[str],
        data: JSONBody[TemplateIn],
    ) -> TemplateOut:
        body = msgspec.to_builtins(data)
        return TemplateOut.of(await TemplateService(db_session).create(principal.tenant_id, account_id, name, body))

    @delete("/{name:str}", summary="Delete a template in every language, or in one with ?language=")
    async def delete_template(
        self,
        db_session: DbSession,
        principal: Caller,
        account_id: FromPath[UUID],
        name: FromPath[str],
        language: Annotated[str | None, QueryParameter(name="language")] = None,
    ) -> None:
        await TemplateService(db_session).delete(principal.tenant_id, account_id, name, language)
