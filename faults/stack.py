"""A production-shaped gateway for one experiment, on loopback, every port chosen free: a fresh
database in the private Postgres, the private Redis flushed, `gateway serve` (the API alone),
the workers (taking the providers' callbacks) and the counting fake provider, each in its own
process, run the way a process manager runs them: a process that dies is started again a second
later. The tenant, its live SMS accounts (whose provider is the fake) and, when asked, a webhook
are made through the operator and customer APIs.

The sandbox providers (`gateway sandbox`) are not started: every experiment sends SMS through the
fake, which counts what the sandbox can't.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.support import ADMIN_TOKEN, GATEWAY, free_port, gateway_env, stop_processes, wait_until_healthy
from faults.services import Postgres, Redis

# How the workers run; switching to the supervisor of `gateway worker --processes N` is this one line.
# None: WORKERS separate `gateway worker` processes, the first taking the callbacks (the README's
# deployment before issue 14), each restarted by the suite. A number N: one `gateway worker --processes
# N --callbacks-port P` whose supervisor restarts its worker processes, which all serve the callbacks.
WORKER_PROCESSES: int | None = 2
WORKERS = 2
RESTART_DELAY = 1.0  # seconds a process manager waits before starting a process that died again
SEND_RATE = 1000  # the accounts' sendRate: far above the load, so the rate limiter never holds a send back


class Service:
    """One process, started again RESTART_DELAY after it dies until it is stopped."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.command, self.env = command, env
        self.log = open(log, "ab")  # noqa: SIM115  (closed when the stack stops)
        self.process = self._spawn()
        self.stopping = False
        self.died_at: float | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        # A session of its own: a Ctrl-C at the terminal reaches the suite, which stops everything in order.
        return subprocess.Popen(
            self.command, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def watch(self) -> None:
        """Called often by the supervisor thread: restarts the process once it has been dead long enough."""
        if self.stopping or self.process.poll() is None:
            return
        if self.died_at is None:
            self.died_at = time.monotonic()
        elif time.monotonic() - self.died_at >= RESTART_DELAY:
            self.process = self._spawn()
            self.died_at = None

    def kill(self) -> float:
        """SIGKILL; when it was sent."""
        at = time.time()
        self.process.kill()
        return at


def worker_pids(supervisor: int) -> list[int]:
    """The worker processes of `gateway worker --processes N`: its supervisor's spawned children."""
    pids = []
    with contextlib.suppress(OSError):
        for pid in Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text().split():
            with contextlib.suppress(OSError):  # ended meanwhile
                if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    pids.append(int(pid))
    return sorted(pids)


@dataclass
class Stack:
    postgres: Postgres
    redis: Redis
    database: str
    env: dict[str, str]
    api_port: int
    callbacks_port: int
    provider_port: int
    services: dict[str, Service] = field(default_factory=dict)
    api_key: str = ""
    tenant_id: str = ""
    accounts: list[str] = field(default_factory=list)  # live SMS traffic accounts, their provider the fake
    account_keys: list[str] = field(default_factory=list)  # each one's API key at the provider
    webhook_id: str = ""
    kills: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def provider(self) -> str:
        return f"http://127.0.0.1:{self.provider_port}"

    def database_url(self) -> str:
        return self.postgres.url(self.database)

    def admin(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = httpx.request(
            method, self.url + path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
        )
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def customer(self, method: str, path: str, body: dict | None = None) -> dict:
        answer = httpx.request(
            method, self.url + path, json=body, headers={"X-Mitto-API-Key": self.api_key}, timeout=30
        )
        answer.raise_for_status()
        return answer.json() if answer.content else {}

    def configure_provider(self, config: dict) -> None:
        """``silentKeys``, ``webhookSecret``: see faults/provider.py."""
        httpx.post(self.provider + "/config", json=config, timeout=10).raise_for_status()

    # ---------------------------------------------------------------- faults

    def kill_worker(self) -> float:
        """SIGKILL to a worker process, a different one each time (separate workers in turn, the first,
        which serves the callbacks, first; of a supervisor's, the oldest); when it was sent."""
        number, self.kills = self.kills, self.kills + 1
        if WORKER_PROCESSES is None:
            return self.services[f"worker {number % WORKERS}"].kill()
        while not (children := worker_pids(self.services["workers"].process.pid)):
            time.sleep(0.1)  # between a child's death and its replacement
        at = time.time()
        os.kill(children[0], signal.SIGKILL)
        return at

    def kill_api(self) -> float:
        return self.services["api"].kill()

    def flush_redis(self) -> None:
        self.redis.cli("FLUSHALL")


@contextlib.contextmanager
def stack(
    postgres: Postgres, redis: Redis, name: str, logs: Path, accounts: int = 1, lease: int = 60
) -> Iterator[Stack]:
    """The gateway of one experiment (its database ``name``), with ``accounts`` live SMS accounts."""
    postgres.psql("postgres", f'CREATE DATABASE "{name}"')
    redis.cli("FLUSHALL")
    data_dir = logs / name
    data_dir.mkdir(parents=True, exist_ok=True)
    s = Stack(postgres, redis, name, {}, free_port(), free_port(), free_port())
    s.env = gateway_env(
        s.database_url(),
        redis.url,
        s.api_port,
        str(data_dir),
        s.callbacks_port,
        {"GATEWAY_ALLOW_PRIVATE_WEBHOOK_URLS": "true", "GATEWAY_LEASE_SECONDS": str(lease)},
    )
    subprocess.run([GATEWAY, "migrate"], env=s.env, check=True, capture_output=True)
    stop = threading.Event()
    supervisor = threading.Thread(target=_supervise, args=(s, stop), daemon=True)
    try:
        start = [
            ("provider", [sys.executable, "-m", "faults.provider", "--port", str(s.provider_port)]),
            ("api", [GATEWAY, "serve", "--port", str(s.api_port)]),
        ]
        callbacks = ["--callbacks-port", str(s.callbacks_port)]
        if WORKER_PROCESSES is None:
            start += [(f"worker {n}", [GATEWAY, "worker", *(callbacks if n == 0 else [])]) for n in range(WORKERS)]
        else:
            start.append(("workers", [GATEWAY, "worker", "--processes", str(WORKER_PROCESSES), *callbacks]))
        for service, command in start:
            s.services[service] = Service(command, s.env, data_dir / f"{service}.log")
        processes = [service.process for service in s.services.values()]
        wait_until_healthy(s.url, processes)
        wait_until_healthy(f"http://127.0.0.1:{s.callbacks_port}", processes)
        _wait_for(lambda: httpx.get(s.provider + "/pending", timeout=2).status_code == 200)
        supervisor.start()
        _set_up_tenant(s, accounts)
        yield s
    finally:
        stop.set()
        if supervisor.is_alive():
            supervisor.join()
        for service in s.services.values():
            service.stopping = True
        stop_processes([service.process for service in s.services.values()])
        for service in s.services.values():
            service.log.close()


def _supervise(s: Stack, stop: threading.Event) -> None:
    while not stop.wait(0.05):
        for service in list(s.services.values()):
            service.watch()


def _wait_for(ready, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if ready():
                return
        if time.monotonic() > deadline:
            raise RuntimeError("a process of the fault suite did not start")
        time.sleep(0.1)


def _set_up_tenant(s: Stack, accounts: int) -> None:
    tenant = s.admin("POST", "/admin/tenants", {"name": f"faults {s.database}"})
    s.tenant_id = tenant["id"]
    s.api_key = s.admin("POST", f"/admin/tenants/{s.tenant_id}/api-keys", {"name": "load"})["key"]
    for number in range(accounts):
        key = f"faults-{number}-{secrets.token_hex(8)}"
        settings = {"apiKey": key, "baseUrl": s.provider, "sendRate": SEND_RATE}
        account = s.admin(
            "POST",
            f"/admin/tenants/{s.tenant_id}/traffic-accounts",
            {"name": f"SMS {number}", "channel": "sms", "sandbox": False, "settings": settings},
        )
        s.accounts.append(account["id"])
        s.account_keys.append(key)


def add_webhook(s: Stack) -> None:
    """A webhook for the Delivered messages of the first account, its receiver the fake provider."""
    webhook = s.customer(
        "POST",
        "/api/v1/Webhook",
        {
            "url": s.provider + "/webhook",
            "description": "fault suite",
            "webhookTriggers": ["Delivered"],
            "headers": {},
            "linkTrafficAccountIds": [s.accounts[0]],
        },
    )
    s.webhook_id = webhook["id"]
    s.configure_provider({"webhookSecret": webhook["secret"]})
