from tests.conftest import assert_problem


async def test_health(client):
    response = await client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_login_and_list(client, tenant):
    response = await client.get("/api/v1/trafficAccounts", headers=tenant.bearer)
    assert response.status_code == 200, response.text
    assert {a["channel"] for a in response.json()} == {"sms", "whatsapp"}


async def test_bad_json(client, tenant):
    response = await client.post(
        "/api/v1/Webhook", content=b"{nope", headers={**tenant.bearer, "content-type": "application/json"}
    )
    assert_problem(response, 400, "validation_error", "body")
