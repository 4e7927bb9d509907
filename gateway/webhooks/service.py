"""Webhook configuration, its links to traffic accounts, secret rotation, and the inspection and replay
of deliveries (delivering is the job of gateway.webhooks.deliverer)."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from uuid import UUID

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lib.clock import now
from gateway.lib.crypto import new_webhook_secret
from gateway.lib.netguard import url_problem
from gateway.lib.pagination import Cursor, page_query
from gateway.lib.problems import Problem, invalid, not_found
from gateway.lib.work_due import WorkDue
from gateway.models import TrafficAccount, Webhook, WebhookAttempt, WebhookEvent, WebhookTrafficAccount
from gateway.store import outbox
from gateway.store.outbox import FAILED
from gateway.tenants.repositories import WebhookRepository
from gateway.tenants.traffic_accounts import TrafficAccountService
from gateway.webhooks.catchers import is_catcher_url
from wire.errors import FieldError

events = structlog.get_logger(__name__)

TRIGGERS = ("Delivered", "Failed", "Read", "UserMessage")
MAX_HEADERS = 20
MAX_LINKS = 1000  # traffic accounts one webhook can be linked to in one request
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
# Set by the delivery worker itself; a custom header must not override them.
RESERVED_HEADERS = {
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
}


@dataclass(frozen=True, slots=True)
class WebhookInput:
    url: str
    description: str
    triggers: Sequence[str]
    headers: dict[str, str]
    link_ids: Sequence[UUID] | None  # None: leave the links as they are


@dataclass(frozen=True, slots=True)
class WebhookView:
    webhook: Webhook
    headers: dict[str, str]
    linked: list[UUID]


@dataclass(frozen=True, slots=True)
class DeliveryFilters:
    status: str | None = None
    created_from: datetime.datetime | None = None
    created_to: datetime.datetime | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    event: WebhookEvent
    attempts: list[WebhookAttempt]


class WebhookService:
    def __init__(
        self,
        session: AsyncSession,
        allow_private_urls: bool,
        work_due: WorkDue | None = None,
        catchers_at: str | None = None,
        kinds: tuple[str, ...] = (outbox.CHAT,),
    ) -> None:
        self.session = session
        # The kinds of webhook it shows and acts on: the webhook API only the customer's own (``chat``); the
        # inbox the compatible APIs' too (gateway.store.outbox), whose deliveries a tester wants to see.
        self.kinds = kinds
        self.allow_private_urls = allow_private_urls
        self.catchers_at = catchers_at  # the gateway's address, where its webhook catchers are (None: not served)
        self.work_due = work_due or WorkDue()  # tells the deliverers of events due now
        self.webhooks = WebhookRepository(session=session)

    async def create(self, tenant_id: UUID, data: WebhookInput) -> tuple[WebhookView, str]:
        await self._validate(tenant_id, data)
        secret = new_webhook_secret()
        webhook = Webhook(
            tenant_id=tenant_id,
            url=data.url,
            description=data.description,
            triggers=_unique(data.triggers),
            headers=json.dumps(data.headers),
            secret=secret,
            enabled=True,
        )
        await self.webhooks.add(webhook)
        await self._set_links(tenant_id, webhook.id, data.link_ids or [])
        await self.session.commit()
        return await self.view(webhook), secret

    async def replace(self, tenant_id: UUID, webhook_id: UUID, data: WebhookInput, enabled: bool | None) -> WebhookView:
        webhook = await self.get(tenant_id, webhook_id, lock=True)
        await self._validate(tenant_id, data)
        webhook.url, webhook.description = data.url, data.description
        webhook.triggers, webhook.headers = _unique(data.triggers), json.dumps(data.headers)
        reenabled, disabled = enabled and not webhook.enabled, enabled is False and webhook.enabled
        if reenabled:
            # Back from disabled: its run of failures is forgotten, and what waited is due now.
            webhook.failing_since = None
            await outbox.pull_forward(self.session, webhook.id, now())
        if enabled is not None:
            webhook.enabled = enabled
        if data.link_ids is not None:
            await self._set_links(tenant_id, webhook.id, data.link_ids)
        await self.session.commit()
        if reenabled:
            events.info("webhook enabled", webhook_id=webhook.id, tenant_id=tenant_id)
            await self.work_due.webhooks()
        elif disabled:
            events.info("webhook disabled", webhook_id=webhook.id, tenant_id=tenant_id, why="disabled through the API")
        return await self.view(webhook)

    async def list(self, tenant_id: UUID) -> list[WebhookView]:
        webhooks = await self.session.scalars(
            select(Webhook)
            .where(Webhook.tenant_id == tenant_id, Webhook.kind.in_(self.kinds))
            .order_by(Webhook.created_at, Webhook.id)
        )
        links = await self.session.execute(
            select(WebhookTrafficAccount.webhook_id, WebhookTrafficAccount.traffic_account_id)
            .where(WebhookTrafficAccount.tenant_id == tenant_id)
            .order_by(WebhookTrafficAccount.traffic_account_id)
        )
        linked: dict[UUID, list[UUID]] = {}
        for webhook_id, account_id in links:
            linked.setdefault(webhook_id, []).append(account_id)
        return [WebhookView(w, json.loads(w.headers), linked.get(w.id, [])) for w in webhooks]

    async def get(self, tenant_id: UUID, webhook_id: UUID, field: str | None = None, lock: bool = False) -> Webhook:
        """``lock``: hold the row until commit, so concurrent replacements of its links run one after another."""
        webhook = await self.webhooks.get_owned(tenant_id, webhook_id, lock=lock)
        if webhook is None or webhook.kind not in self.kinds:
            raise not_found("webhook", field)
        return webhook

    async def view(self, webhook: Webhook) -> WebhookView:
        linked = await self.session.scalars(
            select(WebhookTrafficAccount.traffic_account_id)
            .where(WebhookTrafficAccount.webhook_id == webhook.id)
            .order_by(WebhookTrafficAccount.traffic_account_id)
        )
        return WebhookView(webhook, json.loads(webhook.headers), list(linked))

    async def delete(self, tenant_id: UUID, webhook_id: UUID, force: bool) -> None:
        webhook = await self.get(tenant_id, webhook_id)
        linked = (await self.view(webhook)).linked
        if linked and not force:
            raise Problem(
                409,
                "webhook_linked",
                f"The webhook is linked to {len(linked)} traffic account(s); unlink them or pass forceDelete=true.",
            )
        await self.webhooks.delete(webhook.id)  # links go with it (ON DELETE CASCADE)
        await self.session.commit()

    async def link(self, tenant_id: UUID, webhook_id: UUID, account_id: UUID) -> None:
        await self.get(tenant_id, webhook_id, "webhookId")
        await TrafficAccountService(self.session).get(tenant_id, account_id, "trafficAccountId")
        exists = await self.session.scalar(
            select(WebhookTrafficAccount.id).where(
                WebhookTrafficAccount.webhook_id == webhook_id, WebhookTrafficAccount.traffic_account_id == account_id
            )
        )
        if exists is None:
            self.session.add(
                WebhookTrafficAccount(tenant_id=tenant_id, webhook_id=webhook_id, traffic_account_id=account_id)
            )
            try:
                await self.session.commit()
            except IntegrityError:
                await self.session.rollback()
                # A concurrent request linked the same pair first (harmless), or deleted one of the two.
                await self.link(tenant_id, webhook_id, account_id)

    async def unlink(self, tenant_id: UUID, webhook_id: UUID, account_id: UUID) -> None:
        await self.get(tenant_id, webhook_id, "webhookId")
        await TrafficAccountService(self.session).get(tenant_id, account_id, "trafficAccountId")
        await self.session.execute(
            delete(WebhookTrafficAccount).where(
                WebhookTrafficAccount.webhook_id == webhook_id, WebhookTrafficAccount.traffic_account_id == account_id
            )
        )
        await self.session.commit()

    async def rotate_secret(self, tenant_id: UUID, webhook_id: UUID) -> str:
        """A new signing secret; the old one keeps signing beside it for a day (gateway.webhooks.signing)."""
        webhook = await self.get(tenant_id, webhook_id, lock=True)
        webhook.previous_secret, webhook.secret = webhook.secret, new_webhook_secret()
        webhook.secret_rotated_at = now()
        await self.session.commit()
        return webhook.secret

    async def deliveries(
        self, tenant_id: UUID, webhook_id: UUID, filters: DeliveryFilters, limit: int, cursor: Cursor | None
    ) -> tuple[list[Delivery], Cursor | None]:
        """The webhook's events in creation order, each with its attempts."""
        await self.get(tenant_id, webhook_id)
        query = select(WebhookEvent).where(WebhookEvent.webhook_id == webhook_id, WebhookEvent.tenant_id == tenant_id)
        if filters.status:
            query = query.where(WebhookEvent.status == filters.status)
        if filters.created_from:
            query = query.where(WebhookEvent.created_at >= filters.created_from)
        if filters.created_to:
            query = query.where(WebhookEvent.created_at < filters.created_to)
        events, next_cursor = await page_query(self.session, query, WebhookEvent, limit, cursor)
        return await with_attempts(self.session, events), next_cursor

    async def replay(self, tenant_id: UUID, webhook_id: UUID, event_id: UUID) -> Delivery:
        """Deliver the event again, now, with a fresh retry schedule and the same ``webhook-id``."""
        await self._enabled(tenant_id, webhook_id)
        owned = (
            WebhookEvent.id == event_id,
            WebhookEvent.webhook_id == webhook_id,
            WebhookEvent.tenant_id == tenant_id,
        )
        replayed = await outbox.redeliver(self.session, *owned, at=now())
        await self.session.commit()
        if replayed:
            await self.work_due.webhooks()
        event = await self.session.scalar(select(WebhookEvent).where(*owned).execution_options(populate_existing=True))
        if event is None:
            raise not_found("delivery", "eventId")
        if not replayed:
            raise Problem(409, "delivery_in_progress", "An attempt of this event is under way; replay it after that.")
        attempts = await self.session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.webhook_event_id == event.id)
            .order_by(WebhookAttempt.attempted_at)
        )
        return Delivery(event, list(attempts))

    async def recover(
        self, tenant_id: UUID, webhook_id: UUID, since: datetime.datetime, until: datetime.datetime | None
    ) -> int:
        """Deliver again every event created in [since, until) whose delivery failed; how many."""
        if errors := window_errors(since, until):
            raise invalid(errors)
        await self._enabled(tenant_id, webhook_id)
        window = [WebhookEvent.created_at >= since] + ([WebhookEvent.created_at < until] if until else [])
        failed = (
            WebhookEvent.webhook_id == webhook_id,
            WebhookEvent.tenant_id == tenant_id,
            WebhookEvent.status == FAILED,
        )
        recovered = await outbox.redeliver(self.session, *failed, *window, at=now())
        await self.session.commit()
        if recovered:
            await self.work_due.webhooks()
        return recovered

    async def _enabled(self, tenant_id: UUID, webhook_id: UUID) -> Webhook:
        webhook = await self.get(tenant_id, webhook_id, "webhookId")
        if not webhook.enabled:
            raise Problem(
                409, "webhook_disabled", "The webhook is disabled; enable it (PUT with enabled: true) to deliver again."
            )
        return webhook

    async def _validate(self, tenant_id: UUID, data: WebhookInput) -> None:
        errors = trigger_errors(data.triggers)
        own = is_catcher_url(data.url, self.catchers_at)  # the gateway itself: allowed though it is private
        if problem := await url_problem(data.url, allow_private=self.allow_private_urls or own):
            errors.append(FieldError("url", problem))
        errors += header_errors(data.headers)
        if errors:
            raise invalid(errors)
        if data.link_ids:
            owned = set(
                await self.session.scalars(
                    select(TrafficAccount.id).where(
                        TrafficAccount.tenant_id == tenant_id, TrafficAccount.id.in_(data.link_ids)
                    )
                )
            )
            if missing := [
                FieldError(f"linkTrafficAccountIds[{index}]", "no traffic account with this id")
                for index, account_id in enumerate(data.link_ids)
                if account_id not in owned
            ]:
                raise Problem(404, "not_found", "No traffic account with this id.", errors=missing)

    async def _set_links(self, tenant_id: UUID, webhook_id: UUID, account_ids: Sequence[UUID]) -> None:
        await self.session.execute(delete(WebhookTrafficAccount).where(WebhookTrafficAccount.webhook_id == webhook_id))
        self.session.add_all(
            WebhookTrafficAccount(tenant_id=tenant_id, webhook_id=webhook_id, traffic_account_id=account_id)
            for account_id in dict.fromkeys(account_ids)
        )


def trigger_errors(triggers: Sequence[str]) -> list[FieldError]:
    if not triggers:
        return [FieldError("webhookTriggers", f"needs at least one of {', '.join(TRIGGERS)}")]
    return [
        FieldError(f"webhookTriggers[{index}]", f"unknown trigger {trigger!r}; one of {', '.join(TRIGGERS)}")
        for index, trigger in enumerate(triggers)
        if trigger not in TRIGGERS
    ]


def window_errors(since: datetime.datetime, until: datetime.datetime | None) -> list[FieldError]:
    if until is not None and until <= since:
        return [FieldError("until", "must be later than since")]
    return []


def header_errors(headers: dict[str, str]) -> list[FieldError]:
    errors = []
    if len(headers) > MAX_HEADERS:
        errors.append(FieldError("headers", f"at most {MAX_HEADERS} custom headers"))
    seen: set[str] = set()
    for name, value in headers.items():
        if name.lower() in seen:
            errors.append(FieldError(f"headers.{name}", "is given twice (header names are case-insensitive)"))
        seen.add(name.lower())
        if not _HEADER_NAME.match(name):
            errors.append(FieldError(f"headers.{name}", "is not a valid HTTP header name"))
        elif name.lower() in RESERVED_HEADERS:
            errors.append(FieldError(f"headers.{name}", "is set by the gateway and can't be overridden"))
        if any(char in value for char in "\r\n\0") or len(value) > 4096:
            errors.append(FieldError(f"headers.{name}", "must be one line of at most 4096 characters"))
        elif not all(" " <= char <= "~" or char == "\t" for char in value):
            errors.append(FieldError(f"headers.{name}", "must be printable ASCII, as HTTP header values are"))
    return errors


def _unique(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))


async def with_attempts(session: AsyncSession, events: list[WebhookEvent]) -> list[Delivery]:
    """The events, each with its attempts in order."""
    attempts: dict[UUID, list[WebhookAttempt]] = {event.id: [] for event in events}
    for attempt in await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.webhook_event_id.in_(attempts))
        .order_by(WebhookAttempt.attempted_at, WebhookAttempt.id)
    ):
        attempts[attempt.webhook_event_id].append(attempt)
    return [Delivery(event, attempts[event.id]) for event in events]
