"""Bulk sending under load (issue 4's target), on Postgres + Redis, one API and one worker process:
100,000 recipients through sendbulk (10 calls of 10,000), each call answered in at most 2 s, and
all 100,000 dispatched to the sandbox provider.

Run with `make bench` (or `.venv/bin/python -m bench.bulk [--calls N]`).
"""

from __future__ import annotations

import argparse
import json
import time

import httpx

from bench.support import Gateway, gateway, ordinary_number


def dispatched_count(gw: Gateway, bulk_ids: list[str]) -> int:
    ids = ",".join(f"'{bulk_id}'" for bulk_id in bulk_ids)
    return int(gw.sql(f"SELECT count(*) FROM message WHERE bulk_id IN ({ids}) AND status <> 'Ready'"))


def main(calls: int, per_call: int) -> None:
    with gateway() as gw:
        account = gw.accounts["sms"]
        gw.admin(
            "PATCH", f"/admin/tenants/{gw.tenant_id}/traffic-accounts/{account}", {"settings": {"sendRate": 10000}}
        )
        durations, bulk_ids = [], []
        started = time.perf_counter()
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
        deadline = time.perf_counter() + 600
        while (done := dispatched_count(gw, bulk_ids)) < total and time.perf_counter() < deadline:
            time.sleep(1)
        elapsed = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "phase": f"sendbulk: {calls} calls of {per_call}",
                    "slowest call s": round(max(durations), 2),
                    "calls s": [round(d, 2) for d in durations],
                    "dispatched": done,
                    "all dispatched after s": round(elapsed, 1),
                    "dispatched per second": round(done / elapsed),
                    "target": "each call <= 2 s; all dispatched",
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=10)
    parser.add_argument("--per-call", type=int, default=10_000)
    arguments = parser.parse_args()
    main(arguments.calls, arguments.per_call)
