"""Customer login with a lockout after repeated failures, and password change."""

from __future__ import annotations

import datetime
import math
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lib.crypto import hash_password, verify_password
from gateway.lib.problems import Problem, invalid
from gateway.models import Customer, LoginFailure
from gateway.settings import Settings
from gateway.tenants.auth import TokenIssuer, unauthorized
from gateway.tenants.service import MAX_EMAIL_LENGTH, normalise_email, password_errors
from wire.errors import FieldError


class LoginService:
    def __init__(self, session: AsyncSession, settings: Settings, issuer: TokenIssuer) -> None:
        self.session = session
        self.settings = settings
        self.issuer = issuer

    async def login(self, email: str, password: str) -> tuple[str, datetime.datetime]:
        email = normalise_email(email)[:MAX_EMAIL_LENGTH]
        await self._count_attempt(email)
        customer = await self.session.scalar(select(Customer).where(Customer.email == email))
        # Verified even for an unknown email, so both failures take the same time and get the same answer.
        if not await verify_password(customer.password_hash if customer else None, password) or customer is None:
            raise unauthorized("The email or password is not correct.")
        await self._clear_attempts(email)
        return self.issuer.issue(customer)

    async def change_password(self, customer_id: UUID, old_password: str, new_password: str) -> None:
        customer = await self.session.get(Customer, customer_id)
        if customer is None:
            raise unauthorized("The token has been revoked.")
        await self._count_attempt(customer.email)
        errors = password_errors("newPassword", new_password)
        if new_password == old_password:
            errors.append(FieldError("newPassword", "must differ from the old password"))
        if not await verify_password(customer.password_hash, old_password):
            raise invalid([FieldError("oldPassword", "is not correct"), *errors])
        await self._clear_attempts(customer.email)
        if errors:
            raise invalid(errors)
        customer.password_hash = await hash_password(new_password)
        customer.token_version += 1  # every token issued before now stops working
        await self.session.commit()

    async def _count_attempt(self, email: str) -> None:
        """Refuse a locked email; otherwise count this attempt as a failure *before* the slow password
        check, so parallel guesses can't all pass the lockout together. A success clears the count."""
        await self._refuse_if_locked(email)
        now = datetime.datetime.now(datetime.UTC)
        window = datetime.timedelta(seconds=self.settings.login_window_seconds)
        # Rows that left the window are no longer counted for any email: prune them as we go.
        await self.session.execute(delete(LoginFailure).where(LoginFailure.failed_at <= now - window))
        self.session.add(LoginFailure(email=email, failed_at=now))
        await self.session.commit()

    async def _clear_attempts(self, email: str) -> None:
        await self.session.execute(delete(LoginFailure).where(LoginFailure.email == email))
        await self.session.commit()

    async def _refuse_if_locked(self, email: str) -> None:
        now = datetime.datetime.now(datetime.UTC)
        window = datetime.timedelta(seconds=self.settings.login_window_seconds)
        recent = list(
            await self.session.scalars(
                select(LoginFailure.failed_at)
                .where(LoginFailure.email == email, LoginFailure.failed_at > now - window)
                .order_by(LoginFailure.failed_at.desc())
                .limit(self.settings.login_max_failures)
            )
        )
        if len(recent) >= self.settings.login_max_failures:
            # Unlocked when the oldest of the last N failures leaves the window.
            retry_after = max(1, math.ceil((recent[-1] + window - now).total_seconds()))
            raise Problem(
                429,
                "login_locked",
                f"Too many failed logins for this email; try again in {retry_after} seconds.",
                headers={"Retry-After": str(retry_after)},
            )
