"""Webhook CRUD (seed 000), the webhook <-> traffic account links, secret rotation, and the inspection,
replay and recovery of deliveries."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, post, put
from litestar.openapi.spec import Reference
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT

from channels.openapi import documented, problem
from gateway.api.deps import Caller, Webhooks
from gateway.api.messages import CursorParam, Limit, as_utc
from gateway.lib.netguard import url_syntax_problem
from gateway.lib.pagination import Cursor
from gateway.lib.validation import parse, parse_json
from gateway.models import WebhookAttempt
from gateway.schemas import Out, Page, Schema
from gateway.store.outbox import PENDING
from gateway.webhooks.service import (
    MAX_LINKS,
    TRIGGERS,
    Delivery,
    DeliveryFilters,
    WebhookInput,
    WebhookView,
    header_errors,
    trigger_errors,
    window_errors,
)
from wire.errors import FieldError


class WebhookIn(Schema):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    # Checked by the service together with the URL and headers, so one answer names every problem.
    webhook_triggers: Annotated[
        list[str], msgspec.Meta(description=f"One or more of {', '.join(TRIGGERS)}", examples=[["Delivered", "Failed"]])
    ]
    description: Annotated[str, msgspec.Meta(max_length=500)] = ""
    headers: dict[str, str] = {}
    link_traffic_account_ids: Annotated[list[UUID], msgspec.Meta(max_length=MAX_LINKS)] | None = None

    @classmethod
    def rule_errors(cls, raw: dict[str, Any]) -> list[FieldError]:
        errors = []
        if isinstance(url := raw.get("url"), str) and (problem := url_syntax_problem(url)):
            errors.append(FieldError("url", problem))
        if isinstance(triggers := raw.get("webhookTriggers"), list) and all(isinstance(t, str) for t in triggers):
            errors += trigger_errors(triggers)
        if isinstance(headers := raw.get("headers"), dict):
            errors += header_errors({name: value for name, value in headers.items() if isinstance(value, str)})
        return errors

    def input(self) -> WebhookInput:
        return WebhookInput(
            self.url, self.description, self.webhook_triggers, self.headers, self.link_traffic_account_ids
        )


class WebhookReplace(WebhookIn):
    """PUT replaces the whole webhook; ``linkTrafficAccountIds`` left out keeps the links as they are."""

    enabled: bool | None = None


class WebhookOut(Out):
    id: UUID
    url: str
    description: str
    webhook_triggers: list[str]
    headers: dict[str, str]
    link_traffic_account_ids: list[UUID]
    enabled: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, view: WebhookView) -> WebhookOut:
        w = view.webhook
        return cls(
            w.id, w.url, w.description, w.triggers, view.headers, view.linked, w.enabled, w.created_at, w.updated_at
        )


class CreatedWebhookOut(WebhookOut):
    secret: str  # the signing secret (whsec_...), for verifying deliveries


class WebhookSecretOut(Out):
    secret: str


class AttemptOut(Out):
    attempted_at: datetime.datetime
    response_status: int | None  # null: no answer (see error)
    latency_ms: int
    response_body: Annotated[str, msgspec.Meta(description="The first 1 KB of the answer")]
    error: str | None

    @classmethod
    def of(cls, attempt: WebhookAttempt) -> AttemptOut:
        a = attempt
        return cls(a.attempted_at, a.response_status, a.latency_ms, a.response_body, a.error)


class DeliveryOut(Out):
    """One event for the webhook, with every attempt to deliver it."""

    id: Annotated[UUID, msgspec.Meta(description="The event id, sent as webhook-id")]
    event: str
    message_id: UUID
    sequence: int
    status: Annotated[str, msgspec.Meta(description="pending, succeeded or failed (given up)")]
    payload: dict[str, Any]
    created_at: datetime.datetime
    next_attempt_at: datetime.datetime | None
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        e = delivery.event
        next_attempt_at = e.next_attempt_at if e.status == PENDING else None
        attempts = [AttemptOut.of(attempt) for attempt in delivery.attempts]
        return cls(
            e.id, e.event, e.message_id, e.sequence, e.status, e.payload, e.created_at, next_attempt_at, attempts
        )


class RecoverIn(Schema):
    since: datetime.datetime
    until: datetime.datetime | None = None

    @classmethod
    def rule_errors(cls, raw: dict[str, Any]) -> list[FieldError]:
        try:
            since, until = (as_utc(msgspec.convert(raw.get(k), datetime.datetime | None)) for k in ("since", "until"))
        except msgspec.ValidationError:
            return []  # named by the type check
        return window_errors(since, until) if since else []


class RecoverOut(Out):
    recovered: Annotated[int, msgspec.Meta(description="Failed events queued for delivery again")]


DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookLink(Schema):
    webhook_id: UUID
    traffic_account_id: UUID


class WebhookLinkOut(Out):
    webhook_id: UUID
    traffic_account_id: UUID


WEBHOOK_DISABLED = "`webhook_disabled`: the webhook is disabled (enable it with PUT)"


class WebhookController(Controller):
    path = "/Webhook"
    tags = ["webhooks"]

    @get("/", summary="The tenant's webhooks")
    async def list_webhooks(self, webhook_service: Webhooks, principal: Caller) -> list[WebhookOut]:
        return [WebhookOut.of(view) for view in await webhook_service.list(principal.tenant_id)]

    @post("/", summary="Create a webhook; the answer carries its signing secret")
    async def create_webhook(
        self, webhook_service: Webhooks, principal: Caller, data: JSONBody[WebhookIn]
    ) -> CreatedWebhookOut:
        view, secret = await webhook_service.create(principal.tenant_id, data.input())
        return CreatedWebhookOut(**msgspec.structs.asdict(WebhookOut.of(view)), secret=secret)

    @get("/{webhook_id:str}", summary="One webhook")
    async def get_webhook(self, webhook_service: Webhooks, principal: Caller, webhook_id: FromPath[UUID]) -> WebhookOut:
        return WebhookOut.of(await webhook_service.view(await webhook_service.get(principal.tenant_id, webhook_id)))

    @put("/{webhook_id:str}", summary="Replace a webhook (triggers given replace the old ones)")
    async def replace_webhook(
        self,
        webhook_service: Webhooks,
        principal: Caller,
        webhook_id: FromPath[UUID],
        data: JSONBody[WebhookReplace],
    ) -> WebhookOut:
        view = await webhook_service.replace(principal.tenant_id, webhook_id, data.input(), data.enabled)
        return WebhookOut.of(view)

    @delete(
        "/{webhook_id:str}",
        summary="Delete a webhook (409 while linked, unless forceDelete=true)",
        responses={409: problem("`webhook_linked`: traffic accounts are linked to it and forceDelete is not true")},
    )
    async def delete_webhook(
        self,
        webhook_service: Webhooks,
        principal: Caller,
        webhook_id: FromPath[UUID],
        force_delete: Annotated[bool, QueryParameter(name="forceDelete")] = False,
    ) -> None:
        await webhook_service.delete(principal.tenant_id, webhook_id, force_delete)

    @get("/{webhook_id:str}/secret", summary="The webhook's signing secret")
    async def get_secret(
        self, webhook_service: Webhooks, principal: Caller, webhook_id: FromPath[UUID]
    ) -> WebhookSecretOut:
        return WebhookSecretOut((await webhook_service.get(principal.tenant_id, webhook_id)).secret)

    @post("/{webhook_id:str}/rotateSecret", status_code=HTTP_200_OK, summary="A new signing secret, shown once")
    async def rotate_secret(
        self, webhook_service: Webhooks, principal: Caller, webhook_id: FromPath[UUID]
    ) -> WebhookSecretOut:
        """For 24 hours the previous secret keeps signing beside the new one (space-separated signatures)."""
        return WebhookSecretOut(await webhook_service.rotate_secret(principal.tenant_id, webhook_id))

    @get("/{webhook_id:str}/deliveries", summary="The webhook's events with their delivery attempts")
    async def list_deliveries(
        self,
        webhook_service: Webhooks,
        principal: Caller,
        webhook_id: FromPath[UUID],
        status: Annotated[DeliveryStatus | None, QueryParameter(name="status")] = None,
        created_from: Annotated[datetime.datetime | None, QueryParameter(name="from")] = None,
        created_to: Annotated[datetime.datetime | None, QueryParameter(name="to")] = None,
        limit: Limit = 100,
        cursor: CursorParam = None,
    ) -> Page[DeliveryOut]:
        filters = DeliveryFilters(status, as_utc(created_from), as_utc(created_to))
        rows, next_cursor = await webhook_service.deliveries(
            principal.tenant_id, webhook_id, filters, limit, Cursor.decode(cursor)
        )
        return Page([DeliveryOut.of(row) for row in rows], next_cursor.encode() if next_cursor else None)

    @post(
        "/{webhook_id:str}/deliveries/{event_id:str}/replay",
        status_code=HTTP_202_ACCEPTED,
        summary="Deliver one event again (a new attempt, the same webhook-id)",
        responses={409: problem(f"{WEBHOOK_DISABLED}; `delivery_in_progress`: an attempt of this event is under way")},
    )
    async def replay_delivery(
        self,
        webhook_service: Webhooks,
        principal: Caller,
        webhook_id: FromPath[UUID],
        event_id: FromPath[UUID],
    ) -> DeliveryOut:
        return DeliveryOut.of(await webhook_service.replay(principal.tenant_id, webhook_id, event_id))

    @post(
        "/{webhook_id:str}/recover",
        status_code=HTTP_202_ACCEPTED,
        summary="Deliver again every event created in [since, until) whose delivery failed",
        responses={409: problem(WEBHOOK_DISABLED)},
    )
    async def recover(
        self,
        webhook_service: Webhooks,
        principal: Caller,
        webhook_id: FromPath[UUID],
        data: JSONBody[RecoverIn],
    ) -> RecoverOut:
        since, until = as_utc(data.since), as_utc(data.until)
        return RecoverOut(await webhook_service.recover(principal.tenant_id, webhook_id, since, until))


class WebhookTrafficAccountController(Controller):
    path = "/WebhookTrafficAccount"
    tags = ["webhooks"]

    @post("/ApplyWebhookForTrafficAccount", status_code=HTTP_200_OK, summary="Link a webhook to a traffic account")
    async def apply(self, webhook_service: Webhooks, principal: Caller, data: JSONBody[WebhookLink]) -> WebhookLinkOut:
        await webhook_service.link(principal.tenant_id, data.webhook_id, data.traffic_account_id)
        return WebhookLinkOut(data.webhook_id, data.traffic_account_id)

    @delete(
        "/DeleteWebhookForTrafficAccount",
        status_code=HTTP_204_NO_CONTENT,
        summary="Unlink a webhook from a traffic account (ids in the JSON body or the query)",
        operation_class=documented(body=Reference("#/components/schemas/WebhookLink"), body_required=False),
    )
    async def remove(
        self,
        webhook_service: Webhooks,
        request: Request,
        principal: Caller,
        webhook_id: Annotated[str | None, QueryParameter(name="webhookId")] = None,
        traffic_account_id: Annotated[str | None, QueryParameter(name="trafficAccountId")] = None,
    ) -> None:
        if (body := await request.body()).strip():
            link = parse_json(body, WebhookLink)
        else:
            query = {"webhookId": webhook_id, "trafficAccountId": traffic_account_id}
            link = parse({key: value for key, value in query.items() if value is not None}, WebhookLink)
        await webhook_service.unlink(principal.tenant_id, link.webhook_id, link.traffic_account_id)
