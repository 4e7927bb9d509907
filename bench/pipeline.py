"""The message pipeline under load (issue 21's targets), on Postgres + Redis, one API and one worker process.

1. accepted sends/s: as many sends as the API takes (closed loop), target >= 2,500/s (>= 0.22 of the echo limit);
2. the SMS HTTP API's ``POST /sms`` (issue 20), closed loop as in 1, right after it in the same run: accepted/s
   and p99 beside the Chat API's send (the same pipeline behind a different request and answer format);
3. accept latency at 1,000 sends/s (open loop), target p99 <= 25 ms;
4. end to end: sends at a fixed rate (900/s) for 60 s through the SMS sandbox provider, target >= 800
   messages/s reaching Delivered, sustained.

Each phase prints its ratio to the machine's limits measured by bench/limits.py (when `make bench` ran it first)
and the CPU milliseconds each process spent per message.

Run with `make bench` (or `.venv/bin/python -m bench.pipeline [--seconds N]`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from bench.limits import ratio
from bench.loadgen import closed_loop, open_loop, post
from bench.support import SANDBOX_NICE, Gateway, gateway, ordinary_number


def send_request(gw: Gateway, recipients: int = 8_000):
    account = gw.accounts["sms"]
    headers = {"X-Mitto-API-Key": gw.api_key}

    def make(number: int) -> bytes:
        destination = ordinary_number(number % recipients)  # every message is meant to reach Delivered
        body = {"trafficAccountId": account, "destination": destination, "sms": {"sender": "Bench", "text": "Hello"}}
        return post("/api/v1.1/Messages/send", json.dumps(body).encode(), headers)

    return make


def sms_api_request(gw: Gateway, recipients: int = 8_000):
    """``POST /sms`` of the SMS HTTP API: the tenant's only sms account sends it (the key is not bound)."""
    headers = {"X-Mitto-API-Key": gw.api_key}

    def make(number: int) -> bytes:
        body = {"from": "Bench", "to": ordinary_number(number % recipients).lstrip("+"), "text": "Hello"}
        return post("/sms", json.dumps(body).encode(), headers)

    return make


def cores_since(gw: Gateway, before: dict[str, float], seconds: float) -> dict[str, float]:
    """The cores each part of the stack used on average since ``before`` (Gateway.cpu_seconds)."""
    after = gw.cpu_seconds()
    return {part: round((after[part] - before[part]) / seconds, 2) for part in after}


def cpu_ms_per_message(cores: dict[str, float], per_second: float) -> dict[str, float]:
    """CPU milliseconds each process spent per message, from the cores it used at ``per_second`` messages."""
    return {part: round(used * 1000 / per_second, 3) for part, used in cores.items()} if per_second else {}


def report(title: str, results, target: str, cores: dict[str, float], limit: str | None = None) -> dict:
    per_second = results.rate(200)
    line = {
        "phase": title,
        "accepted": results.count(200),
        "other statuses": {k: v for k, v in results.statuses.items() if k != 200},
        "errors": results.errors,
        "per second": round(per_second),
        **({f"ratio to {limit}": ratio(per_second, limit)} if limit else {}),
        "p50 ms": round(results.percentile(0.50) * 1000, 1),
        "p99 ms": round(results.percentile(0.99) * 1000, 1),
        "target": target,
        "CPU cores used": cores,
        "CPU ms per message": cpu_ms_per_message(cores, per_second),
    }
    print(json.dumps(line), flush=True)
    return line


def delivered_count(gw: Gateway) -> int:
    return int(gw.sql("SELECT count(*) FROM message WHERE status = 'Delivered'"))


async def drained(gw: Gateway, limit: float = 180) -> None:
    """Wait until the earlier phases' messages are delivered, so that a phase measures only its own."""
    deadline = time.perf_counter() + limit
    waiting = "SELECT count(*) FROM message WHERE status IN ('Ready', 'Sent')"
    while time.perf_counter() < deadline and int(gw.sql(waiting)):  # noqa: ASYNC110  (polling the database)
        await asyncio.sleep(1)
    await asyncio.sleep(3)


async def end_to_end(gw: Gateway, per_second: float, seconds: float) -> dict:
    """Send at ``per_second`` for ``seconds``; count Delivered every second. Sustained throughput is the
    number delivered between the end of the warm-up and the end of sending, over that time."""
    before = delivered_count(gw)
    cpu_before = gw.cpu_seconds()
    sending = asyncio.create_task(
        open_loop("127.0.0.1", gw.port, send_request(gw), per_second, seconds, connections=128)
    )
    started = time.perf_counter()
    samples = []
    while not sending.done():
        await asyncio.sleep(1)
        samples.append((time.perf_counter() - started, delivered_count(gw) - before))
    results = await sending
    cores = cores_since(gw, cpu_before, time.perf_counter() - started)
    deadline = time.perf_counter() + 30
    sent = results.count(200)
    while delivered_count(gw) - before < sent and time.perf_counter() < deadline:  # noqa: ASYNC110  (polling the database)
        await asyncio.sleep(0.5)
    drained = time.perf_counter() - started
    warm = next((s for s in samples if s[0] >= 5), samples[0])
    last = samples[-1]
    sustained = (last[1] - warm[1]) / max(last[0] - warm[0], 1e-9)
    line = {
        "phase": f"end to end at {per_second:.0f}/s for {seconds:.0f} s",
        "accepted": sent,
        "delivered": delivered_count(gw) - before,
        "delivered per second while sending (after 5 s warm-up)": round(sustained),
        "ratio to insert rows/s": ratio(sustained, "insert rows/s"),
        "all delivered after s": round(drained, 1),
        "accept p99 ms": round(results.percentile(0.99) * 1000, 1),
        "target": ">= 800 delivered/s sustained for 60 s",
        "CPU cores used while sending": cores,
        "CPU ms per message delivered": cpu_ms_per_message(cores, sustained),
    }
    print(json.dumps(line), flush=True)
    return line


async def main(
    seconds: float, e2e_rate: float, e2e_seconds: float, phases: set[str], sandbox_nice: int, processes: tuple[int, int]
) -> None:
    api_processes, workers = processes
    with gateway(sandbox_nice=sandbox_nice, api_processes=api_processes, workers=workers) as gw:
        # The sandbox SMS account sends at the channel default (100/s) unless told otherwise.
        gw.admin(
            "PATCH",
            f"/admin/tenants/{gw.tenant_id}/traffic-accounts/{gw.accounts['sms']}",
            {"settings": {"sendRate": 5000}},
        )
        make = send_request(gw)
        await closed_loop("127.0.0.1", gw.port, make, connections=16, seconds=2)  # warm-up
        if "throughput" in phases:
            before = gw.cpu_seconds()
            results = await closed_loop("127.0.0.1", gw.port, make, connections=64, seconds=seconds)
            title = f"accepted sends, closed loop, 64 connections, {seconds:.0f} s"
            report(title, results, ">= 2500/s", cores_since(gw, before, seconds), "echo requests/s")
        if "sms" in phases:
            await drained(gw)  # the Chat API phase's backlog would otherwise slow this one down
            make_sms = sms_api_request(gw)
            await closed_loop("127.0.0.1", gw.port, make_sms, connections=16, seconds=2)  # warm-up
            before = gw.cpu_seconds()
            results = await closed_loop("127.0.0.1", gw.port, make_sms, connections=64, seconds=seconds)
            title = f"SMS API POST /sms, closed loop, 64 connections, {seconds:.0f} s"
            cores = cores_since(gw, before, seconds)
            report(title, results, "beside the Chat API's send", cores, "echo requests/s")
        if "latency" in phases:
            await drained(gw)
            before = gw.cpu_seconds()
            results = await open_loop("127.0.0.1", gw.port, make, per_second=1000, seconds=seconds)
            title = f"accept latency at 1000 sends/s, {seconds:.0f} s"
            report(title, results, "p99 <= 25 ms", cores_since(gw, before, seconds))
        if "e2e" in phases:
            await drained(gw)
            await end_to_end(gw, e2e_rate, e2e_seconds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20, help="length of the throughput and latency phases")
    parser.add_argument("--e2e-rate", type=float, default=900, help="sends per second of the end-to-end phase")
    parser.add_argument("--e2e-seconds", type=float, default=60)
    parser.add_argument("--phases", default="throughput,sms,latency,e2e")
    parser.add_argument("--sandbox-nice", type=int, default=SANDBOX_NICE, help="the sandbox process's niceness")
    parser.add_argument("--api-processes", type=int, default=1, help="`gateway serve --workers N`")
    parser.add_argument("--workers", type=int, default=1, help="`gateway worker` processes")
    arguments = parser.parse_args()
    phases = set(arguments.phases.split(","))
    processes = (arguments.api_processes, arguments.workers)
    run = main(arguments.seconds, arguments.e2e_rate, arguments.e2e_seconds, phases, arguments.sandbox_nice, processes)
    asyncio.run(run)
