"""Private Postgres and Redis servers for a fault run, from the machine's installed server programs.

The experiments restart Postgres and flush Redis, so they can't use the machine's shared servers
(other people's test runs use those at the same time): each run starts its own, in a temporary
directory on a free loopback port, and removes them afterwards. initdb refuses to run as root, so
as root the servers run as the ``postgres`` user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench.support import free_port


class ServersMissing(RuntimeError):
    """The machine lacks a server program the fault suite needs."""


def _postgres_bin() -> Path:
    """The directory of the newest installed Postgres's programs (initdb, pg_ctl)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    if initdb := shutil.which("initdb"):
        return Path(initdb).parent
    raise ServersMissing("no Postgres server programs (initdb, pg_ctl: /usr/lib/postgresql/*/bin or PATH)")


def _redis_server() -> str:
    if program := shutil.which("redis-server"):
        return program
    raise ServersMissing("no redis-server program on PATH")


def check_programs() -> None:
    """Raises ServersMissing (saying what is missing) unless both servers can be started."""
    _postgres_bin()
    _redis_server()


def _as_postgres_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class Postgres:
    bin: Path
    directory: Path
    port: int

    @property
    def data(self) -> str:
        return str(self.directory / "data")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def pg_ctl(self, *arguments: str) -> None:
        command = [str(self.bin / "pg_ctl"), "-D", self.data, "-l", str(self.directory / "log"), "-w", *arguments]
        subprocess.run(_as_postgres_user(command), check=True, capture_output=True)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory}"
            " -c fsync=off -c full_page_writes=off"  # the OS doesn't crash in these runs, the server does
        )
        self.pg_ctl("-o", options, "start")

    def restart(self) -> None:
        """``pg_ctl restart -m fast``: every connection is closed, the server is back once this returns."""
        self.pg_ctl("-m", "fast", "restart")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "stop")

    def psql(self, database: str, sql: str) -> str:
        command = [str(self.bin / "psql"), self.url(database), "-tAqc", sql]
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


@dataclass
class Redis:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def cli(self, *command: str) -> str:
        run = ["redis-cli", "-h", "127.0.0.1", "-p", str(self.port), *command]
        return subprocess.run(run, check=True, capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """A fresh Postgres cluster (trust authentication, user ``postgres``) on a free loopback port."""
    server = Postgres(_postgres_bin(), Path(tempfile.mkdtemp(prefix="faults-postgres-")), free_port())
    try:
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(server.directory, user.pw_uid, user.pw_gid)
        initdb = [str(server.bin / "initdb"), "-D", server.data, "-U", "postgres", "--auth=trust"]
        subprocess.run(
            _as_postgres_user([*initdb, "--no-sync", "--encoding=UTF8", "--locale=C"]), check=True, capture_output=True
        )
        server.start()
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            if (server.directory / "data" / "postmaster.pid").exists():
                server.stop("immediate")
        shutil.rmtree(server.directory, ignore_errors=True)


@contextlib.contextmanager
def redis() -> Iterator[Redis]:
    """A Redis server that keeps nothing on disk, on a free loopback port."""
    directory = tempfile.mkdtemp(prefix="faults-redis-")
    port = free_port()
    command = [_redis_server(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [*command, "--dir", directory], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    server = Redis(process, port)
    try:
        deadline = time.monotonic() + 20
        while True:
            with contextlib.suppress(subprocess.CalledProcessError):
                if server.cli("PING") == "PONG":
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"redis-server on port {port} did not start")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(directory, ignore_errors=True)
