"""The experiments: one fault each, injected while clients send at a fixed rate, then a drain, then
the figures from the clients' records, the fake provider's counts and the database.

Figures (each experiment):
- accepted: sends the client got a 2xx for (it retries errors with the same key until a deadline);
- lost: accepted without a message in the database, or a message that never reached the provider;
- stuck: messages not final (still Ready, or Sent though their report was due) after the drain;
- phantoms: messages stored though the client's final outcome was an error;
- duplicate messages: more than one message for one send (idempotency key and reference);
- sent more than once: provider receipts beyond the first for one (account, reference), inside a
  crash window (the first receipt within CRASH_WINDOW before a worker's kill, or during a database
  outage: the worker sent it and died, or could not record it, before recording the answer; at most
  the messages in flight then) or outside one (unexplained); those of duplicate messages apart;
- client statuses: every status (or connection error) the clients saw, retries included;
- reports: delivery-report attempts of the provider refused (connection refused), interrupted in
  flight (reset, closed, no answer), and their statuses;
- recovery: from a fault's start to the first success after its end, the longest over the
  experiment's faults: the API (a send answered 2xx), dispatch (a send reaching the provider) and
  reports (a delivery report accepted).
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import json
import secrets
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.support import ordinary_number
from faults.client import Client, Send, statuses
from faults.services import Postgres, Redis
from faults.stack import Stack, add_webhook, stack

CRASH_WINDOW = 2.0  # seconds before a kill (and around an outage) in which a send may go out twice
KILL_SKEW = 0.5  # a send written just before a kill may reach the provider a moment after it
FAILOVER_TIMEOUT = 5  # the smallest timeoutInSeconds
SILENT_SHARE = 3  # in 10 failover chains the first step is never reported
FINAL = ("Delivered", "Read", "Failed", "Expired")


@dataclass(frozen=True)
class Plan:
    messages: int = 8000  # sends per experiment
    rate: float = 200  # sends per second
    lease: int = 60  # GATEWAY_LEASE_SECONDS
    kill_every: float = 4.0  # seconds between two kills of workers
    client_deadline: float = 150  # seconds a client retries one send before it gives up
    drain: float = 150  # seconds after the load to wait for every message to end (leases, report retries)


FULL = Plan()
SHORT = Plan(messages=360, rate=30, lease=20, kill_every=3.0, client_deadline=100, drain=75)


@dataclass
class Fault:
    kind: str
    started: float  # time.time()
    ended: float
    window: tuple[float, float] | None = None  # when a send may go out twice because of it

    @classmethod
    def kill(cls, kind: str, at: float) -> Fault:
        return cls(kind, at, at, (at - CRASH_WINDOW, at + KILL_SKEW))

    @classmethod
    def outage(cls, kind: str, started: float, ended: float) -> Fault:
        return cls(kind, started, ended, (started - CRASH_WINDOW, ended + CRASH_WINDOW))


Action = Callable[[Stack], Awaitable[Fault]]
Schedule = Callable[[Plan, float], list[tuple[float, Action]]]  # (seconds into the load, what to do)


@dataclass(frozen=True)
class Experiment:
    name: str
    faults: str  # what is done, for the table
    schedule: Schedule
    accounts: int = 1
    failover: bool = False
    webhook: bool = False
    rate_factor: float = 1.0  # of the plan's rate


async def kill_worker(s: Stack) -> Fault:
    return Fault.kill("worker kill", await asyncio.to_thread(s.kill_worker))


async def kill_api(s: Stack) -> Fault:
    """kill -9 of `gateway serve`; the suite starts it again a second later, as a process manager would."""
    at = s.kill_api()
    return Fault("API kill", at, at)


async def flush_redis(s: Stack) -> Fault:
    at = time.time()
    await asyncio.to_thread(s.flush_redis)
    return Fault("Redis flush", at, time.time())


async def restart_postgres(s: Stack) -> Fault:
    at = time.time()
    await asyncio.to_thread(s.postgres.restart)
    return Fault.outage("Postgres restart", at, time.time())


async def stop_postgres(s: Stack, seconds: float = 3) -> Fault:
    at = time.time()
    await asyncio.to_thread(s.postgres.stop)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(s.postgres.start)
    return Fault.outage(f"Postgres down {seconds:g} s", at, time.time())


def worker_kills(plan: Plan, seconds: float) -> list[tuple[float, Action]]:
    """Every kill_every seconds while the load runs."""
    return [(plan.kill_every * n, kill_worker) for n in range(1, int(seconds * 0.9 / plan.kill_every) + 1)]


EXPERIMENTS = {
    "baseline": Experiment("no fault", "none", lambda plan, seconds: []),
    "worker-kills": Experiment("worker kills", "kill -9 of a worker every {kill_every:g} s", worker_kills),
    "redis-flushes": Experiment(
        "Redis flushes", "3 × FLUSHALL", lambda plan, seconds: [(seconds * x, flush_redis) for x in (0.25, 0.5, 0.75)]
    ),
    "postgres-restart": Experiment(
        "Postgres restart",
        "pg_ctl restart -m fast; stop, 3 s, start",
        lambda plan, seconds: [(seconds * 0.3, restart_postgres), (seconds * 0.6, stop_postgres)],
    ),
    "api-kill": Experiment(
        "API kill",
        "2 × kill -9 of the API, restarted after 1 s",
        lambda plan, seconds: [(seconds * 0.3, kill_api), (seconds * 0.65, kill_api)],
    ),
    "failover": Experiment(
        "failover chains",
        "kill -9 of a worker every {kill_every:g} s, 1 × FLUSHALL",
        lambda plan, seconds: [*worker_kills(plan, seconds), (seconds * 0.5, flush_redis)],
        accounts=2,
        failover=True,
        # Each chain may be two sends. At the full rate, dispatch fell more than the 5 s timeout behind
        # while workers were down, so 4 in 5 chains moved on (legitimately), doubling the sends again.
        rate_factor=0.5,
    ),
    "webhooks": Experiment(
        "webhook delivery", "kill -9 of a worker every {kill_every:g} s", worker_kills, webhook=True
    ),
}


async def inject(s: Stack, schedule: list[tuple[float, Action]]) -> list[Fault]:
    """Does each thing of the schedule at its moment; the faults, as they happened."""
    started, faults = time.monotonic(), []
    for offset, action in sorted(schedule, key=lambda moment: moment[0]):
        await asyncio.sleep(max(0.0, started + offset - time.monotonic()))
        faults.append(await action(s))
    return faults


def _silent(number: int) -> bool:
    return number % 10 < SILENT_SHARE


def _silent_first_step(row: Row) -> bool:
    return row.step == 0 and row.destination.endswith("0001")


def _sends(s: Stack, experiment: Experiment, plan: Plan, tag: str) -> list[Send]:
    sends = []
    for number in range(plan.messages):
        reference = f"{tag}-{number:06d}"
        sms = {"sender": "Faults", "text": f"fault suite message {number}", "reference": reference}
        if experiment.failover:
            # A silent chain's first step is accepted by the provider and never reported: its timer moves on.
            destination = f"+4477{number % 10000:04d}0001" if _silent(number) else ordinary_number(number)
            body: dict[str, Any] = {
                "destination": destination,
                "sms": sms,
                "failover": {
                    "type": "Timeout",
                    "timeoutFailover": {
                        "timeoutInSeconds": FAILOVER_TIMEOUT,
                        "status": "Delivered",
                        "trafficAccounts": s.accounts,
                    },
                },
            }
        else:
            body = {"trafficAccountId": s.accounts[0], "destination": ordinary_number(number), "sms": sms}
        sends.append(Send(reference, json.dumps(body).encode()))
    return sends


async def run(experiment: Experiment, plan: Plan, postgres: Postgres, redis: Redis, logs: Path) -> dict[str, Any]:
    """One experiment on a stack of its own; its figures."""
    tag = f"{experiment.name.split()[0].lower()}-{secrets.token_hex(3)}"
    began = time.time()
    database = f"faults_{tag.replace('-', '_')}"
    with stack(postgres, redis, database, logs, accounts=experiment.accounts, lease=plan.lease) as s:
        if experiment.webhook:
            await asyncio.to_thread(add_webhook, s)
        if experiment.failover:
            # The silent ending holds only on the first account: the second account's steps are reported.
            await asyncio.to_thread(s.configure_provider, {"silentKeys": [s.account_keys[0]]})
        sends = _sends(s, experiment, plan, tag)
        rate = plan.rate * experiment.rate_factor
        seconds = plan.messages / rate
        load = asyncio.create_task(Client(s.api_port, s.api_key, plan.client_deadline).run(sends, rate))
        faults = await inject(s, experiment.schedule(plan, seconds))
        await load
        drained = await _drain(s, plan.drain)
        records = await _records(s, sends)
        figures = measure(records, faults, experiment.failover, experiment.webhook)
        # What the figures were made of, beside the processes' logs, for a closer look.
        dump = {
            **dataclasses.asdict(records),
            "sends": [(send.reference, send.attempts, send.message_ids) for send in sends],
            "receipts": [(*message, times) for message, times in records.receipts.items()],
            "faults": [dataclasses.asdict(fault) for fault in faults],
        }
        (logs / database / "records.json").write_text(json.dumps(dump))
    figures["rate"] = rate
    figures["faults"] = experiment.faults.format(kill_every=plan.kill_every)
    figures["fault moments"] = len(faults)
    figures["drained in s"] = drained
    figures["took s"] = round(time.time() - began)
    figures["missed"] = missed(figures)
    return {"experiment": experiment.name, **figures}


async def _drain(s: Stack, limit: float) -> float | None:
    """Waits until every message has ended, every report was answered and every webhook event
    delivered (at most ``limit`` seconds); how long it took, None if it didn't happen."""
    started = time.monotonic()
    tenant = uuid.UUID(s.tenant_id)
    waiting = """
        SELECT (SELECT count(*) FROM message WHERE tenant_id = $1 AND direction = 'outbound' AND (
                    status = 'Ready' OR status = 'Sent'
                    AND NOT (failover_step = 0 AND destination LIKE '%0001')))  -- a silent first step stays Sent
             + (SELECT count(*) FROM failover_chain WHERE tenant_id = $1 AND state = 'active')
             + (SELECT count(*) FROM webhook_event e JOIN webhook w ON w.id = e.webhook_id
                WHERE w.tenant_id = $1 AND e.status = 'pending')
    """
    connection = await asyncpg.connect(s.database_url())
    try:
        async with httpx.AsyncClient(base_url=s.provider, timeout=10) as provider:
            while True:
                pending = (await provider.get("/pending")).json()["reports"]
                if not pending and not await connection.fetchval(waiting, tenant):
                    return round(time.monotonic() - started, 1)
                if time.monotonic() - started > limit:
                    return None
                await asyncio.sleep(1)
    finally:
        await connection.close()


@dataclass
class Row:
    id: str
    reference: str
    account: str
    status: str
    destination: str
    chain: str | None
    step: int | None


@dataclass
class Records:
    """What the clients, the provider and the database say about one experiment."""

    sends: list[Send]
    rows: list[Row]
    receipts: dict[tuple[str, str], list[float]]  # (account id, reference) -> when each send reached the provider
    # (account id, reference, attempts: (started, ended, status or error), final outcome)
    reports: list[tuple[str, str, list[tuple[float, float, str]], str | None]]
    webhooks: dict[str, tuple[str, str, list[float]]]  # webhook-id -> (message id, event, arrivals)
    bad_signatures: int
    webhook_events: list[tuple[str, str]] = field(default_factory=list)  # (event id, message id) in the database


async def _records(s: Stack, sends: list[Send]) -> Records:
    account_of = dict(zip(s.account_keys, s.accounts, strict=True))
    connection = await asyncpg.connect(s.database_url())
    try:
        rows = [
            Row(*row)
            for row in await connection.fetch(
                """SELECT id::text, reference, traffic_account_id::text, status, destination,
                          failover_chain_id::text, failover_step
                   FROM message WHERE tenant_id = $1 AND direction = 'outbound'""",
                uuid.UUID(s.tenant_id),
            )
        ]
        events = (
            await connection.fetch(
                "SELECT id::text, message_id::text FROM webhook_event WHERE webhook_id = $1", uuid.UUID(s.webhook_id)
            )
            if s.webhook_id
            else []
        )
    finally:
        await connection.close()
    async with httpx.AsyncClient(timeout=60) as client:
        stats = (await client.get(s.provider + "/stats")).json()
    receipts = {
        (account_of[key], reference): times
        for key, by_reference in stats["receipts"].items()
        for reference, times in by_reference.items()
    }
    reports = [(account_of[key], reference, attempts, final) for key, reference, attempts, final in stats["reports"]]
    webhooks = {event_id: tuple(arrival) for event_id, arrival in stats["webhooks"].items()}
    return Records(sends, rows, receipts, reports, webhooks, stats["badSignatures"], [tuple(e) for e in events])


def measure(records: Records, faults: list[Fault], failover: bool, webhook: bool) -> dict[str, Any]:
    sends, rows, receipts = records.sends, records.rows, records.receipts
    send_of = {send.reference: send for send in sends}
    by_reference: dict[str, list[Row]] = defaultdict(list)
    by_message: dict[tuple[str, str], list[Row]] = defaultdict(list)  # (account, reference): one message each
    for row in rows:
        by_reference[row.reference].append(row)
        by_message[(row.account, row.reference)].append(row)
    accepted = [send for send in sends if send.accepted]
    never_stored = [send for send in accepted if send.reference not in by_reference]
    never_sent = [r for r in rows if r.status != "Created" and not receipts.get((r.account, r.reference))]
    # A silent first step of a failover chain stays Sent: its report never comes.
    stuck = [r for r in rows if r.status == "Ready" or r.status == "Sent" and not _silent_first_step(r)]
    phantoms = [ref for ref in by_reference if ref not in send_of or not send_of[ref].accepted]
    duplicates = sum(len(messages) - 1 for messages in by_message.values())
    inside = outside = of_duplicates = 0
    windows = [fault.window for fault in faults if fault.window]
    for message, times in receipts.items():
        if len(times) < 2:
            continue
        if len(by_message.get(message, ())) > 1:
            of_duplicates += len(times) - 1
        elif any(start <= min(times) <= end for start, end in windows):
            inside += len(times) - 1
        else:
            outside += len(times) - 1
    seen = statuses(sends)
    result: dict[str, Any] = {
        "sends": len(sends),
        "accepted": len(accepted),
        "not accepted": len(sends) - len(accepted),
        "lost": len(never_stored) + len(never_sent),
        "lost: never stored": len(never_stored),
        "lost: never sent": len(never_sent),
        "stuck": len(stuck),
        "stuck statuses": dict(Counter(r.status for r in stuck)),
        "phantoms": len(phantoms),
        "duplicate messages": duplicates,
        "sent more than once": {
            "inside crash window": inside,
            "outside": outside,
            "of duplicate messages": of_duplicates,
        },
        "client statuses": seen,
        "500s": seen.get("500", 0),
        "report 500s": sum(outcome == "500" for *_, attempts, _ in records.reports for *_, outcome in attempts),
        "reports": _reports(records.reports),
        "recovery s": _recovery(records, faults),
    }
    if failover:
        result["failover"] = _failover(records, by_reference, windows)
    if webhook:
        result["webhooks"] = _webhooks(records)
    return result


def _reports(reports: list[tuple[str, str, list[tuple[float, float, str]], str | None]]) -> dict[str, Any]:
    outcomes = Counter(outcome for *_, attempts, _ in reports for *_, outcome in attempts)
    return {
        "reports": len(reports),
        "attempts": sum(outcomes.values()),
        "refused": outcomes["refused"],
        "interrupted": outcomes["reset"] + outcomes["closed"] + outcomes["no answer"],
        "needed a retry": sum(len(attempts) > 1 for *_, attempts, _ in reports),
        "not accepted": dict(Counter(final or "still trying" for *_, final in reports if final != "accepted")),
        "statuses": dict(sorted(outcomes.items())),
    }


def _recovery(records: Records, faults: list[Fault]) -> dict[str, float | None]:
    """From each fault's start to the first success after its end (seconds), the longest over the faults:
    a send answered 2xx, a send reaching the provider, a delivery report accepted."""
    answers = sorted(end for send in records.sends for _, end, status in send.attempts if status.startswith("2"))
    receipts = sorted(at for times in records.receipts.values() for at in times)
    reports = sorted(
        end for *_, attempts, _ in records.reports for _, end, outcome in attempts if outcome.startswith("2")
    )

    def longest(successes: list[float]) -> float | None:
        spans = []
        for fault in faults:
            after = bisect.bisect_right(successes, fault.ended)
            if after < len(successes):
                spans.append(successes[after] - fault.started)
        return round(max(spans), 2) if spans else None

    return {"api": longest(answers), "dispatch": longest(receipts), "reports": longest(reports)}


def _failover(
    records: Records, by_reference: dict[str, list[Row]], windows: list[tuple[float, float]]
) -> dict[str, Any]:
    """Each step that the chain activated sent exactly once (twice only inside a crash window), no other
    step sent; every silent chain moved to its second step."""
    # A chain is due timeoutInSeconds after it was stored, and it was stored after its send's first attempt began.
    due_after = {send.reference: send.attempts[0][0] + FAILOVER_TIMEOUT for send in records.sends if send.attempts}
    reported_at = {  # when the first step's report was answered 2xx: its status was stored before
        (account, reference): min((end for _, end, outcome in attempts if outcome.startswith("2")), default=None)
        for account, reference, attempts, _ in records.reports
    }
    counts: Counter[str] = Counter()
    for reference, rows in by_reference.items():
        steps = sorted(rows, key=lambda row: row.step or 0)
        silent = steps[0].destination.endswith("0001")
        counts["chains"] += 1
        counts["silent chains"] += silent
        for row in steps:
            times = records.receipts.get((row.account, row.reference), [])
            activated = row.status != "Created"
            if activated and not times:
                counts["activated, never sent"] += 1
            elif not activated and times:
                counts["sent, never activated"] += 1
            elif len(times) > 1:
                inside = any(start <= min(times) <= end for start, end in windows)
                counts["sent twice inside a crash window" if inside else "sent twice outside a crash window"] += 1
        if len(steps) < 2:
            counts["chains without two steps"] += 1
            continue
        moved = steps[1].status != "Created"
        if silent and not moved:
            counts["silent, never moved on"] += 1
        elif not silent and moved:
            # Legitimate unless the first step was certainly Delivered before its timer was due (a fault can
            # delay its report past the timeout).
            reported = reported_at.get((steps[0].account, reference))
            in_time = reported is not None and reference in due_after and reported < due_after[reference]
            counts["moved on though reported in time" if in_time else "moved on after a late report"] += 1
    violations = sum(
        counts[name]
        for name in (
            "activated, never sent",
            "sent, never activated",
            "sent twice outside a crash window",
            "silent, never moved on",
            "moved on though reported in time",
            "chains without two steps",
        )
    )
    return {**dict(counts), "violations": violations}


def _webhooks(records: Records) -> dict[str, Any]:
    """Every Delivered message's event arrived (signed) at least once; repeats counted."""
    delivered = {row.id for row in records.rows if row.status == "Delivered"}
    arrived = {message_id for message_id, event, _ in records.webhooks.values() if event == "Delivered"}
    per_message = Counter(message_id for _, message_id in records.webhook_events)
    return {
        "delivered messages": len(delivered),
        "events written": len(records.webhook_events),
        "events arrived": len(records.webhooks),
        "missing": len(delivered - arrived),
        "arrived more than once": sum(len(times) - 1 for *_, times in records.webhooks.values()),
        "messages with more than one event": sum(count > 1 for count in per_message.values()),
        "bad signatures": records.bad_signatures,
    }


def missed(figures: dict[str, Any]) -> list[str]:
    """The targets this experiment missed."""
    checks = {
        "every send accepted": figures["not accepted"] == 0,
        "0 lost": figures["lost"] == 0,
        "0 stuck": figures["stuck"] == 0,
        "0 phantoms": figures["phantoms"] == 0,
        "0 duplicate messages": figures["duplicate messages"] == 0,
        "0 500s": figures["500s"] == figures["report 500s"] == 0,  # an outage is a 503, for clients and providers
        "0 refused reports": figures["reports"]["refused"] == 0,
        "sent twice only inside crash windows": figures["sent more than once"]["outside"] == 0,
        "drained": figures["drained in s"] is not None,
    }
    if "failover" in figures:
        checks["failover steps exactly once"] = figures["failover"]["violations"] == 0
    if "webhooks" in figures:
        hooks = figures["webhooks"]
        checks["every Delivered webhook arrived"] = hooks["missing"] == 0 and hooks["bad signatures"] == 0
    return [target for target, met in checks.items() if not met]


def table(results: list[dict[str, Any]]) -> str:
    """The figures as a Markdown table (RELIABILITY.md)."""
    head = (
        "| experiment | faults | accepted / sends (per s) | lost | stuck | phantoms | duplicate messages "
        "| sent twice: in crash window / outside | client statuses other than 200 "
        "| reports refused / interrupted | recovery s: API / dispatch / reports | other | targets missed |"
    )
    lines = [head, "|" + " --- |" * head.count(" | ") + " --- |"]
    for r in results:
        twice = r["sent more than once"]
        others = ", ".join(f"{status}: {count:,}" for status, count in r["client statuses"].items() if status != "200")
        recovery = " / ".join("-" if value is None else f"{value:g}" for value in r["recovery s"].values())
        other = []
        if "failover" in r:
            f = r["failover"]
            other.append(
                f"{f.get('chains', 0):,} chains, {f.get('silent chains', 0):,} silent; step violations {f['violations']}"
                f", moved on after a late report {f.get('moved on after a late report', 0)}"
            )
        if "webhooks" in r:
            w = r["webhooks"]
            other.append(
                f"{w['delivered messages']:,} delivered, {w['missing']} events missing, "
                f"{w['arrived more than once']} repeats, {w['bad signatures']} bad signatures"
            )
        if twice["of duplicate messages"]:
            other.append(f"{twice['of duplicate messages']} sends of duplicate messages")
        if r["drained in s"] is None:
            other.append("not drained")
        cells = [
            r["experiment"],
            r["faults"],
            f"{r['accepted']:,} / {r['sends']:,} ({r['rate']:g})",
            f"{r['lost']:,}",
            f"{r['stuck']:,}",
            f"{r['phantoms']:,}",
            f"{r['duplicate messages']:,}",
            f"{twice['inside crash window']:,} / {twice['outside']:,}",
            others or "none",
            f"{r['reports']['refused']:,} / {r['reports']['interrupted']:,}",
            recovery,
            "; ".join(other) or "",
            ", ".join(r["missed"]) or "none",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
