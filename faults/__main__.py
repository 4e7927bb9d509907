"""`python -m faults`: the fault experiments (all, or those named), figures as JSON lines, then a table.

    .venv/bin/python -m faults                          # every experiment, 8,000 sends each at 200/s
    .venv/bin/python -m faults --experiments worker-kills,api-kill --messages 2000
    .venv/bin/python -m faults --short                  # the shorter runs of make test

Exits 1 when a target was missed. Each process's log is kept under --logs (default: a temporary
directory, removed at the end unless a target was missed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from bench.support import cpu_probe
from faults import services
from faults.experiments import EXPERIMENTS, FULL, SHORT, run, table


async def main(names: list[str], plan, logs: Path) -> bool:
    results = []
    with services.postgres() as postgres, services.redis() as redis:
        for name in names:
            figures = await run(EXPERIMENTS[name], plan, postgres, redis, logs)
            print(json.dumps(figures), flush=True)
            results.append(figures)
    print(table(results), flush=True)
    return all(not figures["missed"] for figures in results)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--experiments", default=",".join(EXPERIMENTS), help=f"of {', '.join(EXPERIMENTS)}")
    parser.add_argument("--short", action="store_true", help="the plan of make test's short runs")
    parser.add_argument("--messages", type=int, help="sends per experiment")
    parser.add_argument("--rate", type=float, help="sends per second (at most 250 on a shared machine)")
    parser.add_argument("--lease", type=int, help="GATEWAY_LEASE_SECONDS")
    parser.add_argument("--logs", type=Path, help="keep each process's log here")
    arguments = parser.parse_args()
    names = arguments.experiments.split(",")
    if unknown := [name for name in names if name not in EXPERIMENTS]:
        parser.error(f"unknown experiments {unknown}; they are {', '.join(EXPERIMENTS)}")
    plan = SHORT if arguments.short else FULL
    changes = {"messages": arguments.messages, "rate": arguments.rate, "lease": arguments.lease}
    plan = dataclasses.replace(plan, **{name: value for name, value in changes.items() if value is not None})
    try:
        services.check_programs()
    except services.ServersMissing as error:
        sys.exit(f"the fault suite can't run: {error}")
    # SIGTERM (a CI timeout, kill) stops the run as Ctrl-C does, so the servers and processes it started
    # are stopped and their directories removed; Ctrl-C works even when started in the background.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(json.dumps({"machine": cpu_probe(), "plan": dataclasses.asdict(plan)}), flush=True)
    logs = arguments.logs or Path(tempfile.mkdtemp(prefix="faults-logs-"))
    met = False
    try:
        met = asyncio.run(main(names, plan, logs))
    finally:
        if arguments.logs is None and met:
            shutil.rmtree(logs, ignore_errors=True)
        elif not met:
            with contextlib.suppress(OSError):
                print(f"the processes' logs are in {logs}", file=sys.stderr)
    sys.exit(0 if met else 1)
