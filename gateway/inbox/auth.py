"""Signing in to the inbox: a customer's email and password (the API's login, with its lockout), kept in an
encrypted HttpOnly, SameSite=Strict session cookie, and every form checked against CSRF. Both cookies are
scoped to /inbox, so the JSON API never sees them.

The cookie is the client's, so forgetting it ends nothing: it also holds the customer's inbox session version
(Customer.inbox_session_version), checked on every request and bumped when the customer signs out. Signing out
thus ends all of the customer's inbox sessions, in every process, and a copied cookie opens nothing; the API's
tokens (Customer.token_version) stay valid."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from uuid import UUID

import jwt
from litestar import Request
from litestar.config.csrf import CSRFConfig
from litestar.di import NamedDependency
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import Customer
from gateway.settings import Settings
from gateway.tenants.auth import Principal

INBOX_PATH = "/inbox"
SESSION_COOKIE = "gateway_inbox"
CSRF_COOKIE = "gateway_inbox_csrf"


class SignInFirst(Exception):
    """No valid session: the inbox answers with a redirect to its sign-in page."""


@dataclass(frozen=True, slots=True)
class InboxUser:
    tenant_id: UUID
    customer_id: UUID
    email: str


def _key(settings: Settings, label: str) -> bytes:
    """A key of its own for each cookie, derived from the installation's first secret key."""
    return hmac.new(settings.secret_keys[0].encode(), f"inbox {label}".encode(), hashlib.sha256).digest()


class _Uncopied(DefineMiddleware):
    """Litestar deep-copies a router when it is registered; the session backend holds its cipher (AES-GCM),
    which can't be copied, and needs no copy."""

    def __deepcopy__(self, _memo: dict[int, object]) -> _Uncopied:
        return self


def middleware(settings: Settings) -> list[DefineMiddleware]:
    session = CookieBackendConfig(
        secret=_key(settings, "session"),  # AES-GCM: 32 bytes
        key=SESSION_COOKIE,
        path=INBOX_PATH,
        httponly=True,
        samesite="strict",
        secure=settings.public_base_url.startswith("https://"),
        max_age=settings.token_lifetime_seconds,
    )
    csrf = CSRFConfig(
        secret=_key(settings, "csrf").hex(),
        cookie_name=CSRF_COOKIE,
        cookie_path=INBOX_PATH,
        cookie_httponly=True,  # the token reaches the page in each form's hidden field, never read by scripts
        cookie_samesite="strict",
        cookie_secure=settings.public_base_url.startswith("https://"),
    )
    return [
        _Uncopied(SessionMiddleware, backend=ClientSideSessionBackend(config=session)),
        DefineMiddleware(CSRFMiddleware, config=csrf),
    ]


async def sign_in(request: Request, db_session: AsyncSession, token: str) -> None:
    """Keep the customer's API token (gateway.tenants.login) in the session: it expires, and a password
    change revokes it, exactly as the API's bearer token. With it, the inbox session version it must match."""
    customer = await db_session.get_one(Customer, UUID(request.app.state.runtime.token_issuer.verify(token)["sub"]))
    request.set_session({"token": token, "version": customer.inbox_session_version})


async def sign_out(request: Request, db_session: AsyncSession, user: InboxUser) -> None:
    """Ends every inbox session of the customer (all carry the version bumped here), not only this one."""
    await db_session.execute(
        update(Customer)
        .where(Customer.id == user.customer_id)
        .values(inbox_session_version=Customer.inbox_session_version + 1)
    )
    await db_session.commit()
    request.clear_session()


async def current_user(request: Request, db_session: NamedDependency[AsyncSession]) -> InboxUser:
    """The signed-in customer; SignInFirst when there is none (no session, an expired or revoked token, a
    session the customer signed out of)."""
    session = request.session or {}
    token, version = session.get("token"), session.get("version")
    if not isinstance(token, str):
        raise SignInFirst
    runtime = request.app.state.runtime
    try:
        claims = runtime.token_issuer.verify(token)
        customer_id, tenant_id = UUID(claims["sub"]), UUID(claims["tenant"])
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise SignInFirst from None
    customer = await db_session.get(Customer, customer_id)
    if customer is None or (customer.tenant_id, customer.token_version) != (tenant_id, claims["ver"]):
        raise SignInFirst
    if customer.inbox_session_version != version:  # signed out since (here or in another browser)
        raise SignInFirst
    return InboxUser(tenant_id, customer_id, customer.email)


def principal(user: NamedDependency[InboxUser]) -> Principal:
    """The signed-in customer as the API's services know their caller: the inbox takes them from the API's
    providers (gateway.api.deps), which take it."""
    return Principal(user.tenant_id, customer_id=user.customer_id)
