"""What an operator reads (issue 18): `gateway serve`, `gateway worker --callbacks-port` and `gateway sandbox`,
each a process of its own told its own address, with GATEWAY_LOG_FORMAT=json at DEBUG, run messages through
sms and telegram (a retry, a failover step, a webhook whose receiver answers 500, refused callbacks). Every
line of every process is JSON; the events carry their ids; and none of the secrets the run was given (keys,
tokens, the bot token, webhook secrets, a password) appears anywhere in what the processes wrote."""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from gateway.tenants.auth import API_KEY_HEADER
from tests.conftest import eventually
from tests.integration.conftest import GATEWAY, free_port, running
from tests.integration.processes import STARTUP_SECONDS, stop, tail
from tests.integration.webhook_fixtures import Answer, Receiver

JWT_KEY = "jwt-key-never-logged-" + "j" * 24
SECRET_KEY = "secret-key-never-logged-" + "s" * 24
ADMIN_TOKEN = "admin-token-never-logged-0123456789"
BOT_TOKEN = "4242424242:AAbotTokenNeverLogged_0123456789abc"
TELEGRAM_WEBHOOK_SECRET = "telegramWebhookSecretNeverLogged42"
PASSWORD = "customer password never logged"
CHAT = "1861312834"  # the sandbox's ordinary Telegram user
BLOCKED_CHAT = "1861310403"  # the sandbox's blocked bot: the send fails for good (telegram.403)


class Gateway:
    """The three processes, their log files, and a client of each."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.api, self.callbacks, self.sandbox = (f"http://127.0.0.1:{free_port()}" for _ in range(3))
        self.logs: dict[str, Path] = {}
        self.processes: dict[str, asyncio.subprocess.Process] = {}

    def env(self, public_url: str) -> dict[str, str]:
        return {
            "PATH": "/usr/bin:/bin",
            "GATEWAY_DATABASE_URL": f"sqlite:///{self.tmp_path / 'gateway.db'}",
            "GATEWAY_DATA_DIR": str(self.tmp_path / "data"),
            "GATEWAY_JWT_KEYS": JWT_KEY,
            "GATEWAY_SECRET_KEY": SECRET_KEY,
            "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
            "GATEWAY_PUBLIC_URL": public_url,  # each process is told its own address
            "GATEWAY_CALLBACK_URL": self.callbacks,  # the worker takes the providers' callbacks
            "GATEWAY_WORKER_IN_SERVER": "false",
            "GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS": "true",
            "GATEWAY_LOG_FORMAT": "json",
            "GATEWAY_LOG_LEVEL": "DEBUG",
            "GATEWAY_ACCESS_LOG": "true",
        }

    async def start(self, name: str, public_url: str, *args: str) -> None:
        self.logs[name] = log = self.tmp_path / f"{name}.log"
        with log.open("ab") as output:  # standard output and error alike: whatever the process writes
            self.processes[name] = await asyncio.create_subprocess_exec(
                GATEWAY, *args, env=self.env(public_url), stdout=output, stderr=output
            )

    async def run(self, *args: str) -> None:
        await self.start(args[0], self.api, *args)
        assert await asyncio.wait_for(self.processes[args[0]].wait(), STARTUP_SECONDS) == 0, tail(self.logs[args[0]])

    async def up(self) -> None:
        await self.run("migrate")
        port = lambda url: url.rsplit(":", 1)[1]  # noqa: E731
        await self.start("serve", self.api, "serve", "--host", "127.0.0.1", "--port", port(self.api))
        await self.start("worker", self.callbacks, "worker", "--callbacks-port", port(self.callbacks))
        await self.start("sandbox", self.sandbox, "sandbox", "--port", port(self.sandbox))

        async def listening() -> None:
            for name, url in (("serve", self.api), ("worker", self.callbacks), ("sandbox", self.sandbox)):
                assert self.processes[name].returncode is None, tail(self.logs[name])
                try:
                    socket.create_connection(("127.0.0.1", int(port(url))), timeout=1).close()
                except OSError as error:
                    raise AssertionError(f"{name} is not listening yet") from error

        await eventually(listening, STARTUP_SECONDS)

    async def down(self) -> None:
        for process in self.processes.values():
            await stop(process)

    def text(self) -> str:
        return "\n".join(log.read_text(errors="replace") for log in self.logs.values())

    def lines(self, name: str | None = None) -> list[dict[str, Any]]:
        """Every finished line of the process ``name`` (of all of them when None), parsed: each must be JSON.

        A running process may be halfway through writing its last line, so only lines that end in a newline
        count; once the processes have stopped, the test checks that every log ends with one."""
        parsed = []
        for log_name, log in self.logs.items():
            if name in (None, log_name):
                finished = log.read_text().split("\n")[:-1]
                parsed += [json.loads(line) for line in finished if line.strip()]
        return parsed

    def events(self, event: str, **fields: Any) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines()
            if line["event"] == event and all(line.get(key) == value for key, value in fields.items())
        ]


async def test_every_process_logs_its_events_as_json_and_no_secret(tmp_path: Path) -> None:
    gateway, receiver = Gateway(tmp_path), Receiver()
    receiver.answer("/refusing", Answer(500, b"no"))  # a webhook receiver that refuses
    receiver.answer("/provider/sms", Answer(500, b"no"))  # and an SMS provider
    config = uvicorn.Config(receiver, host="127.0.0.1", port=receiver.port, log_level="warning", lifespan="off")
    async with running(uvicorn.Server(config)):
        try:
            await gateway.up()
            async with httpx.AsyncClient(base_url=gateway.api, timeout=10) as api:
                secrets, ids = await run_traffic(gateway, api, receiver)
        finally:
            await gateway.down()
    text = gateway.text()
    for name, secret in secrets.items():
        assert secret not in text, f"the {name} is in the logs"
    assert "token=eyJ" not in text  # no callback URL's token (a JWT) either

    assert all(log.read_text().endswith("\n") for log in gateway.logs.values() if log.stat().st_size)
    lines = gateway.lines()  # every line JSON, in every process
    assert {line["level"] for line in lines} >= {"debug", "info", "warning"}
    tenant = ids["tenant"]
    [sent] = gateway.events("send", message_id=ids["sms"])
    assert sent | {"latency_ms": 0, "timestamp": ""} == {
        "event": "send",
        "level": "info",
        "logger": "gateway.messages.dispatcher",
        "timestamp": "",
        "message_id": ids["sms"],
        "tenant_id": tenant,
        "traffic_account_id": ids["sms account"],
        "channel": "sms",
        "chain_id": None,
        "attempt": 1,
        "status": "Sent",
        "provider_code": None,
        "description": None,
        "latency_ms": 0,
    }
    assert isinstance(sent["latency_ms"], float) and sent["latency_ms"] > 0
    assert gateway.events("send", message_id=ids["telegram"], channel="telegram", status="Delivered", level="info")

    [failed] = gateway.events("send", message_id=ids["chain"][0])
    assert failed["level"] == "warning" and failed["status"] == "Failed" and failed["provider_code"] == "telegram.403"
    assert failed["chain_id"] == ids["chain id"] and failed["channel"] == "telegram"
    [moved] = gateway.events("failover moved on", chain_id=ids["chain id"])
    assert moved | {"timestamp": ""} == {
        "event": "failover moved on",
        "level": "info",
        "logger": "gateway.messages.failover",
        "timestamp": "",
        "chain_id": ids["chain id"],
        "tenant_id": tenant,
        "step": 1,
        "state": "active",
        "why": "step 0 Failed",
    }
    assert gateway.events("send", message_id=ids["chain"][1], chain_id=ids["chain id"], channel="sms")

    refused_send = gateway.events("send", message_id=ids["retried"], level="warning", status="not sent")[0]
    assert refused_send["attempt"] == 1 and "500" in refused_send["description"]
    retry = gateway.events("retry scheduled", message_id=ids["retried"], attempt=1)[0]
    assert retry["traffic_account_id"] == ids["refusing account"] and "500" in retry["why"] and retry["at"]

    attempt = gateway.events("webhook attempt", webhook_id=ids["webhook"], attempt=1)[0]
    assert attempt["level"] == "warning" and attempt["status"] == 500 and attempt["tenant_id"] == tenant
    assert attempt["message_id"] == ids["sms"] and attempt["event_id"] and attempt["next_attempt_at"]
    assert isinstance(attempt["latency_ms"], int)

    [forged] = gateway.events("callback refused", channel="sms")
    assert forged["traffic_account_id"] == ids["sms account"] and forged["status"] == 401
    assert forged["refused"] == "unauthorized" and "token" in forged["why"]
    [wrong_secret] = gateway.events("callback refused", channel="telegram")
    assert wrong_secret["status"] == 401 and "X-Telegram-Bot-Api-Secret-Token" in wrong_secret["why"]
    [malformed] = gateway.events("callback refused", channel="sms", status=400) or [None]
    assert malformed is None  # (only the two refusals above were made)

    # The access line: the path as the client sent it, its query's token redacted; from each process.
    [access] = gateway.events("request", path="/api/v1/Messages/send")
    assert access["method"] == "POST" and access["status"] == 200 and access["client"].startswith("127.0.0.1:")
    assert isinstance(access["duration_ms"], float) and access["logger"] == "gateway.access"
    callback_lines = gateway.events("request", path=f"/callbacks/sms/{ids['sms account']}")
    assert {line["query"] for line in callback_lines} >= {"token=[redacted]"}
    assert any(line.get("path") == "/sandbox/telegram/bot[redacted]/sendMessage" for line in gateway.lines("sandbox"))

    assert [line["event"] for line in gateway.lines("worker") if line["event"].startswith("worker ")] == [
        "worker started",
        "worker stopped",
    ]
    assert not [line for line in gateway.lines("serve") if line["logger"].startswith("alembic")]


async def run_traffic(gateway: Gateway, api: httpx.AsyncClient, receiver: Receiver) -> tuple[dict, dict]:
    """Messages through every path worth a line; the secrets handed out on the way and the ids to look for."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    tenant = (await api.post("/admin/tenants", json={"name": "logs"}, headers=admin)).json()["id"]
    key = (await api.post(f"/admin/tenants/{tenant}/api-keys", json={"name": "k"}, headers=admin)).json()["key"]
    email = "operator@example.com"
    created = await api.post(
        f"/admin/tenants/{tenant}/customers", json={"email": email, "password": PASSWORD}, headers=admin
    )
    assert created.status_code == 201, created.text
    login = await api.post("/api/v1/Customer/login", json={"email": email, "password": PASSWORD})
    customer_token = login.json()["token"]
    assert (await api.get("/api/v1/Message", headers={"Authorization": f"Bearer {customer_token}"})).status_code == 200
    headers = {API_KEY_HEADER: key}

    async def account(channel: str, **settings: Any) -> dict:
        body = {"name": f"{channel} {len(settings)}", "channel": channel, "sandbox": True, "settings": settings}
        answer = await api.post(f"/admin/tenants/{tenant}/traffic-accounts", json=body, headers=admin)
        assert answer.status_code == 201, answer.text
        return answer.json()

    sms = await account("sms", baseUrl=f"{gateway.sandbox}/sandbox/sms")
    telegram = await account(
        "telegram",
        baseUrl=f"{gateway.sandbox}/sandbox/telegram",
        botToken=BOT_TOKEN,
        webhookSecret=TELEGRAM_WEBHOOK_SECRET,
    )
    refusing = await account("sms", baseUrl=receiver.url("/provider"))
    webhook = await api.post(
        "/api/v1/Webhook",
        json={"url": receiver.url("/refusing"), "webhookTriggers": ["Delivered"], "linkTrafficAccountIds": [sms["id"]]},
        headers=headers,
    )
    assert webhook.status_code == 201, webhook.text

    async def send(body: dict, path: str = "/api/v1/Message/send") -> Any:
        answer = await api.post(path, json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    sms_id = (
        await send(
            {"trafficAccountId": sms["id"], "destination": "+447700900123", "sms": {"sender": "Acme", "text": "Hi"}},
            "/api/v1/Messages/send",
        )
    )["messageId"]
    telegram_id = (
        await send({"trafficAccountId": telegram["id"], "destination": CHAT, "telegram": {"text": {"message": "Hi"}}})
    )["messageId"]
    steps = [{"trafficAccountId": telegram["id"], "destination": BLOCKED_CHAT}, sms["id"]]
    chain = await send(
        {
            "destination": "+447700900124",
            "sms": {"sender": "Acme", "text": "Hi"},
            "telegram": {"text": {"message": "Hi"}},
            "failover": {
                "type": "Timeout",
                "timeoutFailover": {"timeoutInSeconds": 30, "status": "Delivered", "trafficAccounts": steps},
            },
        }
    )
    retried = (
        await send(
            {
                "trafficAccountId": refusing["id"],
                "destination": "+447700900125",
                "sms": {"sender": "Acme", "text": "Hi"},
            }
        )
    )["messageId"]

    async with httpx.AsyncClient(timeout=10) as client:
        forged = await client.post(f"{gateway.callbacks}/callbacks/sms/{sms['id']}?token=x.y.z", json={})
        assert forged.status_code == 401
        wrong = await client.post(
            f"{gateway.callbacks}/callbacks/telegram/{telegram['id']}",
            json={"update_id": 1},
            headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
        )
        assert wrong.status_code == 401
        user = {"trafficAccountId": telegram["id"], "from": CHAT, "text": "Hello"}
        inbound = await client.post(f"{gateway.sandbox}/sandbox/telegram/inbound", json=user)
        assert inbound.json()["gatewayStatus"] == 200, inbound.text

    async def done() -> None:
        for message_id, status in ((sms_id, "Delivered"), (telegram_id, "Delivered"), (chain[1], "Delivered")):
            message = (await api.get(f"/api/v1/Message/{message_id}", headers=headers)).json()
            assert message["deliveryStatus"] == status, message
        assert receiver.at("/refusing") and gateway.events("retry scheduled", message_id=retried)
        assert gateway.events("webhook attempt")

    await eventually(done, 30)
    await asyncio.sleep(0.2)  # the lines of what just happened reach the files
    secrets = {
        "JWT key": JWT_KEY,
        "secret key": SECRET_KEY,
        "admin token": ADMIN_TOKEN,
        "API key": key,
        "customer's token": customer_token,
        "password": PASSWORD,
        "webhook secret": webhook.json()["secret"],
        "bot token": BOT_TOKEN,
        "Telegram webhook secret": TELEGRAM_WEBHOOK_SECRET,
        "sms account's callback token": sms["callbackUrl"].split("token=")[1],
        "telegram account's callback token": telegram["callbackUrl"].split("token=")[1],
    }
    ids = {
        "tenant": tenant,
        "sms account": sms["id"],
        "refusing account": refusing["id"],
        "sms": sms_id,
        "telegram": telegram_id,
        "chain": chain,
        "chain id": (await api.get(f"/api/v1/Message/{chain[1]}", headers=headers)).json()["failover"]["chainId"],
        "retried": retried,
        "webhook": webhook.json()["id"],
    }
    return secrets, ids
