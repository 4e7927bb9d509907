"""GET /metrics (issue 18): off by default, guarded by GATEWAY_METRICS_TOKEN when set, and after a small pipeline
run (a send delivered, a webhook delivered, a failover timer fired, a forged callback, a rate-limit refusal, a Redis
fallback) every metric the README and the Grafana dashboard name is there and has moved. Route labels are templates,
never raw paths. `gateway serve --workers 2` sums its processes (prometheus-client's multiprocess mode), and a worker
serves /metrics on its --metrics-port and on its callbacks port."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from litestar.testing import AsyncTestClient
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from gateway.lib.redis_client import redis_client
from gateway.rate_limits import RedisCounter
from tests.conftest import ADMIN, CLOSED_PORT, assert_problem, create_webhook, eventually, make_settings
from tests.integration import webhook_fixtures as wf
from tests.integration.conftest import (
    GATEWAY,
    free_port,
    send_sms,
    serve,
    start_worker,
    tenant_on,
    wait_for_status,
)
from tests.integration.processes import STARTUP_SECONDS, gateway_environment, run, stop, tail, until_healthy
from tests.integration.test_failover import later, send_chain, timers_of

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "gateway.json"
TOKEN = "metrics-token-0123456789"
receiver = wf.receiver
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parsed(text: str) -> Samples:
    """Every sample of a scrape, by name and labels (parsed with prometheus-client's own parser)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` that have at least these labels."""
    wanted = set(labels.items())
    return sum(value for (sample, have), value in samples.items() if sample == name and wanted <= have)


def names(samples: Samples) -> set[str]:
    return {name for name, _ in samples}


async def scrape(client: httpx.AsyncClient, **headers: str) -> Samples:
    answer = await client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parsed(answer.text)


def dashboard_metrics() -> set[str]:
    """The metric names the dashboard's queries read."""
    dashboard = json.loads(DASHBOARD.read_text())
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    queries = [target["expr"] for panel in dashboard["panels"] if panel["type"] != "row" for target in panel["targets"]]
    assert queries and all("gateway_" in query for query in queries)
    return {name for query in queries for name in re.findall(r"\bgateway_[a-z_]+", query)}


async def test_metrics_are_off_by_default(sqlite_url: str) -> None:
    async with AsyncTestClient(app=create_app(make_settings(sqlite_url))) as client:
        assert_problem(await client.get("/metrics"), 404, "not_found")


async def test_a_metrics_token_is_required_when_set(sqlite_url: str) -> None:
    app = create_app(make_settings(sqlite_url, metrics_token=TOKEN))  # the token alone turns metrics on
    async with AsyncTestClient(app=app) as client:
        assert_problem(await client.get("/metrics"), 401, "unauthorized")
        assert_problem(await client.get("/metrics", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
        assert_problem(await client.get("/metrics", headers=ADMIN), 401, "unauthorized")  # not the admin token
        answer = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200 and "gateway_http_requests_total" in answer.text
        # Neither in the OpenAPI document nor counted by the rate limits (no RateLimit fields).
        assert "ratelimit" not in answer.headers and "/metrics" not in app.openapi_schema.paths
        assert "ratelimit" in (await client.get("/health")).headers


async def test_a_small_pipeline_moves_every_metric(database_url: str, receiver: wf.Receiver) -> None:
    async with serve(database_url, metrics=True) as client:
        before = await scrape(client)
        tenant = await tenant_on(client, ("sms", "telegram"))
        await create_webhook(client, tenant, receiver.url("/hook"))
        # A send, Sent then Delivered by the sandbox's report to the callback route; its webhook delivered.
        message = await send_sms(client, tenant)
        await wait_for_status(client, tenant, message, "Delivered")
        await receiver.wait_for(1, "/hook")
        # A failover chain whose SMS step is never reported: its timer fires (a second late, by the clock given).
        first, _ = await send_chain(client, tenant, "447700900001")
        await wait_for_status(client, tenant, first, "Sent")
        timers = timers_of(client, later(21))
        await timers.put_back(overdue_only=False)
        assert await timers.fire_due() >= 1
        # A forged callback token, refused.
        forged = await client.post(f"/callbacks/sms/{tenant.accounts['sms']}?token=forged", json={"status": "x"})
        assert forged.status_code == 401
        # Over the tenant's quota.
        await client.patch(f"/admin/tenants/{tenant.id}", json={"rateLimitQuota": 1}, headers=ADMIN)
        answers = [(await client.get("/api/v1/Message", headers=tenant.key)).status_code for _ in range(3)]
        assert 429 in answers
        # Redis down (nothing listens there): the rate limits count in memory.
        redis = redis_client(f"redis://127.0.0.1:{CLOSED_PORT}/0")
        await RedisCounter(redis).take("metrics-test", 10, 60)
        await redis.aclose()
        after = await scrape(client)

    def moved(name: str, **labels: str) -> bool:
        return total(after, name, **labels) > total(before, name, **labels)

    assert moved("gateway_http_requests_total", route="/api/{version}/Message/send", method="POST", status="200")
    assert moved("gateway_http_request_duration_seconds_count", route="/api/{version}/Message/send", method="POST")
    assert moved("gateway_messages_accepted_total", channel="sms", tenant="")  # no tenant label by default
    assert moved("gateway_sends_total", channel="sms", outcome="sent")
    assert moved("gateway_provider_request_duration_seconds_count", channel="sms")
    assert moved("gateway_accept_to_sent_seconds_count", channel="sms")
    assert moved("gateway_accept_to_delivered_seconds_count", channel="sms")
    assert moved("gateway_callbacks_total", channel="sms", outcome="accepted")
    assert moved("gateway_callbacks_total", channel="sms", outcome="refused")
    assert moved("gateway_webhook_attempts_total", outcome="succeeded")
    assert moved("gateway_webhook_attempt_duration_seconds_count")
    assert moved("gateway_failover_timer_lateness_seconds_count")
    lateness = total(after, "gateway_failover_timer_lateness_seconds_sum") - total(
        before, "gateway_failover_timer_lateness_seconds_sum"
    )
    assert lateness >= 0.5  # fired at due + 1 s (the timers' clock is 21 s ahead, the timeout 20 s)
    assert moved("gateway_rate_limit_refusals_total", policy="default")
    assert moved("gateway_redis_fallbacks_total", component="rate_limits")
    assert total(after, "gateway_processes", kind="server") >= 1
    for gauge in (
        "gateway_messages_due",
        "gateway_messages_in_flight",
        "gateway_oldest_due_message_age_seconds",
        "gateway_webhook_events_pending",
        "gateway_oldest_pending_webhook_event_age_seconds",
        "gateway_failover_timers_pending",
    ):
        assert gauge in names(after), gauge
    # Route templates only: no id of a message, tenant or traffic account in any label.
    routes = {dict(labels)["route"] for name, labels in after if name == "gateway_http_requests_total"}
    assert "/callbacks/sms/{account_id}" in routes and "/admin/tenants/{tenant_id}" in routes
    assert all(route == "unmatched" or route.startswith("/") for route in routes)
    assert not [labels for _, labels in after if any(UUID_PATTERN.search(value) for _, value in labels)]
    # Every metric the dashboard reads is served.
    assert dashboard_metrics() - names(after) == set()


async def test_the_queue_gauges_are_read_at_the_scrape(database_url: str) -> None:
    async with serve(database_url, metrics=True, worker_in_server=False) as client:  # nothing sends
        tenant = await tenant_on(client)
        await send_sms(client, tenant)
        await asyncio.sleep(0.05)
        queues = await scrape(client)
        assert total(queues, "gateway_messages_due") >= 1
        assert total(queues, "gateway_oldest_due_message_age_seconds") > 0


async def test_a_tenant_label_when_asked_for(sqlite_url: str) -> None:
    async with serve(sqlite_url, metrics=True, metrics_tenant_label=True, worker_in_server=False) as client:
        tenant = await tenant_on(client)
        await send_sms(client, tenant)
        assert total(await scrape(client), "gateway_messages_accepted_total", channel="sms", tenant=tenant.id) == 1


@asynccontextmanager
async def served(tmp_path: Path, *args: str, env: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """`gateway serve *args` on a port of its own (its log in tmp_path), healthy; a client of it."""
    port, log = free_port(), tmp_path / "gateway.log"
    code, _ = await run(GATEWAY, "migrate", env=env, log=log, seconds=STARTUP_SECONDS)
    assert code == 0, tail(log)
    with log.open("ab") as errors:
        server = await asyncio.create_subprocess_exec(
            GATEWAY, "serve", "--port", str(port), *args, env=env, stderr=errors
        )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            await until_healthy(client, server, log)
            yield client
    finally:
        await stop(server)
        print(tail(log))  # shown by pytest when the test failed


def health_requests_by_process(directory: Path) -> dict[int, float]:
    """Per server process (its pid), the /health requests its own counter file holds."""
    counts = {}
    for path in directory.glob("counter_*.db"):
        samples = [s for metric in MultiProcessCollector.merge([str(path)]) for s in metric.samples]
        pid = int(path.stem.split("_")[1])
        counts[pid] = sum(
            s.value for s in samples if s.name == "gateway_http_requests_total" and s.labels["route"] == "/health"
        )
    return counts


async def test_serve_with_two_workers_sums_its_processes(tmp_path: Path) -> None:
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = gateway_environment(tmp_path, None, 0)
    env.pop("GATEWAY_PORT")
    env.pop("GATEWAY_PUBLIC_URL")
    env |= {"GATEWAY_METRICS": "true", "TMPDIR": str(temporary)}  # the supervisor's directory goes in TMPDIR
    async with served(tmp_path, "--workers", "2", env=env) as client:
        (directory,) = temporary.glob("gateway-metrics-*")
        asked = 1  # the health check that found it up (those before it found nothing, or no database yet)

        async def each_process_answered() -> None:
            nonlocal asked
            async with httpx.AsyncClient(
                base_url=client.base_url, limits=httpx.Limits(max_keepalive_connections=0)
            ) as fresh:
                answers = await asyncio.gather(*(fresh.get("/health") for _ in range(10)))
            asked += sum(answer.status_code == 200 for answer in answers)
            counts = health_requests_by_process(directory)
            assert len([count for count in counts.values() if count > 0]) == 2, counts

        await eventually(each_process_answered, 20)
        for _ in range(4):  # whichever process takes the scrape answers with the sum of both
            samples = await scrape(client)
            assert total(samples, "gateway_http_requests_total", route="/health", status="200") == asked
            assert total(samples, "gateway_processes", kind="server") == 2
        # A process killed: the supervisor replaces it; its counts stay, its live gauge goes.
        live = {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("gauge_livesum_*.db")}
        killed = live.pop()
        os.kill(killed, signal.SIGKILL)
        counted = total(samples, "gateway_http_requests_total", route="/health", status="200")

        async def replaced() -> None:
            try:
                samples = await scrape(client)
            except httpx.TransportError as error:  # a connection the killed process held
                raise AssertionError(repr(error)) from error
            assert total(samples, "gateway_processes", kind="server") == 2
            assert not (directory / f"gauge_livesum_{killed}.db").exists()
            assert total(samples, "gateway_http_requests_total", route="/health", status="200") == counted

        await eventually(replaced, 30)


async def test_a_worker_serves_metrics_on_its_metrics_and_callbacks_ports(sqlite_url: str) -> None:
    metrics_port, callbacks_port = free_port(), free_port()
    token = {"Authorization": f"Bearer {TOKEN}"}
    workers = [
        await start_worker(
            sqlite_url, "--processes", "2", "--metrics-port", str(metrics_port), env={"GATEWAY_METRICS_TOKEN": TOKEN}
        ),
        await start_worker(sqlite_url, "--callbacks-port", str(callbacks_port), env={"GATEWAY_METRICS": "true"}),
    ]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{metrics_port}", timeout=5) as client:

            async def both_processes() -> None:
                assert all(worker.returncode is None for worker in workers)
                try:
                    samples = await scrape(client, **token)
                except httpx.TransportError as error:
                    raise AssertionError(f"not serving yet: {error!r}") from error
                assert total(samples, "gateway_processes", kind="worker") == 2

            await eventually(both_processes, STARTUP_SECONDS)
            assert_problem(await client.get("/metrics"), 401, "unauthorized")
            # Only /health and /metrics there: the callback routes are on no port of this worker.
            assert (await client.get("/health")).status_code == 200
            assert (await client.post("/callbacks/sms/x?token=y", json={})).status_code == 404
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{callbacks_port}", timeout=5) as client:

            async def serving() -> None:
                try:
                    samples = await scrape(client)
                except httpx.TransportError as error:
                    raise AssertionError(f"not serving yet: {error!r}") from error
                assert total(samples, "gateway_processes", kind="worker") == 1
                assert "gateway_messages_due" not in names(samples)  # the queue gauges are the server's

            await eventually(serving, STARTUP_SECONDS)
    finally:
        for worker in workers:
            await stop(worker)


async def test_a_metrics_port_needs_metrics_on(sqlite_url: str) -> None:
    worker = await start_worker(sqlite_url, "--metrics-port", str(free_port()), stderr=asyncio.subprocess.PIPE)
    _, errors = await asyncio.wait_for(worker.communicate(), 30)
    assert worker.returncode == 2 and b"--metrics-port" in errors and b"GATEWAY_METRICS" in errors, errors
