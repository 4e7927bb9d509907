"""What the gateway counts, as Prometheus metrics (the official prometheus-client); GET /metrics serves
them (gateway.api.metrics). Off unless GATEWAY_METRICS=true or GATEWAY_METRICS_TOKEN is set: every
recording function returns at once while off, so the default costs nothing.

Several processes (`gateway serve --workers N`, `gateway worker --processes N`) use prometheus-client's
multiprocess mode: the CLI gives each supervisor a fresh PROMETHEUS_MULTIPROC_DIR before its processes
start, each process writes its values to files there, and a scrape of any of them sums them all.

Hot paths record through label children resolved once (``functools.cache`` of ``.labels``): an
increment is then a lock and an addition, with no query and no await. No tenant label unless
GATEWAY_METRICS_TENANT_LABEL=true: the ``tenant`` label is always declared, and empty otherwise, which
Prometheus stores as no label at all.
"""

from __future__ import annotations

import atexit
import collections
import datetime
import functools
import os
import time
from collections.abc import Iterable, Sequence
from typing import Any, Protocol
from uuid import UUID

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

disable_created_metrics()  # no `_created` series beside every counter and histogram (nothing reads them)

PATH = "/metrics"
CALLBACK_CHANNEL = "callback_channel"  # the opt of a channel's callback routes (gateway.channel_routes)
UNMATCHED = "unmatched"  # the route label of a request that matched no route: one value, whatever the path
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # others count as "other"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DELAY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 21600.0)
LATENESS_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

http_requests = Counter(
    "gateway_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
)
http_duration = Histogram(
    "gateway_http_request_duration_seconds",
    "Time from a request's arrival to its answer's last byte",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
callbacks = Counter(
    "gateway_callbacks", "Provider callbacks (reports, inbound messages) answered, by outcome", ["channel", "outcome"]
)
messages_accepted = Counter(
    "gateway_messages_accepted", "Messages accepted (stored) for sending", ["channel", "tenant"]
)
sends = Counter("gateway_sends", "Send attempts, by the provider's answer", ["channel", "outcome", "tenant"])
provider_duration = Histogram(
    "gateway_provider_request_duration_seconds",
    "Time a provider took to answer a send",
    ["channel"],
    buckets=LATENCY_BUCKETS,
)
# By the status reached, named as in gateway.store.statuses (every part of the gateway records here, so this
# module imports none of them).
accept_to_status = {
    "Sent": Histogram(
        "gateway_accept_to_sent_seconds", "Time from acceptance to Sent", ["channel"], buckets=DELAY_BUCKETS
    ),
    "Delivered": Histogram(
        "gateway_accept_to_delivered_seconds", "Time from acceptance to Delivered", ["channel"], buckets=DELAY_BUCKETS
    ),
}
webhook_attempts = Counter("gateway_webhook_attempts", "Webhook delivery attempts, by outcome", ["outcome"])
webhook_duration = Histogram(
    "gateway_webhook_attempt_duration_seconds", "Time a webhook receiver took to answer", buckets=LATENCY_BUCKETS
)
timer_lateness = Histogram(
    "gateway_failover_timer_lateness_seconds",
    "How long after its due time a failover timer fired",
    buckets=LATENESS_BUCKETS,
)
rate_limit_refusals = Counter("gateway_rate_limit_refusals", "Requests refused over a rate limit", ["policy"])
redis_fallbacks = Counter("gateway_redis_fallbacks", "Times Redis failed and the gateway did without it", ["component"])
# livesum: the processes alive now (a process that ends has its value removed: mark_process_dead).
processes = Gauge("gateway_processes", "Gateway processes running, by kind", ["kind"], multiprocess_mode="livesum")

_on = False
_tenant_label = False


class MetricsSettings(Protocol):
    metrics_enabled: bool
    metrics_tenant_label: bool


def configure(settings: MetricsSettings, kind: str) -> None:
    """Turn counting on or off (a server or worker app is being built, of ``kind``)."""
    global _on, _tenant_label
    _on, _tenant_label = settings.metrics_enabled, settings.metrics_tenant_label
    if _on:
        processes.labels(kind).set(1)
        if directory := multiprocess_directory():
            atexit.register(multiprocess.mark_process_dead, os.getpid(), directory)


def multiprocess_directory() -> str | None:
    """Where the processes of this supervisor keep their values, in multiprocess mode."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def exposition() -> bytes:
    """This process's metrics, or in multiprocess mode every process's of this supervisor, in the text format."""
    directory = multiprocess_directory()
    if directory is None:
        return generate_latest(REGISTRY)
    for path in os.listdir(directory):  # a process killed (not stopped) left its live gauges: forget them
        if path.startswith("gauge_live") and not _alive(pid := int(path.rsplit("_", 1)[1].removesuffix(".db"))):
            multiprocess.mark_process_dead(pid, directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, directory)
    return generate_latest(registry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's: alive
        pass
    return True


# Recording, from the places where things happen: each returns at once while metrics are off.


def observed(scope: Any, send: Any) -> Any:
    """``send``, recording the request when its answer's last byte goes: route template (Litestar's
    ``path_template``, never the raw path), method, status and time; a provider callback's outcome too.
    Our own ASGI wrapper (not Litestar's PrometheusMiddleware): that one runs only on routed requests,
    so an unknown path's 404 would go uncounted, and it builds a Request and label dicts per request."""
    if not _on:
        return send
    started = time.perf_counter()
    status = 500

    async def send_observed(message: Any) -> None:
        nonlocal status
        kind = message["type"]
        if kind == "http.response.start":
            status = message["status"]
        elif kind == "http.response.body" and not message.get("more_body", False):
            method = scope["method"]
            key = (scope.get("path_template") or UNMATCHED, method if method in METHODS else "other", status)
            children = _http_children.get(key) or _http_children_of(key, scope)
            children[0].inc()
            children[1].observe(time.perf_counter() - started)
            if children[2] is not None:
                children[2].inc()
        await send(message)

    return send_observed


_http_children: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}


def _http_children_of(key: tuple[str, str, int], scope: Any) -> tuple[Any, Any, Any]:
    """The label children one kind of request records to (route templates, methods and statuses are
    few, so this is filled once); a provider callback's channel is its route's."""
    route, method, status = key
    callback = None
    if route != UNMATCHED and (channel := scope["route_handler"].opt.get(CALLBACK_CHANNEL)):
        callback = callbacks.labels(channel, _callback_outcome(status))
    children = _http_children[key] = (
        http_requests.labels(route, method, str(status)),
        http_duration.labels(route, method),
        callback,
    )
    return children


def _callback_outcome(status: int) -> str:
    if status < 400:
        return "accepted"
    return {401: "refused", 403: "refused", 404: "unknown", 429: "rate_limited"}.get(
        status, "invalid" if status < 500 else "error"
    )


class Accepted(Protocol):
    channel: str
    tenant_id: UUID


def accepted(messages: Sequence[Accepted]) -> None:
    """Messages were accepted (committed)."""
    if not _on:
        return
    if len(messages) == 1:
        _accepted(messages[0].channel, _tenant(messages[0].tenant_id)).inc()
        return
    for (channel, tenant), count in collections.Counter((m.channel, _tenant(m.tenant_id)) for m in messages).items():
        _accepted(channel, tenant).inc(count)


def sent(message: Any, result: Any, seconds: float) -> None:
    """A provider answered a send (``result``: a channels.base.SendResult) after ``seconds``."""
    if not _on:
        return
    outcome = "sent" if result.accepted else "rejected" if result.permanent else "transient"
    _sends(message.channel, outcome, _tenant(message.tenant_id)).inc()
    _provider_duration(message.channel).observe(seconds)


def statuses_changed(changes: Iterable[Any], moved: Iterable[Any], at: datetime.datetime) -> None:
    """Status changes were written (gateway.store.messages): the moved messages' time from acceptance to
    Sent or Delivered, from the rows the changes returned."""
    if not _on:
        return
    for change, message in zip(changes, moved, strict=True):
        if message is not None and change.status in accept_to_status:
            _accept_to(change.status, message.channel).observe((at - message.created_at).total_seconds())


class WebhookAttempt(Protocol):
    succeeded: bool
    response_status: int | None
    latency_ms: int


def webhook_attempted(attempt: WebhookAttempt) -> None:
    """A webhook delivery attempt ended: succeeded, failed (the receiver answered otherwise than 2xx) or
    unanswered (no connection, a timeout, a URL the network guard refused)."""
    if not _on:
        return
    answered = attempt.response_status is not None
    _webhook_attempts("succeeded" if attempt.succeeded else "failed" if answered else "unanswered").inc()
    webhook_duration.observe(attempt.latency_ms / 1000)


def timers_fired(lateness: Iterable[float]) -> None:
    """Failover timers fired, each this many seconds after it was due."""
    if not _on:
        return
    for seconds in lateness:
        timer_lateness.observe(max(seconds, 0.0))


def rate_limited(policy: str) -> None:
    if _on:
        _rate_limit_refusals(policy).inc()


def redis_fallback(component: str) -> None:
    """Redis failed, and ``component`` did without it (counted in memory, fell back to polling)."""
    if _on:
        _redis_fallbacks(component).inc()


def _tenant(tenant_id: UUID) -> str:
    return str(tenant_id) if _tenant_label else ""


_accepted = functools.cache(messages_accepted.labels)
_sends = functools.cache(sends.labels)
_provider_duration = functools.cache(provider_duration.labels)
_webhook_attempts = functools.cache(webhook_attempts.labels)
_rate_limit_refusals = functools.cache(rate_limit_refusals.labels)
_redis_fallbacks = functools.cache(redis_fallbacks.labels)


@functools.cache
def _accept_to(status: str, channel: str) -> Any:
    return accept_to_status[status].labels(channel)
