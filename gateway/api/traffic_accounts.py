"""Traffic accounts as a customer sees them: their own, without settings or credentials."""

from __future__ import annotations

import datetime
from uuid import UUID

from litestar import Controller, get
from litestar.params import FromPath

from gateway.api.deps import Caller, DbSession
from gateway.models import TrafficAccount
from gateway.schemas import Out
from gateway.tenants.traffic_accounts import TrafficAccountService


class TrafficAccountOut(Out):
    id: UUID
    name: str
    channel: str
    sandbox: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, account: TrafficAccount) -> TrafficAccountOut:
        return cls(account.id, account.name, account.channel, account.sandbox, account.created_at, account.updated_at)


class TrafficAccountController(Controller):
    path = "/trafficAccounts"
    tags = ["traffic accounts"]

    @get("/", summary="The tenant's traffic accounts")
    async def list_accounts(self, db_session: DbSession, principal: Caller) -> list[TrafficAccountOut]:
        return [TrafficAccountOut.of(a) for a in await TrafficAccountService(db_session).list(principal.tenant_id)]

    @get("/{account_id:str}", summary="One traffic account")
    async def get_account(
        self, db_session: DbSession, principal: Caller, account_id: FromPath[UUID]
    ) -> TrafficAccountOut:
        return TrafficAccountOut.of(await TrafficAccountService(db_session).get(principal.tenant_id, account_id))
