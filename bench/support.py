"""Starting a gateway for a benchmark: a fresh Postgres database, Redis, and the processes asked for.

Everything runs on loopback; the database is dropped afterwards. The fault suite (faults/) starts its
gateways with the same pieces: gateway_env, wait_until_healthy, stop_processes, free_port, cpu_probe.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.channel_routes import sandbox_path

ROOT = Path(__file__).resolve().parent.parent
GATEWAY = str(Path(sys.executable).with_name("gateway"))
POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")
ADMIN_TOKEN = "bench-admin-token"
# The sandbox providers stand in for remote services, whose CPU is not the gateway's: at this niceness
# they take what the gateway's processes leave rather than an equal share of the two cores. At equal
# priority their bursts of delivery reports held up the API (p99 accept latency 45-88 ms at 500 sends/s
# against 26-31 ms); at 19 they fell behind and end to end dropped to 482 delivered/s.
SANDBOX_NICE = 10


@dataclass
class Gateway:
    url: str
    port: int
    api_key: str
    tenant_id: str
    accounts: dict[str, str]  # channel -> sandbox traffic account id
    env: dict[str, str]
    processes: list[subprocess.Popen[bytes]]

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = httpx.request(
            method, self.url + path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far (user + system, from /proc) by the API, the workers, the sandbox,
        Postgres and Redis (every process of theirs on the machine) and the load generator (this
        process); compare two readings to see what a phase cost each. A started process's children count
        as it (`serve --workers 2` runs its servers as children). A Postgres backend that ended between
        them (psql's, the periodic ANALYZE's) is missing from the second: a little less."""
        tick = os.sysconf("SC_CLK_TCK")
        processes: dict[int, tuple[str, int, float]] = {}  # pid -> (name, parent pid, CPU seconds)
        for pid in filter(str.isdigit, os.listdir("/proc")):
            with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
                name, _, rest = stat.read().partition("(")[2].rpartition(")")
                fields = rest.split()
                processes[int(pid)] = (name, int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)

        def used(pid: int) -> float:
            """The process's CPU seconds and its children's (the nice wrapper execs, so no deeper)."""
            own = processes.get(pid, ("", 0, 0.0))[2]
            return own + sum(seconds for _, parent, seconds in processes.values() if parent == pid)

        api, *workers, sandbox = (used(process.pid) for process in self.processes)
        services = sum(seconds for name, _, seconds in processes.values() if name in ("postgres", "redis-server"))
        load = processes[os.getpid()][2]
        return {"api": api, "workers": sum(workers), "sandbox": sandbox, "postgres+redis": services, "load": load}

    def sql(self, query: str) -> str:
        """One value from the benchmark's database (psql, so the benchmark needs no driver of its own)."""
        url = self.env["GATEWAY_DATABASE_URL"]
        return subprocess.run(["psql", url, "-tAc", query], capture_output=True, text=True, check=True).stdout.strip()


def ordinary_number(n: int) -> str:
    """The n-th of 80 million UK mobile numbers the SMS sandbox simply delivers: they end in 2000-9999,
    none of its magic endings (0001 never reported, 1NNN failed, 0408/0429/0500 retried for as long as
    the message is valid)."""
    return f"+4477{n // 8000:04d}{2000 + n % 8000:04d}"


def cpu_probe() -> dict[str, float]:
    """How fast the CPU is at the moment. This machine's 2 shared cores have run this loop in 0.9 s and
    in 1.8 s on the same day, which halves every figure; each run prints what it had."""
    started = time.perf_counter()
    total = 0
    for number in range(10_000_000):
        total += number
    return {"10M-step Python loop s": round(time.perf_counter() - started, 2), "load average": os.getloadavg()[0]}


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gateway_env(
    database_url: str,
    redis_url: str,
    port: int,
    data_dir: str,
    callbacks_port: int | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """The settings of a production-shaped gateway on loopback for a load or fault test: the API on
    ``port`` with no worker inside, the providers' callbacks at a worker's ``callbacks_port`` (if any)."""
    return {
        # A line per request costs the API CPU that load tests don't mean to measure; the bench's own
        # environment may say otherwise (GATEWAY_ACCESS_LOG=true: the default settings' cost, BENCHMARKS.md).
        "GATEWAY_ACCESS_LOG": "false",
        # The sandbox accounts stand in for providers; the local mock's journal and provider behaviours are no
        # part of a production path (GATEWAY_SANDBOX_JOURNAL=true measures what they cost a sandbox send).
        "GATEWAY_SANDBOX_JOURNAL": "false",
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_WORKER_IN_SERVER": "false",
        "GATEWAY_JWT_KEYS": "bench-jwt-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "GATEWAY_SECRET_KEY": "bench-secret-key-0123456789abcdefghijklmnopqrstuvwxyz",
        "GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "GATEWAY_PORT": str(port),
        "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        **({"GATEWAY_CALLBACK_URL": f"http://127.0.0.1:{callbacks_port}"} if callbacks_port else {}),
        "GATEWAY_DATA_DIR": data_dir,
        # The load is one tenant's: its quota must not be what is measured (the limiter's cost still is).
        "GATEWAY_RATE_LIMIT_QUOTA": "1000000000",
        **(extra or {}),
    }


def wait_until_healthy(url: str, processes: list[subprocess.Popen[bytes]], seconds: float = 60) -> None:
    """Until ``url``/health answers 200; fails when one of ``processes`` exits meanwhile."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become healthy")


def stop_processes(processes: list[subprocess.Popen[bytes]], seconds: float = 20) -> None:
    """SIGINT to each (they finish what is under way), SIGKILL to those still running after ``seconds``."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def _analyzed(gw: Gateway, every: float = 10.0) -> Iterator[None]:
    """Table statistics kept current as autovacuum would. This machine's Postgres runs with autovacuum
    off, so the tables of a fresh database never get statistics, and the plans Postgres caches for
    prepared statements then scan whole tables (a bulk send's conversation lookup took 400 ms per 500
    numbers). A production server has autovacuum on; the benchmark does its job here."""
    if gw.sql("SHOW autovacuum") == "on":
        yield
        return
    stop = threading.Event()

    def analyze() -> None:
        while not stop.wait(every):
            gw.sql("ANALYZE")

    thread = threading.Thread(target=analyze, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@contextlib.contextmanager
def gateway(
    port: int | None = None,
    workers: int = 1,
    sandbox_port: int | None = None,
    extra_env: dict[str, str] | None = None,
    sandbox_nice: int = SANDBOX_NICE,
    *,
    api_processes: int = 1,
) -> Iterator[Gateway]:
    """A fresh database, then `gateway serve` (``api_processes`` server processes), ``workers`` `gateway
    worker` processes and `gateway sandbox` (the sandbox providers in a process of their own at ``sandbox_nice``, so the
    gateway's processes spend nothing on imitating providers); the demo tenant's sandbox accounts are
    pointed at it.
    The first worker takes the providers' callbacks (`--callbacks-port`, the deployment README.md
    recommends under load), so the API process serves the customer API alone."""
    print(json.dumps({"machine": cpu_probe()}), flush=True)
    # Ports of its own (free ones unless told), so that two benchmarks can run at once; Redis is shared then
    # unless BENCH_REDIS_URL names another database for each.
    port, sandbox_port, callbacks_port = port or free_port(), sandbox_port or free_port(), free_port()
    name = f"gateway_bench_{os.getpid()}"
    database = f"{POSTGRES}/{name}"
    subprocess.run(["psql", f"{POSTGRES}/test", "-qc", f'CREATE DATABASE "{name}"'], check=True)
    data_dir = tempfile.mkdtemp(prefix="gateway-bench-")
    env = gateway_env(database, REDIS, port, data_dir, callbacks_port if workers else None, extra_env)
    subprocess.run(["redis-cli", "-u", REDIS, "FLUSHDB"], check=True, capture_output=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        subprocess.run([GATEWAY, "migrate"], env=env, check=True, capture_output=True)
        demo = json.loads(subprocess.run([GATEWAY, "demo"], env=env, check=True, capture_output=True).stdout)
        log = open(Path(data_dir) / "processes.log", "wb")  # noqa: SIM115  (closed with the data directory)
        serve = [GATEWAY, "serve", "--workers", str(api_processes)]
        processes.append(subprocess.Popen(serve, env=env, stdout=log, stderr=log))
        callbacks = ["--callbacks-port", str(callbacks_port)]
        processes += [
            subprocess.Popen([GATEWAY, "worker", *(callbacks if n == 0 else [])], env=env, stdout=log, stderr=log)
            for n in range(workers)
        ]
        sandbox = ["nice", "-n", str(sandbox_nice), GATEWAY, "sandbox", "--port", str(sandbox_port)]
        processes.append(subprocess.Popen(sandbox, env=env, stdout=log, stderr=log))
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, processes)
        if workers:
            wait_until_healthy(f"http://127.0.0.1:{callbacks_port}", processes)
        gw = Gateway(url, port, demo["apiKey"], demo["tenantId"], demo["trafficAccounts"], env, processes)
        for channel, account_id in gw.accounts.items():
            base_url = f"http://127.0.0.1:{sandbox_port}{sandbox_path(channel)}"
            gw.admin(
                "PATCH",
                f"/admin/tenants/{gw.tenant_id}/traffic-accounts/{account_id}",
                {"settings": {"baseUrl": base_url}},
            )
        with _analyzed(gw):
            yield gw
    finally:
        stop_processes(processes)
        subprocess.run(["psql", f"{POSTGRES}/test", "-qc", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])
        subprocess.run(["redis-cli", "-u", REDIS, "FLUSHDB"], capture_output=True)
