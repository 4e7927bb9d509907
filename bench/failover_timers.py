"""Failover timers under load (issue 21's target), on Postgres + Redis: 100,000 pending timers, the
p99 lateness of firing at most 60 ms and p99.9 at most 150 ms, with no spike at the reconcile's moments (the
worst lateness of each 10 s of the window is printed), and Redis memory per pending timer.

The chains are written straight through the acceptor (two steps each, the first already Sent),
their due times spread over a window; the index is filled by the reconciler (``put_back``), the
same code that repairs it after a Redis flush; then one ``FailoverTimers`` loop (what
`gateway worker` runs) fires them. Lateness is when a chain moved on minus its due time. No
worker dispatches the activated steps here: this measures the timers themselves.

Run with `make bench` (or `.venv/bin/python -m bench.failover_timers [--timers N] [--window S]`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import random
import time
import uuid

from redis.asyncio import Redis

from bench.support import REDIS, gateway
from gateway import logs
from gateway.lib.db import create_engine, session_maker
from gateway.lib.due import RedisDueIndex
from gateway.lib.gc_tuning import settle_after_startup
from gateway.messages.acceptor import Acceptor
from gateway.messages.failover import FailoverTimers, NewChain
from gateway.settings import log_settings, normalise_database_url
from gateway.store import statuses
from gateway.store.messages import NewMessage

TIMEOUT = 3600  # the second step's timer: far away, so each chain fires once here
# Seconds between writing the due times and the first of them. Filling them in and the index takes
# 2-8 s at 100,000 chains on this machine; with a lead of 5 s, timers fell due before the firing loop
# had started and counted as seconds late (p99 2.8-4.5 s on a slow hour, p50 13 ms).
LEAD = 30


async def run(timers_wanted: int, window: float) -> None:
    with gateway(workers=0) as gw:
        engine = create_engine(normalise_database_url(gw.env["GATEWAY_DATABASE_URL"]))
        redis = Redis.from_url(REDIS)
        index = RedisDueIndex(redis, "bench:failover:due")
        await redis.delete(index.key)
        tenant = uuid.UUID(gw.tenant_id)
        sms, telegram = uuid.UUID(gw.accounts["sms"]), uuid.UUID(gw.accounts["telegram"])
        acceptor = Acceptor(engine)
        placeholder = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)
        began = time.perf_counter()
        for start in range(0, timers_wanted, 5000):
            chains, messages = [], []
            for n in range(start, min(start + 5000, timers_wanted)):
                at = datetime.datetime.now(datetime.UTC)
                chain = NewChain(uuid.uuid4(), tenant, "Delivered", TIMEOUT, 2, placeholder, at)
                chains.append(chain)
                for step, (account, channel) in enumerate(((sms, "sms"), (telegram, "telegram"))):
                    messages.append(
                        NewMessage(
                            tenant_id=tenant,
                            traffic_account_id=account,
                            channel=channel,
                            destination=f"+4477{n:08d}",
                            content={"text": "x"},
                            message_parts=1,
                            reference=None,
                            created_at=at,
                            valid_until=at + datetime.timedelta(hours=1),
                            next_attempt_at=None,
                            status=statuses.SENT if step == 0 else statuses.CREATED,
                            failover_chain_id=chain.id,
                            failover_step=step,
                        )
                    )
            await acceptor.accept(messages, chains)
        written = time.perf_counter() - began
        # Due times spread over the window, from a few seconds from now; created_at keeps each due time.
        first = time.time() + LEAD
        async with engine.begin() as connection:
            await connection.exec_driver_sql(
                "UPDATE failover_chain SET due_at = to_timestamp($1 + random() * $2)",
                (first, window),
            )
            await connection.exec_driver_sql(
                "UPDATE failover_chain SET created_at = due_at - make_interval(secs => $1)", (TIMEOUT,)
            )
        memory_before = int((await redis.info("memory"))["used_memory"])
        timers = FailoverTimers(session_maker(engine), index)
        loaded_began = time.perf_counter()
        loaded = await timers.put_back(overdue_only=False)
        loaded_in = time.perf_counter() - loaded_began
        per_timer = (int((await redis.info("memory"))["used_memory"]) - memory_before) / max(loaded, 1)
        # As `gateway worker` does once started (gateway/lib/gc_tuning.py). Without it, full collections walking
        # every object this process imported stopped the firing loop for 135-165 ms while the reconcile's pages
        # made objects: the "spikes at reconcile" of earlier runs were this process's, not the worker's.
        settle_after_startup()
        stop = asyncio.Event()
        # A line per chain moved on, as the worker writes to its log, here written to nothing.
        with open(os.devnull, "w") as nowhere, contextlib.redirect_stderr(nowhere):  # noqa: ASYNC230  (/dev/null)
            loop = asyncio.create_task(timers.run(stop))
            lead = first - time.time()
            await asyncio.sleep(max(0.0, first + window - time.time()) + 5)
            stop.set()
            await loop
        rows = gw.sql(
            f"SELECT string_agg((extract(epoch FROM updated_at - created_at) - {TIMEOUT})::text, ',') "
            "FROM failover_chain WHERE active_step = 1"
        )
        late = sorted(float(x) for x in rows.split(",")) if rows else []
        # When the late ones fell due: the worst lateness in each 10 s of the window shows a stall's moment.
        worst = gw.sql(
            f"SELECT string_agg(w::text, ',' ORDER BY b) FROM (SELECT floor((extract(epoch FROM created_at) + {TIMEOUT} - {first}) / 10) b, "
            f"round(max(extract(epoch FROM updated_at - created_at) - {TIMEOUT}) * 1000) w "
            "FROM failover_chain WHERE active_step = 1 GROUP BY 1) t"
        )

        def pct(q: float) -> float:
            return round(late[min(len(late) - 1, int(q * len(late)))] * 1000, 1) if late else float("nan")

        print(
            json.dumps(
                {
                    "phase": f"{timers_wanted} failover timers due over {window:.0f} s",
                    "chains written s": round(written, 1),
                    "index filled by the reconciler s": round(loaded_in, 1),
                    "first timer due after the loop started s": round(lead, 1),
                    "fired": len(late),
                    "lateness p50 ms": pct(0.5),
                    "p99 ms": pct(0.99),
                    "p99.9 ms": pct(0.999),
                    "max ms": pct(1.0),
                    "worst ms per 10 s of the window": [int(float(x)) for x in worst.split(",")] if worst else [],
                    "redis bytes per pending timer": round(per_timer),
                    "target": "p99 <= 60 ms, p99.9 <= 150 ms, no spike at reconcile",
                }
            ),
            flush=True,
        )
        await redis.delete(index.key)
        await redis.aclose()
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--window", type=float, default=120.0, help="seconds over which the timers fall due")
    arguments = parser.parse_args()
    random.seed(1)
    # Log lines as `gateway worker` writes them: structlog's unconfigured default renderer cost a quarter of the
    # firing loop's CPU, which the worker never pays.
    logs.configure(*log_settings())
    asyncio.run(run(arguments.timers, arguments.window))
