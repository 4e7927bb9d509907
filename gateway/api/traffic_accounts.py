"""Traffic accounts as a customer sees them: their own, without settings or credentials, with the URL the
provider sends their callbacks to."""

from __future__ import annotations

import datetime
from uuid import UUID

from litestar import Controller, get, post
from litestar.params import FromPath

from gateway.api.admin import REGISTER_RESPONSES, RegisteredCallbacks
from gateway.api.deps import Caller, DbSession, GatewayCallbacks, ProviderHttp
from gateway.models import TrafficAccount
from gateway.schemas import Out
from gateway.tenants.traffic_accounts import TrafficAccountService


class TrafficAccountOut(Out):
    id: UUID
    name: str
    channel: str
    sandbox: bool
    # Where the provider sends this account's callbacks (inbound messages): what to configure at the provider,
    # or registerCallbacks does it. Its token is the account's: rotateCallbackToken replaces it.
    callback_url: str
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, account: TrafficAccount, callback_url: str) -> TrafficAccountOut:
        return cls(
            account.id,
            account.name,
            account.channel,
            account.sandbox,
            callback_url,
            account.created_at,
            account.updated_at,
        )


class TrafficAccountController(Controller):
    path = "/trafficAccounts"
    tags = ["traffic accounts"]

    @get("/", summary="The tenant's traffic accounts")
    async def list_accounts(
        self, callbacks: GatewayCallbacks, db_session: DbSession, principal: Caller
    ) -> list[TrafficAccountOut]:
        accounts = await TrafficAccountService(db_session).list(principal.tenant_id)
        return [TrafficAccountOut.of(a, callbacks.account_callback_url(a)) for a in accounts]

    @get("/{account_id:str}", summary="One traffic account")
    async def get_account(
        self, callbacks: GatewayCallbacks, db_session: DbSession, principal: Caller, account_id: FromPath[UUID]
    ) -> TrafficAccountOut:
        account = await TrafficAccountService(db_session).get(principal.tenant_id, account_id)
        return TrafficAccountOut.of(account, callbacks.account_callback_url(account))

    @post(
        "/{account_id:str}/registerCallbacks",
        status_code=200,
        summary="Tell the provider to send this account's callbacks to its callbackUrl (the provider's webhook "
        "registration, for channels that have an API for it)",
        responses=REGISTER_RESPONSES,
    )
    async def register_callbacks(
        self,
        callbacks: GatewayCallbacks,
        provider_http: ProviderHttp,
        db_session: DbSession,
        principal: Caller,
        account_id: FromPath[UUID],
    ) -> RegisteredCallbacks:
        account = await TrafficAccountService(db_session).get(principal.tenant_id, account_id)
        return RegisteredCallbacks(await callbacks.register(provider_http, account))

    @post(
        "/{account_id:str}/rotateCallbackToken",
        status_code=200,
        summary="A new token in the account's callbackUrl: the URL shown before stops working "
        "(register the new one with registerCallbacks)",
    )
    async def rotate_callback_token(
        self, callbacks: GatewayCallbacks, db_session: DbSession, principal: Caller, account_id: FromPath[UUID]
    ) -> TrafficAccountOut:
        account = await TrafficAccountService(db_session).rotate_callback_token(principal.tenant_id, account_id)
        callbacks.lookups.clear()  # this process's next callback checks the new version at once
        return TrafficAccountOut.of(account, callbacks.account_callback_url(account))
