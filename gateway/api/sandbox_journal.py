"""The test-control API of the sandbox providers: the journal of their exchanges with the gateway, and each
sandbox traffic account's provider behaviour. Sandbox accounts only: a live account (or another tenant's)
is a 404 here."""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec
from litestar import Controller, delete, get, put
from litestar.params import FromPath, JSONBody, QueryParameter

from channels.openapi import problem
from gateway.api.deps import Caller, DbSession
from gateway.api.messages import CursorParam, Limit, as_utc
from gateway.lib.pagination import Cursor
from gateway.lib.problems import invalid
from gateway.models import SandboxBehaviour, SandboxExchange
from gateway.sandbox_behaviour import (
    MAX_FAIL_NEXT,
    MAX_LATENCY_MS,
    Behaviour,
    behaviour_of,
    clear_behaviour,
    sandbox_account,
    set_behaviour,
)
from gateway.sandbox_journal import JournalFilters, exchanges
from gateway.schemas import Out, Page, Schema
from wire.errors import FieldError

NOT_SANDBOX = problem("`not_found`: no sandbox traffic account of the tenant has this id (a live account neither)")
Milliseconds = Annotated[int, msgspec.Meta(ge=0, le=MAX_LATENCY_MS)]


ACCOUNT = "account_id"  # the behaviour routes' path parameter, named by their 404


class ExchangeOut(Out):
    id: UUID
    traffic_account_id: UUID
    channel: str
    direction: Annotated[str, msgspec.Meta(description="request (gateway to provider) or callback (to the gateway)")]
    message_id: UUID | None
    destination: str | None
    method: str
    url: Annotated[str, msgspec.Meta(description="Secrets in it (a bot token, a ?token=) redacted")]
    request_headers: Annotated[dict[str, str], msgspec.Meta(description="Secret headers' values redacted")]
    request_body: Annotated[str, msgspec.Meta(description="The first 64 KB")]
    response_status: Annotated[int | None, msgspec.Meta(description="null: no answer (see error)")]
    response_headers: dict[str, str]
    response_body: Annotated[str, msgspec.Meta(description="The first 64 KB")]
    error: Annotated[str | None, msgspec.Meta(description="Why there was no answer (a timeout, a refusal)")]
    latency_ms: int
    occurred_at: datetime.datetime

    @classmethod
    def of(cls, e: SandboxExchange) -> ExchangeOut:
        return cls(
            e.id,
            e.traffic_account_id,
            e.channel,
            e.direction,
            e.message_id,
            e.destination,
            e.method,
            e.url,
            e.request_headers,
            e.request_body,
            e.response_status,
            e.response_headers,
            e.response_body,
            e.error,
            e.latency_ms,
            e.occurred_at,
        )


class LatencyRange(Schema):
    """A latency drawn at random for each send, from ``min`` to ``max`` milliseconds."""

    min: Milliseconds
    max: Milliseconds


class FailNext(Schema):
    """The next `count` sends answered `with`."""

    count: Annotated[int, msgspec.Meta(ge=0, le=MAX_FAIL_NEXT)]
    with_: Annotated[
        Literal["transient", "throttled", "timeout", "rejected"],
        msgspec.Meta(
            description="transient: the provider's 5xx (retried); throttled: its 429 with Retry-After (retried); "
            "timeout: no answer (retried); rejected: its permanent refusal (the message Fails with the "
            "channel's code)"
        ),
    ] = msgspec.field(name="with")


class BehaviourIn(Schema):
    latency_ms: Annotated[
        Milliseconds | LatencyRange,
        msgspec.Meta(description="Milliseconds before the provider answers each send: fixed, or {min, max}"),
    ] = 0
    error_rate: Annotated[
        float, msgspec.Meta(ge=0, le=1, description="Share of sends answered the provider's transient error")
    ] = 0.0
    fail_next: FailNext | None = None  # not Annotated: the field-by-field check looks into the struct

    @classmethod
    def rule_errors(cls, raw: dict[str, Any]) -> list[FieldError]:
        latency = raw.get("latencyMs")
        if isinstance(latency, dict) and all(type(latency.get(k)) is int for k in ("min", "max")):
            if latency["min"] > latency["max"]:
                return [FieldError("latencyMs.max", "must be at least latencyMs.min")]
        return []

    def behaviour(self) -> Behaviour:
        """The behaviour to set; a 400 when a rule beyond types is broken."""
        latency = self.latency_ms
        if errors := self.rule_errors(msgspec.to_builtins(self)):
            raise invalid(errors)
        low, high = (latency.min, latency.max) if isinstance(latency, LatencyRange) else (latency, latency)
        fail = self.fail_next if self.fail_next and self.fail_next.count else None
        return Behaviour(low, high, self.error_rate, fail.count if fail else 0, fail.with_ if fail else None)


class FailNextOut(Out):
    count: Annotated[int, msgspec.Meta(description="Sends still to fail")]
    with_: str = msgspec.field(name="with")


class BehaviourOut(Out):
    traffic_account_id: UUID
    latency_ms: int | LatencyRange
    error_rate: float
    fail_next: FailNextOut | None

    @classmethod
    def of(cls, account_id: UUID, row: SandboxBehaviour | None) -> BehaviourOut:
        if row is None:
            return cls(account_id, 0, 0.0, None)
        low, high = row.latency_min_ms, row.latency_max_ms
        fail = FailNextOut(row.fail_next_count, row.fail_next_with or "") if row.fail_next_count else None
        return cls(account_id, low if low == high else LatencyRange(low, high), row.error_rate, fail)


class SandboxJournalController(Controller):
    path = "/sandbox"
    tags = ["sandbox"]

    @get(
        "/requests",
        summary="The journal of sandbox provider exchanges, oldest first: the requests adapters sent, the "
        "callbacks providers made, each with the answer given (secrets redacted)",
        responses={404: NOT_SANDBOX},
    )
    async def list_requests(
        self,
        db_session: DbSession,
        principal: Caller,
        traffic_account_id: Annotated[UUID | None, QueryParameter(name="trafficAccountId")] = None,
        destination: Annotated[str | None, QueryParameter(name="destination")] = None,
        message_id: Annotated[UUID | None, QueryParameter(name="messageId")] = None,
        direction: Annotated[Literal["request", "callback"] | None, QueryParameter(name="direction")] = None,
        since: Annotated[
            datetime.datetime | None, QueryParameter(name="since", description="Exchanges at or after this time")
        ] = None,
        limit: Limit = 100,
        cursor: CursorParam = None,
    ) -> Page[ExchangeOut]:
        if traffic_account_id is not None:
            await sandbox_account(db_session, principal.tenant_id, traffic_account_id, "trafficAccountId")
        filters = JournalFilters(traffic_account_id, destination, message_id, direction, as_utc(since))
        rows, next_cursor = await exchanges(db_session, principal.tenant_id, filters, limit, Cursor.decode(cursor))
        return Page([ExchangeOut.of(e) for e in rows], next_cursor.encode() if next_cursor else None)

    @get(
        "/trafficAccounts/{account_id:str}/behaviour",
        summary="A sandbox account's provider behaviour (none set: no latency, no errors)",
        responses={404: NOT_SANDBOX},
    )
    async def get_behaviour(self, db_session: DbSession, principal: Caller, account_id: FromPath[UUID]) -> BehaviourOut:
        return BehaviourOut.of(account_id, await behaviour_of(db_session, principal.tenant_id, account_id, ACCOUNT))

    @put(
        "/trafficAccounts/{account_id:str}/behaviour",
        summary="Set a sandbox account's provider behaviour: a latency, a share of transient errors, the next "
        "N sends answered with a given failure (applies from the next send, in every worker)",
        responses={404: NOT_SANDBOX},
    )
    async def put_behaviour(
        self, db_session: DbSession, principal: Caller, account_id: FromPath[UUID], data: JSONBody[BehaviourIn]
    ) -> BehaviourOut:
        row = await set_behaviour(db_session, principal.tenant_id, account_id, data.behaviour(), ACCOUNT)
        return BehaviourOut.of(account_id, row)

    @delete(
        "/trafficAccounts/{account_id:str}/behaviour",
        summary="Clear a sandbox account's provider behaviour",
        responses={404: NOT_SANDBOX},
    )
    async def delete_behaviour(self, db_session: DbSession, principal: Caller, account_id: FromPath[UUID]) -> None:
        await clear_behaviour(db_session, principal.tenant_id, account_id, ACCOUNT)
