"""`gateway worker --callbacks-port`: the worker takes the providers' callbacks, so that delivery reports
and inbound messages cost the customer API's process nothing (GATEWAY_CALLBACK_URL points at it)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket

import httpx

from tests.conftest import assert_problem
from tests.integration.conftest import free_port, send_message, serve, start_worker, tenant_on, wait_for_status


async def start_callbacks_worker(
    database_url: str, public_url: str, callbacks_port: int, told: bool = True
) -> asyncio.subprocess.Process:
    """``told``: GATEWAY_CALLBACK_URL names the port (else the worker's default is that port too, and its
    access log, on its standard error with its other lines, shows where the reports went)."""
    env = {"GATEWAY_PUBLIC_URL": public_url, "GATEWAY_ACCESS_LOG": "true"}  # the sandbox providers, on the API
    if told:
        env["GATEWAY_CALLBACK_URL"] = f"http://127.0.0.1:{callbacks_port}"
    return await start_worker(
        database_url,
        "--callbacks-port",
        str(callbacks_port),
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )


async def until_healthy(url: str, worker: asyncio.subprocess.Process, seconds: float = 30) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + seconds
    async with httpx.AsyncClient(timeout=2) as client:
        while True:
            assert worker.returncode is None, (await worker.stderr.read()).decode()[-2000:]  # type: ignore[union-attr]
            try:
                return await client.get(url + "/health")
            except httpx.TransportError:
                assert asyncio.get_running_loop().time() < deadline, "the worker's callback routes never answered"
                await asyncio.sleep(0.1)


async def test_the_worker_takes_the_providers_reports(database_url):
    port = free_port()
    callbacks = f"http://127.0.0.1:{port}"
    async with serve(database_url, worker_in_server=False, callback_url=callbacks) as api:
        worker = await start_callbacks_worker(database_url, str(api.base_url).rstrip("/"), port)
        try:
            assert (await until_healthy(callbacks, worker)).json() == {"status": "ok", "database": "ok"}
            tenant = await tenant_on(api)
            # The worker sends it (to the sandbox, on the API); the report can only reach the worker.
            message_id = await send_message(api, tenant, "sms", "+447700900123", {"text": "hi", "sender": "Acme"})
            await wait_for_status(api, tenant, message_id, "Delivered", seconds=30)
            async with httpx.AsyncClient(base_url=callbacks) as client:
                # Only the callback routes: the customer API is the API process's.
                answer = await client.get(f"/api/v1/Message/{message_id}", headers=tenant.key)
                assert_problem(answer, 404, "not_found")
                assert "ratelimit" in answer.headers and "ratelimit-policy" in answer.headers
                forged = await client.post(f"/callbacks/sms/{tenant.accounts['sms']}?token=x.y.z", json={})
                assert_problem(forged, 401, "unauthorized")
        finally:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
            await asyncio.wait_for(worker.wait(), 30)
    # Stopped gracefully, then ended by the signal it was sent, as uvicorn's servers end (a supervisor sees
    # the SIGTERM it sent).
    assert worker.returncode == -signal.SIGTERM
    assert "Application shutdown complete" in (await worker.stderr.read()).decode()  # the loops' round ended  # type: ignore[union-attr]


async def test_the_callbacks_port_is_the_callback_url_when_none_is_set(sqlite_url):
    port = free_port()
    # The API has callback routes too, and its sandbox providers report only to the gateway's own URLs.
    async with serve(sqlite_url, worker_in_server=False, callback_url=f"http://127.0.0.1:{port}") as api:
        worker = await start_callbacks_worker(sqlite_url, str(api.base_url).rstrip("/"), port, told=False)
        try:
            await until_healthy(f"http://127.0.0.1:{port}", worker)
            tenant = await tenant_on(api)
            message_id = await send_message(api, tenant, "sms", "+447700900123", {"text": "hi", "sender": "Acme"})
            await wait_for_status(api, tenant, message_id, "Delivered", seconds=30)
        finally:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
            await asyncio.wait_for(worker.wait(), 30)
    # The sandbox's report went where the worker's send said: the worker's own port, not the API's.
    access_log = (await worker.stderr.read()).decode()  # type: ignore[union-attr]
    assert f"method=POST path=/callbacks/sms/{tenant.accounts['sms']} " in access_log, access_log[-3000:]


async def test_a_callbacks_port_in_use_stops_the_worker(sqlite_url):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with serve(sqlite_url, worker_in_server=False) as api:
            worker = await start_callbacks_worker(sqlite_url, str(api.base_url).rstrip("/"), port)
            await asyncio.wait_for(worker.wait(), 30)
    assert worker.returncode == 1  # a clear error, not uvicorn's exit from inside the event loop
    error = (await worker.stderr.read()).decode()  # type: ignore[union-attr]
    assert f"can't serve the callbacks on 127.0.0.1:{port}" in error and "address already in use" in error.lower()


def worker_processes(supervisor: int) -> set[int]:
    """The worker processes a `gateway worker --processes N` supervisor runs (its spawned children)."""
    with open(f"/proc/{supervisor}/task/{supervisor}/children") as children:
        pids = {int(pid) for pid in children.read().split()}
    workers = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"spawn_main" in cmdline.read():
                    workers.add(pid)
        except FileNotFoundError:  # ended meanwhile
            pass
    return workers


async def test_processes_share_the_callback_port_and_a_killed_one_refuses_nothing(sqlite_url):
    port = free_port()
    callbacks = f"http://127.0.0.1:{port}"
    async with serve(sqlite_url, worker_in_server=False, callback_url=callbacks) as api:
        supervisor = await start_worker(
            sqlite_url,
            "--callbacks-port",
            str(port),
            "--processes",
            "2",
            env={
                "GATEWAY_PUBLIC_URL": str(api.base_url).rstrip("/"),
                "GATEWAY_CALLBACK_URL": callbacks,
                "GATEWAY_ACCESS_LOG": "false",  # hundreds of requests: their lines would fill the unread pipe
            },
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await until_healthy(callbacks, supervisor)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while len(first := worker_processes(supervisor.pid)) < 2:
                assert loop.time() < deadline, first
                await asyncio.sleep(0.1)
            refused, interrupted, answered = 0, 0, 0
            stop = asyncio.Event()

            async def ask_all_along() -> None:  # a new connection per request, as many providers report
                nonlocal refused, interrupted, answered
                async with httpx.AsyncClient(timeout=10, headers={"Connection": "close"}) as client:
                    while not stop.is_set():
                        try:  # a route-less path: answered at once, without the database
                            answered += (await client.get(callbacks + "/callbacks/none")).status_code == 404
                        except httpx.ConnectError:
                            refused += 1
                        except httpx.TransportError:  # under way in the process that was killed
                            interrupted += 1
                        await asyncio.sleep(0.005)

            asking = asyncio.create_task(ask_all_along())
            await asyncio.sleep(0.5)  # a window of requests before the kill (not a wait for a state)
            killed = next(iter(first))
            os.kill(killed, signal.SIGKILL)
            while killed in (now := worker_processes(supervisor.pid)) or len(now) < 2:  # replaced
                assert loop.time() < deadline, now
                await asyncio.sleep(0.1)
            await until_healthy(callbacks, supervisor)
            await asyncio.sleep(0.5)  # and a window after the replacement
            stop.set()
            await asyncio.wait_for(asking, 15)
            # Only a request under way in the killed process can fail (one at a time here); none is refused.
            assert refused == 0 and interrupted <= 1 and answered >= 10, (refused, interrupted, answered)
            # And both processes still dispatch: a message sent now is delivered, its report taken on the port.
            tenant = await tenant_on(api)
            message_id = await send_message(api, tenant, "sms", "+447700900123", {"text": "hi", "sender": "Acme"})
            await wait_for_status(api, tenant, message_id, "Delivered", seconds=30)
        finally:
            if supervisor.returncode is None:
                supervisor.send_signal(signal.SIGTERM)
            await asyncio.wait_for(supervisor.wait(), 30)
    assert supervisor.returncode == 0
    assert not worker_processes_left(first)


def worker_processes_left(pids: set[int]) -> set[int]:
    return {pid for pid in pids if os.path.exists(f"/proc/{pid}")}
