"""The operator's API under /admin and the `gateway` CLI's tenant operations (issue 2, "Tenancy and operator
interface")."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncConnection

from gateway.app import create_app
from gateway.lib.db import create_engine
from gateway.models import Customer, TrafficAccount
from tests.conftest import ADMIN, ADMIN_TOKEN, assert_problem, make_settings, new_tenant

# UTC with seven fractional digits, as the Chat API writes them (DESIGN.md).
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@asynccontextmanager
async def _connect(client: AsyncTestClient) -> AsyncIterator[AsyncConnection]:
    """A connection of our own to the app's database (the app's engine lives on the test client's loop)."""
    engine = create_engine(client.app.state.runtime.settings.database_url)
    try:
        async with engine.connect() as connection:
            yield connection
    finally:
        await engine.dispose()


async def _raw_column(client: AsyncTestClient, table: sa.Table, column: str, row_id: str) -> Any:
    """A column of one row as the database holds it (no column type, so nothing is decrypted)."""
    query = sa.select(sa.literal_column(column)).select_from(table).where(table.c.id == uuid.UUID(row_id))
    async with _connect(client) as connection:
        return (await connection.execute(query)).scalar_one()


@dataclass
class BareTenant:
    """A tenant with an API key and sandbox sms and whatsapp accounts, but no customer (no password hashing)."""

    id: str
    api_key: str
    accounts: dict[str, str]

    @property
    def key(self) -> dict[str, str]:
        return {"X-Mitto-API-Key": self.api_key}


async def _bare_tenant(client: AsyncTestClient) -> BareTenant:
    tenant_id = (await _create_tenant(client))["id"]
    key = await client.post(f"/admin/tenants/{tenant_id}/api-keys", json={"name": "k"}, headers=ADMIN)
    assert key.status_code == 201, key.text
    accounts = {}
    for channel in ("sms", "whatsapp"):
        account = await client.post(
            f"/admin/tenants/{tenant_id}/traffic-accounts",
            json={"name": f"{channel} sandbox", "channel": channel, "sandbox": True},
            headers=ADMIN,
        )
        assert account.status_code == 201, account.text
        accounts[channel] = account.json()["id"]
    return BareTenant(tenant_id, key.json()["key"], accounts)


@pytest.fixture
async def bare(client: AsyncTestClient) -> BareTenant:
    return await _bare_tenant(client)


@pytest.fixture
async def other_bare(client: AsyncTestClient) -> BareTenant:
    return await _bare_tenant(client)


async def _create_tenant(client: AsyncTestClient, name: str = "acme") -> dict[str, Any]:
    response = await client.post("/admin/tenants", json={"name": name}, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


# --------------------------------------------------------------------------------------------------
# Authorization
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {ADMIN_TOKEN}"},
        {"Authorization": f"Bearer {ADMIN_TOKEN}x"},
        {"Authorization": "Bearer "},
    ],
    ids=["no-header", "wrong-token", "wrong-scheme", "token-with-suffix", "empty-token"],
)
async def test_admin_needs_the_admin_token(client, headers):
    name = _unique("intruder")
    refused = await client.get("/admin/tenants", headers=headers)
    assert_problem(refused, 401, "unauthorized")
    assert refused.headers["www-authenticate"].lower().startswith("bearer")
    assert_problem(await client.post("/admin/tenants", json={"name": name}, headers=headers), 401, "unauthorized")
    assert_problem(await client.get(f"/admin/tenants/{uuid.uuid4()}", headers=headers), 401, "unauthorized")
    assert_problem(await client.delete(f"/admin/tenants/{uuid.uuid4()}", headers=headers), 401, "unauthorized")
    async with _connect(client) as connection:
        created = await connection.scalar(sa.text("SELECT count(*) FROM tenant WHERE name = :name"), {"name": name})
    assert created == 0


async def test_customer_credentials_are_not_admin_credentials(client, tenant):
    assert_problem(await client.get("/admin/tenants", headers=tenant.bearer), 401, "unauthorized")
    assert_problem(await client.get("/admin/tenants", headers=tenant.key), 401, "unauthorized")


async def test_admin_api_is_absent_without_an_admin_token(client):
    settings = make_settings(client.app.state.runtime.settings.database_url, admin_token=None)
    async with AsyncTestClient(app=create_app(settings)) as no_admin:
        assert_problem(await no_admin.get("/admin/tenants", headers=ADMIN), 404, "not_found")
        assert_problem(await no_admin.get("/admin/tenants"), 404, "not_found")
        assert_problem(await no_admin.post("/admin/tenants", json={"name": "x"}, headers=ADMIN), 404, "not_found")
        assert_problem(
            await no_admin.post(f"/admin/tenants/{uuid.uuid4()}/api-keys", json={"name": "x"}, headers=ADMIN),
            404,
            "not_found",
        )
        # the rest of the app still works
        assert (await no_admin.get("/health")).status_code == 200


# --------------------------------------------------------------------------------------------------
# Tenants
# --------------------------------------------------------------------------------------------------


async def test_create_and_get_tenant(client):
    name = _unique("tenant")
    response = await client.post("/admin/tenants", json={"name": name}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "name", "rateLimitQuota", "createdAt"}
    assert body["name"] == name
    uuid.UUID(body["id"])
    assert TIMESTAMP.match(body["createdAt"]), body

    got = await client.get(f"/admin/tenants/{body['id']}", headers=ADMIN)
    assert got.status_code == 200, got.text
    assert got.json() == body


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "a", "b": 1}, "b"),
    ],
)
async def test_create_tenant_validation(client, payload, field):
    assert_problem(await client.post("/admin/tenants", json=payload, headers=ADMIN), 400, "validation_error", field)


async def test_timestamps_have_seven_digits(client, bare):
    created = await _create_tenant(client)
    assert TIMESTAMP.match(created["createdAt"]), created
    account = (await client.get(_accounts_url(bare.id, bare.accounts["sms"]), headers=ADMIN)).json()
    assert TIMESTAMP.match(account["createdAt"]) and TIMESTAMP.match(account["updatedAt"])


async def test_get_unknown_tenant(client):
    assert_problem(await client.get(f"/admin/tenants/{uuid.uuid4()}", headers=ADMIN), 404, "not_found")


async def test_tenant_list_pages_in_creation_order(client):
    created = [(await _create_tenant(client, _unique(f"page{i}")))["id"] for i in range(5)]

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        url = "/admin/tenants?limit=2" + (f"&cursor={cursor}" if cursor else "")
        response = await client.get(url, headers=ADMIN)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "nextCursor"}
        pages += 1
        for item in page["items"]:
            assert set(item) == {"id", "name", "rateLimitQuota", "createdAt"}
        seen += [item["id"] for item in page["items"]]
        cursor = page["nextCursor"]
        if cursor is None:
            assert 1 <= len(page["items"]) <= 2
            break
        assert len(page["items"]) == 2, page
        assert len(seen) == len(set(seen)), "a tenant was listed twice"

    assert len(seen) == len(set(seen)), "a tenant was listed twice"
    mine = [tenant_id for tenant_id in seen if tenant_id in created]
    assert mine == created  # every one exactly once, in creation order
    # the newest tenant is on the last page
    assert seen[-1] == created[-1]

    # without a limit, the default page holds them all in the same order
    whole = (await client.get("/admin/tenants?limit=500", headers=ADMIN)).json()
    if whole["nextCursor"] is None:
        assert [t["id"] for t in whole["items"]] == seen


async def test_tenant_list_cursor_continues_after_the_last_item(client):
    first = await _create_tenant(client, _unique("first"))
    await _create_tenant(client, _unique("second"))
    # walk to the page that ends with `first`: its cursor must continue with `second`
    cursor = None
    seen: set[str] = set()
    while True:
        page = (
            await client.get("/admin/tenants?limit=1" + (f"&cursor={cursor}" if cursor else ""), headers=ADMIN)
        ).json()
        cursor = page["nextCursor"]
        (item,) = page["items"]
        assert item["id"] not in seen, "a cursor led back to a tenant listed already"
        seen.add(item["id"])
        if item["id"] == first["id"]:
            break
        assert cursor is not None, "the new tenant was never listed"
    assert cursor is not None
    following = (await client.get(f"/admin/tenants?limit=1&cursor={cursor}", headers=ADMIN)).json()
    assert following["items"][0]["name"].startswith("second-")
    assert following["nextCursor"] is None


async def test_tenant_list_bad_cursor(client):
    # not base64 of anything; base64 of text without a timestamp; a timestamp with a bad id
    for cursor in ("garbage", "%%%", "bm90LWEtY3Vyc29y", "MjAyNC0wMS0wMVQwMDowMDowMHxub3QtYS11dWlk"):
        response = await client.get("/admin/tenants", params={"cursor": cursor}, headers=ADMIN)
        assert_problem(response, 400, "validation_error", "cursor")


async def test_tenant_list_bad_limit(client):
    for limit in ("0", "501", "-1", "abc", "1.5"):
        response = await client.get("/admin/tenants", params={"limit": limit}, headers=ADMIN)
        assert_problem(response, 400, "validation_error", "limit")


async def test_tenant_list_limit_bounds_are_accepted(client):
    await _create_tenant(client)
    one = await client.get("/admin/tenants?limit=1", headers=ADMIN)
    assert one.status_code == 200, one.text
    assert len(one.json()["items"]) == 1
    most = await client.get("/admin/tenants?limit=500", headers=ADMIN)
    assert most.status_code == 200, most.text


async def test_delete_tenant(client):
    created = await _create_tenant(client)
    response = await client.delete(f"/admin/tenants/{created['id']}", headers=ADMIN)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(await client.get(f"/admin/tenants/{created['id']}", headers=ADMIN), 404, "not_found")
    assert_problem(await client.delete(f"/admin/tenants/{created['id']}", headers=ADMIN), 404, "not_found")
    listed = (await client.get("/admin/tenants?limit=500", headers=ADMIN)).json()
    assert created["id"] not in {t["id"] for t in listed["items"]}


async def test_delete_tenant_cascades(client, other_bare):
    doomed = await new_tenant(client, channels=("sms",))
    assert (await client.get("/api/v1/trafficAccounts", headers=doomed.bearer)).status_code == 200
    assert (await client.get("/api/v1/trafficAccounts", headers=doomed.key)).status_code == 200

    assert (await client.delete(f"/admin/tenants/{doomed.id}", headers=ADMIN)).status_code == 204

    assert_problem(await client.get("/api/v1/trafficAccounts", headers=doomed.key), 401, "unauthorized")
    assert_problem(await client.get("/api/v1/trafficAccounts", headers=doomed.bearer), 401, "unauthorized")
    login = await client.post("/api/v1/Customer/login", json={"email": doomed.email, "password": doomed.password})
    assert_problem(login, 401, "unauthorized")
    async with _connect(client) as connection:
        table = TrafficAccount.__table__
        left = await connection.scalar(
            sa.select(sa.func.count()).select_from(table).where(table.c.id == uuid.UUID(doomed.accounts["sms"]))
        )
    assert left == 0

    # the email is free again
    reused = await client.post(
        f"/admin/tenants/{other_bare.id}/customers",
        json={"email": doomed.email, "password": "another good password"},
        headers=ADMIN,
    )
    assert reused.status_code == 201, reused.text
    assert reused.json()["email"] == doomed.email
    # the other tenant is untouched
    assert (await client.get("/api/v1/trafficAccounts", headers=other_bare.key)).status_code == 200


# --------------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------------


async def test_create_customer(client, bare):
    local = _unique("Mixed.Case")
    response = await client.post(
        f"/admin/tenants/{bare.id}/customers",
        json={"email": f"{local}@Example.COM", "password": "0123456789"},  # exactly 10 characters
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "email"}
    assert body["email"] == f"{local.lower()}@example.com"
    uuid.UUID(body["id"])
    # the customer can log in, with the email in any case
    login = await client.post(
        "/api/v1/Customer/login", json={"email": f"{local.upper()}@EXAMPLE.com", "password": "0123456789"}
    )
    assert login.status_code == 200, login.text


async def test_customer_password_is_an_argon2id_hash(client, bare):
    password = "a very secret password"
    response = await client.post(
        f"/admin/tenants/{bare.id}/customers",
        json={"email": f"{_unique('hash')}@example.com", "password": password},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    stored = await _raw_column(client, Customer.__table__, "password_hash", response.json()["id"])
    assert stored.startswith("$argon2id$"), stored
    assert password not in stored


async def test_customer_email_is_unique_across_the_installation(client, tenant, other_bare):
    email = f"{_unique('dup')}@example.com"
    first = await client.post(
        f"/admin/tenants/{tenant.id}/customers", json={"email": email, "password": "long enough pw"}, headers=ADMIN
    )
    assert first.status_code == 201, first.text
    for tenant_id, spelling in ((tenant.id, email), (other_bare.id, email), (other_bare.id, email.upper())):
        again = await client.post(
            f"/admin/tenants/{tenant_id}/customers",
            json={"email": spelling, "password": "long enough pw"},
            headers=ADMIN,
        )
        assert_problem(again, 409, "email_taken", "email")
    # the fixture customer's email is taken too, from another tenant
    taken = await client.post(
        f"/admin/tenants/{other_bare.id}/customers",
        json={"email": tenant.email, "password": "long enough pw"},
        headers=ADMIN,
    )
    assert_problem(taken, 409, "email_taken", "email")


CUSTOMER_CASES = (
    ({"email": "x@example.com", "password": "123456789"}, "password"),  # 9 characters
    ({"email": "x@example.com", "password": ""}, "password"),
    ({"email": "x@example.com"}, "password"),
    ({"email": "not-an-email", "password": "long enough pw"}, "email"),
    ({"email": "two@@example.com", "password": "long enough pw"}, "email"),
    ({"email": "has space@example.com", "password": "long enough pw"}, "email"),
    ({"email": "", "password": "long enough pw"}, "email"),
    ({"password": "long enough pw"}, "email"),
    ({"email": 5, "password": "long enough pw"}, "email"),
    ({"email": "x@example.com", "password": "long enough pw", "role": "admin"}, "role"),
)


async def test_create_customer_validation(client, bare):
    for payload, field in CUSTOMER_CASES:
        if payload.get("email") == "x@example.com":
            payload = {**payload, "email": f"{_unique('v')}@example.com"}
        response = await client.post(f"/admin/tenants/{bare.id}/customers", json=payload, headers=ADMIN)
        assert_problem(response, 400, "validation_error", field)
    async with _connect(client) as connection:
        table = Customer.__table__
        count = await connection.scalar(
            sa.select(sa.func.count()).select_from(table).where(table.c.tenant_id == uuid.UUID(bare.id))
        )
    assert count == 0


async def test_create_customer_of_unknown_tenant(client):
    response = await client.post(
        f"/admin/tenants/{uuid.uuid4()}/customers",
        json={"email": f"{_unique('ghost')}@example.com", "password": "long enough pw"},
        headers=ADMIN,
    )
    assert_problem(response, 404, "not_found")


# --------------------------------------------------------------------------------------------------
# API keys
# --------------------------------------------------------------------------------------------------


async def test_an_api_key_bound_to_an_sms_traffic_account(client, bare, other_tenant):
    """The SMS API (/sms) sends through the key's account; only an sms account of the tenant can be bound."""
    second = await client.post(
        f"/admin/tenants/{bare.id}/traffic-accounts",
        json={"name": "second", "channel": "sms", "sandbox": True},
        headers=ADMIN,
    )
    second_id = second.json()["id"]
    created = await client.post(
        f"/admin/tenants/{bare.id}/api-keys", json={"name": "sms", "smsTrafficAccountId": second_id}, headers=ADMIN
    )
    assert created.status_code == 201, created.text
    assert created.json()["smsTrafficAccountId"] == second_id
    sent = await client.post(
        "/sms",
        json={"from": "Acme", "to": "385912345678", "text": "Hi"},
        headers={"X-Mitto-API-Key": created.json()["key"]},
    )
    assert sent.status_code == 200, sent.text
    message = await client.get(
        f"/api/v1/Message/{sent.json()['id']}", headers={"X-Mitto-API-Key": created.json()["key"]}
    )
    assert message.json()["trafficAccountId"] == second_id
    for wrong in (other_tenant.accounts["sms"], bare.accounts.get("whatsapp"), str(uuid.uuid4()), "not-a-uuid"):
        refused = await client.post(
            f"/admin/tenants/{bare.id}/api-keys", json={"name": "x", "smsTrafficAccountId": wrong}, headers=ADMIN
        )
        assert_problem(refused, 400, "validation_error", "smsTrafficAccountId")


async def test_api_key_lifecycle(client, bare):
    response = await client.post(f"/admin/tenants/{bare.id}/api-keys", json={"name": "backend"}, headers=ADMIN)
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"id", "name", "key", "smsTrafficAccountId"}
    assert body["name"] == "backend" and body["smsTrafficAccountId"] is None  # unbound
    key = body["key"]
    assert len(key) >= 32

    listed = await client.get("/api/v1/trafficAccounts", headers={"X-Mitto-API-Key": key})
    assert listed.status_code == 200, listed.text
    assert {a["id"] for a in listed.json()} == set(bare.accounts.values())

    # only a SHA-256 digest is stored; the key itself is nowhere in the table
    async with _connect(client) as connection:
        rows = (await connection.execute(sa.text("SELECT * FROM api_key"))).all()
        digest_rows = (
            await connection.execute(
                sa.text("SELECT count(*) FROM api_key WHERE digest = :digest"),
                {"digest": hashlib.sha256(key.encode()).hexdigest()},
            )
        ).scalar_one()
    assert digest_rows == 1
    for row in rows:
        for value in row:
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            assert key not in text

    revoked = await client.delete(f"/admin/tenants/{bare.id}/api-keys/{body['id']}", headers=ADMIN)
    assert revoked.status_code == 204, revoked.text
    assert revoked.content == b""
    assert_problem(await client.get("/api/v1/trafficAccounts", headers={"X-Mitto-API-Key": key}), 401, "unauthorized")
    # the tenant's other key still works
    assert (await client.get("/api/v1/trafficAccounts", headers=bare.key)).status_code == 200


async def test_api_keys_are_distinct(client, bare):
    keys = [
        (await client.post(f"/admin/tenants/{bare.id}/api-keys", json={"name": "k"}, headers=ADMIN)).json()
        for _ in range(2)
    ]
    assert keys[0]["key"] != keys[1]["key"] and keys[0]["id"] != keys[1]["id"]
    assert keys[0]["key"] != bare.api_key


async def test_revoke_api_key_of_another_tenant(client, bare, other_bare):
    created = (await client.post(f"/admin/tenants/{bare.id}/api-keys", json={"name": "mine"}, headers=ADMIN)).json()
    response = await client.delete(f"/admin/tenants/{other_bare.id}/api-keys/{created['id']}", headers=ADMIN)
    assert_problem(response, 404, "not_found")
    # still valid
    still = await client.get("/api/v1/trafficAccounts", headers={"X-Mitto-API-Key": created["key"]})
    assert still.status_code == 200, still.text
    # unknown key id, unknown tenant
    assert_problem(
        await client.delete(f"/admin/tenants/{bare.id}/api-keys/{uuid.uuid4()}", headers=ADMIN), 404, "not_found"
    )


async def test_api_key_for_unknown_tenant_and_validation(client, bare):
    assert_problem(
        await client.post(f"/admin/tenants/{uuid.uuid4()}/api-keys", json={"name": "k"}, headers=ADMIN),
        404,
        "not_found",
    )
    assert_problem(
        await client.post(f"/admin/tenants/{bare.id}/api-keys", json={}, headers=ADMIN),
        400,
        "validation_error",
        "name",
    )
    assert_problem(
        await client.post(f"/admin/tenants/{bare.id}/api-keys", json={"name": ""}, headers=ADMIN),
        400,
        "validation_error",
        "name",
    )


# --------------------------------------------------------------------------------------------------
# Traffic accounts (admin)
# --------------------------------------------------------------------------------------------------

PUBLIC = {
    "sms": (),
    "telegram": (),
    "viber": (),
    "whatsapp": ("phoneNumberId", "wabaId"),
    "gbm": ("agentId",),
}
CREDENTIALS = {
    "sms": ("apiKey",),
    "telegram": ("botToken", "webhookSecret"),
    "viber": ("authToken",),
    "whatsapp": ("accessToken", "appSecret", "verifyToken"),
    "gbm": ("serviceAccountKey", "clientToken"),
}
# Credentials a live account may go without (Telegram's Updates are then taken on the callbackUrl's token).
OPTIONAL = {"telegram": ("webhookSecret",)}
CHANNELS = tuple(PUBLIC)


def _full_settings(channel: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """(settings to send, the public part, the secret part) for a live account of ``channel``."""
    public: dict[str, Any] = {key: f"{key}-{uuid.uuid4().hex[:8]}" for key in PUBLIC[channel]}
    public |= {"baseUrl": "https://provider.example.com/v2", "sendRate": 12.5}
    secrets = {key: f"SECRET{key}{uuid.uuid4().hex}" for key in CREDENTIALS[channel]}
    return {**public, **secrets}, public, secrets


def _accounts_url(tenant_id: str, account_id: str | None = None) -> str:
    return f"/admin/tenants/{tenant_id}/traffic-accounts" + (f"/{account_id}" if account_id else "")


async def _create_account(client: AsyncTestClient, tenant_id: str, **payload: Any) -> dict[str, Any]:
    response = await client.post(_accounts_url(tenant_id), json=payload, headers=ADMIN)
    assert response.status_code == 201, response.text
    return response.json()


def _assert_no_secret(response: Any, secrets: dict[str, str]) -> None:
    for value in secrets.values():
        assert value not in response.text, f"a credential leaked into {response.request.url}"


@pytest.mark.parametrize("channel", CHANNELS)
async def test_create_live_account_of_every_channel(client, bare, channel):
    settings, public, secrets = _full_settings(channel)
    response = await client.post(
        _accounts_url(bare.id),
        json={"name": f"live {channel}", "channel": channel, "sandbox": False, "settings": settings},
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    _assert_no_secret(response, secrets)
    body = response.json()
    assert {"id", "name", "channel", "sandbox", "settings", "credentials"} <= set(body)
    assert body["name"] == f"live {channel}"
    assert body["channel"] == channel
    assert body["sandbox"] is False
    assert body["settings"] == public
    assert body["credentials"] == sorted(CREDENTIALS[channel])
    uuid.UUID(body["id"])

    # encrypted at rest: the stored column holds none of the values, nor even their names in plain JSON
    stored = await _raw_column(client, TrafficAccount.__table__, "credentials", body["id"])
    stored_text = stored.decode("latin-1") if isinstance(stored, bytes) else str(stored)
    assert stored_text
    for key, value in secrets.items():
        assert value not in stored_text
        assert key not in stored_text

    # GET one and GET list: no secrets either, same shape
    one = await client.get(_accounts_url(bare.id, body["id"]), headers=ADMIN)
    assert one.status_code == 200, one.text
    _assert_no_secret(one, secrets)
    assert one.json() == body
    listed = await client.get(_accounts_url(bare.id), headers=ADMIN)
    assert listed.status_code == 200, listed.text
    _assert_no_secret(listed, secrets)
    assert body in listed.json()
    customer_view = await client.get(f"/api/v1/trafficAccounts/{body['id']}", headers=bare.key)
    assert customer_view.status_code == 200, customer_view.text
    _assert_no_secret(customer_view, secrets)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_live_account_without_credentials_names_each_missing_one(client, bare, channel):
    response = await client.post(
        _accounts_url(bare.id), json={"name": "live", "channel": channel, "sandbox": False}, headers=ADMIN
    )
    needed = [key for key in (*PUBLIC[channel], *CREDENTIALS[channel]) if key not in OPTIONAL.get(channel, ())]
    required = [f"settings.{key}" for key in needed]
    body = assert_problem(response, 400, "validation_error", *required)
    assert {error["field"] for error in body["errors"]} == set(required)

    # one credential missing: only that one is named
    settings, _, _ = _full_settings(channel)
    missing = [key for key in CREDENTIALS[channel] if key in needed][-1]
    del settings[missing]
    response = await client.post(
        _accounts_url(bare.id),
        json={"name": "live", "channel": channel, "sandbox": False, "settings": settings},
        headers=ADMIN,
    )
    body = assert_problem(response, 400, "validation_error", f"settings.{missing}")
    assert [error["field"] for error in body["errors"]] == [f"settings.{missing}"]


@pytest.mark.parametrize("secret", ["has spaces", "semi;colon", "x" * 257])
async def test_a_telegram_webhook_secret_telegram_would_refuse_is_refused_first(client, bare, secret):
    """setWebhook's secret_token takes 1-256 of A-Z, a-z, 0-9, _ and -: a bad one is named at once,
    not when the webhook is registered."""
    settings, _, _ = _full_settings("telegram")
    settings["webhookSecret"] = secret
    body = {"name": "live", "channel": "telegram", "sandbox": False, "settings": settings}
    response = await client.post(_accounts_url(bare.id), json=body, headers=ADMIN)
    problem = assert_problem(response, 400, "validation_error", "settings.webhookSecret")
    assert "A-Z, a-z, 0-9, _ and -" in problem["errors"][0]["message"]
    created = await _create_account(client, bare.id, name="sb", channel="telegram", sandbox=True)
    patched = await client.patch(
        _accounts_url(bare.id, created["id"]), json={"settings": {"webhookSecret": secret}}, headers=ADMIN
    )
    assert_problem(patched, 400, "validation_error", "settings.webhookSecret")
    good = await client.patch(
        _accounts_url(bare.id, created["id"]), json={"settings": {"webhookSecret": "Ok_secret-1"}}, headers=ADMIN
    )
    assert good.status_code == 200, good.text


@pytest.mark.parametrize("channel", CHANNELS)
async def test_a_credential_that_is_not_ascii_is_refused(client, bare, channel):
    """Credentials go into the provider's requests (headers, URLs), which take ASCII only: one that isn't would
    fail every send and registration (the fuzz test found register-callbacks answering 502), so it is named at once."""
    settings, _, _ = _full_settings(channel)
    key = CREDENTIALS[channel][0]
    settings[key] = "tok\x88en"
    body = {"name": "live", "channel": channel, "sandbox": False, "settings": settings}
    response = await client.post(_accounts_url(bare.id), json=body, headers=ADMIN)
    problem = assert_problem(response, 400, "validation_error", f"settings.{key}")
    assert problem["errors"][0]["message"] == "must be ASCII characters"
    created = await _create_account(client, bare.id, name="sb", channel=channel, sandbox=True)
    patched = await client.patch(
        _accounts_url(bare.id, created["id"]), json={"settings": {key: "caf\u00e9"}}, headers=ADMIN
    )
    assert_problem(patched, 400, "validation_error", f"settings.{key}")


async def test_sandbox_is_the_default_false(client, bare):
    # `sandbox` left out means a live account, which needs its credentials
    response = await client.post(_accounts_url(bare.id), json={"name": "x", "channel": "sms"}, headers=ADMIN)
    assert_problem(response, 400, "validation_error", "settings.apiKey")


@pytest.mark.parametrize("channel", CHANNELS)
async def test_sandbox_account_may_omit_credentials(client, bare, channel):
    body = await _create_account(client, bare.id, name=f"sb {channel}", channel=channel, sandbox=True)
    assert body["sandbox"] is True
    assert body["settings"] == {}
    assert body["credentials"] == []


@pytest.mark.parametrize("channel", CHANNELS)
async def test_unknown_setting_is_named(client, bare, channel):
    settings, _, _ = _full_settings(channel)
    # a key of another channel is unknown here too
    foreign = "agentId" if channel != "gbm" else "apiKey"
    response = await client.post(
        _accounts_url(bare.id),
        json={
            "name": "x",
            "channel": channel,
            "sandbox": False,
            "settings": {**settings, "colour": "red", foreign: "v"},
        },
        headers=ADMIN,
    )
    body = assert_problem(response, 400, "validation_error", "settings.colour", f"settings.{foreign}")
    assert {error["field"] for error in body["errors"]} == {"settings.colour", f"settings.{foreign}"}
    # also on a sandbox account
    response = await client.post(
        _accounts_url(bare.id),
        json={"name": "x", "channel": channel, "sandbox": True, "settings": {"colour": "red"}},
        headers=ADMIN,
    )
    assert_problem(response, 400, "validation_error", "settings.colour")


async def test_unknown_channel(client, bare):
    for channel in ("SMS", "email", "", "rcs"):
        response = await client.post(
            _accounts_url(bare.id), json={"name": "x", "channel": channel, "sandbox": True}, headers=ADMIN
        )
        assert_problem(response, 400, "validation_error", "channel")


BAD_COMMON_SETTINGS = (
    ("baseUrl", "ftp://provider.example.com"),
    ("baseUrl", "not a url"),
    ("baseUrl", "/relative/path"),
    ("baseUrl", ""),
    ("baseUrl", 5),
    ("sendRate", 0),
    ("sendRate", -1),
    ("sendRate", -0.5),
    ("sendRate", "10"),
    ("sendRate", True),
    ("sendRate", False),
    ("sendRate", None),
    ("sendRate", 100_001),
)


@pytest.mark.parametrize("channel", CHANNELS)
async def test_bad_base_url_and_send_rate(client, bare, channel):
    for key, value in BAD_COMMON_SETTINGS:
        response = await client.post(
            _accounts_url(bare.id),
            json={"name": "x", "channel": channel, "sandbox": True, "settings": {key: value}},
            headers=ADMIN,
        )
        body = assert_problem(response, 400, "validation_error", f"settings.{key}")
        assert [error["field"] for error in body["errors"]] == [f"settings.{key}"], (key, value)
    # both at once: both named
    response = await client.post(
        _accounts_url(bare.id),
        json={"name": "x", "channel": channel, "sandbox": True, "settings": {"baseUrl": "x", "sendRate": "x"}},
        headers=ADMIN,
    )
    assert_problem(response, 400, "validation_error", "settings.baseUrl", "settings.sendRate")


async def test_good_base_url_and_send_rate(client, bare):
    for good in (
        {"baseUrl": "http://localhost:9000", "sendRate": 1},
        {"baseUrl": "https://provider.example.com/api", "sendRate": 0.5},
        {"sendRate": 100_000},
    ):
        body = await _create_account(client, bare.id, name="x", channel="sms", sandbox=True, settings=good)
        assert body["settings"] == good


ACCOUNT_BODY_CASES = (
    ({"channel": "sms", "sandbox": True}, "name"),
    ({"name": "x", "sandbox": True}, "channel"),
    ({"name": "x", "channel": "sms", "sandbox": "yes"}, "sandbox"),
    ({"name": "x", "channel": "sms", "sandbox": True, "settings": []}, "settings"),
    ({"name": "x", "channel": "sms", "sandbox": True, "tenantId": str(uuid.uuid4())}, "tenantId"),
    ({"name": "", "channel": "sms", "sandbox": True}, "name"),
)


async def test_create_account_body_validation(client, bare):
    for payload, field in ACCOUNT_BODY_CASES:
        response = await client.post(_accounts_url(bare.id), json=payload, headers=ADMIN)
        assert_problem(response, 400, "validation_error", field)
    listed = (await client.get(_accounts_url(bare.id), headers=ADMIN)).json()
    assert sorted(a["id"] for a in listed) == sorted(bare.accounts.values())  # nothing was created


async def test_create_account_for_unknown_tenant(client):
    response = await client.post(
        _accounts_url(str(uuid.uuid4())), json={"name": "x", "channel": "sms", "sandbox": True}, headers=ADMIN
    )
    assert_problem(response, 404, "not_found")
    assert_problem(await client.get(_accounts_url(str(uuid.uuid4())), headers=ADMIN), 404, "not_found")


async def test_list_accounts(client, bare, other_bare):
    response = await client.get(_accounts_url(bare.id), headers=ADMIN)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [a["id"] for a in body] == [bare.accounts["sms"], bare.accounts["whatsapp"]]  # creation order
    assert [a["channel"] for a in body] == ["sms", "whatsapp"]
    assert all(a["sandbox"] is True and a["credentials"] == [] for a in body)
    assert not {a["id"] for a in body} & set(other_bare.accounts.values())


async def test_patch_settings_is_a_merge_patch(client, bare):
    settings, public, secrets = _full_settings("whatsapp")
    account = await _create_account(client, bare.id, name="wa", channel="whatsapp", sandbox=False, settings=settings)
    url = _accounts_url(bare.id, account["id"])

    # a given key replaces, others stay
    new_token = f"SECRETnew{uuid.uuid4().hex}"
    response = await client.patch(
        url, json={"settings": {"sendRate": 3, "phoneNumberId": "555", "accessToken": new_token}}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    _assert_no_secret(response, {**secrets, "new": new_token})
    body = response.json()
    assert body["settings"] == {**public, "sendRate": 3, "phoneNumberId": "555"}
    assert body["credentials"] == ["accessToken", "appSecret", "verifyToken"]
    assert body["name"] == "wa" and body["sandbox"] is False and body["channel"] == "whatsapp"
    stored = await _raw_column(client, TrafficAccount.__table__, "credentials", account["id"])
    stored_text = stored.decode("latin-1") if isinstance(stored, bytes) else str(stored)
    assert new_token not in stored_text

    # null removes
    response = await client.patch(url, json={"settings": {"baseUrl": None, "sendRate": None}}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["settings"] == {"phoneNumberId": "555", "wabaId": public["wabaId"]}

    # removing a key that isn't set is harmless
    response = await client.patch(url, json={"settings": {"baseUrl": None}}, headers=ADMIN)
    assert response.status_code == 200, response.text

    # an empty patch changes nothing
    before = (await client.get(url, headers=ADMIN)).json()
    response = await client.patch(url, json={}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert {k: v for k, v in response.json().items() if k != "updatedAt"} == {
        k: v for k, v in before.items() if k != "updatedAt"
    }


async def test_patch_removing_a_required_credential_of_a_live_account_changes_nothing(client, bare):
    settings, public, secrets = _full_settings("sms")
    account = await _create_account(client, bare.id, name="live sms", channel="sms", sandbox=False, settings=settings)
    url = _accounts_url(bare.id, account["id"])

    response = await client.patch(
        url, json={"name": "renamed", "settings": {"apiKey": None, "sendRate": 9}}, headers=ADMIN
    )
    assert_problem(response, 400, "validation_error", "settings.apiKey")
    got = await client.get(url, headers=ADMIN)
    assert got.json() == account  # neither the name nor the settings changed

    # a bad value in a patch is named and changes nothing either
    response = await client.patch(url, json={"settings": {"sendRate": 0, "bogus": 1}}, headers=ADMIN)
    assert_problem(response, 400, "validation_error", "settings.sendRate", "settings.bogus")
    assert (await client.get(url, headers=ADMIN)).json() == account


async def test_patch_name_and_sandbox(client, bare):
    settings, public, secrets = _full_settings("sms")
    account = await _create_account(client, bare.id, name="live sms", channel="sms", sandbox=False, settings=settings)
    url = _accounts_url(bare.id, account["id"])

    response = await client.patch(url, json={"name": "renamed"}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "renamed"
    assert (await client.get(url, headers=ADMIN)).json()["name"] == "renamed"

    # to sandbox; then the credential may go
    response = await client.patch(url, json={"sandbox": True, "settings": {"apiKey": None}}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["sandbox"] is True
    assert response.json()["credentials"] == []
    assert response.json()["settings"] == public

    # back to live without a credential: refused, naming it, and nothing changes
    response = await client.patch(url, json={"sandbox": False}, headers=ADMIN)
    assert_problem(response, 400, "validation_error", "settings.apiKey")
    assert (await client.get(url, headers=ADMIN)).json()["sandbox"] is True

    # back to live with the credential
    response = await client.patch(url, json={"sandbox": False, "settings": {"apiKey": "SECRETfresh"}}, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json()["sandbox"] is False
    assert response.json()["credentials"] == ["apiKey"]
    assert "SECRETfresh" not in response.text


PATCH_CASES = (
    ({"channel": "viber"}, "channel"),
    ({"id": str(uuid.uuid4())}, "id"),
    ({"name": ""}, "name"),
    ({"name": 5}, "name"),
    ({"sandbox": "no"}, "sandbox"),
    ({"settings": "apiKey=x"}, "settings"),
    ({"settings": {"apiKey": "x"}, "channel": "sms"}, "channel"),
)


async def test_patch_validation(client, bare):
    url = _accounts_url(bare.id, bare.accounts["sms"])
    before = (await client.get(url, headers=ADMIN)).json()
    for payload, field in PATCH_CASES:
        assert_problem(await client.patch(url, json=payload, headers=ADMIN), 400, "validation_error", field)
    assert (await client.get(url, headers=ADMIN)).json() == before


async def test_delete_account(client, bare):
    account = await _create_account(client, bare.id, name="gone", channel="viber", sandbox=True)
    url = _accounts_url(bare.id, account["id"])
    response = await client.delete(url, headers=ADMIN)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(await client.get(url, headers=ADMIN), 404, "not_found")
    assert_problem(await client.delete(url, headers=ADMIN), 404, "not_found")
    assert_problem(await client.patch(url, json={"name": "x"}, headers=ADMIN), 404, "not_found")
    listed = (await client.get(_accounts_url(bare.id), headers=ADMIN)).json()
    assert account["id"] not in {a["id"] for a in listed}
    assert_problem(await client.get(f"/api/v1/trafficAccounts/{account['id']}", headers=bare.key), 404, "not_found")


async def test_account_of_another_tenant_is_not_found(client, bare, other_bare):
    account_id = bare.accounts["sms"]
    wrong = _accounts_url(other_bare.id, account_id)
    unknown = _accounts_url(other_bare.id, str(uuid.uuid4()))
    for url in (wrong, unknown):
        get_body = assert_problem(await client.get(url, headers=ADMIN), 404, "not_found")
        patch_body = assert_problem(await client.patch(url, json={"name": "stolen"}, headers=ADMIN), 404, "not_found")
        delete_body = assert_problem(await client.delete(url, headers=ADMIN), 404, "not_found")
        if url == wrong:
            bodies = (get_body, patch_body, delete_body)
        else:
            assert (get_body, patch_body, delete_body) == bodies  # indistinguishable
    own = await client.get(_accounts_url(bare.id, account_id), headers=ADMIN)
    assert own.status_code == 200, own.text
    assert own.json()["name"] == "sms sandbox"


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------

GATEWAY = Path(sys.executable).parent / "gateway"
CLI_JWT_KEY = "cli-test-jwt-key-0123456789abcdefghijkl"
CLI_SECRET_KEY = "cli-test-secret-key-0123456789abcdefghi"


def _cli_env(directory: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("GATEWAY_")}
    return env | {
        "GATEWAY_DATABASE_URL": f"sqlite:///{directory / 'cli.db'}",
        "GATEWAY_DATA_DIR": str(directory / "data"),
        "GATEWAY_JWT_KEYS": CLI_JWT_KEY,
        "GATEWAY_SECRET_KEY": CLI_SECRET_KEY,
    }


@pytest.fixture(scope="module")
def migrated_cli_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file migrated by `gateway migrate`, once; each test works on a copy."""
    directory = tmp_path_factory.mktemp("cli-template")
    migrated = _gateway(_cli_env(directory), "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert "newest schema revision" in migrated.stderr
    with sqlite3.connect(directory / "cli.db") as db:
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM tenant").fetchone() == (0,)
    return directory / "cli.db"


@pytest.fixture
def cli_env(tmp_path: Path, migrated_cli_db: Path) -> dict[str, str]:
    shutil.copyfile(migrated_cli_db, tmp_path / "cli.db")
    return _cli_env(tmp_path)


def _gateway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    assert GATEWAY.exists(), f"no gateway script next to {sys.executable}"
    return subprocess.run(
        [str(GATEWAY), *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def _json_out(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return json.loads(result.stdout)


def _db_file(env: dict[str, str]) -> str:
    return env["GATEWAY_DATABASE_URL"].removeprefix("sqlite:///")


def test_cli_tenant_customer_key_and_account(cli_env):
    tenant = _json_out(_gateway(cli_env, "tenant", "create", "--name", "cli tenant"))
    assert set(tenant) == {"id", "name", "rateLimitQuota", "createdAt"} and tenant["name"] == "cli tenant"
    assert tenant["rateLimitQuota"] is None  # the installation's default
    quota = _json_out(_gateway(cli_env, "tenant", "create", "--name", "busy", "--rate-limit-quota", "500"))
    assert quota["rateLimitQuota"] == 500
    uuid.UUID(tenant["id"])

    customer = _json_out(
        _gateway(
            cli_env,
            "customer",
            "create",
            "--tenant",
            tenant["id"],
            "--email",
            "CLI.User@Example.com",
            "--password",
            "cli password 123",
        )
    )
    assert set(customer) == {"id", "email"} and customer["email"] == "cli.user@example.com"

    key = _json_out(_gateway(cli_env, "api-key", "create", "--tenant", tenant["id"], "--name", "cli key"))
    assert set(key) == {"id", "name", "key", "smsTrafficAccountId"} and key["name"] == "cli key"

    account = _json_out(
        _gateway(
            cli_env,
            "traffic-account",
            "create",
            "--tenant",
            tenant["id"],
            "--name",
            "cli sms",
            "--channel",
            "sms",
            "--sandbox",
        )
    )
    assert account["name"] == "cli sms" and account["channel"] == "sms" and account["sandbox"] is True
    assert account["tenantId"] == tenant["id"] and account["credentials"] == []
    bound = ["api-key", "create", "--tenant", tenant["id"], "--name", "bound", "--sms-traffic-account"]
    assert _json_out(_gateway(cli_env, *bound, account["id"]))["smsTrafficAccountId"] == account["id"]
    refused = _gateway(cli_env, *bound, str(uuid.uuid4()))
    assert refused.returncode != 0 and "smsTrafficAccountId" in refused.stderr + refused.stdout

    live = _json_out(
        _gateway(
            cli_env,
            "traffic-account",
            "create",
            "--tenant",
            tenant["id"],
            "--name",
            "cli live",
            "--channel",
            "sms",
            "--settings",
            json.dumps({"apiKey": "SECRETcli-api-key", "sendRate": 2}),
        )
    )
    assert live["sandbox"] is False and live["settings"] == {"sendRate": 2} and live["credentials"] == ["apiKey"]

    with sqlite3.connect(_db_file(cli_env)) as db:
        (password_hash,) = db.execute("SELECT password_hash FROM customer").fetchone()
        stored = [row[0] for row in db.execute("SELECT credentials FROM traffic_account")]
        api_key_rows = [str(row) for row in db.execute("SELECT * FROM api_key")]
    assert password_hash.startswith("$argon2id$")
    assert stored and not any("SECRETcli-api-key" in str(value) for value in stored)
    assert not any(key["key"] in row for row in api_key_rows)


async def test_cli_made_credentials_work_over_http(cli_env):
    tenant = _json_out(_gateway(cli_env, "tenant", "create", "--name", "http"))
    email = f"{_unique('cli')}@example.com"
    _json_out(
        _gateway(cli_env, "customer", "create", "--tenant", tenant["id"], "--email", email, "--password", "pw pw pw pw")
    )
    key = _json_out(_gateway(cli_env, "api-key", "create", "--tenant", tenant["id"], "--name", "k"))["key"]
    account = _json_out(
        _gateway(
            cli_env,
            "traffic-account",
            "create",
            "--tenant",
            tenant["id"],
            "--name",
            "wa",
            "--channel",
            "whatsapp",
            "--sandbox",
        )
    )
    settings = make_settings(cli_env["GATEWAY_DATABASE_URL"], jwt_keys=(CLI_JWT_KEY,), secret_keys=(CLI_SECRET_KEY,))
    async with AsyncTestClient(app=create_app(settings)) as http:
        listed = await http.get("/api/v1/trafficAccounts", headers={"X-Mitto-API-Key": key})
        assert listed.status_code == 200, listed.text
        assert [a["id"] for a in listed.json()] == [account["id"]]
        login = await http.post("/api/v1/Customer/login", json={"email": email, "password": "pw pw pw pw"})
        assert login.status_code == 200, login.text


def test_cli_bad_settings_json(cli_env):
    for settings_arg, message in (
        ("{nope", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"text"', "must be a JSON object"),
    ):
        result = _gateway(
            cli_env,
            "traffic-account",
            "create",
            "--tenant",
            str(uuid.uuid4()),
            "--name",
            "x",
            "--channel",
            "sms",
            "--settings",
            settings_arg,
        )
        assert result.returncode != 0
        assert result.stdout == ""
        assert "--settings" in result.stderr and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_cli_reports_problems_without_a_traceback(cli_env):
    tenant = _json_out(_gateway(cli_env, "tenant", "create", "--name", "t"))
    missing = _gateway(
        cli_env, "traffic-account", "create", "--tenant", tenant["id"], "--name", "x", "--channel", "sms", "--live"
    )
    assert missing.returncode != 0 and "settings.apiKey" in missing.stderr, missing.stderr
    unknown = _gateway(
        cli_env, "traffic-account", "create", "--tenant", tenant["id"], "--name", "x", "--channel", "fax", "--sandbox"
    )
    assert unknown.returncode != 0 and "channel" in unknown.stderr, unknown.stderr
    short = _gateway(
        cli_env, "customer", "create", "--tenant", tenant["id"], "--email", "a@example.com", "--password", "short"
    )
    assert short.returncode != 0 and "password" in short.stderr, short.stderr
    nobody = _gateway(cli_env, "api-key", "create", "--tenant", str(uuid.uuid4()), "--name", "k")
    assert nobody.returncode != 0 and "tenant" in nobody.stderr.lower(), nobody.stderr
    for result in (missing, unknown, short, nobody):
        assert result.stdout == "" and "Traceback" not in result.stderr
    with sqlite3.connect(_db_file(cli_env)) as db:
        assert db.execute("SELECT count(*) FROM traffic_account").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM customer").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM api_key").fetchone() == (0,)


def test_cli_demo_is_idempotent(cli_env):
    first = _json_out(_gateway(cli_env, "demo"))
    second = _json_out(_gateway(cli_env, "demo"))
    assert first == second
    assert set(first["trafficAccounts"]) == {"sms", "whatsapp", "viber", "telegram", "gbm"}
    assert first["email"] and first["password"] and first["apiKey"]
    assert first["inbox"].endswith("/inbox")
    with sqlite3.connect(_db_file(cli_env)) as db:
        assert db.execute("SELECT count(*) FROM tenant WHERE name = 'demo'").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM tenant").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM customer").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM api_key").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM traffic_account").fetchone() == (5,)


def test_cli_applies_the_operator_api_rules(cli_env):
    """The CLI validates like the HTTP API: a clear message naming the field, no traceback, nothing written."""
    long_name = _gateway(cli_env, "tenant", "create", "--name", "x" * 300)
    assert long_name.returncode != 0 and "name" in long_name.stderr and "Traceback" not in long_name.stderr
    no_quota = _gateway(cli_env, "tenant", "create", "--name", "q", "--rate-limit-quota", "0")
    assert no_quota.returncode != 0 and "rateLimitQuota" in no_quota.stderr and "Traceback" not in no_quota.stderr
    tenant = _json_out(_gateway(cli_env, "tenant", "create", "--name", "ok"))
    bad_email = _gateway(
        cli_env,
        "customer",
        "create",
        "--tenant",
        tenant["id"],
        "--email",
        "not an email",
        "--password",
        "long enough pw",
    )
    assert bad_email.returncode != 0 and '"email"' in bad_email.stderr and "Traceback" not in bad_email.stderr
    empty_key = _gateway(cli_env, "api-key", "create", "--tenant", tenant["id"], "--name", "")
    assert empty_key.returncode != 0 and '"name"' in empty_key.stderr
    with sqlite3.connect(_db_file(cli_env)) as db:
        assert db.execute("SELECT count(*) FROM tenant").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM customer").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM api_key").fetchone() == (0,)
