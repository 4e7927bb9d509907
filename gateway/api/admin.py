"""The operator's API under /admin (Authorization: Bearer <GATEWAY_ADMIN_TOKEN>); absent when no token is set."""

from __future__ import annotations

import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, delete, get, patch, post
from litestar.params import FromPath, JSONBody, QueryParameter

from channels.openapi import problem
from gateway.api.deps import DbSession, GatewayCallbacks, ProviderHttp
from gateway.lib.pagination import MAX_LIMIT, Cursor
from gateway.models import ApiKey, Tenant, TrafficAccount
from gateway.rate_limits import MAX_QUOTA
from gateway.schemas import Out, Page, Schema
from gateway.tenants.service import TenantService, bound_key_field, compatible_channels
from gateway.tenants.traffic_accounts import TrafficAccountService, credentials_of

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
RateLimitQuota = Annotated[
    int,
    msgspec.Meta(
        ge=1,
        le=MAX_QUOTA,
        description="Customer API requests per GATEWAY_RATE_LIMIT_WINDOW; null: GATEWAY_RATE_LIMIT_QUOTA",
    ),
]


class TenantIn(Schema):
    name: Name
    rate_limit_quota: RateLimitQuota | None = None


class TenantPatch(Schema):
    name: Name | None = None
    rate_limit_quota: RateLimitQuota | None | msgspec.UnsetType = msgspec.UNSET  # null: back to the default


class TenantOut(Out):
    id: UUID
    name: str
    rate_limit_quota: int | None  # null: the installation's GATEWAY_RATE_LIMIT_QUOTA
    created_at: datetime.datetime

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(tenant.id, tenant.name, tenant.rate_limit_quota, tenant.created_at)


class CustomerIn(Schema):
    email: Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+$", max_length=320)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class CustomerOut(Out):
    id: UUID
    email: str


# The channels that serve a compatible API, as the registry has them when the schemas are made: a key's field each.
BOUND_CHANNELS = compatible_channels()


def _bound_fields() -> list[tuple[str, Any, Any]]:
    """``<channel>TrafficAccountId`` for each channel that serves a compatible API: the traffic account a key is
    bound to there (its compatible API sends through it; null: the tenant's only account of the channel)."""
    described = Annotated[
        UUID | None, msgspec.Meta(description="The traffic account the key sends through on this compatible API")
    ]
    return [(bound_key_field(channel), described, None) for channel in BOUND_CHANNELS]


# Made from the registry: a field per channel that serves a compatible API (the gateway names none).
ApiKeyIn = msgspec.defstruct("ApiKeyIn", [("name", Name), *_bound_fields()], bases=(Schema,), module=__name__)
ApiKeyOut = msgspec.defstruct(
    "ApiKeyOut",
    [("id", UUID), ("name", str), ("key", str), *_bound_fields()],  # the key is shown this once: a digest is stored
    bases=(Out,),
    module=__name__,
)


def api_key_out(row: ApiKey, key: str, bound: TrafficAccount | None) -> Any:
    fields = {bound_key_field(bound.channel): bound.id} if bound and bound.channel in BOUND_CHANNELS else {}
    return ApiKeyOut(row.id, row.name, key, **fields)


def bound_accounts(data: Any) -> dict[str, UUID]:
    """The ``<channel>TrafficAccountId`` fields given, by channel."""
    return {channel: getattr(data, bound_key_field(channel)) for channel in BOUND_CHANNELS}


class TrafficAccountIn(Schema):
    name: Name
    channel: str
    sandbox: bool = False
    settings: dict[str, Any] = {}


class TrafficAccountPatch(Schema):
    name: Name | None = None
    sandbox: bool | None = None
    settings: dict[str, Any] | None = None  # JSON merge patch: given keys replace, null removes


class AdminTrafficAccountOut(Out):
    id: UUID
    tenant_id: UUID
    name: str
    channel: str
    sandbox: bool
    settings: dict[str, Any]  # the non-secret settings
    credentials: list[str]  # names of the credentials that are set; their values are never returned
    callback_url: str  # what to configure at the provider for this account's callbacks (inbound messages)
    created_at: datetime.datetime
    updated_at: datetime.datetime

    @classmethod
    def of(cls, a: TrafficAccount, callback_url: str) -> AdminTrafficAccountOut:
        return cls(
            a.id,
            a.tenant_id,
            a.name,
            a.channel,
            a.sandbox,
            a.settings,
            sorted(credentials_of(a)),
            callback_url,
            a.created_at,
            a.updated_at,
        )


class RegisteredCallbacks(Out):
    callback_url: str  # the URL the provider now sends the account's callbacks to: its callbackUrl


REGISTER_RESPONSES = {
    400: problem("`no_callback_registration`: the channel has no API for it (configure callbackUrl instead)"),
    502: problem("`provider_refused`: the provider refused the registration or could not be reached"),
}


class TenantController(Controller):
    path = "/admin/tenants"
    tags = ["admin"]

    @post("/", summary="Create a tenant")
    async def create_tenant(self, db_session: DbSession, data: JSONBody[TenantIn]) -> TenantOut:
        return TenantOut.of(await TenantService(db_session).create(data.name, rate_limit_quota=data.rate_limit_quota))

    @get("/", summary="Tenants, in creation order")
    async def list_tenants(
        self,
        db_session: DbSession,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=MAX_LIMIT)] = 100,
        cursor: Annotated[str | None, QueryParameter(name="cursor")] = None,
    ) -> Page[TenantOut]:
        tenants, next_cursor = await TenantService(db_session).page(limit, Cursor.decode(cursor))
        return Page([TenantOut.of(t) for t in tenants], next_cursor.encode() if next_cursor else None)

    @get("/{tenant_id:str}", summary="One tenant")
    async def get_tenant(self, db_session: DbSession, tenant_id: FromPath[UUID]) -> TenantOut:
        return TenantOut.of(await TenantService(db_session).get(tenant_id))

    @patch("/{tenant_id:str}", summary="Change a tenant's name or its rate-limit quota (null: the default)")
    async def update_tenant(
        self, db_session: DbSession, tenant_id: FromPath[UUID], data: JSONBody[TenantPatch]
    ) -> TenantOut:
        tenant = await TenantService(db_session).update(
            tenant_id, name=data.name, rate_limit_quota=data.rate_limit_quota
        )
        return TenantOut.of(tenant)

    @delete("/{tenant_id:str}", summary="Delete a tenant and everything it owns")
    async def delete_tenant(self, db_session: DbSession, tenant_id: FromPath[UUID]) -> None:
        await TenantService(db_session).delete(tenant_id)

    @post(
        "/{tenant_id:str}/customers",
        summary="Create a customer (login user) of a tenant",
        responses={409: problem("`email_taken`: a customer with this email exists (emails are unique)")},
    )
    async def create_customer(
        self, db_session: DbSession, tenant_id: FromPath[UUID], data: JSONBody[CustomerIn]
    ) -> CustomerOut:
        customer = await TenantService(db_session).create_customer(tenant_id, data.email, data.password)
        return CustomerOut(customer.id, customer.email)

    @post("/{tenant_id:str}/api-keys", summary="Create an API key; the key is in this answer only")
    async def create_api_key(
        self, db_session: DbSession, tenant_id: FromPath[UUID], data: JSONBody[ApiKeyIn]
    ) -> ApiKeyOut:
        return api_key_out(*await TenantService(db_session).create_api_key(tenant_id, data.name, bound_accounts(data)))

    @delete("/{tenant_id:str}/api-keys/{key_id:str}", summary="Revoke an API key")
    async def revoke_api_key(self, db_session: DbSession, tenant_id: FromPath[UUID], key_id: FromPath[UUID]) -> None:
        await TenantService(db_session).revoke_api_key(tenant_id, key_id)


class AdminTrafficAccountController(Controller):
    path = "/admin/tenants/{tenant_id:str}/traffic-accounts"
    tags = ["admin"]

    @post("/", summary="Create a traffic account")
    async def create_account(
        self,
        callbacks: GatewayCallbacks,
        db_session: DbSession,
        tenant_id: FromPath[UUID],
        data: JSONBody[TrafficAccountIn],
    ) -> AdminTrafficAccountOut:
        await TenantService(db_session).get(tenant_id)
        account = await TrafficAccountService(db_session).create(
            tenant_id, data.name, data.channel, data.sandbox, data.settings
        )
        return AdminTrafficAccountOut.of(account, callbacks.account_callback_url(account))

    @get("/", summary="The tenant's traffic accounts")
    async def list_accounts(
        self, callbacks: GatewayCallbacks, db_session: DbSession, tenant_id: FromPath[UUID]
    ) -> list[AdminTrafficAccountOut]:
        await TenantService(db_session).get(tenant_id)
        return [
            AdminTrafficAccountOut.of(a, callbacks.account_callback_url(a))
            for a in await TrafficAccountService(db_session).list(tenant_id)
        ]

    @get("/{account_id:str}", summary="One traffic account")
    async def get_account(
        self,
        callbacks: GatewayCallbacks,
        db_session: DbSession,
        tenant_id: FromPath[UUID],
        account_id: FromPath[UUID],
    ) -> AdminTrafficAccountOut:
        account = await TrafficAccountService(db_session).get(tenant_id, account_id)
        return AdminTrafficAccountOut.of(account, callbacks.account_callback_url(account))

    @patch("/{account_id:str}", summary="Change name, sandbox flag or settings (merge patch)")
    async def update_account(
        self,
        callbacks: GatewayCallbacks,
        db_session: DbSession,
        tenant_id: FromPath[UUID],
        account_id: FromPath[UUID],
        data: JSONBody[TrafficAccountPatch],
    ) -> AdminTrafficAccountOut:
        account = await TrafficAccountService(db_session).update(
            tenant_id, account_id, name=data.name, sandbox=data.sandbox, settings_patch=data.settings
        )
        return AdminTrafficAccountOut.of(account, callbacks.account_callback_url(account))

    @post(
        "/{account_id:str}/register-callbacks",
        status_code=200,
        summary="Tell the provider where to send this account's callbacks (the provider's webhook registration)",
        responses=REGISTER_RESPONSES,
    )
    async def register_callbacks(
        self,
        callbacks: GatewayCallbacks,
        provider_http: ProviderHttp,
        db_session: DbSession,
        tenant_id: FromPath[UUID],
        account_id: FromPath[UUID],
    ) -> RegisteredCallbacks:
        account = await TrafficAccountService(db_session).get(tenant_id, account_id)
        return RegisteredCallbacks(await callbacks.register(provider_http, account))

    @post(
        "/{account_id:str}/rotate-callback-token",
        status_code=200,
        summary="A new token in the account's callbackUrl: the URL shown before stops working",
    )
    async def rotate_callback_token(
        self,
        callbacks: GatewayCallbacks,
        db_session: DbSession,
        tenant_id: FromPath[UUID],
        account_id: FromPath[UUID],
    ) -> AdminTrafficAccountOut:
        account = await TrafficAccountService(db_session).rotate_callback_token(tenant_id, account_id)
        callbacks.lookups.clear()  # this process's next callback checks the new version at once
        return AdminTrafficAccountOut.of(account, callbacks.account_callback_url(account))

    @delete("/{account_id:str}", summary="Delete a traffic account")
    async def delete_account(
        self, request: Request, db_session: DbSession, tenant_id: FromPath[UUID], account_id: FromPath[UUID]
    ) -> None:
        await TrafficAccountService(db_session).delete(tenant_id, account_id)
