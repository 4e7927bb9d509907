"""GET /metrics: the Prometheus text format (gateway.metrics), on `gateway serve` and on a worker's ports.
Mounted only when metrics are on (a 404 otherwise), left out of the OpenAPI document and of the rate
limits; with GATEWAY_METRICS_TOKEN a scrape must carry it as a Bearer token (else 401).

The server's answer adds the queue gauges: how much work waits, read from the database at the scrape
(gateway.store.backlog, a few index scans), at most every QUEUES_MAX_AGE seconds. Only the server reads
them, once per scrape whatever the number of processes, so they are never summed over processes.
"""

from __future__ import annotations

import datetime
import logging
import time
from typing import Any

from litestar import Request, get
from litestar.connection import ASGIConnection
from litestar.handlers import HTTPRouteHandler
from litestar.response import Response
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily

from gateway import metrics
from gateway.api.deps import runtime_of
from gateway.lib.clock import now
from gateway.rate_limits import TENANT_OPT, UNCOUNTED
from gateway.runtime import Runtime
from gateway.settings import Settings
from gateway.store.backlog import Backlog, read_backlog
from gateway.tenants.auth import bears, unauthorized

log = logging.getLogger(__name__)

MEDIA_TYPE = "text/plain; version=0.0.4"  # what generate_latest writes: Prometheus' text format
QUEUES_MAX_AGE = 5.0  # seconds a reading of the queues is served again (scrapes may come often, from several)


async def token_guard(connection: ASGIConnection, _handler: Any) -> None:
    token = runtime_of(connection).settings.metrics_token
    if token is not None and not bears(connection, token):
        raise unauthorized("GET /metrics needs `Authorization: Bearer <GATEWAY_METRICS_TOKEN>`.")


def metrics_routes(settings: Settings, queues: bool) -> list[HTTPRouteHandler]:
    """GET /metrics when metrics are on, with the queue gauges (the server) or without (a worker)."""
    if not settings.metrics_enabled:
        return []
    reading = QueueReading() if queues else None

    @get(
        metrics.PATH,
        include_in_schema=False,
        guards=[token_guard],
        opt={TENANT_OPT: UNCOUNTED},
        media_type=MEDIA_TYPE,
    )
    async def scrape(request: Request) -> Response[bytes]:
        body = metrics.exposition()
        if reading is not None:
            body += await reading.exposition(runtime_of(request))
        return Response(body, media_type=MEDIA_TYPE)  # Litestar adds the charset

    return [scrape]


class QueueReading:
    """The queue gauges of one server process, as last read."""

    def __init__(self) -> None:
        self.read_at = -QUEUES_MAX_AGE
        self.text = b""

    async def exposition(self, runtime: Runtime) -> bytes:
        if time.monotonic() - self.read_at >= QUEUES_MAX_AGE:
            self.read_at = time.monotonic()
            at = now()
            try:
                async with runtime.sessions() as session:
                    backlog = await read_backlog(session, at)
            except Exception as error:  # noqa: BLE001  (the other metrics are still worth a scrape)
                log.warning("reading the queues for /metrics failed: %s", error)
                self.text = b""
            else:
                self.text = generate_latest(_Queues(backlog, at))  # type: ignore[arg-type]
        return self.text


class _Queues:
    """One reading of the queues as gauges (a custom collector: values of the scrape, not of a process)."""

    def __init__(self, backlog: Backlog, at: datetime.datetime) -> None:
        self.backlog, self.at = backlog, at

    def collect(self) -> Any:
        b = self.backlog
        for name, text, value in (
            (
                "gateway_messages_due",
                "Messages Ready to send, their attempt time passed, no worker holding them",
                b.messages_due,
            ),
            ("gateway_messages_in_flight", "Messages a worker is sending (Ready and leased)", b.messages_in_flight),
            (
                "gateway_oldest_due_message_age_seconds",
                "How long the longest-waiting due message has been due",
                self._age(b.oldest_due_at),
            ),
            (
                "gateway_webhook_events_pending",
                "Webhook events not yet delivered (due, in flight or waiting to be retried)",
                b.webhook_events_pending,
            ),
            (
                "gateway_oldest_pending_webhook_event_age_seconds",
                "Age of the oldest webhook event not yet delivered",
                self._age(b.oldest_pending_event_at),
            ),
            (
                "gateway_failover_timers_pending",
                "Failover chains waiting for their active step to time out",
                b.failover_timers_pending,
            ),
        ):
            yield GaugeMetricFamily(name, text, value=value)

    def _age(self, since: datetime.datetime | None) -> float:
        return 0.0 if since is None else max((self.at - since).total_seconds(), 0.0)
