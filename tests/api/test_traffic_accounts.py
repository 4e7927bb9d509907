"""Traffic accounts as a customer sees them: GET /api/v1/trafficAccounts and /{id} (issue 2)."""

from __future__ import annotations

import re
import uuid

from tests.conftest import ADMIN, assert_problem, new_tenant

FIELDS = {"id", "name", "channel", "sandbox", "callbackUrl", "createdAt", "updatedAt"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")


async def _live_whatsapp(client, tenant_id: str) -> tuple[dict, dict[str, str]]:
    secrets = {key: f"SECRET-{key}-{uuid.uuid4().hex}" for key in ("accessToken", "appSecret", "verifyToken")}
    response = await client.post(
        f"/admin/tenants/{tenant_id}/traffic-accounts",
        json={
            "name": "live wa",
            "channel": "whatsapp",
            "sandbox": False,
            "settings": {"phoneNumberId": "PNID-123", "wabaId": "WABA-456", "sendRate": 7, **secrets},
        },
        headers=ADMIN,
    )
    assert response.status_code == 201, response.text
    return response.json(), secrets


async def test_list_shows_only_own_accounts(client, tenant, other_tenant):
    for auth in ("bearer", "key"):
        response = await client.get("/api/v1/trafficAccounts", headers=getattr(tenant, auth))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        body = response.json()
        assert isinstance(body, list)
        # in creation order: new_tenant makes sms, then whatsapp
        assert [a["id"] for a in body] == [tenant.accounts["sms"], tenant.accounts["whatsapp"]]
        for account in body:
            assert set(account) == FIELDS, account
            assert account["sandbox"] is True
            assert TIMESTAMP.match(account["createdAt"]) and TIMESTAMP.match(account["updatedAt"]), account
        assert [(a["name"], a["channel"]) for a in body] == [("sms sandbox", "sms"), ("whatsapp sandbox", "whatsapp")]
        assert not {a["id"] for a in body} & set(other_tenant.accounts.values())

        other = (await client.get("/api/v1/trafficAccounts", headers=getattr(other_tenant, auth))).json()
        assert [a["id"] for a in other] == [other_tenant.accounts["sms"], other_tenant.accounts["whatsapp"]]


async def test_list_of_a_tenant_without_accounts_is_empty(client):
    empty = await new_tenant(client, channels=())
    response = await client.get("/api/v1/trafficAccounts", headers=empty.key)
    assert response.status_code == 200, response.text
    assert response.json() == []


async def test_get_one(client, tenant):
    listed = {a["id"]: a for a in (await client.get("/api/v1/trafficAccounts", headers=tenant.key)).json()}
    for channel, account_id in tenant.accounts.items():
        for headers in (tenant.key, tenant.bearer):
            response = await client.get(f"/api/v1/trafficAccounts/{account_id}", headers=headers)
            assert response.status_code == 200, response.text
            body = response.json()
            assert set(body) == FIELDS
            assert body["id"] == account_id and body["channel"] == channel and body["sandbox"] is True
            assert body == listed[account_id]


async def test_settings_and_credentials_are_never_shown(client, tenant):
    account, secrets = await _live_whatsapp(client, tenant.id)
    responses = [
        await client.get("/api/v1/trafficAccounts", headers=tenant.key),
        await client.get(f"/api/v1/trafficAccounts/{account['id']}", headers=tenant.bearer),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        for secret in secrets.values():
            assert secret not in response.text
        # not even the public settings, nor the names of the credentials
        for hidden in ("PNID-123", "WABA-456", "settings", "credentials", "accessToken", "sendRate"):
            assert hidden not in response.text, hidden
    one = responses[1].json()
    assert set(one) == FIELDS
    assert one == {
        "id": account["id"],
        "name": "live wa",
        "channel": "whatsapp",
        "sandbox": False,
        "callbackUrl": account["callbackUrl"],  # the same URL the operator sees: the provider sends there
        "createdAt": account["createdAt"],
        "updatedAt": account["updatedAt"],
    }
    assert [a["id"] for a in responses[0].json()][-1] == account["id"]


async def test_changes_made_by_the_operator_show(client, tenant):
    account_id = tenant.accounts["sms"]
    before = (await client.get(f"/api/v1/trafficAccounts/{account_id}", headers=tenant.key)).json()
    patched = await client.patch(
        f"/admin/tenants/{tenant.id}/traffic-accounts/{account_id}", json={"name": "renamed"}, headers=ADMIN
    )
    assert patched.status_code == 200, patched.text
    after = (await client.get(f"/api/v1/trafficAccounts/{account_id}", headers=tenant.key)).json()
    assert after["name"] == "renamed"
    assert after["createdAt"] == before["createdAt"]
    assert after["updatedAt"] >= before["updatedAt"]

    deleted = await client.delete(f"/admin/tenants/{tenant.id}/traffic-accounts/{account_id}", headers=ADMIN)
    assert deleted.status_code == 204, deleted.text
    assert_problem(await client.get(f"/api/v1/trafficAccounts/{account_id}", headers=tenant.key), 404, "not_found")
    remaining = (await client.get("/api/v1/trafficAccounts", headers=tenant.key)).json()
    assert [a["id"] for a in remaining] == [tenant.accounts["whatsapp"]]


async def test_another_tenants_account_is_indistinguishable_from_a_missing_one(client, tenant, other_tenant):
    foreign = await client.get(f"/api/v1/trafficAccounts/{other_tenant.accounts['sms']}", headers=tenant.bearer)
    missing = await client.get(f"/api/v1/trafficAccounts/{uuid.uuid4()}", headers=tenant.bearer)
    foreign_body = assert_problem(foreign, 404, "not_found")
    assert_problem(missing, 404, "not_found")
    assert foreign.content == missing.content
    assert foreign_body == missing.json()
    assert other_tenant.accounts["sms"] not in foreign.text
    # and with an API key
    by_key = await client.get(f"/api/v1/trafficAccounts/{other_tenant.accounts['whatsapp']}", headers=tenant.key)
    assert_problem(by_key, 404, "not_found")
    assert by_key.content == missing.content


async def test_path_spellings_and_versions(client, tenant):
    for path in (
        "/api/v1/trafficAccounts",
        "/api/v1.0/trafficAccounts",
        "/api/v1.1/TrafficAccounts",
        "/api/v1/trafficaccounts",
        "/api/v1/TrafficAccount",
        "/api/v1/trafficAccounts/",
    ):
        response = await client.get(path, headers=tenant.key)
        assert response.status_code == 200, (path, response.text)
        assert [a["id"] for a in response.json()] == [tenant.accounts["sms"], tenant.accounts["whatsapp"]]
        one = await client.get(f"{path.rstrip('/')}/{tenant.accounts['sms']}", headers=tenant.key)
        assert one.status_code == 200, (path, one.text)
        assert one.json()["id"] == tenant.accounts["sms"]


async def test_unknown_api_version(client, tenant):
    response = await client.get("/api/v2/trafficAccounts", headers=tenant.key)
    assert_problem(response, 404, "unknown_api_version")


async def test_needs_customer_credentials(client, tenant):
    for headers in (
        {},
        {"Authorization": "Bearer not-a-jwt"},
        {"X-Mitto-API-Key": "gk_not-a-real-key"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer test-admin-token"},
        {"Authorization": f"Bearer {tenant.api_key}"},  # a key is not a token
    ):
        for path in ("/api/v1/trafficAccounts", f"/api/v1/trafficAccounts/{tenant.accounts['sms']}"):
            response = await client.get(path, headers=headers)
            assert_problem(response, 401, "unauthorized")
            assert "sms sandbox" not in response.text
