"""Webhooks (seed 000): CRUD, triggers, URL and SSRF rules, custom headers, secrets at rest,
links to traffic accounts and tenant isolation."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any, TypeVar

from litestar.testing import AsyncTestClient
from sqlalchemy import bindparam, text

from gateway.app import create_app
from gateway.models import Webhook
from tests.conftest import ADMIN, assert_problem, error_fields, in_app_loop, make_settings, new_tenant

T = TypeVar("T")
WEBHOOKS = "/api/v1/Webhook"
APPLY = "/api/v1/WebhookTrafficAccount/ApplyWebhookForTrafficAccount"
UNLINK = "/api/v1/WebhookTrafficAccount/DeleteWebhookForTrafficAccount"
PUBLIC_URL = "https://93.184.216.34/hook"  # a public IP literal: no DNS, and nothing is ever sent to it
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")  # DESIGN.md: UTC, seven digits


def sql(client: AsyncTestClient, query: str, webhook_id: str) -> Any:
    """One row of a raw SQL query about a webhook, as the database holds it (no column types: nothing decrypted)."""
    statement = text(query).bindparams(bindparam("id", type_=Webhook.__table__.c.id.type))

    async def run() -> Any:
        async with client.app.state.runtime.engine.connect() as connection:
            return (await connection.execute(statement, {"id": uuid.UUID(webhook_id)})).one()

    return in_app_loop(client, run)


def body(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "url": PUBLIC_URL,
        "description": "order updates",
        "webhookTriggers": ["Delivered", "Failed"],
        "headers": {"X-Receiver-Token": "receiver-secret-value-42"},
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not ...}


async def create(client: AsyncTestClient, tenant: Any, **overrides: Any) -> dict[str, Any]:
    response = await client.post(WEBHOOKS, json=body(**overrides), headers=tenant.bearer)
    assert response.status_code == 201, response.text
    return response.json()


def raw_row(client: AsyncTestClient, webhook_id: str) -> tuple[Any, Any]:
    """The stored secret and headers columns as the database holds them, bypassing the ORM types."""
    row = sql(client, "SELECT secret, headers FROM webhook WHERE id = :id", webhook_id)
    return row[0], row[1]


def link_count(client: AsyncTestClient, webhook_id: str) -> int:
    return sql(client, "SELECT count(*) FROM webhook_traffic_account WHERE webhook_id = :id", webhook_id)[0]


# --------------------------------------------------------------------------
# Create, read, secret
# --------------------------------------------------------------------------


async def test_create_returns_the_webhook_and_its_secret(client, tenant):
    sms = tenant.accounts["sms"]
    response = await client.post(WEBHOOKS, json=body(linkTrafficAccountIds=[sms]), headers=tenant.bearer)
    assert response.status_code == 201, response.text
    created = response.json()
    assert set(created) == {
        "id",
        "url",
        "description",
        "webhookTriggers",
        "headers",
        "linkTrafficAccountIds",
        "enabled",
        "createdAt",
        "updatedAt",
        "secret",
    }
    uuid.UUID(created["id"])
    assert created["url"] == PUBLIC_URL
    assert created["description"] == "order updates"
    assert created["webhookTriggers"] == ["Delivered", "Failed"]
    assert created["headers"] == {"X-Receiver-Token": "receiver-secret-value-42"}
    assert created["linkTrafficAccountIds"] == [sms]
    assert created["enabled"] is True
    assert TIMESTAMP.match(created["createdAt"]) and TIMESTAMP.match(created["updatedAt"]), created
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_") :], validate=True)) == 24


async def test_each_webhook_gets_its_own_secret(client, tenant):
    first, second = await create(client, tenant), await create(client, tenant)
    assert first["secret"] != second["secret"]


async def test_get_list_and_secret(client, tenant):
    created = await create(client, tenant)
    expected = {key: value for key, value in created.items() if key != "secret"}

    one = await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)
    assert one.status_code == 200, one.text
    assert one.json() == expected  # no secret outside the creation answer and /secret

    listed = await client.get(WEBHOOKS, headers=tenant.key)  # the API key works as well as the token
    assert listed.status_code == 200, listed.text
    assert listed.json() == [expected]

    secret = await client.get(f"{WEBHOOKS}/{created['id']}/secret", headers=tenant.bearer)
    assert secret.status_code == 200, secret.text
    assert secret.json() == {"secret": created["secret"]}


async def test_plural_and_lower_case_paths_are_the_same_resource(client, tenant):
    created = await create(client, tenant)
    for path in ("/api/v1/Webhooks", "/api/v1/webhooks", "/api/v1.1/webhook"):
        response = await client.get(f"{path}/{created['id']}", headers=tenant.bearer)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["id"] == created["id"]


async def test_list_is_in_creation_order(client, tenant):
    ids = [(await create(client, tenant, description=f"hook {n}"))["id"] for n in range(3)]
    response = await client.get(WEBHOOKS, headers=tenant.bearer)
    assert [item["id"] for item in response.json()] == ids


async def test_secret_and_headers_are_encrypted_at_rest(client, tenant):
    created = await create(client, tenant)
    stored_secret, stored_headers = raw_row(client, created["id"])
    stored_secret, stored_headers = str(stored_secret), str(stored_headers)
    assert stored_secret != created["secret"]
    assert created["secret"] not in stored_secret
    assert created["secret"][len("whsec_") :] not in stored_secret
    assert "receiver-secret-value-42" not in stored_headers
    assert "X-Receiver-Token" not in stored_headers


async def test_requires_credentials(client, tenant):
    created = await create(client, tenant)
    for method, path in (
        ("GET", WEBHOOKS),
        ("POST", WEBHOOKS),
        ("GET", f"{WEBHOOKS}/{created['id']}"),
        ("GET", f"{WEBHOOKS}/{created['id']}/secret"),
        ("DELETE", f"{WEBHOOKS}/{created['id']}"),
    ):
        response = await client.request(method, path, json=body() if method == "POST" else None)
        assert_problem(response, 401, "unauthorized")
    assert (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).status_code == 200


async def test_unknown_id_and_bad_uuid(client, tenant):
    missing = await client.get(f"{WEBHOOKS}/{uuid.uuid4()}", headers=tenant.bearer)
    assert_problem(missing, 404, "not_found")
    missing_secret = await client.get(f"{WEBHOOKS}/{uuid.uuid4()}/secret", headers=tenant.bearer)
    assert_problem(missing_secret, 404, "not_found")
    # A malformed id in the path is a 400 naming it, as in bodies and query strings.
    for method in ("GET", "PUT", "DELETE"):
        bad = await client.request(
            method, f"{WEBHOOKS}/not-a-uuid", json=body() if method == "PUT" else None, headers=tenant.bearer
        )
        assert_problem(bad, 400, "validation_error", "webhookId")


# --------------------------------------------------------------------------
# Triggers and body validation
# --------------------------------------------------------------------------


async def test_each_trigger_is_accepted(client, tenant):
    for trigger in ("Delivered", "Failed", "Read", "UserMessage"):
        created = await create(client, tenant, webhookTriggers=[trigger])
        assert created["webhookTriggers"] == [trigger]
    triggers = ["UserMessage", "Read", "Failed", "Delivered"]
    assert (await create(client, tenant, webhookTriggers=triggers))["webhookTriggers"] == triggers


async def test_unknown_trigger_is_named(client, tenant):
    for bad in ("Sent", "delivered", "", "*", 3):
        response = await client.post(WEBHOOKS, json=body(webhookTriggers=["Read", bad]), headers=tenant.bearer)
        problem = assert_problem(response, 400, "validation_error", "webhookTriggers[1]")
        assert set(error_fields(response)) == {"webhookTriggers[1]"}, (bad, problem)
    assert (await client.get(WEBHOOKS, headers=tenant.bearer)).json() == []


async def test_triggers_empty_or_missing(client, tenant):
    empty = await client.post(WEBHOOKS, json=body(webhookTriggers=[]), headers=tenant.bearer)
    assert_problem(empty, 400, "validation_error", "webhookTriggers")
    missing = await client.post(WEBHOOKS, json=body(webhookTriggers=...), headers=tenant.bearer)
    assert_problem(missing, 400, "validation_error", "webhookTriggers")
    wrong_type = await client.post(WEBHOOKS, json=body(webhookTriggers="Delivered"), headers=tenant.bearer)
    assert_problem(wrong_type, 400, "validation_error", "webhookTriggers")
    assert (await client.get(WEBHOOKS, headers=tenant.bearer)).json() == []


async def test_unknown_field_is_named(client, tenant):
    response = await client.post(WEBHOOKS, json=body(secret="mine"), headers=tenant.bearer)
    assert_problem(response, 400, "validation_error", "secret")


async def test_several_type_errors_are_all_named(client, tenant):
    response = await client.post(
        WEBHOOKS,
        json={"url": 5, "webhookTriggers": ["Nope"], "headers": {"X-A": 1}, "description": ["x"]},
        headers=tenant.bearer,
    )
    assert_problem(response, 400, "validation_error", "url", "webhookTriggers[0]", "description")
    assert any(name.startswith("headers") for name in error_fields(response)), response.json()


async def test_several_rule_errors_are_all_named(client, tenant):
    """A bad URL, an unknown trigger and a reserved header in one request: all three named."""
    response = await client.post(
        WEBHOOKS,
        json=body(url="ftp://example.com/x", webhookTriggers=["Delivered", "Sent"], headers={"Content-Type": "x"}),
        headers=tenant.bearer,
    )
    assert_problem(response, 400, "validation_error", "url", "webhookTriggers[1]", "headers.Content-Type")


async def test_url_and_header_errors_together(client, tenant):
    response = await client.post(
        WEBHOOKS,
        json=body(url="http://127.0.0.1/x", headers={"Host": "evil", "X-Ok": "fine", "bad name": "v"}),
        headers=tenant.bearer,
    )
    problem = assert_problem(response, 400, "validation_error", "url", "headers.Host", "headers.bad name")
    assert "headers.X-Ok" not in error_fields(response), problem


# --------------------------------------------------------------------------
# URL rules and SSRF
# --------------------------------------------------------------------------


async def test_url_must_be_absolute_http(client, tenant):
    for url in (
        "ftp://example.com/hook",
        "/relative/hook",
        "example.com/hook",
        "http://",
        "https:///nohost",
        "javascript:alert(1)",
        "http://example.com:99999/",
    ):
        response = await client.post(WEBHOOKS, json=body(url=url), headers=tenant.bearer)
        problem = assert_problem(response, 400, "validation_error", "url")
        assert problem["errors"] == [{"field": "url", "message": "must be an absolute http(s) URL"}], url
    assert (await client.get(WEBHOOKS, headers=tenant.bearer)).json() == []


async def test_url_missing_or_empty(client, tenant):
    missing = await client.post(WEBHOOKS, json=body(url=...), headers=tenant.bearer)
    assert_problem(missing, 400, "validation_error", "url")
    empty = await client.post(WEBHOOKS, json=body(url=""), headers=tenant.bearer)
    assert_problem(empty, 400, "validation_error", "url")


async def test_url_with_credentials_is_refused(client, tenant):
    response = await client.post(WEBHOOKS, json=body(url="https://user:pass@93.184.216.34/hook"), headers=tenant.bearer)
    problem = assert_problem(response, 400, "validation_error", "url")
    assert "credentials" in problem["errors"][0]["message"]


PRIVATE_URLS = [
    "http://127.0.0.1/x",
    "http://localhost/x",
    "http://10.0.0.5/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://169.254.169.254/latest",
    "http://100.64.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
]


async def test_private_addresses_are_refused_by_default(client, tenant):
    for url in PRIVATE_URLS:
        response = await client.post(WEBHOOKS, json=body(url=url), headers=tenant.bearer)
        problem = assert_problem(response, 400, "validation_error", "url")
        assert set(error_fields(response)) == {"url"}, (url, problem)
        assert "refused" in problem["errors"][0]["message"], (url, problem)
    assert (await client.get(WEBHOOKS, headers=tenant.bearer)).json() == []


async def test_private_address_is_refused_on_replace_too(client, tenant):
    created = await create(client, tenant)
    response = await client.put(
        f"{WEBHOOKS}/{created['id']}", json=body(url="http://169.254.169.254/latest"), headers=tenant.bearer
    )
    assert_problem(response, 400, "validation_error", "url")
    assert (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).json()["url"] == PUBLIC_URL


async def test_public_ip_literals_are_accepted(client, tenant):
    for url in ("https://93.184.216.34/hook", "http://[2606:4700:4700::1111]:8080/x?a=1"):
        assert (await create(client, tenant, url=url))["url"] == url


async def test_unresolvable_host_is_refused(client, tenant):
    response = await client.post(WEBHOOKS, json=body(url="https://hooks.example.invalid/x"), headers=tenant.bearer)
    problem = assert_problem(response, 400, "validation_error", "url")
    assert "could not be resolved" in problem["errors"][0]["message"]


async def test_private_addresses_allowed_by_setting(database_url, client, tenant):
    settings = make_settings(database_url, allow_private_webhook_urls=True)
    async with AsyncTestClient(app=create_app(settings)) as private_client:
        for url in ("http://127.0.0.1:9999/hook", "http://localhost:9999/hook", "http://[::1]:9999/hook"):
            response = await private_client.post(WEBHOOKS, json=body(url=url), headers=tenant.bearer)
            assert response.status_code == 201, (url, response.text)
            assert response.json()["url"] == url
        # the rest of the URL rules still apply
        ftp = await private_client.post(WEBHOOKS, json=body(url="ftp://127.0.0.1/"), headers=tenant.bearer)
        assert_problem(ftp, 400, "validation_error", "url")
        creds = await private_client.post(WEBHOOKS, json=body(url="http://a:b@127.0.0.1/"), headers=tenant.bearer)
        assert_problem(creds, 400, "validation_error", "url")
    # the default app still refuses them
    refused = await client.post(WEBHOOKS, json=body(url="http://127.0.0.1:9999/hook"), headers=tenant.bearer)
    assert_problem(refused, 400, "validation_error", "url")


# --------------------------------------------------------------------------
# Custom headers
# --------------------------------------------------------------------------


async def test_reserved_header_is_refused(client, tenant):
    for name in (
        "webhook-signature",
        "Webhook-Id",
        "webhook-timestamp",
        "Content-Type",
        "content-length",
        "Host",
        "Transfer-Encoding",
        "Connection",
        "User-Agent",
    ):
        response = await client.post(WEBHOOKS, json=body(headers={"X-Fine": "1", name: "x"}), headers=tenant.bearer)
        problem = assert_problem(response, 400, "validation_error", f"headers.{name}")
        assert set(error_fields(response)) == {f"headers.{name}"}, problem
    assert (await client.get(WEBHOOKS, headers=tenant.bearer)).json() == []


async def test_invalid_header_name_is_refused(client, tenant):
    for name in ("bad name", "X-Bad:Colon", "", "X-Ünïcode", "a" * 101, "X(1)"):
        response = await client.post(WEBHOOKS, json=body(headers={name: "x"}), headers=tenant.bearer)
        assert_problem(response, 400, "validation_error", f"headers.{name}")
    assert (await create(client, tenant, headers={"a" * 100: "x"}))["headers"] == {"a" * 100: "x"}


async def test_header_value_must_be_one_line(client, tenant):
    for value in ("a\r\nX-Injected: 1", "line\nbreak", "carriage\rreturn", "v" * 4097):
        response = await client.post(WEBHOOKS, json=body(headers={"X-Token": value}), headers=tenant.bearer)
        assert_problem(response, 400, "validation_error", "headers.X-Token")
    # NUL characters are refused in any body before it is read (Postgres can't store them).
    response = await client.post(WEBHOOKS, json=body(headers={"X-Token": "nul\0byte"}), headers=tenant.bearer)
    assert_problem(response, 400, "validation_error", "body")
    assert (await create(client, tenant, headers={"X-Token": "v" * 4096}))["headers"] == {"X-Token": "v" * 4096}


async def test_too_many_headers(client, tenant):
    headers = {f"X-H{n}": "v" for n in range(21)}
    response = await client.post(WEBHOOKS, json=body(headers=headers), headers=tenant.bearer)
    assert_problem(response, 400, "validation_error", "headers")
    twenty = {f"X-H{n}": "v" for n in range(20)}
    assert (await create(client, tenant, headers=twenty))["headers"] == twenty


async def test_headers_default_to_empty(client, tenant):
    created = await create(client, tenant, headers=..., description=...)
    assert created["headers"] == {} and created["description"] == ""
    assert created["linkTrafficAccountIds"] == []


# --------------------------------------------------------------------------
# PUT replaces the whole object
# --------------------------------------------------------------------------


async def test_put_replaces_everything(client, tenant):
    sms, whatsapp = tenant.accounts["sms"], tenant.accounts["whatsapp"]
    created = await create(client, tenant, linkTrafficAccountIds=[sms])
    new = {
        "url": "https://93.184.216.35/other",
        "description": "replaced",
        "webhookTriggers": ["Read", "UserMessage"],
        "headers": {"X-Other": "2"},
        "linkTrafficAccountIds": [whatsapp],
    }
    response = await client.put(f"{WEBHOOKS}/{created['id']}", json=new, headers=tenant.bearer)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert "secret" not in replaced
    assert replaced["id"] == created["id"]
    assert replaced["url"] == "https://93.184.216.35/other"
    assert replaced["description"] == "replaced"
    assert replaced["webhookTriggers"] == ["Read", "UserMessage"]  # replaced, not added to
    assert replaced["headers"] == {"X-Other": "2"}
    assert replaced["linkTrafficAccountIds"] == [whatsapp]
    assert replaced["createdAt"] == created["createdAt"]
    again = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).json()
    assert again == replaced
    # the secret survives a replace
    secret = (await client.get(f"{WEBHOOKS}/{created['id']}/secret", headers=tenant.bearer)).json()
    assert secret == {"secret": created["secret"]}


async def test_put_defaults_and_kept_links(client, tenant):
    sms = tenant.accounts["sms"]
    created = await create(client, tenant, linkTrafficAccountIds=[sms])
    response = await client.put(
        f"{WEBHOOKS}/{created['id']}", json={"url": PUBLIC_URL, "webhookTriggers": ["Read"]}, headers=tenant.bearer
    )
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["description"] == ""  # omitted: back to the default, not kept
    assert replaced["headers"] == {}
    assert replaced["webhookTriggers"] == ["Read"]
    assert replaced["linkTrafficAccountIds"] == [sms]  # omitted: links kept
    assert replaced["enabled"] is True


async def test_put_with_empty_links_unlinks_all(client, tenant):
    created = await create(client, tenant, linkTrafficAccountIds=list(tenant.accounts.values()))
    assert len(created["linkTrafficAccountIds"]) == 2
    response = await client.put(
        f"{WEBHOOKS}/{created['id']}", json=body(linkTrafficAccountIds=[]), headers=tenant.bearer
    )
    assert response.status_code == 200, response.text
    assert response.json()["linkTrafficAccountIds"] == []
    assert link_count(client, created["id"]) == 0


async def test_put_enabled(client, tenant):
    created = await create(client, tenant)
    url = f"{WEBHOOKS}/{created['id']}"
    disabled = await client.put(url, json=body(enabled=False), headers=tenant.bearer)
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False, disabled.text
    assert (await client.get(url, headers=tenant.bearer)).json()["enabled"] is False
    kept = await client.put(url, json=body(), headers=tenant.bearer)
    assert kept.json()["enabled"] is False  # omitted: unchanged
    enabled = await client.put(url, json=body(enabled=True), headers=tenant.bearer)
    assert enabled.status_code == 200 and enabled.json()["enabled"] is True, enabled.text


async def test_put_validates_like_post(client, tenant):
    created = await create(client, tenant)
    url = f"{WEBHOOKS}/{created['id']}"
    bad_trigger = await client.put(url, json=body(webhookTriggers=["Delivered", "Bounced"]), headers=tenant.bearer)
    assert_problem(bad_trigger, 400, "validation_error", "webhookTriggers[1]")
    empty = await client.put(url, json=body(webhookTriggers=[]), headers=tenant.bearer)
    assert_problem(empty, 400, "validation_error", "webhookTriggers")
    header = await client.put(url, json=body(headers={"Webhook-Signature": "x"}), headers=tenant.bearer)
    assert_problem(header, 400, "validation_error", "headers.Webhook-Signature")
    missing_url = await client.put(url, json=body(url=...), headers=tenant.bearer)
    assert_problem(missing_url, 400, "validation_error", "url")
    current = (await client.get(url, headers=tenant.bearer)).json()
    assert current == {key: value for key, value in created.items() if key != "secret"}


async def test_put_unknown_webhook(client, tenant):
    response = await client.put(f"{WEBHOOKS}/{uuid.uuid4()}", json=body(), headers=tenant.bearer)
    assert_problem(response, 404, "not_found")


# --------------------------------------------------------------------------
# Delete
# --------------------------------------------------------------------------


async def test_delete_unlinked_webhook(client, tenant):
    created = await create(client, tenant)
    response = await client.delete(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert_problem(await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer), 404, "not_found")
    assert_problem(await client.get(f"{WEBHOOKS}/{created['id']}/secret", headers=tenant.bearer), 404, "not_found")
    assert_problem(await client.delete(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer), 404, "not_found")
    assert (await client.get(WEBHOOKS, headers=tenant.bearer)).json() == []


async def test_delete_linked_webhook_needs_force(client, tenant):
    created = await create(client, tenant, linkTrafficAccountIds=[tenant.accounts["sms"]])
    url = f"{WEBHOOKS}/{created['id']}"
    refused = await client.delete(url, headers=tenant.bearer)
    assert_problem(refused, 409, "webhook_linked")
    refused_false = await client.delete(f"{url}?forceDelete=false", headers=tenant.bearer)
    assert_problem(refused_false, 409, "webhook_linked")
    assert (await client.get(url, headers=tenant.bearer)).json()["linkTrafficAccountIds"] == [tenant.accounts["sms"]]

    forced = await client.delete(f"{url}?forceDelete=true", headers=tenant.bearer)
    assert forced.status_code == 204, forced.text
    assert_problem(await client.get(url, headers=tenant.bearer), 404, "not_found")
    assert link_count(client, created["id"]) == 0
    # the traffic account itself is untouched
    account = await client.get(f"/api/v1/trafficAccounts/{tenant.accounts['sms']}", headers=tenant.bearer)
    assert account.status_code == 200, account.text


async def test_delete_after_unlinking(client, tenant):
    sms = tenant.accounts["sms"]
    created = await create(client, tenant, linkTrafficAccountIds=[sms])
    unlinked = await client.request(
        "DELETE", UNLINK, json={"webhookId": created["id"], "trafficAccountId": sms}, headers=tenant.bearer
    )
    assert unlinked.status_code == 204, unlinked.text
    response = await client.delete(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)
    assert response.status_code == 204, response.text


# --------------------------------------------------------------------------
# Links to traffic accounts
# --------------------------------------------------------------------------


async def test_apply_links_and_is_idempotent(client, tenant):
    created = await create(client, tenant)
    sms = tenant.accounts["sms"]
    link = {"webhookId": created["id"], "trafficAccountId": sms}
    for _ in range(2):
        response = await client.post(APPLY, json=link, headers=tenant.bearer)
        assert response.status_code == 200, response.text
        assert response.json() == link
    webhook = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).json()
    assert webhook["linkTrafficAccountIds"] == [sms]
    assert link_count(client, created["id"]) == 1


async def test_apply_second_account(client, tenant):
    created = await create(client, tenant, linkTrafficAccountIds=[tenant.accounts["sms"]])
    response = await client.post(
        APPLY, json={"webhookId": created["id"], "trafficAccountId": tenant.accounts["whatsapp"]}, headers=tenant.key
    )
    assert response.status_code == 200, response.text
    webhook = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).json()
    assert sorted(webhook["linkTrafficAccountIds"]) == sorted(tenant.accounts.values())


async def test_apply_unknown_webhook_or_account(client, tenant, other_tenant):
    created = await create(client, tenant)
    theirs = await create(client, other_tenant)
    sms = tenant.accounts["sms"]
    for webhook_id in (str(uuid.uuid4()), theirs["id"]):
        response = await client.post(
            APPLY, json={"webhookId": webhook_id, "trafficAccountId": sms}, headers=tenant.bearer
        )
        assert_problem(response, 404, "not_found", "webhookId")
    for account_id in (str(uuid.uuid4()), other_tenant.accounts["sms"]):
        response = await client.post(
            APPLY, json={"webhookId": created["id"], "trafficAccountId": account_id}, headers=tenant.bearer
        )
        problem = assert_problem(response, 404, "not_found", "trafficAccountId")
        assert "webhookId" not in error_fields(response), problem
    assert link_count(client, created["id"]) == 0
    assert link_count(client, theirs["id"]) == 0


async def test_apply_validation(client, tenant):
    missing = await client.post(APPLY, json={}, headers=tenant.bearer)
    assert_problem(missing, 400, "validation_error", "webhookId", "trafficAccountId")
    bad = await client.post(
        APPLY, json={"webhookId": "nope", "trafficAccountId": tenant.accounts["sms"]}, headers=tenant.bearer
    )
    assert_problem(bad, 400, "validation_error", "webhookId")


async def test_unlink_with_ids_in_the_body(client, tenant):
    sms, whatsapp = tenant.accounts["sms"], tenant.accounts["whatsapp"]
    created = await create(client, tenant, linkTrafficAccountIds=[sms, whatsapp])
    response = await client.request(
        "DELETE", UNLINK, json={"webhookId": created["id"], "trafficAccountId": sms}, headers=tenant.bearer
    )
    assert response.status_code == 204, response.text
    webhook = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).json()
    assert webhook["linkTrafficAccountIds"] == [whatsapp]


async def test_unlink_with_ids_in_the_query(client, tenant):
    sms, whatsapp = tenant.accounts["sms"], tenant.accounts["whatsapp"]
    created = await create(client, tenant, linkTrafficAccountIds=[sms, whatsapp])
    response = await client.delete(
        UNLINK, params={"webhookId": created["id"], "trafficAccountId": whatsapp}, headers=tenant.bearer
    )
    assert response.status_code == 204, response.text
    webhook = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).json()
    assert webhook["linkTrafficAccountIds"] == [sms]
    # unlinking what isn't linked is harmless too
    again = await client.delete(
        UNLINK, params={"webhookId": created["id"], "trafficAccountId": whatsapp}, headers=tenant.bearer
    )
    assert again.status_code == 204, again.text


async def test_unlink_missing_ids(client, tenant):
    none = await client.delete(UNLINK, headers=tenant.bearer)
    assert_problem(none, 400, "validation_error", "webhookId", "trafficAccountId")
    created = await create(client, tenant)
    only_webhook = await client.delete(UNLINK, params={"webhookId": created["id"]}, headers=tenant.bearer)
    problem = assert_problem(only_webhook, 400, "validation_error", "trafficAccountId")
    assert "webhookId" not in error_fields(only_webhook), problem
    empty_body = await client.request("DELETE", UNLINK, json={}, headers=tenant.bearer)
    assert_problem(empty_body, 400, "validation_error", "webhookId", "trafficAccountId")


async def test_unlink_bad_uuid(client, tenant):
    sms = tenant.accounts["sms"]
    query = await client.delete(UNLINK, params={"webhookId": "nope", "trafficAccountId": sms}, headers=tenant.bearer)
    assert_problem(query, 400, "validation_error", "webhookId")
    in_body = await client.request(
        "DELETE", UNLINK, json={"webhookId": str(uuid.uuid4()), "trafficAccountId": "12"}, headers=tenant.bearer
    )
    assert_problem(in_body, 400, "validation_error", "trafficAccountId")
    not_json = await client.request(
        "DELETE", UNLINK, content=b"{nope", headers={**tenant.bearer, "content-type": "application/json"}
    )
    assert_problem(not_json, 400, "validation_error", "body")


async def test_unlink_other_tenants_ids(client, tenant, other_tenant):
    theirs = await create(client, other_tenant, linkTrafficAccountIds=[other_tenant.accounts["sms"]])
    mine = await create(client, tenant, linkTrafficAccountIds=[tenant.accounts["sms"]])
    response = await client.delete(
        UNLINK,
        params={"webhookId": theirs["id"], "trafficAccountId": other_tenant.accounts["sms"]},
        headers=tenant.bearer,
    )
    assert_problem(response, 404, "not_found", "webhookId")
    response = await client.delete(
        UNLINK,
        params={"webhookId": mine["id"], "trafficAccountId": other_tenant.accounts["sms"]},
        headers=tenant.bearer,
    )
    assert_problem(response, 404, "not_found", "trafficAccountId")
    assert link_count(client, theirs["id"]) == 1
    assert link_count(client, mine["id"]) == 1


async def test_link_ids_of_another_tenant_on_create(client, tenant, other_tenant):
    ids = [tenant.accounts["sms"], other_tenant.accounts["whatsapp"]]
    response = await client.post(WEBHOOKS, json=body(linkTrafficAccountIds=ids), headers=tenant.bearer)
    problem = assert_problem(response, 404, "not_found", "linkTrafficAccountIds[1]")
    assert set(error_fields(response)) == {"linkTrafficAccountIds[1]"}, problem
    assert (await client.get(WEBHOOKS, headers=tenant.bearer)).json() == []
    unknown = await client.post(WEBHOOKS, json=body(linkTrafficAccountIds=[str(uuid.uuid4())]), headers=tenant.bearer)
    assert_problem(unknown, 404, "not_found", "linkTrafficAccountIds[0]")
    assert (await client.get(WEBHOOKS, headers=tenant.bearer)).json() == []


async def test_link_ids_of_another_tenant_on_replace(client, tenant, other_tenant):
    created = await create(client, tenant, linkTrafficAccountIds=[tenant.accounts["sms"]])
    response = await client.put(
        f"{WEBHOOKS}/{created['id']}",
        json=body(description="changed", linkTrafficAccountIds=[other_tenant.accounts["sms"]]),
        headers=tenant.bearer,
    )
    assert_problem(response, 404, "not_found", "linkTrafficAccountIds[0]")
    current = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).json()
    assert current["linkTrafficAccountIds"] == [tenant.accounts["sms"]]
    assert current["description"] == created["description"]


async def test_link_ids_bad_uuid(client, tenant):
    response = await client.post(WEBHOOKS, json=body(linkTrafficAccountIds=["nope"]), headers=tenant.bearer)
    assert_problem(response, 400, "validation_error", "linkTrafficAccountIds[0]")


async def test_duplicate_link_ids_make_one_link(client, tenant):
    sms = tenant.accounts["sms"]
    created = await create(client, tenant, linkTrafficAccountIds=[sms, sms])
    assert created["linkTrafficAccountIds"] == [sms]
    assert link_count(client, created["id"]) == 1


async def test_deleting_a_traffic_account_unlinks_it(client, tenant):
    sms, whatsapp = tenant.accounts["sms"], tenant.accounts["whatsapp"]
    created = await create(client, tenant, linkTrafficAccountIds=[sms, whatsapp])
    deleted = await client.delete(f"/admin/tenants/{tenant.id}/traffic-accounts/{sms}", headers=ADMIN)
    assert deleted.status_code == 204, deleted.text
    webhook = (await client.get(f"{WEBHOOKS}/{created['id']}", headers=tenant.bearer)).json()
    assert webhook["linkTrafficAccountIds"] == [whatsapp]


# --------------------------------------------------------------------------
# Tenant isolation
# --------------------------------------------------------------------------


async def test_other_tenant_cannot_see_or_touch_a_webhook(client, tenant, other_tenant):
    created = await create(client, tenant, linkTrafficAccountIds=[tenant.accounts["sms"]])
    mine, random = f"{WEBHOOKS}/{created['id']}", f"{WEBHOOKS}/{uuid.uuid4()}"
    for method, suffix, payload in (
        ("GET", "", None),
        ("GET", "/secret", None),
        ("PUT", "", body(description="hijacked")),
        ("DELETE", "", None),
        ("DELETE", "?forceDelete=true", None),
    ):
        theirs = await client.request(method, mine + suffix, json=payload, headers=other_tenant.bearer)
        unknown = await client.request(method, random + suffix, json=payload, headers=other_tenant.bearer)
        assert_problem(theirs, 404, "not_found")
        assert theirs.json() == unknown.json(), (method, suffix)
    assert (await client.get(WEBHOOKS, headers=other_tenant.bearer)).json() == []
    assert (await client.get(WEBHOOKS, headers=other_tenant.key)).json() == []
    # the owner's webhook is untouched
    still = (await client.get(mine, headers=tenant.bearer)).json()
    assert still == {key: value for key, value in created.items() if key != "secret"}


async def test_each_tenant_lists_only_its_own(client, tenant, other_tenant):
    mine = await create(client, tenant)
    theirs = await create(client, other_tenant)
    assert [w["id"] for w in (await client.get(WEBHOOKS, headers=tenant.bearer)).json()] == [mine["id"]]
    assert [w["id"] for w in (await client.get(WEBHOOKS, headers=other_tenant.bearer)).json()] == [theirs["id"]]


async def test_deleting_a_tenant_deletes_its_webhooks(client):
    doomed = await new_tenant(client, channels=("sms",))
    created = await create(client, doomed, linkTrafficAccountIds=[doomed.accounts["sms"]])
    response = await client.delete(f"/admin/tenants/{doomed.id}", headers=ADMIN)
    assert response.status_code == 204, response.text
    assert (sql(client, "SELECT count(*) FROM webhook WHERE id = :id", created["id"]))[0] == 0
    assert link_count(client, created["id"]) == 0
