"""WhatsApp templates over HTTP (seed 000). The template rules themselves are unit-tested in
channels/whatsapp/tests/test_whatsapp_templates.py; this file covers the HTTP layer: statuses, codes, named
fields, the traffic account's channel, sandbox or live, tenant isolation and deletion."""

from __future__ import annotations

import copy
import re
import uuid
from typing import Any, TypeVar

from litestar.testing import AsyncTestClient

from tests.conftest import ADMIN, TenantFixture, assert_problem, error_fields

T = TypeVar("T")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")

_MARKETING: dict[str, Any] = {
    "language": {"code": "en_US"},
    "category": "MARKETING",
    "components": [
        {
            "type": "HEADER",
            "format": "TEXT",
            "text": "Our {{1}} is on!",
            "example": {"header_text": ["Summer Sale"]},
        },
        {
            "type": "BODY",
            "text": "Shop now through {{1}} and use code {{2}} to get 25% off.",
            "example": {"body_text": [["the end of August", "25OFF"]]},
        },
        {"type": "FOOTER", "text": "Reply STOP to unsubscribe"},
        {
            "type": "BUTTONS",
            "buttons": [
                {"type": "QUICK_REPLY", "text": "Unsubscribe"},
                {
                    "type": "URL",
                    "text": "Shop now",
                    "url": "https://shop.example.com/sale/{{1}}",
                    "example": ["https://shop.example.com/sale/summer"],
                },
            ],
        },
    ],
}


def marketing(code: str = "en_US") -> dict[str, Any]:
    template = copy.deepcopy(_MARKETING)
    template["language"] = {"code": code}
    return template


def utility(code: str = "en_US") -> dict[str, Any]:
    return {
        "language": {"code": code},
        "category": "UTILITY",
        "components": [{"type": "BODY", "text": "Your order {{1}} has shipped.", "example": {"body_text": [["A1"]]}}],
    }


# --------------------------------------------------------------------------
# Tenants (fast: no argon2 per test)
# --------------------------------------------------------------------------


def templates_url(account_id: str, name: str | None = None) -> str:
    base = f"/api/v1/trafficAccounts/{account_id}/WhatsAppTemplates"
    return f"{base}/{name}" if name is not None else base


async def create(
    client: AsyncTestClient, tenant: TenantFixture, name: str, template: dict[str, Any] | None = None
) -> dict[str, Any]:
    url = templates_url(tenant.accounts["whatsapp"], name)
    response = await client.post(url, json=template or marketing(), headers=tenant.bearer)
    assert response.status_code == 201, response.text
    return response.json()


async def listed(client: AsyncTestClient, tenant: TenantFixture) -> list[dict[str, Any]]:
    response = await client.get(templates_url(tenant.accounts["whatsapp"]), headers=tenant.bearer)
    assert response.status_code == 200, response.text
    return response.json()


def message_of(response: Any, field: str) -> str:
    return next(error["message"] for error in response.json()["errors"] if error["field"] == field)


# --------------------------------------------------------------------------
# Create and list
# --------------------------------------------------------------------------


async def test_create_on_a_sandbox_account_is_approved(client, tenant):
    whatsapp = tenant.accounts["whatsapp"]
    response = await client.post(templates_url(whatsapp, "summer_sale"), json=marketing(), headers=tenant.bearer)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {
        "id",
        "trafficAccountId",
        "name",
        "language",
        "category",
        "components",
        "status",
        "createdAt",
        "updatedAt",
    }
    uuid.UUID(created["id"])
    assert created["trafficAccountId"] == whatsapp
    assert created["name"] == "summer_sale"
    assert created["language"] == {"code": "en_US"}
    assert created["category"] == "MARKETING"
    assert created["components"] == _MARKETING["components"]
    assert created["status"] == "APPROVED"
    assert TIMESTAMP.match(created["createdAt"]) and TIMESTAMP.match(created["updatedAt"]), created

    assert await listed(client, tenant) == [created]


async def test_list_is_empty_at_first_and_works_with_the_api_key(client, tenant):
    response = await client.get(templates_url(tenant.accounts["whatsapp"]), headers=tenant.key)
    assert response.status_code == 200, response.text
    assert response.json() == []
    await create(client, tenant, "order_shipped", utility())
    response = await client.get(templates_url(tenant.accounts["whatsapp"]), headers=tenant.key)
    assert [t["name"] for t in response.json()] == ["order_shipped"]


async def test_paths_are_case_insensitive_and_singular_or_plural(client, tenant):
    whatsapp = tenant.accounts["whatsapp"]
    response = await client.post(
        f"/api/v1.1/trafficaccount/{whatsapp}/whatsapptemplate/order_shipped", json=utility(), headers=tenant.bearer
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "order_shipped"  # the name, a path parameter, is kept as given
    response = await client.get(f"/api/v1/TrafficAccounts/{whatsapp}/WhatsAppTemplates", headers=tenant.bearer)
    assert [t["name"] for t in response.json()] == ["order_shipped"]


async def test_list_is_ordered_by_name_then_language(client, tenant):
    await create(client, tenant, "zeta", utility("en_US"))
    await create(client, tenant, "alpha", utility("pt_BR"))
    await create(client, tenant, "alpha", utility("de"))
    assert [(t["name"], t["language"]["code"]) for t in await listed(client, tenant)] == [
        ("alpha", "de"),
        ("alpha", "pt_BR"),
        ("zeta", "en_US"),
    ]


async def test_requires_credentials(client, tenant):
    whatsapp = tenant.accounts["whatsapp"]
    assert_problem(await client.get(templates_url(whatsapp)), 401, "unauthorized")
    assert_problem(await client.post(templates_url(whatsapp, "a_b"), json=utility()), 401, "unauthorized")
    assert_problem(await client.delete(templates_url(whatsapp, "a_b")), 401, "unauthorized")
    assert await listed(client, tenant) == []


# --------------------------------------------------------------------------
# Duplicates and languages
# --------------------------------------------------------------------------


async def test_duplicate_name_and_language_is_a_conflict(client, tenant):
    first = await create(client, tenant, "summer_sale")
    response = await client.post(
        templates_url(tenant.accounts["whatsapp"], "summer_sale"), json=utility(), headers=tenant.bearer
    )
    assert_problem(response, 409, "template_exists", "name")
    assert await listed(client, tenant) == [first]


async def test_same_name_in_another_language(client, tenant):
    english = await create(client, tenant, "summer_sale", marketing("en_US"))
    spanish = await create(client, tenant, "summer_sale", marketing("es"))
    assert spanish["language"] == {"code": "es"} and spanish["id"] != english["id"]
    assert {t["language"]["code"] for t in await listed(client, tenant)} == {"en_US", "es"}


async def test_same_name_on_another_account_or_tenant(client, tenant, other_tenant):
    await create(client, tenant, "summer_sale")
    await create(client, other_tenant, "summer_sale")
    second = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": "second whatsapp", "channel": "whatsapp", "sandbox": True},
        headers=ADMIN,
    )
    assert second.status_code == 201, second.text
    response = await client.post(
        templates_url(second.json()["id"], "summer_sale"), json=marketing(), headers=tenant.bearer
    )
    assert response.status_code == 201, response.text
    assert len(await listed(client, tenant)) == 1


# --------------------------------------------------------------------------
# Delete
# --------------------------------------------------------------------------


async def test_delete_removes_every_language(client, tenant):
    await create(client, tenant, "summer_sale", marketing("en_US"))
    await create(client, tenant, "summer_sale", marketing("es"))
    kept = await create(client, tenant, "order_shipped", utility())
    response = await client.delete(templates_url(tenant.accounts["whatsapp"], "summer_sale"), headers=tenant.bearer)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert await listed(client, tenant) == [kept]
    response = await client.delete(templates_url(tenant.accounts["whatsapp"], "order_shipped"), headers=tenant.bearer)
    assert response.status_code == 204, response.text
    assert await listed(client, tenant) == []


async def test_delete_one_language(client, tenant):
    await create(client, tenant, "summer_sale", marketing("en_US"))
    spanish = await create(client, tenant, "summer_sale", marketing("es"))
    url = templates_url(tenant.accounts["whatsapp"], "summer_sale")
    response = await client.delete(url, params={"language": "en_US"}, headers=tenant.bearer)
    assert response.status_code == 204, response.text
    assert await listed(client, tenant) == [spanish]
    again = await client.delete(url, params={"language": "en_US"}, headers=tenant.bearer)
    assert_problem(again, 404, "not_found", "name")
    assert await listed(client, tenant) == [spanish]


async def test_delete_unknown_template(client, tenant):
    await create(client, tenant, "summer_sale")
    url = templates_url(tenant.accounts["whatsapp"], "no_such_template")
    assert_problem(await client.delete(url, headers=tenant.bearer), 404, "not_found", "name")
    unknown_language = await client.delete(
        templates_url(tenant.accounts["whatsapp"], "summer_sale"), params={"language": "fr"}, headers=tenant.bearer
    )
    assert_problem(unknown_language, 404, "not_found", "name")
    assert len(await listed(client, tenant)) == 1


async def test_recreate_after_delete(client, tenant):
    first = await create(client, tenant, "summer_sale")
    response = await client.delete(templates_url(tenant.accounts["whatsapp"], "summer_sale"), headers=tenant.bearer)
    assert response.status_code == 204, response.text
    second = await create(client, tenant, "summer_sale")
    assert second["id"] != first["id"]


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------


async def test_language_as_a_plain_string(client, tenant):
    template = marketing()
    template["language"] = "en_US"
    response = await client.post(
        templates_url(tenant.accounts["whatsapp"], "summer_sale"), json=template, headers=tenant.bearer
    )
    assert_problem(response, 400, "validation_error", "language")
    assert "must be an object" in message_of(response, "language")
    assert await listed(client, tenant) == []


async def test_language_code_is_checked(client, tenant):
    for code_body in ({"code": "english"}, {}):
        template = marketing()
        template["language"] = code_body
        response = await client.post(
            templates_url(tenant.accounts["whatsapp"], "summer_sale"), json=template, headers=tenant.bearer
        )
        assert_problem(response, 400, "validation_error", "language.code")


async def test_bad_name(client, tenant):
    for name in ("Summer_Sale", "summer-sale", "summer%20sale", "x" * 513):
        response = await client.post(
            templates_url(tenant.accounts["whatsapp"], name), json=marketing(), headers=tenant.bearer
        )
        problem = assert_problem(response, 400, "validation_error", "name")
        assert set(error_fields(response)) == {"name"}, (name, problem)
    assert await listed(client, tenant) == []
    assert (await create(client, tenant, "x" * 512))["name"] == "x" * 512


async def test_two_body_components(client, tenant):
    template = marketing()
    template["components"].append(copy.deepcopy(template["components"][1]))
    response = await client.post(
        templates_url(tenant.accounts["whatsapp"], "summer_sale"), json=template, headers=tenant.bearer
    )
    assert_problem(response, 400, "validation_error", "components[4]")
    assert "only one BODY" in message_of(response, "components[4]")
    assert await listed(client, tenant) == []


async def test_missing_body_component(client, tenant):
    template = marketing()
    del template["components"][1]
    response = await client.post(
        templates_url(tenant.accounts["whatsapp"], "summer_sale"), json=template, headers=tenant.bearer
    )
    assert_problem(response, 400, "validation_error", "components")


async def test_several_problems_are_all_named(client, tenant):
    template = marketing()
    template["language"] = {"code": "English"}
    template["components"][1]["text"] = "Hello {{1}} and {{3}}"  # a gap in the placeholders
    template["components"][2]["text"] = "f" * 61  # footer too long
    template["components"].append({"type": "BODY", "text": "again"})
    response = await client.post(
        templates_url(tenant.accounts["whatsapp"], "Summer-Sale"), json=template, headers=tenant.bearer
    )
    assert_problem(
        response,
        400,
        "validation_error",
        "name",
        "language.code",
        "components[1].text",
        "components[2].text",
        "components[4]",
    )


async def test_body_shape_errors(client, tenant):
    url = templates_url(tenant.accounts["whatsapp"], "summer_sale")
    missing = await client.post(url, json={}, headers=tenant.bearer)
    assert_problem(missing, 400, "validation_error", "language", "category", "components")
    category = utility()
    category["category"] = "PROMOTION"
    assert_problem(await client.post(url, json=category, headers=tenant.bearer), 400, "validation_error", "category")
    unknown = utility()
    unknown["status"] = "APPROVED"
    assert_problem(await client.post(url, json=unknown, headers=tenant.bearer), 400, "validation_error", "status")
    not_list = utility()
    not_list["components"] = {"type": "BODY"}
    assert_problem(await client.post(url, json=not_list, headers=tenant.bearer), 400, "validation_error", "components")
    not_json = await client.post(url, content=b"{nope", headers={**tenant.bearer, "content-type": "application/json"})
    assert_problem(not_json, 400, "validation_error", "body")
    assert await listed(client, tenant) == []


async def test_decoding_and_rule_errors_together(client, tenant):
    """A plain-string language (caught when decoding) and an uppercase name (a template rule)."""
    template = marketing()
    template["language"] = "en_US"
    response = await client.post(
        templates_url(tenant.accounts["whatsapp"], "Summer_Sale"), json=template, headers=tenant.bearer
    )
    assert_problem(response, 400, "validation_error", "language", "name")


# --------------------------------------------------------------------------
# The traffic account: channel, tenant, sandbox or live, deletion
# --------------------------------------------------------------------------


async def test_template_on_a_non_whatsapp_account(client, tenant):
    sms = tenant.accounts["sms"]
    response = await client.post(templates_url(sms, "summer_sale"), json=marketing(), headers=tenant.bearer)
    problem = assert_problem(response, 400, "validation_error", "trafficAccountId")
    assert "whatsapp" in message_of(response, "trafficAccountId"), problem
    assert_problem(
        await client.get(templates_url(sms), headers=tenant.bearer), 400, "validation_error", "trafficAccountId"
    )
    assert_problem(
        await client.delete(templates_url(sms, "summer_sale"), headers=tenant.bearer),
        400,
        "validation_error",
        "trafficAccountId",
    )


async def test_other_tenants_account_is_not_found(client, tenant, other_tenant):
    theirs = await create(client, other_tenant, "summer_sale")
    their_account = other_tenant.accounts["whatsapp"]
    random_account = str(uuid.uuid4())
    for method, suffix, payload in (
        ("GET", "", None),
        ("POST", "/order_shipped", utility()),
        ("DELETE", "/summer_sale", None),
    ):
        response = await client.request(
            method, templates_url(their_account) + suffix, json=payload, headers=tenant.bearer
        )
        unknown = await client.request(
            method, templates_url(random_account) + suffix, json=payload, headers=tenant.bearer
        )
        assert_problem(response, 404, "not_found", "trafficAccountId")
        assert response.json() == unknown.json(), (method, suffix)
    assert await listed(client, other_tenant) == [theirs]


async def test_template_on_a_live_account_is_pending(client, tenant):
    live = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={
            "name": "whatsapp live",
            "channel": "whatsapp",
            "sandbox": False,
            "settings": {
                "phoneNumberId": "106540352242922",
                "wabaId": "102290129340398",
                "accessToken": "EAAG-test-access-token",
                "appSecret": "test-app-secret",
                "verifyToken": "test-verify-token",
            },
        },
        headers=ADMIN,
    )
    assert live.status_code == 201, live.text
    account_id = live.json()["id"]
    response = await client.post(templates_url(account_id, "summer_sale"), json=marketing(), headers=tenant.bearer)
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "PENDING"
    assert response.json()["trafficAccountId"] == account_id
    listing = await client.get(templates_url(account_id), headers=tenant.bearer)
    assert [t["status"] for t in listing.json()] == ["PENDING"]


async def test_templates_go_with_their_traffic_account(client, tenant):
    whatsapp = tenant.accounts["whatsapp"]
    await create(client, tenant, "summer_sale", marketing("en_US"))
    await create(client, tenant, "summer_sale", marketing("es"))
    deleted = await client.delete(f"/admin/tenants/{tenant.id}/traffic-accounts/{whatsapp}", headers=ADMIN)
    assert deleted.status_code == 204, deleted.text
    assert_problem(
        await client.get(templates_url(whatsapp), headers=tenant.bearer), 404, "not_found", "trafficAccountId"
    )
    # a new account gets none of the old templates, and the name is free again
    again = await client.post(
        f"/admin/tenants/{tenant.id}/traffic-accounts",
        json={"name": "whatsapp again", "channel": "whatsapp", "sandbox": True},
        headers=ADMIN,
    )
    tenant.accounts["whatsapp"] = again.json()["id"]
    assert await listed(client, tenant) == []
    await create(client, tenant, "summer_sale")
