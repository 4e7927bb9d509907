"""Who is calling: customers (JWT or API key) on /api, the operator (admin token) on /admin.

Litestar's JWTAuth takes a single secret; we need a key list with ``kid`` for rotation, tokens
revoked by a password change, and API keys as a second scheme, so the middleware is our own
(on Litestar's AbstractAuthenticationMiddleware).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import jwt
from advanced_alchemy.extensions.litestar import SQLAlchemyAsyncConfig
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lib.crypto import api_key_digest
from gateway.lib.lookups import Lookups
from gateway.lib.problems import Problem
from gateway.models import ApiKey, Customer

API_KEY_HEADER = "X-Mitto-API-Key"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a customer endpoint."""

    tenant_id: UUID
    customer_id: UUID | None = None  # set when authenticated by a customer's token
    api_key_id: UUID | None = None  # set when authenticated by an API key
    # The traffic account the API key is bound to (a channel's compatible API sends through it), if any.
    traffic_account_id: UUID | None = None


def key_id(secret: str) -> str:
    """The ``kid`` of a signing key: derived from it, so GATEWAY_JWT_KEYS needs no ids of its own."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class TokenIssuer:
    keys: tuple[str, ...]
    lifetime_seconds: int

    def issue(self, customer: Customer, now: datetime.datetime | None = None) -> tuple[str, datetime.datetime]:
        now = now or datetime.datetime.now(datetime.UTC)
        expires = now + datetime.timedelta(seconds=self.lifetime_seconds)
        claims = {
            "sub": str(customer.id),
            "tenant": str(customer.tenant_id),
            "ver": customer.token_version,
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
        }
        token = jwt.encode(claims, self.keys[0], algorithm="HS256", headers={"kid": key_id(self.keys[0])})
        return token, expires.replace(microsecond=0)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token signed by any configured key; raises jwt.InvalidTokenError otherwise."""
        kid = jwt.get_unverified_header(token).get("kid")
        secret = next((key for key in self.keys if hmac.compare_digest(key_id(key), str(kid))), None)
        if secret is None:
            raise jwt.InvalidTokenError("unknown signing key")
        return jwt.decode(
            token, secret, algorithms=["HS256"], options={"require": ["exp", "iat", "sub", "tenant", "ver"]}
        )


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="gateway"'})


class CustomerAuthMiddleware(AbstractAuthenticationMiddleware):
    """Accepts ``Authorization: Bearer <jwt>`` or ``X-Mitto-API-Key: <key>``."""

    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        state = connection.app.state
        runtime = state.runtime
        db_config: SQLAlchemyAsyncConfig = runtime.db_config
        lookups: Lookups = runtime.lookups

        def provide_session() -> AsyncSession:
            return db_config.provide_session(state, connection.scope)  # the one the handler gets as ``db_session``

        if api_key := connection.headers.get(API_KEY_HEADER):
            digest = api_key_digest(api_key)

            async def load_key() -> Principal:
                query = select(ApiKey).where(ApiKey.digest == digest, ApiKey.revoked_at.is_(None))
                if (key := await provide_session().scalar(query)) is None:
                    # Raised, so not remembered: made-up keys must not crowd the valid ones out.
                    raise unauthorized("The API key is not valid or has been revoked.")
                return Principal(tenant_id=key.tenant_id, api_key_id=key.id, traffic_account_id=key.traffic_account_id)

            principal = await lookups.remember(("api key", digest), load_key)
            return AuthenticationResult(user=principal, auth="api key")
        scheme, _, token = connection.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized(f"Authenticate with `Authorization: Bearer <token>` or `{API_KEY_HEADER}: <key>`.")
        issuer: TokenIssuer = runtime.token_issuer
        try:
            claims = issuer.verify(token.strip())
            customer_id, tenant_id = UUID(claims["sub"]), UUID(claims["tenant"])
        except (jwt.InvalidTokenError, ValueError, TypeError):
            raise unauthorized("The token is not valid or has expired.") from None

        async def load_customer() -> tuple[UUID, int] | None:
            customer = await provide_session().get(Customer, customer_id)
            return (customer.tenant_id, customer.token_version) if customer else None

        current = await lookups.remember(("customer", customer_id), load_customer)
        if current != (tenant_id, claims["ver"]):
            raise unauthorized("The token has been revoked.")
        return AuthenticationResult(user=Principal(tenant_id=tenant_id, customer_id=customer_id), auth=claims)


async def admin_guard(connection: ASGIConnection, _handler: Any) -> None:
    if not bears(connection, connection.app.state.runtime.settings.admin_token):
        raise unauthorized("The admin API needs `Authorization: Bearer <GATEWAY_ADMIN_TOKEN>`.")


def bears(connection: ASGIConnection, expected: str) -> bool:
    """Whether the request carries ``Authorization: Bearer <expected>`` (compared in constant time)."""
    scheme, _, token = connection.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode())
