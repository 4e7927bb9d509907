"""Errors everywhere are application/problem+json with a stable code, never a 500 for bad input (issue 2,
"Everywhere")."""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.conftest import ADMIN, assert_problem, error_fields, make_settings

# A public address given literally, so creating a webhook needs no DNS.
PUBLIC_URL = "https://93.184.216.34/hook"
JSON = {"content-type": "application/json"}


def problem(response: Any, status: int, code: str, *fields: str) -> dict[str, Any]:
    """assert_problem, plus the exact shape of RFC 9457 members and of ``errors``."""
    body = assert_problem(response, status, code, *fields)
    assert {"type", "title", "status", "detail", "code"} <= set(body), body
    assert body["title"] == HTTPStatus(status).phrase, body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert set(body) <= {"type", "title", "status", "detail", "code", "errors"}, body
    for error in body.get("errors", []):
        assert set(error) == {"field", "message"} and error["field"] and error["message"], body
    return body


# --------------------------------------------------------------------------------------------------
# Bodies that aren't what the endpoint takes
# --------------------------------------------------------------------------------------------------


async def test_malformed_json(client, tenant):
    for raw in (b"{nope", b'{"url": "x",}', b'{"url": "x"} trailing', b"\xff\xfe", b"[1, 2"):
        customer = await client.post("/api/v1/Webhook", content=raw, headers={**tenant.bearer, **JSON})
        body = problem(customer, 400, "validation_error", "body")
        assert error_fields(body) == ["body"], raw
        admin = await client.post("/admin/tenants", content=raw, headers={**ADMIN, **JSON})
        problem(admin, 400, "validation_error", "body")
        patch = await client.patch(
            f"/admin/tenants/{tenant.id}/traffic-accounts/{tenant.accounts['sms']}",
            content=raw,
            headers={**ADMIN, **JSON},
        )
        problem(patch, 400, "validation_error", "body")
    login = await client.post("/api/v1/Customer/login", content=b"{nope", headers=JSON)
    problem(login, 400, "validation_error", "body")


async def test_json_that_is_not_an_object(client, tenant):
    for raw in (b"[]", b'[{"url": "https://93.184.216.34/hook"}]', b"null", b'"text"', b"5", b"true"):
        for method, url, headers in (
            ("POST", "/api/v1/Webhook", tenant.bearer),
            ("POST", "/admin/tenants", ADMIN),
            ("POST", "/api/v1/Customer/login", {}),
            ("POST", f"/admin/tenants/{tenant.id}/traffic-accounts", ADMIN),
        ):
            response = await client.request(method, url, content=raw, headers={**headers, **JSON})
            body = problem(response, 400, "validation_error", "body")
            assert error_fields(body) == ["body"], (url, raw, body)


async def test_empty_body(client, tenant):
    for method, url, headers in (("POST", "/api/v1/Webhook", tenant.bearer), ("POST", "/admin/tenants", ADMIN)):
        response = await client.request(method, url, content=b"", headers={**headers, **JSON})
        problem(response, 400, "validation_error", "body")


async def test_wrong_types_are_all_named_at_once(client, tenant):
    response = await client.post(
        "/api/v1/Webhook", json={"url": 5, "webhookTriggers": "Delivered"}, headers=tenant.bearer
    )
    body = problem(response, 400, "validation_error", "url", "webhookTriggers")
    assert sorted(error_fields(body)) == ["url", "webhookTriggers"]

    response = await client.post(
        "/api/v1/Webhook",
        json={"url": PUBLIC_URL, "webhookTriggers": ["Delivered"], "description": 7, "headers": {"X-A": 1}},
        headers=tenant.bearer,
    )
    body = problem(response, 400, "validation_error", "description")
    # msgspec names a bad dict value "headers[...]": the field is named, the key isn't
    assert sorted(error_fields(body)) == ["description", "headers[...]"]

    response = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": 1, "channel": 2, "sandbox": "yes", "settings": "no"},
        headers=ADMIN,
    )
    body = problem(response, 400, "validation_error", "name", "channel", "sandbox", "settings")
    assert sorted(error_fields(body)) == ["channel", "name", "sandbox", "settings"]


async def test_missing_required_fields_are_named(client, tenant):
    body = problem(await client.post("/api/v1/Webhook", json={}, headers=tenant.bearer), 400, "validation_error")
    assert sorted(error_fields(body)) == ["url", "webhookTriggers"]
    body = problem(await client.post("/api/v1/Customer/login", json={}), 400, "validation_error")
    assert sorted(error_fields(body)) == ["email", "password"]


async def test_unknown_field_is_named(client, tenant):
    response = await client.post(
        "/api/v1/Webhook",
        json={"url": PUBLIC_URL, "webhookTriggers": ["Delivered"], "colour": "red", "Url": PUBLIC_URL},
        headers=tenant.bearer,
    )
    body = problem(response, 400, "validation_error", "colour", "Url")
    assert sorted(error_fields(body)) == ["Url", "colour"]
    # unknown and wrong together: both named
    response = await client.post("/admin/tenants", json={"name": 5, "owner": "me"}, headers=ADMIN)
    body = problem(response, 400, "validation_error", "name", "owner")
    assert sorted(error_fields(body)) == ["name", "owner"]
    # snake_case spellings of camelCase fields are unknown
    response = await client.post(
        "/api/v1/Webhook", json={"url": PUBLIC_URL, "webhook_triggers": ["Delivered"]}, headers=tenant.bearer
    )
    problem(response, 400, "validation_error", "webhook_triggers", "webhookTriggers")


async def test_unknown_enum_value_is_named(client, tenant):
    response = await client.post(
        "/api/v1/Webhook", json={"url": PUBLIC_URL, "webhookTriggers": ["Delivered", "Nope"]}, headers=tenant.bearer
    )
    body = problem(response, 400, "validation_error", "webhookTriggers[1]")
    assert error_fields(body) == ["webhookTriggers[1]"]
    assert "Nope" in body["errors"][0]["message"]


async def test_bad_uuids_in_bodies_and_queries_are_400(client, tenant):
    response = await client.post(
        "/api/v1/Webhook",
        json={"url": PUBLIC_URL, "webhookTriggers": ["Delivered"], "linkTrafficAccountIds": ["nope", 5]},
        headers=tenant.bearer,
    )
    body = problem(response, 400, "validation_error", "linkTrafficAccountIds[0]")
    response = await client.post(
        "/api/v1/WebhookTrafficAccount/ApplyWebhookForTrafficAccount",
        json={"webhookId": "nope", "trafficAccountId": 5},
        headers=tenant.bearer,
    )
    body = problem(response, 400, "validation_error", "webhookId", "trafficAccountId")
    assert sorted(error_fields(body)) == ["trafficAccountId", "webhookId"]
    response = await client.delete(
        "/api/v1/WebhookTrafficAccount/DeleteWebhookForTrafficAccount?webhookId=nope&trafficAccountId=123",
        headers=tenant.bearer,
    )
    body = problem(response, 400, "validation_error", "webhookId", "trafficAccountId")
    assert sorted(error_fields(body)) == ["trafficAccountId", "webhookId"]


async def test_bad_query_values_are_named_as_the_client_spells_them(client, tenant):
    response = await client.delete(f"/api/v1/Webhook/{uuid.uuid4()}?forceDelete=maybe", headers=tenant.bearer)
    body = problem(response, 400, "validation_error", "forceDelete")
    assert error_fields(body) == ["forceDelete"]
    response = await client.get("/admin/tenants?limit=many", headers=ADMIN)
    body = problem(response, 400, "validation_error", "limit")
    assert error_fields(body) == ["limit"]
    # Only the parameters at fault, nothing of the path (issue 14 saw a bogus {"field": "version"} here).
    for query in ("limit=0", "limit=abc"):
        for path in ("/api/v1/Messages", "/api/v1.1/Conversations", f"/api/v1/Webhook/{uuid.uuid4()}/deliveries"):
            response = await client.get(f"{path}?{query}", headers=tenant.key)
            assert error_fields(problem(response, 400, "validation_error")) == ["limit"], path


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/Webhook/not-a-uuid", "webhookId"),
        ("/api/v1/trafficAccounts/123", "accountId"),
        ("/api/v1/trafficAccounts/00000000-0000-0000-0000-00000000000g", "accountId"),
        ("/api/v1/Webhook/not-a-uuid/secret", "webhookId"),
        ("/api/v1/trafficAccounts/nope/WhatsAppTemplates", "accountId"),
        ("/admin/tenants/not-a-uuid", "tenantId"),
        ("/admin/tenants/not-a-uuid/traffic-accounts", "tenantId"),
        ("/admin/tenants/{tenant}/traffic-accounts/123", "accountId"),
    ],
)
async def test_bad_uuid_in_a_path_is_a_400_naming_it(client, tenant, path, field):
    headers = ADMIN if path.startswith("/admin") else tenant.bearer
    response = await client.get(path.format(tenant=tenant.id), headers=headers)
    problem(response, 400, "validation_error")
    assert [error["field"] for error in response.json()["errors"]] == [field]
    assert "UUID" in response.json()["errors"][0]["message"]


# --------------------------------------------------------------------------------------------------
# Oversized bodies
# --------------------------------------------------------------------------------------------------


async def test_oversized_body(client, tenant):
    limited = make_settings(client.app.state.runtime.settings.database_url, max_body_bytes=1024)
    async with AsyncTestClient(app=create_app(limited)) as small:
        big = {"url": PUBLIC_URL, "webhookTriggers": ["Delivered"], "description": "x" * 2000}
        response = await small.post("/api/v1/Webhook", json=big, headers=tenant.bearer)
        problem(response, 413, "body_too_large")
        listed = await small.get("/api/v1/Webhook", headers=tenant.bearer)
        assert listed.status_code == 200 and listed.json() == [], listed.text

        # at the limit it is read; one byte more is refused (JSON allows the padding)
        name = f"padded-{uuid.uuid4().hex[:8]}"
        exact = f'{{"name": "{name}"}}'.encode()
        exact += b" " * (1024 - len(exact))
        assert len(exact) == 1024
        response = await small.post("/admin/tenants", content=exact, headers={**ADMIN, **JSON})
        assert response.status_code == 201, response.text
        assert response.json()["name"] == name
        response = await small.post("/admin/tenants", content=exact + b" ", headers={**ADMIN, **JSON})
        problem(response, 413, "body_too_large")

        # a body that is larger than its Content-Length says is refused too
        response = await small.post(
            "/admin/tenants", content=b" " * 2000, headers={**ADMIN, **JSON, "content-length": "10"}
        )
        problem(response, 413, "body_too_large")

        # garbage that is too large is a 413, not a JSON error
        response = await small.post("/api/v1/Webhook", content=b"{" * 5000, headers={**tenant.bearer, **JSON})
        problem(response, 413, "body_too_large")

    # the default limit takes the same body
    response = await client.post("/admin/tenants", content=exact + b" ", headers={**ADMIN, **JSON})
    assert response.status_code == 201, response.text


# --------------------------------------------------------------------------------------------------
# Routes and methods
# --------------------------------------------------------------------------------------------------


async def test_unknown_route(client, tenant):
    for path, headers in (
        ("/nope", {}),
        ("/api/v1/nope", tenant.bearer),
        ("/api/v1/trafficAccounts/extra/segments/here", tenant.bearer),
        ("/admin/nope", ADMIN),
        ("/admin/tenants/extra/segments/here", ADMIN),
    ):
        for method in ("GET", "POST"):
            response = await client.request(method, path, headers=headers)
            problem(response, 404, "not_found")


async def test_wrong_method(client, tenant):
    for method, path, headers, allowed in (
        ("DELETE", "/api/v1/trafficAccounts", tenant.bearer, "GET"),
        ("POST", f"/api/v1/trafficAccounts/{tenant.accounts['sms']}", tenant.bearer, "GET"),
        ("PATCH", "/api/v1/Webhook", tenant.bearer, "POST"),
        ("PUT", "/admin/tenants", ADMIN, "POST"),
        ("PUT", f"/admin/tenants/{tenant.id}", ADMIN, "PATCH"),
        ("GET", "/api/v1/Customer/login", {}, "POST"),
    ):
        response = await client.request(method, path, headers=headers)
        problem(response, 405, "method_not_allowed")
        assert allowed in response.headers.get("allow", ""), (path, response.headers)
    # nothing changed
    still = await client.get(f"/api/v1/trafficAccounts/{tenant.accounts['sms']}", headers=tenant.bearer)
    assert still.status_code == 200, still.text


# --------------------------------------------------------------------------------------------------
# Unexpected exceptions
# --------------------------------------------------------------------------------------------------


async def test_unexpected_exception_is_a_500_that_leaks_nothing(client, tenant, monkeypatch, caplog):
    from gateway.tenants.traffic_accounts import TrafficAccountService

    async def broken(self: Any, tenant_id: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(TrafficAccountService, "list", broken)
    with caplog.at_level(logging.ERROR):
        response = await client.get("/api/v1/trafficAccounts", headers=tenant.bearer)
    body = problem(response, 500, "internal_error")
    assert "errors" not in body
    for leak in ("secret internals", "RuntimeError", "Traceback", "traffic_accounts", ".py", "broken"):
        assert leak not in response.text, leak
    # it is logged for the operator, though
    logged = "\n".join(
        logging.Formatter().formatException(record.exc_info) for record in caplog.records if record.exc_info
    )
    assert "secret internals" in logged

    # the app keeps working: other endpoints are fine
    other = await client.get(f"/api/v1/trafficAccounts/{tenant.accounts['sms']}", headers=tenant.bearer)
    assert other.status_code == 200, other.text


async def test_unexpected_exception_on_the_admin_api(client, tenant, monkeypatch):
    from gateway.tenants.service import TenantService

    async def broken(self: Any, *args: Any) -> Any:
        raise ValueError("SELECT password_hash FROM customer")

    monkeypatch.setattr(TenantService, "get", broken)
    response = await client.get(f"/admin/tenants/{tenant.id}", headers=ADMIN)
    problem(response, 500, "internal_error")
    assert "password_hash" not in response.text and "ValueError" not in response.text


# --------------------------------------------------------------------------------------------------
# Every error has the same shape
# --------------------------------------------------------------------------------------------------


async def test_auth_errors_are_problems_too(client, tenant):
    problem(await client.get("/api/v1/trafficAccounts"), 401, "unauthorized")
    problem(await client.get("/admin/tenants"), 401, "unauthorized")
    problem(await client.get("/api/v1/trafficAccounts", headers={"Authorization": "Bearer x.y.z"}), 401, "unauthorized")
    problem(await client.get("/api/v2/trafficAccounts", headers=tenant.bearer), 404, "unknown_api_version")
    problem(await client.get(f"/api/v1/trafficAccounts/{uuid.uuid4()}", headers=tenant.bearer), 404, "not_found")
