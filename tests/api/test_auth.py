"""Customer authentication: login, lockout, password change, tokens, key rotation, API keys, paths."""

from __future__ import annotations

import base64
import datetime
import json
import re
import uuid

import jwt
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.app import create_app
from gateway.models import LoginFailure
from gateway.settings import Settings, SettingsError
from tests.conftest import ADMIN, assert_problem, error_fields, in_app_loop, make_settings

KEY_A = make_settings("sqlite://").jwt_keys[0]  # the key the `client` fixture signs with
KEY_B = "rotation-key-B-0123456789abcdefghijklmnop"
OTHER_KEY = "an-attackers-key-0123456789abcdefghijklmn"
LOGIN = "/api/v1/Customer/login"
PASSWORD = "/api/v1/Customer/password"
ACCOUNTS = "/api/v1/trafficAccounts"
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")  # the Chat API's format
NEW_PASSWORD = "a brand new passphrase"


def claims_of(token: str, key: str = KEY_A) -> dict:
    return jwt.decode(token, key, algorithms=["HS256"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: AsyncTestClient, email: str, password: str, path: str = LOGIN):
    return await client.post(path, json={"email": email, "password": password})


async def shift_failures(client: AsyncTestClient, email: str, seconds: int) -> int:
    """Move the recorded login failures of ``email`` ``seconds`` into the past; how many were moved."""

    async def shift() -> int:
        async with AsyncSession(client.app.state.runtime.engine) as session:
            rows = list(await session.scalars(select(LoginFailure).where(LoginFailure.email == email)))
            for row in rows:
                row.failed_at -= datetime.timedelta(seconds=seconds)
            await session.commit()
        return len(rows)

    # In the app's event loop: the engine's pooled (asyncpg) connections belong to it.
    return in_app_loop(client, shift)


# --- login -----------------------------------------------------------------------------------------


async def test_login_returns_hs256_jwt_with_kid_and_claims(client, tenant):
    created = await client.post(
        f"/admin/tenants/{tenant.id}/customers",
        json={"email": f"second-{uuid.uuid4().hex[:8]}@example.com", "password": "another long password"},
        headers=ADMIN,
    )
    assert created.status_code == 201, created.text
    customer = created.json()
    before = int(datetime.datetime.now(datetime.UTC).timestamp())
    response = await login(client, customer["email"], "another long password")
    after = int(datetime.datetime.now(datetime.UTC).timestamp())
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "expiresAt"}, body

    header = jwt.get_unverified_header(body["token"])
    assert header["alg"] == "HS256" and header["typ"] == "JWT", header
    assert isinstance(header["kid"], str) and header["kid"], header
    assert KEY_A not in header["kid"]  # the kid names the key, it doesn't carry it

    claims = claims_of(body["token"])
    assert claims["sub"] == customer["id"]
    assert claims["tenant"] == tenant.id
    assert before - 1 <= claims["iat"] <= after + 1
    assert claims["exp"] == claims["iat"] + 3600

    assert TIMESTAMP.match(body["expiresAt"]), body["expiresAt"]
    expires = datetime.datetime.strptime(body["expiresAt"][:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)
    assert int(expires.timestamp()) == claims["exp"]

    # The same key signs every token: same kid as the fixture's token, other customer.
    assert jwt.get_unverified_header(tenant.token)["kid"] == header["kid"]
    assert claims_of(tenant.token)["sub"] != customer["id"]
    # ...and the token works.
    assert (await client.get(ACCOUNTS, headers=bearer(body["token"]))).status_code == 200


async def test_token_lifetime_is_a_setting(database_url, client, tenant):
    async with AsyncTestClient(app=create_app(make_settings(database_url, token_lifetime_seconds=120))) as short:
        response = await login(short, tenant.email, tenant.password)
        assert response.status_code == 200, response.text
        claims = claims_of(response.json()["token"])
        assert claims["exp"] == claims["iat"] + 120


async def test_login_email_is_case_insensitive(client, tenant):
    response = await login(client, f"  {tenant.email.upper()} ", tenant.password)
    assert response.status_code == 200, response.text
    assert claims_of(response.json()["token"])["sub"] == claims_of(tenant.token)["sub"]


async def test_wrong_email_and_wrong_password_get_the_same_401(client, tenant):
    wrong_password = await login(client, tenant.email, "not the password at all")
    wrong_email = await login(client, f"nobody-{uuid.uuid4().hex[:8]}@example.com", tenant.password)
    first = assert_problem(wrong_password, 401, "unauthorized")
    second = assert_problem(wrong_email, 401, "unauthorized")
    assert first == second
    assert "errors" not in first
    assert wrong_password.headers.get("www-authenticate") == wrong_email.headers.get("www-authenticate")
    # Password is case-sensitive even though the email is not.
    assert_problem(await login(client, tenant.email, tenant.password.upper()), 401, "unauthorized")


@pytest.mark.parametrize(
    ("payload", "fields"),
    [
        ({}, {"email", "password"}),
        ({"email": "someone@example.com"}, {"password"}),
        ({"password": "whatever password"}, {"email"}),
        ({"email": 5, "password": ["x"]}, {"email", "password"}),
        ({"email": "someone@example.com", "password": None}, {"password"}),
        ({"email": "someone@example.com", "password": "long enough", "remember": True}, {"remember"}),
    ],
)
async def test_login_body_errors_name_the_fields(client, payload, fields):
    body = assert_problem(await client.post(LOGIN, json=payload), 400, "validation_error", *fields)
    assert set(error_fields(body)) == fields


async def test_login_body_that_is_not_an_object(client):
    assert_problem(await client.post(LOGIN, json=["a", "b"]), 400, "validation_error", "body")
    response = await client.post(LOGIN, content=b"{nope", headers={"content-type": "application/json"})
    assert_problem(response, 400, "validation_error", "body")


# --- lockout ---------------------------------------------------------------------------------------


async def test_lockout_after_five_failures(client, tenant, other_tenant):
    for attempt in range(5):
        email = tenant.email.upper() if attempt % 2 else tenant.email  # one email, whatever its case
        assert_problem(await login(client, email, f"wrong password {attempt}"), 401, "unauthorized")

    locked = await login(client, tenant.email, tenant.password)  # the right password doesn't help
    body = assert_problem(locked, 429, "login_locked")
    assert "errors" not in body
    retry_after = locked.headers["retry-after"]
    assert re.fullmatch(r"\d+", retry_after), retry_after
    assert 600 <= int(retry_after) <= 900  # the failures were just now; the window is 15 minutes

    again = await login(client, tenant.email.upper(), "wrong again")
    assert_problem(again, 429, "login_locked")
    assert 1 <= int(again.headers["retry-after"]) <= 900

    # Another email is not affected, and the lockout isn't per tenant or per client.
    assert (await login(client, other_tenant.email, other_tenant.password)).status_code == 200
    # Tokens issued before the lockout keep working: it's about logging in.
    assert (await client.get(ACCOUNTS, headers=tenant.bearer)).status_code == 200


async def test_lockout_ends_when_the_window_passes(client, tenant):
    for _ in range(5):
        assert_problem(await login(client, tenant.email, "wrong password"), 401, "unauthorized")
    assert_problem(await login(client, tenant.email, tenant.password), 429, "login_locked")

    # 10 minutes later: still locked, for about 5 more minutes.
    assert await shift_failures(client, tenant.email, 600) == 5
    locked = await login(client, tenant.email, tenant.password)
    assert_problem(locked, 429, "login_locked")
    assert 1 <= int(locked.headers["retry-after"]) <= 300

    # 15 minutes and a bit after the failures: the window has passed.
    await shift_failures(client, tenant.email, 301)
    response = await login(client, tenant.email, tenant.password)
    assert response.status_code == 200, response.text


async def test_lockout_counts_only_failures_inside_the_window(client, tenant):
    for _ in range(4):
        assert_problem(await login(client, tenant.email, "wrong password"), 401, "unauthorized")
    await shift_failures(client, tenant.email, 901)  # those four are now outside the window
    for _ in range(4):
        assert_problem(await login(client, tenant.email, "wrong password"), 401, "unauthorized")
    assert (await login(client, tenant.email, tenant.password)).status_code == 200


async def test_successful_login_clears_earlier_failures(client, tenant):
    for _ in range(4):
        assert_problem(await login(client, tenant.email, "wrong password"), 401, "unauthorized")
    assert (await login(client, tenant.email, tenant.password)).status_code == 200
    for _ in range(4):
        assert_problem(await login(client, tenant.email, "wrong password"), 401, "unauthorized")
    response = await login(client, tenant.email, tenant.password)
    assert response.status_code == 200, response.text


async def test_unknown_email_is_locked_like_a_known_one(client):
    email = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    for _ in range(5):
        assert_problem(await login(client, email, "some password"), 401, "unauthorized")
    locked = await login(client, email, "some password")
    assert_problem(locked, 429, "login_locked")
    assert 1 <= int(locked.headers["retry-after"]) <= 900


# --- password change -------------------------------------------------------------------------------


async def test_password_change_revokes_old_tokens(client, tenant):
    response = await client.post(
        PASSWORD, json={"oldPassword": tenant.password, "newPassword": NEW_PASSWORD}, headers=tenant.bearer
    )
    assert response.status_code == 204, response.text
    assert response.content == b""

    assert_problem(await client.get(ACCOUNTS, headers=tenant.bearer), 401, "unauthorized")
    assert_problem(await login(client, tenant.email, tenant.password), 401, "unauthorized")

    fresh = await login(client, tenant.email, NEW_PASSWORD)
    assert fresh.status_code == 200, fresh.text
    assert claims_of(fresh.json()["token"])["sub"] == claims_of(tenant.token)["sub"]
    listed = await client.get(ACCOUNTS, headers=bearer(fresh.json()["token"]))
    assert listed.status_code == 200, listed.text
    # The API key is not a customer credential: it keeps working.
    assert (await client.get(ACCOUNTS, headers=tenant.key)).status_code == 200


async def test_password_change_revokes_every_earlier_token_of_the_customer(client, tenant):
    second = (await login(client, tenant.email, tenant.password)).json()["token"]
    response = await client.post(
        PASSWORD, json={"oldPassword": tenant.password, "newPassword": NEW_PASSWORD}, headers=bearer(second)
    )
    assert response.status_code == 204, response.text
    for token in (tenant.token, second):
        assert_problem(await client.get(ACCOUNTS, headers=bearer(token)), 401, "unauthorized")


@pytest.mark.parametrize(
    ("old", "new", "fields"),
    [
        (None, "too short", {"newPassword"}),  # 9 characters
        (None, None, {"newPassword"}),  # the same as the old one
        ("not my password", NEW_PASSWORD, {"oldPassword"}),
    ],
    ids=["short", "unchanged", "wrong-old"],
)
async def test_password_change_refusals(client, tenant, old, new, fields):
    payload = {"oldPassword": old or tenant.password, "newPassword": new or tenant.password}
    body = assert_problem(await client.post(PASSWORD, json=payload, headers=tenant.bearer), 400, "validation_error")
    assert set(error_fields(body)) == fields, body
    # Nothing changed: the token still works and the old password still logs in.
    assert (await client.get(ACCOUNTS, headers=tenant.bearer)).status_code == 200
    assert (await login(client, tenant.email, tenant.password)).status_code == 200


async def test_password_change_accepts_exactly_ten_characters(client, tenant):
    payload = {"oldPassword": tenant.password, "newPassword": "0123456789"}
    response = await client.post(PASSWORD, json=payload, headers=tenant.bearer)
    assert response.status_code == 204, response.text
    assert (await login(client, tenant.email, "0123456789")).status_code == 200


async def test_password_change_body_errors(client, tenant):
    body = assert_problem(
        await client.post(PASSWORD, json={}, headers=tenant.bearer), 400, "validation_error", "oldPassword"
    )
    assert set(error_fields(body)) == {"oldPassword", "newPassword"}
    body = assert_problem(
        await client.post(PASSWORD, json={"oldPassword": 1, "newPassword": True}, headers=tenant.bearer),
        400,
        "validation_error",
    )
    assert set(error_fields(body)) == {"oldPassword", "newPassword"}


async def test_password_change_needs_a_customer_token(client, tenant):
    payload = {"oldPassword": tenant.password, "newPassword": NEW_PASSWORD}
    assert_problem(await client.post(PASSWORD, json=payload, headers=tenant.key), 403, "customer_token_required")
    assert_problem(await client.post(PASSWORD, json=payload), 401, "unauthorized")
    assert (await login(client, tenant.email, tenant.password)).status_code == 200  # unchanged


# --- token checks ----------------------------------------------------------------------------------


MALFORMED_CREDENTIALS = {
    "none": {},
    "bearer-empty": {"Authorization": "Bearer"},
    "bearer-blank": {"Authorization": "Bearer   "},
    "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
    "no-scheme": {"Authorization": "not-a-jwt"},
    "garbage-token": {"Authorization": "Bearer not-a-jwt"},
    "empty-api-key": {"X-Mitto-API-Key": ""},
}


async def test_missing_or_malformed_credentials(client):
    for name, headers in MALFORMED_CREDENTIALS.items():
        response = await client.get(ACCOUNTS, headers=headers)
        assert response.status_code == 401, (name, response.text)
        assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer"), (name, response.headers)


def craft(template: str, key: str = KEY_A, *, headers: dict | None = None, algorithm: str = "HS256", **changes):
    """A token with the claims and kid of ``template``, changed as asked, signed with ``key``."""
    claims = {**claims_of(template), **changes}
    header = {"kid": jwt.get_unverified_header(template)["kid"], **(headers or {})}
    return jwt.encode(claims, key, algorithm=algorithm, headers=header)


async def test_expired_token(client, tenant):
    now = int(datetime.datetime.now(datetime.UTC).timestamp())
    # Control: the crafting makes tokens the gateway accepts when nothing is wrong with them.
    fresh = craft(tenant.token, iat=now - 60, exp=now + 60)
    assert fresh != tenant.token
    assert (await client.get(ACCOUNTS, headers=bearer(fresh))).status_code == 200

    expired = craft(tenant.token, iat=now - 3700, exp=now - 100)
    response = await client.get(ACCOUNTS, headers=bearer(expired))
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")

    # A token without an expiry is refused too.
    claims = {k: v for k, v in claims_of(tenant.token).items() if k != "exp"}
    kid = jwt.get_unverified_header(tenant.token)["kid"]
    endless = jwt.encode(claims, KEY_A, algorithm="HS256", headers={"kid": kid})
    assert_problem(await client.get(ACCOUNTS, headers=bearer(endless)), 401, "unauthorized")


def _tamper_payload(token: str, **changes) -> str:
    """The token with its payload changed and the original signature kept."""
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{encoded}.{signature}"


async def test_forged_tokens(client, tenant, other_tenant):
    other_customer = claims_of(other_tenant.token)["sub"]
    forged = {
        "other-key": craft(tenant.token, OTHER_KEY),
        "other-key-other-tenant": craft(other_tenant.token, OTHER_KEY),
        "kid-tampered": craft(tenant.token, headers={"kid": "0000000000000000"}),
        "kid-missing": jwt.encode(claims_of(tenant.token), KEY_A, algorithm="HS256"),
        "alg-none": craft(tenant.token, None, algorithm="none"),
        "hs512": craft(tenant.token, algorithm="HS512"),
        "payload-tampered": _tamper_payload(tenant.token, sub=other_customer, tenant=other_tenant.id),
        "signature-stripped": tenant.token.rsplit(".", 1)[0] + ".",
        # Right key, but the tenant claim doesn't match the customer's tenant.
        "tenant-swapped": craft(tenant.token, tenant=other_tenant.id),
        "unknown-customer": craft(tenant.token, sub=str(uuid.uuid4())),
        "sub-not-a-uuid": craft(tenant.token, sub="admin"),
    }
    for name, token in forged.items():
        response = await client.get(ACCOUNTS, headers=bearer(token))
        assert response.status_code == 401, (name, response.text)
        assert_problem(response, 401, "unauthorized")
    assert (await client.get(ACCOUNTS, headers=tenant.bearer)).status_code == 200


async def test_token_of_a_deleted_tenant(client, tenant, other_tenant):
    assert (await client.delete(f"/admin/tenants/{tenant.id}", headers=ADMIN)).status_code == 204
    assert_problem(await client.get(ACCOUNTS, headers=tenant.bearer), 401, "unauthorized")
    assert_problem(await client.get(ACCOUNTS, headers=tenant.key), 401, "unauthorized")
    assert_problem(await login(client, tenant.email, tenant.password), 401, "unauthorized")
    # Other tenants are untouched.
    assert (await client.get(ACCOUNTS, headers=other_tenant.bearer)).status_code == 200


# --- key rotation ----------------------------------------------------------------------------------


async def test_key_rotation(database_url, client, tenant):
    old_token = tenant.token
    old_kid = jwt.get_unverified_header(old_token)["kid"]

    async with AsyncTestClient(app=create_app(make_settings(database_url, jwt_keys=(KEY_B, KEY_A)))) as rotating:
        # Tokens signed with the old key still verify...
        assert (await rotating.get(ACCOUNTS, headers=bearer(old_token))).status_code == 200
        # ...and new ones are signed with the new key, under another kid.
        response = await login(rotating, tenant.email, tenant.password)
        assert response.status_code == 200, response.text
        new_token = response.json()["token"]
        new_kid = jwt.get_unverified_header(new_token)["kid"]
        assert new_kid != old_kid
        assert claims_of(new_token, KEY_B)["sub"] == claims_of(old_token)["sub"]
        with pytest.raises(jwt.InvalidSignatureError):
            claims_of(new_token, KEY_A)
        assert (await rotating.get(ACCOUNTS, headers=bearer(new_token))).status_code == 200
        # A token signed with A but claiming B's kid is refused.
        assert_problem(
            await rotating.get(ACCOUNTS, headers=bearer(craft(old_token, headers={"kid": new_kid}))),
            401,
            "unauthorized",
        )

    # The app that only knows A doesn't accept B's tokens.
    assert_problem(await client.get(ACCOUNTS, headers=bearer(new_token)), 401, "unauthorized")

    async with AsyncTestClient(app=create_app(make_settings(database_url, jwt_keys=(KEY_B,)))) as rotated:
        assert_problem(await rotated.get(ACCOUNTS, headers=bearer(old_token)), 401, "unauthorized")
        assert (await rotated.get(ACCOUNTS, headers=bearer(new_token))).status_code == 200
        again = await login(rotated, tenant.email, tenant.password)
        assert again.status_code == 200, again.text
        assert jwt.get_unverified_header(again.json()["token"])["kid"] == new_kid


@pytest.mark.parametrize(
    "keys",
    [("x" * 31,), ("short",), (KEY_A, "x" * 31), ("",), ()],
    ids=["31-chars", "short", "second-short", "empty-key", "no-keys"],
)
def test_settings_refuse_short_jwt_keys(keys):
    with pytest.raises(SettingsError, match="GATEWAY_JWT_KEYS"):
        Settings(database_url="sqlite+aiosqlite:///:memory:", jwt_keys=keys, secret_keys=("s" * 32,))


def test_settings_accept_32_character_jwt_keys():
    settings = Settings(database_url="sqlite+aiosqlite:///:memory:", jwt_keys=("x" * 32, KEY_B), secret_keys=("s",))
    assert settings.jwt_keys == ("x" * 32, KEY_B)


def test_settings_from_env_refuse_short_jwt_keys(monkeypatch, tmp_path):
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GATEWAY_DATABASE_URL", f"sqlite:///{tmp_path}/gateway.db")
    monkeypatch.setenv("GATEWAY_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("GATEWAY_JWT_KEYS", f"{KEY_B}, tooshort")
    with pytest.raises(SettingsError, match="GATEWAY_JWT_KEYS") as raised:
        Settings.from_env()
    assert "tooshort" not in str(raised.value)  # the message never shows a key
    monkeypatch.setenv("GATEWAY_JWT_KEYS", f"{KEY_B}, {KEY_A}")
    assert Settings.from_env().jwt_keys == (KEY_B, KEY_A)


# --- API keys --------------------------------------------------------------------------------------


async def test_api_key_authenticates_and_sees_only_its_tenant(client, tenant, other_tenant):
    mine = await client.get(ACCOUNTS, headers=tenant.key)
    assert mine.status_code == 200, mine.text
    assert {a["id"] for a in mine.json()} == set(tenant.accounts.values())
    theirs = await client.get(ACCOUNTS, headers=other_tenant.key)
    assert theirs.status_code == 200, theirs.text
    assert {a["id"] for a in theirs.json()} == set(other_tenant.accounts.values())

    own = await client.get(f"{ACCOUNTS}/{tenant.accounts['sms']}", headers=tenant.key)
    assert own.status_code == 200 and own.json()["id"] == tenant.accounts["sms"], own.text
    assert_problem(await client.get(f"{ACCOUNTS}/{other_tenant.accounts['sms']}", headers=tenant.key), 404, "not_found")
    # The bearer token sees the same as the key of the same tenant.
    assert (await client.get(ACCOUNTS, headers=tenant.bearer)).json() == mine.json()


async def test_revoked_and_unknown_api_keys(client, tenant, other_tenant):
    created = await client.post(f"/admin/tenants/{tenant.id}/api-keys", json={"name": "to revoke"}, headers=ADMIN)
    assert created.status_code == 201, created.text
    key = created.json()
    headers = {"X-Mitto-API-Key": key["key"]}
    assert (await client.get(ACCOUNTS, headers=headers)).status_code == 200

    # Another tenant's id doesn't reach the key.
    wrong_tenant = await client.delete(f"/admin/tenants/{other_tenant.id}/api-keys/{key['id']}", headers=ADMIN)
    assert_problem(wrong_tenant, 404, "not_found")
    assert (await client.get(ACCOUNTS, headers=headers)).status_code == 200

    revoked = await client.delete(f"/admin/tenants/{tenant.id}/api-keys/{key['id']}", headers=ADMIN)
    assert revoked.status_code == 204, revoked.text
    response = await client.get(ACCOUNTS, headers=headers)
    assert_problem(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    # A revoked key doesn't fall back to another credential sent with it.
    assert_problem(await client.get(ACCOUNTS, headers={**headers, **tenant.bearer}), 401, "unauthorized")
    # The tenant's other key still works.
    assert (await client.get(ACCOUNTS, headers=tenant.key)).status_code == 200

    for unknown in (f"{tenant.api_key}x", tenant.api_key[:-1], "mk_" + uuid.uuid4().hex, tenant.api_key.upper()):
        if unknown == tenant.api_key:
            continue
        assert_problem(await client.get(ACCOUNTS, headers={"X-Mitto-API-Key": unknown}), 401, "unauthorized")


# --- paths and versions ----------------------------------------------------------------------------


async def test_api_versions(client, tenant):
    for version in ("v1", "v1.0", "v1.1", "V1", "V1.1"):
        response = await login(client, tenant.email, tenant.password, f"/api/{version}/Customer/login")
        assert response.status_code == 200, (version, response.text)
        listed = await client.get(f"/api/{version}/trafficAccounts", headers=tenant.bearer)
        assert listed.status_code == 200, (version, listed.text)
        assert {a["id"] for a in listed.json()} == set(tenant.accounts.values()), version


async def test_unknown_api_version(client, tenant):
    for version in ("v2", "v1.2", "v0", "1", "latest"):
        listed = await client.get(f"/api/{version}/trafficAccounts", headers=tenant.bearer)
        assert listed.status_code == 404, (version, listed.text)
        assert_problem(listed, 404, "unknown_api_version")
        response = await login(client, tenant.email, tenant.password, f"/api/{version}/Customer/login")
        assert response.status_code == 404, (version, response.text)
        assert_problem(response, 404, "unknown_api_version")


async def test_login_path_spellings(client, tenant):
    for path in (
        "/api/v1/customers/LOGIN",
        "/api/V1.1/Customers/login",
        "/api/v1.0/CUSTOMER/Login",
        "/api/v1/customer/login",
    ):
        response = await login(client, tenant.email, tenant.password, path)
        assert response.status_code == 200, (path, response.text)
        assert claims_of(response.json()["token"])["sub"] == claims_of(tenant.token)["sub"], path


async def test_password_path_spellings(client, tenant):
    payload = {"oldPassword": tenant.password, "newPassword": NEW_PASSWORD}
    response = await client.post("/api/v1.1/customers/PASSWORD", json=payload, headers=tenant.bearer)
    assert response.status_code == 204, response.text
    assert (await login(client, tenant.email, NEW_PASSWORD, "/api/v1/CUSTOMERS/login")).status_code == 200


async def test_fixed_segments_are_case_insensitive_and_singular_or_plural(client, tenant):
    expected = (await client.get(ACCOUNTS, headers=tenant.bearer)).json()
    assert {a["id"] for a in expected} == set(tenant.accounts.values())
    for path in ("/api/v1/TRAFFICACCOUNTS", "/api/v1/trafficaccounts", "/api/v1.1/TrafficAccount"):
        response = await client.get(path, headers=tenant.bearer)
        assert response.status_code == 200, (path, response.text)
        assert response.json() == expected, path
    sms = tenant.accounts["sms"]
    one = await client.get(f"/api/v1/TrafficAccount/{sms}", headers=tenant.key)
    assert one.status_code == 200 and one.json()["id"] == sms, one.text

    created = await client.post(
        "/api/v1/webhooks",
        json={"url": "https://93.184.216.34/hook", "webhookTriggers": ["Delivered"]},
        headers=tenant.bearer,
    )
    assert created.status_code == 201, created.text
    webhook_id = created.json()["id"]
    for path in ("/api/v1/Webhook", "/api/v1/webhooks", "/api/v1.1/WEBHOOKS", "/api/v1/webhook"):
        response = await client.get(path, headers=tenant.bearer)
        assert response.status_code == 200, (path, response.text)
        assert [w["id"] for w in response.json()] == [webhook_id], path
    for path in (f"/api/v1/Webhooks/{webhook_id}", f"/api/v1/WEBHOOK/{webhook_id}"):
        response = await client.get(path, headers=tenant.key)
        assert response.status_code == 200 and response.json()["id"] == webhook_id, (path, response.text)

    # A fixed segment that is no alias of a known one is still unknown.
    assert_problem(await client.get("/api/v1/trafficAccountz", headers=tenant.bearer), 404, "not_found")
