"""Resetting the tenant's sandbox data between tests (the local mock's test-control API)."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import msgspec
from litestar import Controller, delete
from litestar.status_codes import HTTP_200_OK

from gateway.api.deps import Caller, Reset
from gateway.messages.reset import Deleted
from gateway.schemas import Out


class DeletedOut(Out):
    """How many rows of each kind the reset deleted (0s: there was nothing to delete)."""

    messages: Annotated[int, msgspec.Meta(description="Messages of the tenant's sandbox traffic accounts")]
    message_events: Annotated[int, msgspec.Meta(description="Their status history entries")]
    webhook_events: Annotated[int, msgspec.Meta(description="Webhook deliveries of those messages")]
    webhook_attempts: Annotated[int, msgspec.Meta(description="Their delivery attempts")]
    conversations: int
    failover_chains: int
    pending_reports: Annotated[int, msgspec.Meta(description="Provider reports parked for a message not yet known")]
    requests: Annotated[int, msgspec.Meta(description="Entries of the sandbox journal (GET /api/v1/sandbox/requests)")]
    catcher_requests: Annotated[int, msgspec.Meta(description="Requests the tenant's webhook catchers received")]
    behaviours: Annotated[int, msgspec.Meta(description="Provider behaviours of the sandbox accounts (PUT .../behaviour)")]
    catcher_answers: Annotated[int, msgspec.Meta(description="Catchers told to answer otherwise (PUT .../answer), answering 200 again")]
    idempotency_keys: Annotated[int, msgspec.Meta(description="Idempotency-Keys with a stored answer")]

    @classmethod
    def of(cls, deleted: Deleted) -> DeletedOut:
        return cls(**dataclasses.asdict(deleted))


class SandboxDataController(Controller):
    path = "/sandbox/data"
    tags = ["sandbox"]

    @delete(
        "/",
        status_code=HTTP_200_OK,
        summary="Delete the tenant's sandbox messages, conversations, journal and catcher requests (before each test)",
    )
    async def reset_sandbox_data(self, sandbox_reset: Reset, principal: Caller) -> DeletedOut:
        """Deletes, for the tenant's sandbox traffic accounts only: messages with their status history,
        webhook events and attempts, conversations, failover chains and parked reports; and the tenant's
        sandbox journal, webhook catchers' requests and answered Idempotency-Keys (their answers name
        deleted messages: a test that reuses its keys sends again). Traffic accounts, webhooks, templates,
        catchers and API keys stay; live traffic accounts' messages are not touched. Sends, webhook
        deliveries and failover timers in flight find their rows gone and stop; a send accepted while the
        reset runs may be kept or deleted, one accepted after it is kept."""
        return DeletedOut.of(await sandbox_reset.reset(principal.tenant_id))
