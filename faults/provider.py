"""The counting fake SMS provider of the fault suite, in a process of its own
(``python -m faults.provider --port P``).

It speaks the SMS HTTP API as the gateway's adapter uses it (channels/sms/adapter.py): ``POST /sms``
with ``X-Mitto-API-Key`` and a JSON body ``{from, to, text, type, callback, reference?, validity}``,
answered like seed 004 (``{"id", "timestamp", "to", "responseCode": 0, "responseText", "textLength"}``).
It counts every send by (API key, ``reference``) with its time, so the suite can tell how often each
message reached the provider (failover steps are told apart by their accounts' API keys).

A short while after a send it POSTs a DELIVERED report ``{messageId, status, errorcode}`` to the
send's ``callback`` URL, retrying like a real provider on no answer, a 5xx or a 429 (``Retry-After``
honoured, backoff up to a minute, about four minutes in all), and counts each report's attempts:
connection refused, reset or unanswered in flight, and each status. A destination ending in
``0001`` is accepted and never reported (so a failover timer fires), on every account or only on
those named by ``silentKeys``.

It also receives the gateway's webhooks at ``POST /webhook``: each is checked with the Standard
Webhooks library against the secret given to ``POST /config`` and counted by ``webhook-id``.

``GET /stats`` returns everything counted, as JSON (``GET /pending``: how many reports are still being
tried). Times are wall-clock (``time.time()``), so the
suite can compare them with the moments of its faults.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from bench.loadgen import post
from faults.client import Pool

SILENT_ENDING = "0001"
REPORT_DELAY = 0.2  # seconds from a send to its delivery report
# Seconds before each retry of a report (each +/- 20 %): about four minutes in all, then it is given up.
RETRY_DELAYS = (0.5, 1, 2, 4, 8, 15, 30, 60, 60, 60)
MAX_RETRY_AFTER = 60.0
REPORT_TIMEOUT = 10.0  # seconds a report waits for its answer
CONNECTIONS = 100  # reports in flight to one address at most


@dataclass
class Report:
    key: str
    reference: str
    attempts: list[tuple[float, float, str]] = field(default_factory=list)  # (started, ended, status or error)
    final: str | None = None  # "accepted", a refusing status code, or "gave up"; None while being tried


@dataclass
class WebhookArrivals:
    message_id: str
    event: str
    times: list[float] = field(default_factory=list)


class Provider:
    def __init__(self, report_delay: float = REPORT_DELAY) -> None:
        self.report_delay = report_delay
        self.silent_keys: set[str] | None = None  # None: the silent ending is silent on every account
        self.webhook: Webhook | None = None
        self.receipts: dict[str, dict[str, list[float]]] = {}  # API key -> reference -> when each send came
        self.reports: list[Report] = []
        self.webhooks: dict[str, WebhookArrivals] = {}  # by webhook-id
        self.bad_signatures = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self.pools: dict[tuple[str, int], Pool] = {}  # keep-alive connections to the callback addresses

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        route = (scope["method"], scope["path"])
        if route == ("POST", "/sms"):
            status, answer = self.sms(headers, body)
        elif route == ("POST", "/webhook"):
            status, answer = self.receive_webhook(headers, body)
        elif route == ("POST", "/config"):
            status, answer = self.configure(json.loads(body))
        elif route == ("GET", "/stats"):
            status, answer = 200, self.stats()
        elif route == ("GET", "/pending"):
            status, answer = 200, {"reports": sum(report.final is None for report in self.reports)}
        else:
            status, answer = 404, {"detail": "not found"}
        content = json.dumps(answer).encode()
        await send(
            {"type": "http.response.start", "status": status, "headers": [(b"content-type", b"application/json")]}
        )
        await send({"type": "http.response.body", "body": content})

    def configure(self, config: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if "silentKeys" in config:
            self.silent_keys = None if config["silentKeys"] is None else set(config["silentKeys"])
        if config.get("webhookSecret"):
            self.webhook = Webhook(config["webhookSecret"])
        return 200, {"status": "ok"}

    def sms(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        key = headers.get("x-mitto-api-key", "")
        if not key:
            return 401, {"responseCode": 1, "responseText": "Missing API key"}
        try:
            request = json.loads(body)
            to, text = str(request["to"]), str(request["text"])
        except (ValueError, KeyError, TypeError):
            return 400, {"responseCode": 1, "responseText": "Internal error"}
        reference = str(request.get("reference") or "")
        self.receipts.setdefault(key, {}).setdefault(reference, []).append(time.time())
        message_id = uuid.uuid4().hex
        silent = to.endswith(SILENT_ENDING) and (self.silent_keys is None or key in self.silent_keys)
        if request.get("callback") and not silent:
            report = Report(key, reference)
            self.reports.append(report)
            payload = json.dumps({"messageId": message_id, "status": "DELIVERED", "errorcode": "0"}).encode()
            task = asyncio.get_running_loop().create_task(
                self.deliver_report(report, str(request["callback"]), payload)
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return 200, {
            "id": message_id,
            "timestamp": datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z"),
            "to": to,
            "responseCode": 0,
            "responseText": "SMS sent",
            "textLength": len(text),
        }

    async def deliver_report(self, report: Report, url: str, payload: bytes) -> None:
        await asyncio.sleep(self.report_delay)
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        if (pool := self.pools.get((host, port))) is None:
            pool = self.pools[(host, port)] = Pool(port, CONNECTIONS, host, REPORT_TIMEOUT)
        request = post(f"{parts.path}?{parts.query}", payload, {}, host=parts.netloc)
        for attempt in range(len(RETRY_DELAYS) + 1):
            started = time.time()
            outcome, headers, _ = await pool.request(request)
            report.attempts.append((started, time.time(), outcome))
            if outcome.startswith("2"):
                report.final = "accepted"
                return
            if outcome[0] == "4" and outcome != "429":
                report.final = outcome  # refused for good: a real provider doesn't retry these
                return
            if attempt == len(RETRY_DELAYS):
                break
            delay = RETRY_DELAYS[attempt] * random.uniform(0.8, 1.2)
            if (retry_after := headers.get("retry-after", "")).isdigit():
                delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER))
            await asyncio.sleep(delay)
        report.final = "gave up"

    def receive_webhook(self, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        try:
            assert self.webhook is not None, "no webhook secret configured"
            payload = self.webhook.verify(body, headers)
        except (AssertionError, WebhookVerificationError, ValueError):
            self.bad_signatures += 1
            return 401, {"detail": "bad signature"}
        event_id = headers["webhook-id"]
        arrivals = self.webhooks.setdefault(
            event_id, WebhookArrivals(str(payload.get("messageId")), str(payload.get("event")))
        )
        arrivals.times.append(time.time())
        return 200, {"status": "ok"}

    def stats(self) -> dict[str, Any]:
        return {
            "receipts": self.receipts,
            "reports": [[r.key, r.reference, r.attempts, r.final] for r in self.reports],
            "webhooks": {i: [w.message_id, w.event, w.times] for i, w in self.webhooks.items()},
            "badSignatures": self.bad_signatures,
        }


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="The fault suite's counting fake SMS provider.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--report-delay", type=float, default=REPORT_DELAY)
    arguments = parser.parse_args()
    uvicorn.run(
        Provider(arguments.report_delay),
        host="127.0.0.1",
        port=arguments.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        loop="uvloop",
        http="httptools",
    )


if __name__ == "__main__":
    main()
