"""The web inbox (/inbox): signing in, CSRF, tenant isolation, the conversation list's filters and a
conversation's timeline. The browser tests (tests/browser/test_inbox.py) watch it live."""

from __future__ import annotations

import datetime
import re
import uuid

import pytest
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.models import SandboxExchange
from tests.api.test_webhook_deliveries import add_events
from tests.conftest import CLOSED_PORT_URL, create_webhook, in_app_loop, make_settings, new_tenant

SMS = {"text": "Your code is 4711", "sender": "MITTO SMS"}
CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


@pytest.fixture(autouse=True)
def no_redirects_followed(client) -> None:
    client.follow_redirects = False  # the inbox's redirects are what these tests check


async def send(client, tenant, destination="+447700900123", **block):
    payload = {"trafficAccountId": tenant.accounts["sms"], "destination": destination, "sms": SMS | block}
    response = await client.post("/api/v1/Message/send", json=payload, headers=tenant.key)
    assert response.status_code == 200, response.text
    return response.json()


def csrf_token(page) -> str:
    found = CSRF.search(page.text)
    assert found, page.text
    return found.group(1)


async def notice_after(client, answer) -> str:
    """The notice the page a form redirected to shows (once)."""
    assert answer.status_code == 303, answer.text
    page = await client.get(answer.headers["location"])
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', page.text)
    assert found, page.text
    assert '"notice"' not in (await client.get(answer.headers["location"])).text  # shown once
    return found.group(1)


async def sign_in(client, tenant) -> None:
    page = await client.get("/inbox/login")
    form = {"email": tenant.email, "password": tenant.password, "_csrf_token": csrf_token(page)}
    answer = await client.post("/inbox/login", data=form)
    assert answer.status_code == 303 and answer.headers["location"] == "/inbox/", answer.text


async def test_unauthenticated_pages_redirect_to_sign_in(client):
    for path in (
        "/inbox/",
        "/inbox/webhooks",
        "/inbox/accounts",
        "/inbox/events",
        f"/inbox/conversations/{uuid.uuid4()}",
    ):
        answer = await client.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == "/inbox/login", path


async def test_sign_in_sets_a_strict_http_only_session_cookie_and_sign_out_ends_it(client, tenant):
    page = await client.get("/inbox/login")
    form = {"email": tenant.email, "password": tenant.password, "_csrf_token": csrf_token(page)}
    answer = await client.post("/inbox/login", data=form)
    cookie = next(v for k, v in answer.headers.multi_items() if k == "set-cookie" and v.startswith("gateway_inbox="))
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/inbox" in cookie
    home = await client.get("/inbox/")
    assert home.status_code == 200 and tenant.email in home.text
    assert (await client.post("/inbox/logout", data={"_csrf_token": csrf_token(home)})).status_code == 303
    assert (await client.get("/inbox/")).status_code == 303


async def test_signing_out_ends_the_session_server_side_not_the_api_token(client, tenant):
    await sign_in(client, tenant)
    copied = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)  # the session cookie, as a thief has it
    home = await client.get("/inbox/", headers={"Cookie": copied})
    assert home.status_code == 200, home.text
    assert (await client.post("/inbox/logout", data={"_csrf_token": csrf_token(home)})).status_code == 303
    replayed = await client.get("/inbox/", headers={"Cookie": copied})
    assert replayed.status_code == 303 and replayed.headers["location"] == "/inbox/login"
    assert (await client.get("/api/v1/Messages", headers=tenant.bearer)).status_code == 200  # the API's token
    await sign_in(client, tenant)  # a new session
    assert (await client.get("/inbox/")).status_code == 200


async def test_a_password_change_ends_the_inbox_session(client, tenant):
    await sign_in(client, tenant)
    changed = await client.post(
        "/api/v1/Customer/password",
        json={"oldPassword": tenant.password, "newPassword": "another fine password"},
        headers=tenant.bearer,
    )
    assert changed.status_code == 204, changed.text
    assert (await client.get("/inbox/")).status_code == 303


async def test_wrong_password_is_said_on_the_page_and_counts_towards_the_lockout(client, tenant):
    page = await client.get("/inbox/login")
    form = {"email": tenant.email, "password": "wrong password!", "_csrf_token": csrf_token(page)}
    for _ in range(5):
        answer = await client.post("/inbox/login", data=form)
        assert answer.status_code == 401 and "not correct" in answer.text
    locked = await client.post("/inbox/login", data=form | {"password": tenant.password})
    assert locked.status_code == 429 and "Too many failed logins" in locked.text
    assert (await client.get("/inbox/")).status_code == 303


async def test_forms_without_the_csrf_token_are_refused(client, tenant):
    await client.get("/inbox/login")  # the CSRF cookie
    refused = await client.post("/inbox/login", data={"email": tenant.email, "password": tenant.password})
    assert refused.status_code == 403
    await sign_in(client, tenant)
    assert (await client.post("/inbox/logout", data={"_csrf_token": "forged"})).status_code == 403
    assert (await client.get("/inbox/")).status_code == 200  # still signed in


async def test_the_json_api_is_not_subject_to_the_inbox_csrf(client, tenant):
    await sign_in(client, tenant)
    send_answer = await client.post(
        "/api/v1/Message/send",
        json={"trafficAccountId": tenant.accounts["sms"], "destination": "+447700900123", "sms": SMS},
        headers=tenant.key,
    )
    assert send_answer.status_code == 200, send_answer.text


async def test_the_inbox_is_not_in_the_openapi_document(client):
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith("/inbox")]


async def test_conversations_newest_activity_first_and_filtered(client, tenant):
    await sign_in(client, tenant)
    first = await send(client, tenant, "+447700900111", text="first hello")
    second = await send(client, tenant, "+447700900222", text="second parcel")
    whatsapp = await client.post(
        "/api/v1/Message/send",
        json={
            "trafficAccountId": tenant.accounts["whatsapp"],
            "destination": "+447700900333",
            "whatsapp": {"type": "regular", "regular": {"type": "text", "text": "whatsapp ahoy"}},
        },
        headers=tenant.key,
    )
    assert whatsapp.status_code == 200, whatsapp.text
    page = (await client.get("/inbox/")).text
    order = [page.index(n) for n in ("+447700900333", "+447700900222", "+447700900111")]
    assert order == sorted(order)

    def shown(answer) -> set[str]:
        return set(re.findall(r"\+447700900\d{3}", answer.text))

    assert shown(await client.get("/inbox/", params={"channel": "sms"})) == {"+447700900111", "+447700900222"}
    by_account = await client.get("/inbox/", params={"trafficAccountId": tenant.accounts["whatsapp"]})
    assert shown(by_account) == {"+447700900333"}
    assert shown(await client.get("/inbox/", params={"destination": "0900222"})) == {"+447700900222"}
    assert shown(await client.get("/inbox/", params={"text": "PARCEL"})) == {"+447700900222"}
    assert shown(await client.get("/inbox/", params={"status": "Ready"})) == {
        "+447700900111",
        "+447700900222",
        "+447700900333",
    }
    assert shown(await client.get("/inbox/", params={"status": "Delivered"})) == set()
    assert first["conversation"]["id"] != second["conversation"]["id"]


async def test_a_conversation_shows_each_message_with_its_history_and_provider_exchanges(client, tenant):
    await sign_in(client, tenant)
    sent = await send(client, tenant, text="see the wire")

    async def journal() -> None:
        async with client.app.state.runtime.db_config.get_session() as session:
            now = datetime.datetime.now(datetime.UTC)
            common = {
                "tenant_id": uuid.UUID(tenant.id),
                "traffic_account_id": uuid.UUID(tenant.accounts["sms"]),
                "channel": "sms",
                "message_id": uuid.UUID(sent["messageId"]),
                "destination": "+447700900123",
                "occurred_at": now,
            }
            session.add_all(
                [
                    SandboxExchange(
                        **common,
                        direction="request",
                        method="POST",
                        url="http://127.0.0.1/sandbox/sms/sms",
                        request_headers={"Authorization": "[redacted]"},
                        request_body='{"to": "+447700900123", "text": "see the wire"}',
                        response_status=200,
                        response_body='{"msgid": "provider-1"}',
                        latency_ms=3,
                    ),
                    SandboxExchange(
                        **common,
                        direction="callback",
                        method="POST",
                        url="http://127.0.0.1/callbacks/sms/x",
                        request_body='{"state": "DELIVERED"}',
                        response_status=204,
                    ),
                ]
            )
            await session.commit()

    in_app_loop(client, journal)
    page = await client.get(f"/inbox/conversations/{sent['conversation']['id']}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "see the wire" in text and sent["messageId"] in text
    assert "Provider request" in text and "http://127.0.0.1/sandbox/sms/sms" in text and "[redacted]" in text
    assert "&#34;msgid&#34;: &#34;provider-1&#34;" in text or "&quot;msgid&quot;" in text or "provider-1" in text
    assert "Delivery reports" in text and "DELIVERED" in text
    assert 'class="status Ready"' in text


async def test_another_tenants_conversation_is_not_found(client, tenant):
    other = await new_tenant(client)
    theirs = await send(client, other, text="not yours")
    await sign_in(client, tenant)
    page = await client.get(f"/inbox/conversations/{theirs['conversation']['id']}")
    assert page.status_code == 404 and "not yours" not in page.text
    assert "+447700900123" not in (await client.get("/inbox/")).text


@pytest.fixture
async def private_client(database_url: str):
    """An app whose webhooks may point at loopback (a closed port: nothing is delivered, no worker runs)."""
    settings = make_settings(database_url, allow_private_webhook_urls=True, worker_in_server=False)
    async with AsyncTestClient(app=create_app(settings)) as test_client:
        test_client.follow_redirects = False
        yield test_client


async def test_webhook_deliveries_show_every_attempt_and_replay_and_recover(private_client):
    client = private_client
    tenant = await new_tenant(client)
    webhook = await create_webhook(client, tenant)
    start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=10)
    failed, succeeded = add_events(client, tenant, webhook["id"], ["failed", "succeeded"], start)
    await sign_in(client, tenant)
    page = await client.get("/inbox/webhooks")
    assert page.status_code == 200, page.text
    assert str(failed) in page.text and str(succeeded) in page.text
    assert "<b>500</b>" in page.text and CLOSED_PORT_URL in page.text

    replayed = await client.post(
        f"/inbox/webhooks/{webhook['id']}/deliveries/{succeeded}/replay", data={"_csrf_token": csrf_token(page)}
    )
    assert await notice_after(client, replayed) == "The event is queued for delivery again."
    since = (start - datetime.timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")
    recovered = await client.post(
        f"/inbox/webhooks/{webhook['id']}/recover", data={"since": since, "_csrf_token": csrf_token(page)}
    )
    assert await notice_after(client, recovered) == "1 failed event(s) queued for delivery again."
    deliveries = (await client.get(f"/api/v1/Webhook/{webhook['id']}/deliveries", headers=tenant.key)).json()
    assert {d["id"]: d["status"] for d in deliveries["items"]} == {str(failed): "pending", str(succeeded): "pending"}

    other = await new_tenant(client)
    theirs = await create_webhook(client, other)
    refused = await client.post(
        f"/inbox/webhooks/{theirs['id']}/deliveries/{failed}/replay", data={"_csrf_token": csrf_token(page)}
    )
    assert refused.status_code == 404


async def test_behaviour_controls_set_and_clear_a_sandbox_accounts_behaviour(client, tenant):
    await sign_in(client, tenant)
    page = await client.get("/inbox/accounts")
    assert page.status_code == 200 and tenant.accounts["sms"] in page.text
    account = tenant.accounts["sms"]
    form = {
        "latencyMin": "10",
        "latencyMax": "20",
        "errorRate": "0.5",
        "failNextCount": "2",
        "failNextWith": "rejected",
    }
    answer = await client.post(f"/inbox/accounts/{account}/behaviour", data=form | {"_csrf_token": csrf_token(page)})
    assert await notice_after(client, answer) == "The behaviour is set."
    api = f"/api/v1/sandbox/trafficAccounts/{account}/behaviour"
    assert (await client.get(api, headers=tenant.key)).json()["failNext"] == {"count": 2, "with": "rejected"}

    bad = form | {"errorRate": "2", "latencyMin": "30"}
    answer = await client.post(f"/inbox/accounts/{account}/behaviour", data=bad | {"_csrf_token": csrf_token(page)})
    refusal = await notice_after(client, answer)
    assert "errorRate" in refusal and "latencyMs.max" in refusal, refusal

    cleared = await client.post(f"/inbox/accounts/{account}/behaviour/clear", data={"_csrf_token": csrf_token(page)})
    assert cleared.status_code == 303
    assert (await client.get(api, headers=tenant.key)).json()["failNext"] is None


async def test_a_failover_step_shows_its_chain(client):
    tenant = await new_tenant(client, ("sms", "telegram"))
    await sign_in(client, tenant)
    chain = {
        "type": "Timeout",
        "timeoutFailover": {
            "timeoutInSeconds": 20,
            "status": "Delivered",
            "trafficAccounts": [
                tenant.accounts["sms"],
                {"trafficAccountId": tenant.accounts["telegram"], "destination": "1861312834"},
            ],
        },
    }
    body = {"destination": "+447700900123", "sms": SMS, "telegram": {"text": {"message": "fallback"}}, "failover": chain}
    sent = await client.post("/api/v1/Message/send", json=body, headers=tenant.key)
    assert sent.status_code == 200, sent.text
    first, _second = sent.json()
    detail = (await client.get(f"/api/v1/Message/{first}", headers=tenant.key)).json()
    page = await client.get(f"/inbox/conversations/{detail['conversation']['id']}")
    assert "Failover chain" in page.text and "each step must reach Delivered within 20 s" in page.text
    assert "sms → +447700900123" in page.text and "telegram → 1861312834" in page.text and "(active)" in page.text


async def test_a_reply_of_a_kind_the_channels_users_cant_send_is_refused_on_the_page(client, tenant):
    sent = await send(client, tenant)
    await sign_in(client, tenant)
    conversation = f"/inbox/conversations/{sent['conversation']['id']}"
    page = await client.get(conversation)
    assert "<option>text</option>" in page.text and "<option>location</option>" not in page.text  # SMS: text only
    form = {"kind": "location", "text": "", "_csrf_token": csrf_token(page)}
    notice = await notice_after(client, await client.post(f"{conversation}/reply", data=form))
    assert notice == "A sms user can&#39;t send location.", notice
    messages = await client.get("/api/v1/Messages", params={"direction": "inbound"}, headers=tenant.key)
    assert messages.json()["items"] == []


async def test_the_webhooks_page_shows_the_sms_apis_callbacks_too(client, tenant):
    """The gateway's own webhook of the SMS API's callbacks, which the webhook API doesn't list, with its kind."""
    callback = "http://93.184.216.34/dlr?id=<msgid>&status=<status>"  # a public IP literal: nothing resolved
    sent = await client.post(
        "/sms", json={"from": "Acme", "to": "385912345678", "text": "Hi", "callback": callback}, headers=tenant.key
    )
    assert sent.status_code == 200, sent.text
    assert (await client.get("/api/v1/Webhooks", headers=tenant.key)).json() == []
    await sign_in(client, tenant)
    page = await client.get("/inbox/webhooks")
    assert page.status_code == 200, page.text
    assert 'data-kind="compatible"' in page.text and "http://93.184.216.34" in page.text  # the webhook of its origin
