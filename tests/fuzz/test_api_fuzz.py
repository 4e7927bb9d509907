"""Schemathesis over every operation of the committed OpenAPI document (openapi/openapi.json).

The gateway serves on a free loopback port (uvicorn in a thread, on SQLite and on Postgres), with a
tenant whose API key and customer token authenticate the customer API, a second tenant for the operator
API to change and delete, and data of their own (a webhook, sent messages, a template). Schemathesis
sends valid and invalid requests (its examples, coverage and fuzzing phases; a fixed seed, no example
database) and fails on a 5xx, a status or content type the operation doesn't document, a body that
doesn't match its schema, or a documented header that is missing or malformed.

The document is the committed one; only this test's copy offers the fuzzer the ids of what exists
(``anyOf: [{enum: [ids]}, <the documented schema>]``), so that it reaches past the 404s.

Nothing leaves the machine: the app runs no dispatch loop (nothing is sent to providers, no webhook is
delivered), and every outbound connection but those to this server and the database is refused, like
every name lookup (``network_confined``).
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn

from gateway.api import events as event_routes
from gateway.app import create_app
from tests.conftest import ADMIN, ADMIN_TOKEN, make_settings, new_tenant
from tests.fuzz.hooks import SIGNING_ENV
from tests.integration.conftest import free_port

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "openapi" / "openapi.json"
# Cases per operation and phase, and the seed: the suite's run stays within a few minutes; set them to
# fuzz harder or elsewhere (FUZZ_MAX_EXAMPLES=500 FUZZ_SEED=7 .venv/bin/python -m pytest tests/fuzz).
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "25"))
SEED = int(os.environ.get("FUZZ_SEED", "14"))
CHANNELS = ("sms", "whatsapp", "viber", "telegram", "gbm")
HUGE = 1_000_000_000  # rate-limit quotas no fuzz run reaches (429 stays documented and tested elsewhere)
# The customer's accounts' credentials: the fuzzer authenticates its callbacks with them (hooks.py).
CREDENTIALS = {
    "telegram": {"webhookSecret": "fuzz-telegram-secret"},
    "viber": {"authToken": "fuzz-viber-token"},
    "whatsapp": {"appSecret": "fuzz-whatsapp-secret", "verifyToken": "fuzz-verify-token"},
    "gbm": {"clientToken": "fuzz-gbm-client-token"},
}
TEMPLATE = {"language": {"code": "en_US"}, "category": "UTILITY", "components": [{"type": "BODY", "text": "Hi"}]}
# A webhook needs a public address; nothing is ever sent to it (no dispatch loop, network_confined).
WEBHOOK_URL = "https://93.184.215.14/fuzz-hook"


@contextmanager
def network_confined(*allowed: tuple[str, int]) -> Iterator[None]:
    """While inside, this process connects only to the ``allowed`` (host, port) pairs (a loopback host
    stands for every loopback address) and looks up no name but theirs."""
    connect, connect_ex, getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    names = {host for host, _ in allowed} | {"localhost"}

    def loopback(host: str) -> bool:
        try:
            return ipaddress.ip_address(host.split("%")[0]).is_loopback
        except ValueError:
            return host == "localhost"

    def check(address: Any) -> None:
        if isinstance(address, tuple):
            host, port = str(address[0]), address[1]
            if (host, port) not in allowed and not (
                loopback(host) and any(loopback(h) and p == port for h, p in allowed)
            ):
                raise ConnectionRefusedError(f"the fuzz test refuses connections to {address}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return connect_ex(self, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name.split("%")[0])
        except ValueError:
            if name not in names:
                raise socket.gaierror(socket.EAI_NONAME, "the fuzz test looks no names up") from None
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex = guarded_connect, guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = connect, connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo


@contextmanager
def serving(app: Any, port: int) -> Iterator[None]:
    """``app`` served by uvicorn on 127.0.0.1:``port``, in a thread with its own event loop."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, loop="asyncio", lifespan="on", log_level="warning", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fuzzed-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the gateway did not start"
        time.sleep(0.02)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(30)


async def seed(base_url: str) -> dict[str, Any]:
    """Two tenants and things of their own to fuzz: the ids the fuzzer is offered."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        customer = await new_tenant(client, CHANNELS)  # type: ignore[arg-type]  (new_tenant only posts)
        operated = await new_tenant(client, CHANNELS)  # type: ignore[arg-type]
        key = await client.post(f"/admin/tenants/{operated.id}/api-keys", json={"name": "spare"}, headers=ADMIN)
        sms = customer.accounts["sms"]
        webhook = await client.post(
            "/api/v1/Webhook",
            json={"url": WEBHOOK_URL, "webhookTriggers": ["Delivered"], "linkTrafficAccountIds": [sms]},
            headers=customer.key,
        )
        sent = await client.post(
            "/api/v1/Message/send",
            json={"trafficAccountId": sms, "destination": "+447700900123", "sms": {"sender": "Fuzz", "text": "hello"}},
            headers=customer.key,
        )
        bulk = await client.post(
            "/api/v1.1/Messages/sendbulk",
            json={"trafficAccountId": sms, "destinations": ["+447700900124"], "sms": {"sender": "Fuzz", "text": "hi"}},
            headers=customer.key,
        )
        template = await client.post(
            f"/api/v1/trafficAccounts/{customer.accounts['whatsapp']}/WhatsAppTemplates/order_update",
            json=TEMPLATE,
            headers=customer.key,
        )
        credentials = [
            await client.patch(
                f"/admin/tenants/{customer.id}/traffic-accounts/{customer.accounts[channel]}",
                json={"settings": settings},
                headers=ADMIN,
            )
            for channel, settings in CREDENTIALS.items()
        ]
        for response in (key, webhook, sent, bulk, template, *credentials):
            assert response.status_code < 300, response.text
        message = sent.json()
    return {
        "customer": customer,
        "operated": operated,
        "ids": {
            "tenant_id": [operated.id],
            "key_id": [key.json()["id"]],
            "admin_account_id": list(operated.accounts.values()),
            "account_id": list(customer.accounts.values()),
            "sms_account_id": [sms],
            "trafficAccountId": list(customer.accounts.values()),
            "webhook_id": [webhook.json()["id"]],
            "webhookId": [webhook.json()["id"]],
            "message_id": [message["messageId"]],
            "conversation_id": [message["conversation"]["id"]],
            "bulk_id": [bulk.json()["bulkId"]],
            "name": ["order_update"],
        },
        "message_id": uuid.UUID(message["messageId"]),
        "sms_account": uuid.UUID(sms),
    }


def valid_bodies(customer: Any, ids: dict[str, list[Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Bodies that succeed, as examples, so that the answers to them are checked as well (the generated
    ones are rarely valid messages)."""
    sms, webhook = customer.accounts["sms"], ids["webhook_id"][0]
    block = {"sender": "Fuzz", "text": "fuzzed"}
    return {
        ("post", "/api/{version}/Message/send"): {
            "trafficAccountId": sms,
            "destination": "+447700900125",
            "sms": block,
        },
        ("post", "/api/{version}/Message/sendbulk"): {
            "trafficAccountId": sms,
            "destinations": ["+447700900126", "+44 7700 900126"],
            "sms": block,
        },
        ("post", "/api/{version}/Message/sendmessagesbulk"): {
            "messages": [{"trafficAccountId": sms, "destination": "+447700900127", "sms": block}]
        },
        ("post", "/api/{version}/Customer/login"): {"email": customer.email, "password": customer.password},
        ("post", "/api/{version}/Webhook"): {"url": WEBHOOK_URL, "webhookTriggers": ["Delivered", "Failed"]},
        ("put", "/api/{version}/Webhook/{webhook_id}"): {"url": WEBHOOK_URL, "webhookTriggers": ["Read"]},
        ("post", "/api/{version}/Webhook/{webhook_id}/recover"): {"since": "2020-01-01T00:00:00Z"},
        ("post", "/api/{version}/WebhookTrafficAccount/ApplyWebhookForTrafficAccount"): {
            "webhookId": webhook,
            "trafficAccountId": sms,
        },
        ("post", "/api/{version}/trafficAccounts/{account_id}/WhatsAppTemplates/{name}"): TEMPLATE,
        ("post", "/admin/tenants"): {"name": "fuzzed", "rateLimitQuota": HUGE},
        ("post", "/admin/tenants/{tenant_id}/customers"): {"email": "fuzzed@example.com", "password": "long enough"},
        ("post", "/admin/tenants/{tenant_id}/api-keys"): {"name": "fuzzed"},
        ("post", "/admin/tenants/{tenant_id}/traffic-accounts"): {
            "name": "fuzzed",
            "channel": "viber",
            "sandbox": True,
        },
    }


def offer(schema: dict[str, Any], values: list[Any]) -> dict[str, Any]:
    return {"anyOf": [{"enum": values}, schema]}


def with_known_ids(
    document: dict[str, Any],
    ids: dict[str, list[Any]],
    tokens: dict[str, list[str]],
    bodies: dict[tuple[str, str], dict[str, Any]],
) -> dict[str, Any]:
    """A copy of ``document`` whose id parameters and fields offer the ids that exist as well, and whose
    bodies have examples that succeed."""
    document = copy.deepcopy(document)
    # The event stream never ends: tests/integration/test_events_stream.py tests it.
    document["paths"].pop("/api/{version}/events", None)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (method, path) in bodies:
                content = operation["requestBody"]["content"]["application/json"]
                content["examples"] = {"valid": {"value": bodies[method, path]}}
            for parameter in operation.get("parameters", []):
                name = parameter["name"]
                if name == "account_id" and path.startswith(("/admin/", "/callbacks/sms/")):
                    name = "admin_account_id" if path.startswith("/admin/") else "sms_account_id"
                if name in ids:
                    parameter["schema"] = offer(parameter["schema"], ids[name])
                elif name in tokens:
                    parameter["schema"] = offer(parameter["schema"], tokens[name])
    for component in document["components"]["schemas"].values():
        for name, field in (component.get("properties") or {}).items():
            if name in ids and name in ("trafficAccountId", "webhookId"):
                component["properties"][name] = offer(field, ids[name])
    return document


def schemathesis_config(base_url: str, customer: Any) -> str:
    """schemathesis.toml: checks, a bounded and reproducible generation, the credentials per security scheme."""
    checks = (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    )
    return "\n".join(
        [
            f"base-url = {json.dumps(base_url)}",
            f"seed = {SEED}",
            "workers = 1",
            "[generation]",
            f"max-examples = {MAX_EXAMPLES}",
            'mode = "all"',
            'database = "none"',
            "[phases.stateful]",
            "enabled = false",
            "[checks]",
            "enabled = false",
            *(f"{check}.enabled = true" for check in checks),
            "[auth.openapi.bearer]",
            f"bearer = {json.dumps(customer.token)}",
            "[auth.openapi.apiKey]",
            f"api_key = {json.dumps(customer.api_key)}",
            "[auth.openapi.adminToken]",
            f"bearer = {json.dumps(ADMIN_TOKEN)}",
        ]
    )


def test_every_operation_answers_as_documented(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The long-polls wait a moment at most here (each case would otherwise wait up to two minutes); their
    # waiting is tested in tests/integration/test_message_waits.py.
    for wait in ("until_status", "next_message"):
        monkeypatch.setattr(event_routes, wait, _briefly(getattr(event_routes, wait)))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = make_settings(
        database_url,
        port=port,
        public_url=base_url,
        worker_in_server=False,
        access_log=False,
        rate_limit_quota=HUGE,
        rate_limit_address_quota=HUGE,
        rate_limit_provider_quota=HUGE,
    )
    app = create_app(settings)
    database = urlsplit(settings.database_url)
    servers = [("127.0.0.1", port)]
    if database.scheme.startswith("postgresql"):
        servers.append((database.hostname or "localhost", database.port or 5432))
    with network_confined(*servers), serving(app, port):
        earlier = tenant_ids(base_url)
        data = asyncio.run(seed(base_url))
        tokens = app.state.runtime.callbacks.tokens
        known_tokens = {
            "token": [tokens.issue(data["message_id"]), tokens.issue_for_account(data["sms_account"])],
            "X-Telegram-Bot-Api-Secret-Token": [CREDENTIALS["telegram"]["webhookSecret"]],
            "hub.verify_token": [CREDENTIALS["whatsapp"]["verifyToken"]],
            "hub.mode": ["subscribe"],
        }
        accounts = data["customer"].accounts
        signing = {
            "viber": [accounts["viber"], CREDENTIALS["viber"]["authToken"]],
            "whatsapp": [accounts["whatsapp"], CREDENTIALS["whatsapp"]["appSecret"]],
            "gbm": [accounts["gbm"], CREDENTIALS["gbm"]["clientToken"]],
        }
        bodies = valid_bodies(data["customer"], data["ids"])
        document = with_known_ids(json.loads(DOCUMENT.read_text()), data["ids"], known_tokens, bodies)
        (tmp_path / "openapi.json").write_text(json.dumps(document))
        (tmp_path / "schemathesis.toml").write_text(schemathesis_config(base_url, data["customer"]))
        run = subprocess.run(
            [SCHEMATHESIS, "--config-file", "schemathesis.toml", "run", "openapi.json"],
            cwd=tmp_path,
            env={
                **os.environ,
                "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
                "PYTHONPATH": str(ROOT),
                SIGNING_ENV: json.dumps(signing),
            },
            capture_output=True,
            text=True,
            timeout=1200,
        )
        # The tests share a database: the fuzz run's tenants go, with their messages (which a later test's
        # worker would otherwise find due).
        for tenant_id in tenant_ids(base_url) - earlier:
            httpx.delete(f"{base_url}/admin/tenants/{tenant_id}", headers=ADMIN, timeout=30).raise_for_status()
    assert run.returncode == 0, run.stdout[-30000:] + run.stderr[-3000:]


def _briefly(wait: Any) -> Any:
    """``wait`` (gateway.events.waits), for 0.1 s at most."""

    async def brief(*args: Any, seconds: float, **kwargs: Any) -> Any:
        return await wait(*args, seconds=min(seconds, 0.1), **kwargs)

    return brief


def tenant_ids(base_url: str) -> set[str]:
    found, cursor = set(), None
    while True:
        page = httpx.get(
            f"{base_url}/admin/tenants", params={"limit": 100, **({"cursor": cursor} if cursor else {})}, headers=ADMIN
        ).json()
        found |= {tenant["id"] for tenant in page["items"]}
        if not (cursor := page["nextCursor"]):
            return found


def test_the_fuzzed_gateway_reaches_nothing_but_itself_and_the_database() -> None:
    with socket.socket() as allowed, socket.socket() as other:
        for listener in (allowed, other):
            listener.bind(("127.0.0.1", 0))
            listener.listen()
        with network_confined(("127.0.0.1", allowed.getsockname()[1]), ("db.internal", 5432)):
            with socket.create_connection(("localhost", allowed.getsockname()[1]), timeout=5):
                pass  # the gateway's own port, by any loopback name
            # Another loopback port, and a non-loopback address (0.0.0.0 is this machine too: were the guard
            # broken, the test would still send nothing out).
            for refused in (("127.0.0.1", other.getsockname()[1]), ("0.0.0.0", allowed.getsockname()[1])):
                with socket.socket() as client, pytest.raises(ConnectionRefusedError, match="the fuzz test refuses"):
                    client.connect(refused)
            with pytest.raises(socket.gaierror, match="looks no names up"):
                socket.getaddrinfo("hooks.example.com", 443)
        with socket.create_connection(("127.0.0.1", other.getsockname()[1]), timeout=5):
            pass  # and everything as before once outside
