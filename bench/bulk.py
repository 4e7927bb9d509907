"""Bulk sending under load (issue 21's targets), on Postgres + Redis, one API and one worker process:
100,000 recipients through sendbulk (10 calls of 10,000), the calls answered in p50 <= 0.4 s and at worst
0.6 s (>= 0.25 of the COPY limit's rows/s, bench/limits.py), and all 100,000 dispatched to the sandbox
provider at >= 1,500/s; with the CPU milliseconds each process spent per message in the calls and in the dispatch.

Run with `make bench` (or `.venv/bin/python -m bench.bulk [--calls N]`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

from bench.limits import ratio
from bench.support import Gateway, gateway, ordinary_number


def cpu_ms(gw: Gateway, before: dict[str, float], messages: int) -> dict[str, float]:
    """CPU milliseconds each process spent per message since ``before`` (Gateway.cpu_seconds)."""
    after = gw.cpu_seconds()
    return {part: round((after[part] - before[part]) * 1000 / max(messages, 1), 3) for part in after}


def dispatched_count(gw: Gateway, bulk_ids: list[str]) -> int:
    ids = ",".join(f"'{bulk_id}'" for bulk_id in bulk_ids)
    return int(gw.sql(f"SELECT count(*) FROM message WHERE bulk_id IN ({ids}) AND status <> 'Ready'"))


def main(calls: int, per_call: int, dispatch: bool = True) -> None:
    with gateway() as gw:
        account = gw.accounts["sms"]
        gw.admin(
            "PATCH", f"/admin/tenants/{gw.tenant_id}/traffic-accounts/{account}", {"settings": {"sendRate": 10000}}
        )
        durations, bulk_ids = [], []
        started, cpu_before = time.perf_counter(), gw.cpu_seconds()
        with httpx.Client(base_url=gw.url, headers={"X-Mitto-API-Key": gw.api_key}, timeout=60) as client:
            for call in range(calls):
                # Retried magic numbers would never let "all dispatched" come.
                destinations = [ordinary_number(call * per_call + n) for n in range(per_call)]
                body = {
                    "destinations": destinations,
                    "trafficAccountId": account,
                    "sms": {"sender": "Bench", "text": "Hello"},
                }
                begun = time.perf_counter()
                answer = client.post("/api/v1.1/Messages/sendbulk", json=body)
                durations.append(time.perf_counter() - begun)
                answer.raise_for_status()
                bulk_ids.append(answer.json()["bulkId"])
        total = calls * per_call
        calls_cpu, cpu_before = cpu_ms(gw, cpu_before, total), gw.cpu_seconds()
        calls_ended = time.perf_counter()
        figures = {
            "phase": f"sendbulk: {calls} calls of {per_call}",
            "call p50 s": round(statistics.median(durations), 3),
            "slowest call s": round(max(durations), 3),
            "calls s": [round(d, 2) for d in durations],
            "recipients per second (p50 call)": round(per_call / statistics.median(durations)),
            "ratio to copy rows/s": ratio(per_call / statistics.median(durations), "copy rows/s"),
            "CPU ms per message during the calls": calls_cpu,
            "target": "call p50 <= 0.4 s, slowest <= 0.6 s; >= 1,500 dispatched/s",
        }
        if dispatch:  # --no-dispatch: the calls' figures only, none of a dispatch not waited for
            deadline = time.perf_counter() + 600
            while (done := dispatched_count(gw, bulk_ids)) < total and time.perf_counter() < deadline:
                time.sleep(1)
            elapsed = time.perf_counter() - started
            figures |= {
                "dispatched": done,
                "all dispatched after s": round(elapsed, 1),
                # The dispatch overlaps the calls; from the first call to the last message dispatched.
                "dispatched per second": round(done / elapsed),
                "ratio to insert rows/s": ratio(done / elapsed, "insert rows/s"),
                "CPU ms per message after the calls": cpu_ms(gw, cpu_before, total),
                "dispatch after the calls s": round(time.perf_counter() - calls_ended, 1),
            }
        print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--per-call", type=int, default=10_000)
    parser.add_argument(
        "--no-dispatch",
        action="store_true",
        help="measure the calls only: don't wait for the messages to be dispatched (the worker still runs)",
    )
    arguments = parser.parse_args()
    main(arguments.calls, arguments.per_call, dispatch=not arguments.no_dispatch)
