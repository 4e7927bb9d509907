"""Customer login and password change."""

from __future__ import annotations

import datetime
from typing import Annotated

import msgspec
from litestar import Controller, post
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from channels.openapi import problem
from gateway.api.deps import Caller, Login
from gateway.lib.problems import Problem
from gateway.schemas import Out, Schema

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class LoginRequest(Schema):
    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320)]
    password: Text


class LoginResponse(Out):
    token: str
    expires_at: datetime.datetime


class PasswordChange(Schema):
    old_password: Text
    new_password: Text


class LoginController(Controller):
    path = "/Customer"
    tags = ["customers"]

    @post(
        "/login",
        status_code=HTTP_200_OK,
        summary="Log in and get a JWT",
        responses={
            401: problem("`unauthorized`: wrong email or password (the same answer for both)"),
            429: problem("`login_locked`: too many failed logins for this email; retry after Retry-After"),
        },
    )
    async def login(self, login_service: Login, data: JSONBody[LoginRequest]) -> LoginResponse:
        token, expires_at = await login_service.login(data.email, data.password)
        return LoginResponse(token=token, expires_at=expires_at)


class PasswordController(Controller):
    path = "/Customer"
    tags = ["customers"]

    @post(
        "/password",
        status_code=HTTP_204_NO_CONTENT,
        summary="Change the password; earlier tokens stop working",
        responses={
            403: problem("`customer_token_required`: authenticated with an API key, not a customer's token"),
            429: problem("`login_locked`: too many failed logins for this email"),
        },
    )
    async def change_password(self, login_service: Login, principal: Caller, data: JSONBody[PasswordChange]) -> None:
        if principal.customer_id is None:
            raise Problem(
                403, "customer_token_required", "Changing a password needs a customer's token, not an API key."
            )
        await login_service.change_password(principal.customer_id, data.old_password, data.new_password)
