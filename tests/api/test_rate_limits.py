"""Rate limits: the RateLimit fields on every response, 429s, tenants' own quotas, and counting shared
through Redis (or kept in memory in the embedded mode)."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from tests.conftest import ADMIN, REDIS_URL, assert_problem, make_settings, new_tenant

FIELD = re.compile(r'^"(?P<name>[a-z]+)";r=(?P<r>\d+);t=(?P<t>\d+)$')
POLICY = re.compile(r'^"(?P<name>[a-z]+)";q=(?P<q>\d+);w=(?P<w>\d+)$')


def rate_limit(response: Any) -> dict[str, Any]:
    """The policy and the current service limit a response names."""
    policy = POLICY.match(response.headers["ratelimit-policy"])
    current = FIELD.match(response.headers["ratelimit"])
    assert policy and current, response.headers
    assert policy["name"] == current["name"]
    return {"policy": policy["name"], "q": int(policy["q"]), "w": int(policy["w"]), "r": int(current["r"])} | {
        "t": int(current["t"])
    }


async def test_every_kind_of_response_carries_the_fields(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ("sms",))
    answers = {
        "ok": await client.get("/api/v1/trafficAccounts", headers=tenant.key),
        "bad request": await client.post("/api/v1/Message/send", json={}, headers=tenant.key),
        "not found": await client.get(f"/api/v1/Message/{uuid.uuid4()}", headers=tenant.bearer),
        "unknown version": await client.get("/api/v9/trafficAccounts", headers=tenant.key),
        "unknown path": await client.get("/no/such/path"),
        "unknown customer path": await client.get("/api/v1/nothing", headers=tenant.key),
        "method not allowed": await client.delete("/health"),
        "unauthorized": await client.get("/api/v1/trafficAccounts", headers={"X-Mitto-API-Key": "nope"}),
        "login": await client.post("/api/v1/Customer/login", json={"email": tenant.email, "password": "wrong one!"}),
        "health": await client.get("/health"),
        "admin": await client.get(f"/admin/tenants/{tenant.id}", headers=ADMIN),
        "schema": await client.get("/schema/openapi.json"),
        "callback": await client.post(f"/callbacks/sms/{tenant.accounts['sms']}", json={}),
        "sandbox": await client.post("/sandbox/sms/inbound", json={}),
    }
    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "ok": 200,
        "bad request": 400,
        "not found": 404,
        "unknown version": 404,
        "unknown path": 404,
        "unknown customer path": 404,
        "method not allowed": 405,
        "unauthorized": 401,
        "login": 401,
        "health": 200,
        "admin": 200,
        "schema": 200,
        "callback": 401,
        "sandbox": 400,
    }
    policies = {name: rate_limit(answer)["policy"] for name, answer in answers.items()}
    # Routed customer API requests count against the tenant; an unknown path is never routed, so it
    # counts against the address, whatever credentials it carries.
    tenant_answers = {"ok", "bad request", "not found", "unknown version"}
    assert {name for name, policy in policies.items() if policy == "default"} == tenant_answers
    assert policies["callback"] == policies["sandbox"] == "providers"
    assert {policies[name] for name in answers.keys() - tenant_answers - {"callback", "sandbox"}} == {"address"}
    assert rate_limit(answers["ok"])["q"] == 120_000 and rate_limit(answers["ok"])["w"] == 60


async def test_a_preflight_on_the_customer_api_is_counted_by_address(client: AsyncTestClient) -> None:
    """OPTIONS (a CORS preflight) carries no credentials, so authentication leaves it alone: it is counted
    against its address and answered with the methods allowed, with or without credentials."""
    tenant = await new_tenant(client, ())
    for headers in ({}, tenant.key):
        for path in ("/api/v1/Conversations", "/api/v1/Message/send", f"/api/v1.1/Webhook/{uuid.uuid4()}"):
            answer = await client.options(path, headers=headers)
            assert answer.status_code == 204, answer.text
            assert "OPTIONS" in answer.headers["allow"]
            assert rate_limit(answer)["policy"] == "address"


async def test_each_request_of_a_tenant_uses_one_of_its_quota(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ())
    # 10 a minute: one comes back every 6 s (at the default 120,000 a minute, every 0.5 ms).
    await client.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": 10}, headers=ADMIN)
    counts = [rate_limit(await client.get("/api/v1/trafficAccounts", headers=tenant.key)) for _ in range(3)]
    assert [c["r"] for c in counts] == [9, 8, 7]
    assert [c["t"] for c in counts] == [6, 12, 18]  # until the whole quota is back
    other = await new_tenant(client, ())  # another tenant, another quota
    assert rate_limit(await client.get("/api/v1/trafficAccounts", headers=other.bearer))["r"] == 119_999


async def test_over_the_quota_is_a_429_with_retry_after(client: AsyncTestClient) -> None:
    tenant = await new_tenant(client, ())
    patched = await client.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": 3}, headers=ADMIN)
    assert patched.status_code == 200 and patched.json()["rateLimitQuota"] == 3
    answers = [await client.get("/api/v1/trafficAccounts", headers=tenant.key) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [rate_limit(a)["r"] for a in answers] == [2, 1, 0, 0]
    refused = answers[-1]
    body = assert_problem(refused, 429, "rate_limited")
    assert '"default"' in body["detail"] and "3 requests per 60 seconds" in body["detail"]
    # One request comes back every 20 s; the effective window of r=0 ends when Retry-After does.
    assert refused.headers["retry-after"] == "20" and rate_limit(refused) == {
        "policy": "default",
        "q": 3,
        "w": 60,
        "r": 0,
        "t": 20,
    }
    # Refused requests are not counted: the tenant is not pushed further back by retrying.
    assert (await client.get("/api/v1/trafficAccounts", headers=tenant.key)).headers["retry-after"] == "20"
    # A send over the quota is refused before anything is stored.
    send = {"trafficAccountId": str(uuid.uuid4()), "destination": "+447700900123", "sms": {"text": "x"}}
    assert_problem(await client.post("/api/v1/Message/send", json=send, headers=tenant.key), 429, "rate_limited")


async def test_a_tenants_own_quota_is_set_changed_and_reset_through_the_admin_api(client: AsyncTestClient) -> None:
    created = await client.post("/admin/tenants", json={"name": "big", "rateLimitQuota": 500}, headers=ADMIN)
    assert created.status_code == 201 and created.json()["rateLimitQuota"] == 500
    tenant = await new_tenant(client, ())
    assert (await client.get(f"/admin/tenants/{tenant.id}", headers=ADMIN)).json()["rateLimitQuota"] is None

    async def quota() -> int:
        return rate_limit(await client.get("/api/v1/trafficAccounts", headers=tenant.key))["q"]

    assert await quota() == 120_000
    changed = await client.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": 7}, headers=ADMIN)
    assert changed.json() | {"createdAt": None} == {
        "id": tenant.id,
        "name": "acme",
        "rateLimitQuota": 7,
        "createdAt": None,
    }
    assert await quota() == 7  # seen at once by this process
    renamed = await client.patch(f"/admin/tenants/{tenant.id}", json={"name": "acme two"}, headers=ADMIN)
    assert renamed.json()["name"] == "acme two" and renamed.json()["rateLimitQuota"] == 7  # left as it was
    reset = await client.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": None}, headers=ADMIN)
    assert reset.json()["rateLimitQuota"] is None
    assert await quota() == 120_000


@pytest.mark.parametrize("quota", [0, -1, 1_000_000_001, "many", 1.5])
async def test_a_bad_quota_is_a_400_naming_it(client: AsyncTestClient, quota: Any) -> None:
    tenant = await new_tenant(client, ())
    patched = await client.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": quota}, headers=ADMIN)
    assert_problem(patched, 400, "validation_error", "rateLimitQuota")
    created = await client.post("/admin/tenants", json={"name": "x", "rateLimitQuota": quota}, headers=ADMIN)
    assert_problem(created, 400, "validation_error", "rateLimitQuota")


async def test_patching_a_missing_tenant_is_a_404(client: AsyncTestClient) -> None:
    missing = await client.patch(f"/admin/tenants/{uuid.uuid4()}", json={"rateLimitQuota": 5}, headers=ADMIN)
    assert_problem(missing, 404, "not_found")


async def test_unauthenticated_requests_are_limited_per_address(database_url: str) -> None:
    settings = make_settings(database_url, rate_limit_address_quota=2, rate_limit_provider_quota=3)
    async with AsyncTestClient(app=create_app(settings)) as client:
        health = [await client.get("/health") for _ in range(3)]
        assert [a.status_code for a in health] == [200, 200, 429]
        assert_problem(health[-1], 429, "rate_limited")
        assert health[-1].headers["retry-after"] == "30" and rate_limit(health[-1])["policy"] == "address"
        # Login shares the address's quota; an unknown path is answered as it is, and still shows the count.
        login = await client.post("/api/v1/Customer/login", json={"email": "a@b.c", "password": "0123456789"})
        assert_problem(login, 429, "rate_limited")
        assert rate_limit(await client.get("/nowhere")) | {"t": 0} == {
            "policy": "address",
            "q": 2,
            "w": 60,
            "r": 0,
            "t": 0,
        }
        # Providers' traffic has a quota of its own.
        callbacks = [await client.post(f"/callbacks/sms/{uuid.uuid4()}", json={}) for _ in range(4)]
        assert [a.status_code for a in callbacks] == [401, 401, 401, 429]
        assert rate_limit(callbacks[-1])["policy"] == "providers"


async def test_the_embedded_mode_counts_in_each_process(database_url: str) -> None:
    """Without Redis, every process keeps its own buckets."""
    async with (
        AsyncTestClient(app=create_app(make_settings(database_url))) as first,
        AsyncTestClient(app=create_app(make_settings(database_url))) as second,
    ):
        tenant = await new_tenant(first, ())
        await first.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": 2}, headers=ADMIN)
        for client in (first, second):
            answers = [await client.get("/api/v1/trafficAccounts", headers=tenant.key) for _ in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 429]


async def test_redis_counts_for_every_process_together(database_url: str, redis_client: Any) -> None:
    settings = make_settings(database_url, redis_url=REDIS_URL)
    async with (
        AsyncTestClient(app=create_app(settings)) as first,
        AsyncTestClient(app=create_app(settings)) as second,
    ):
        tenant = await new_tenant(first, ())
        await first.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": 4}, headers=ADMIN)
        try:
            answers = [
                await (first if n % 2 else second).get("/api/v1/trafficAccounts", headers=tenant.key) for n in range(5)
            ]
            assert [a.status_code for a in answers] == [200, 200, 200, 200, 429]
            assert [rate_limit(a)["r"] for a in answers] == [3, 2, 1, 0, 0]
            assert await redis_client.exists(f"gateway:rate-limit:default:{tenant.id}")
        finally:
            await redis_client.delete(f"gateway:rate-limit:default:{tenant.id}")
