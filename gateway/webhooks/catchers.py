"""Webhook catchers: URLs of the gateway's own (``/sandbox/catchers/<id>``) that store every request they
receive, so a test can point a webhook at one and read what was delivered, with whether its Standard
Webhooks signature verified. A catcher can be told to answer a given status to its next N requests (to
test retries); it answers 200 otherwise.

A catcher's URL is allowed as a webhook URL even where private addresses are refused
(GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS=false): it is the gateway itself, at GATEWAY_PUBLIC_URL.
"""

from __future__ import annotations

import functools
import re
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from gateway.channel_routes import SANDBOX
from gateway.lib.clock import now
from gateway.lib.db import stored_text
from gateway.lib.pagination import Cursor, page_query
from gateway.lib.problems import not_found
from gateway.models import SandboxCatcher, SandboxCatcherRequest, Webhook
from gateway.settings import Settings

CATCHERS = f"{SANDBOX}/catchers"
BODY_KEPT = 65536  # bytes of a request's body stored
OK = 200
_UUID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def catcher_url(public_url: str, catcher_id: UUID) -> str:
    return f"{public_url.rstrip('/')}{CATCHERS}/{catcher_id}"


def catchers_at(settings: Settings) -> str | None:
    """Where the webhook catchers are served (this gateway's address), None when they aren't."""
    return settings.public_base_url if settings.sandbox_enabled else None


def is_catcher_url(url: str, public_url: str | None) -> bool:
    """Whether ``url`` is exactly a catcher's URL on this gateway (no other path, no query: nothing else of
    the gateway's own address becomes reachable as a webhook target). ``public_url`` None: catchers are
    not served (GATEWAY_SANDBOX=false)."""
    return public_url is not None and _catcher_url(public_url).fullmatch(url) is not None


@functools.lru_cache(maxsize=16)
def _catcher_url(public_url: str) -> re.Pattern[str]:
    """Compiled once: the deliverer asks at every attempt."""
    return re.compile(re.escape(public_url.rstrip("/") + CATCHERS + "/") + _UUID)


class CatcherService:
    def __init__(self, session: AsyncSession, public_url: str) -> None:
        self.session = session
        self.public_url = public_url

    def url(self, catcher: SandboxCatcher) -> str:
        return catcher_url(self.public_url, catcher.id)

    async def create(self, tenant_id: UUID) -> SandboxCatcher:
        catcher = SandboxCatcher(tenant_id=tenant_id, answer_status=None, answer_remaining=0)
        self.session.add(catcher)
        await self.session.commit()
        return catcher

    async def list(self, tenant_id: UUID) -> list[SandboxCatcher]:
        query = select(SandboxCatcher).where(SandboxCatcher.tenant_id == tenant_id)
        return list(await self.session.scalars(query.order_by(SandboxCatcher.created_at, SandboxCatcher.id)))

    async def get(self, tenant_id: UUID, catcher_id: UUID) -> SandboxCatcher:
        catcher = await self.session.scalar(
            select(SandboxCatcher).where(SandboxCatcher.id == catcher_id, SandboxCatcher.tenant_id == tenant_id)
        )
        if catcher is None:
            raise not_found("catcher", "catcherId")
        return catcher

    async def delete(self, tenant_id: UUID, catcher_id: UUID) -> None:
        await self.session.delete(await self.get(tenant_id, catcher_id))  # its requests go with it (CASCADE)
        await self.session.commit()

    async def answer(self, tenant_id: UUID, catcher_id: UUID, status: int, count: int) -> SandboxCatcher:
        """Answer ``status`` to the next ``count`` requests (0: 200 again from now on)."""
        catcher = await self.get(tenant_id, catcher_id)
        catcher.answer_status, catcher.answer_remaining = (status, count) if count else (None, 0)
        await self.session.commit()
        return catcher

    async def requests(
        self, tenant_id: UUID, catcher_id: UUID, limit: int, cursor: Cursor | None
    ) -> tuple[list[SandboxCatcherRequest], Cursor | None]:
        await self.get(tenant_id, catcher_id)
        query = select(SandboxCatcherRequest).where(SandboxCatcherRequest.catcher_id == catcher_id)
        return await page_query(
            self.session, query, SandboxCatcherRequest, limit, cursor, SandboxCatcherRequest.received_at
        )

    async def receive(self, catcher_id: UUID, method: str, headers: dict[str, str], body: bytes) -> int | None:
        """Store a request to the catcher; the status to answer, None when there is no such catcher.
        Counting down the statuses to answer is one conditional UPDATE: concurrent requests each take
        one of them."""
        tenant_id = await self.session.scalar(select(SandboxCatcher.tenant_id).where(SandboxCatcher.id == catcher_id))
        if tenant_id is None:
            return None
        table = SandboxCatcher.__table__
        status = await self.session.scalar(
            update(table)
            .where(table.c.id == catcher_id, table.c.answer_remaining > 0)
            .values(answer_remaining=table.c.answer_remaining - 1)
            .returning(table.c.answer_status)
        )
        verified, webhook_id = await self._verify(tenant_id, catcher_id, headers, body)
        self.session.add(
            SandboxCatcherRequest(
                tenant_id=tenant_id,
                catcher_id=catcher_id,
                received_at=now(),
                method=method,
                headers=headers,
                body=stored_text(body, BODY_KEPT),
                answered_status=status or OK,
                signature_verified=verified,
                webhook_id=webhook_id,
            )
        )
        await self.session.commit()
        return status or OK

    async def _verify(
        self, tenant_id: UUID, catcher_id: UUID, headers: dict[str, str], body: bytes
    ) -> tuple[bool | None, UUID | None]:
        """Whether the Standard Webhooks signature verified against the secret (or the previous one) of the
        tenant's webhook whose URL is this catcher's, and that webhook; None when there is no such webhook
        or the request is unsigned."""
        webhooks = list(
            await self.session.scalars(
                select(Webhook)
                .where(Webhook.tenant_id == tenant_id, Webhook.url == catcher_url(self.public_url, catcher_id))
                .order_by(Webhook.created_at, Webhook.id)
            )
        )
        if not webhooks:
            return None, None
        if "webhook-signature" not in headers:
            return None, webhooks[0].id
        for webhook in webhooks:
            for secret in (webhook.secret, webhook.previous_secret):
                if secret and _verifies(secret, headers, body):
                    return True, webhook.id
        return False, webhooks[0].id


def _verifies(secret: str, headers: dict[str, str], body: bytes) -> bool:
    try:
        Verifier(secret).verify(body, headers, json_parse=False)
    except (WebhookVerificationError, ValueError):  # ValueError: a body that isn't UTF-8
        return False
    return True
