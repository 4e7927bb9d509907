"""Egress through an HTTP proxy (wire/http.py Proxies, CONNECT tunnels): which requests go through it,
https through the tunnel with the target's certificate, credentials, a refusing proxy, and the webhooks'
address check, which a proxy can't get round. Against a CONNECT proxy and servers on loopback
(tests/connect_proxy.py)."""

from __future__ import annotations

import asyncio
import base64
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
import trustme

from gateway.lib import netguard
from gateway.settings import Settings, SettingsError
from gateway.webhooks.deliverer import Claimed, Target, WebhookDeliverer
from tests.conftest import make_settings
from tests.connect_proxy import connect_proxy
from wire.http import CONNECT_TO, DirectClient, Proxies

PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests set the variables they mean; none comes from the machine's environment."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@dataclass
class Receiver:
    """An HTTP/1.1 server answering 200 "ok" on a connection kept open; it records each request's Host."""

    port: int = 0
    hosts: list[str] = field(default_factory=list)
    server_names: list[str | None] = field(default_factory=list)  # TLS: the SNI each connection gave

    def url(self, scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}/hook"

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                lines = head.decode("latin-1").split("\r\n")
                headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
                self.hosts.append(headers["host"])
                await reader.readexactly(int(headers.get("content-length", 0)))
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def receiving(tls: ssl.SSLContext | None = None) -> tuple[Receiver, asyncio.Server]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.serve, "127.0.0.1", 0, ssl=tls)
    receiver.port = server.sockets[0].getsockname()[1]
    return receiver, server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made, server = await receiving()
    yield made
    server.close()


async def get(client: httpx.AsyncClient, url: str, **extensions: str) -> httpx.Response:
    return await client.send(client.build_request("GET", url, extensions=extensions))


# Which requests go through the proxy.


def test_the_standard_variables_choose_the_proxy_by_the_targets_scheme(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://secure.proxy:3128")
    monkeypatch.setenv("no_proxy", "internal.example, .corp.example,api.example:8443")
    proxies = Proxies()
    assert proxies.route("https", "api.example", 443).host == "secure.proxy"
    assert proxies.route("http", "api.example", 80) is None  # HTTPS_PROXY is for https targets only
    assert proxies.route("https", "internal.example", 443) is None
    assert proxies.route("https", "hooks.corp.example", 443) is None
    assert proxies.route("https", "api.example", 8443) is None  # NO_PROXY may name a port
    monkeypatch.setenv("ALL_PROXY", "any.proxy:8080")  # no scheme: http, as curl reads it
    assert Proxies().route("http", "api.example", 80).port == 8080


def test_the_egress_proxy_setting_comes_before_the_variables_but_not_before_no_proxy(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://secure.proxy:3128")
    monkeypatch.setenv("NO_PROXY", "localhost")
    proxies = Proxies("http://egress.proxy:8888")
    assert proxies.route("https", "api.example", 443).host == "egress.proxy"
    assert proxies.route("http", "api.example", 80).host == "egress.proxy"
    assert proxies.route("http", "localhost", 8000) is None
    assert not Proxies()._by_scheme.get("http") and not Proxies(None).route("http", "api.example", 80)


def test_no_proxy_set_leaves_the_transport_direct():
    assert not Proxies()
    assert DirectClient(1, 5, Proxies())._wire._proxies is None


def test_gateway_egress_proxy_is_checked(monkeypatch, tmp_path):
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GATEWAY_EGRESS_PROXY", "http://user:secret@proxy.internal:3128")
    assert Settings.from_env().egress_proxy == "http://user:secret@proxy.internal:3128"
    for url in ("https://proxy.internal:3128", "socks5://user:secret@proxy.internal:1080"):
        monkeypatch.setenv("GATEWAY_EGRESS_PROXY", url)
        with pytest.raises(SettingsError, match="GATEWAY_EGRESS_PROXY") as refused:
            Settings.from_env()
        assert "secret" not in str(refused.value)


# Through the proxy.


async def test_an_http_target_goes_through_a_tunnel_kept_alive(monkeypatch, receiver):
    async with connect_proxy(receiver.port) as proxy:
        monkeypatch.setenv("http_proxy", proxy.url)
        async with DirectClient(4, 5, Proxies()) as client:
            for _ in range(3):
                answer = await get(client, receiver.url())
                assert (answer.status_code, answer.text) == (200, "ok")
    assert proxy.tunnels == [f"127.0.0.1:{receiver.port}"]  # one tunnel, kept for the origin
    assert receiver.hosts == [f"127.0.0.1:{receiver.port}"] * 3
    assert proxy.authorizations == [None]


async def test_no_proxy_goes_direct(monkeypatch, receiver):
    async with connect_proxy(receiver.port) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        async with DirectClient(4, 5, Proxies()) as client:
            assert (await get(client, receiver.url())).status_code == 200
    assert proxy.tunnels == [] and receiver.hosts == [f"127.0.0.1:{receiver.port}"]


async def test_the_egress_proxy_setting_wins_over_http_proxy(monkeypatch, receiver):
    async with connect_proxy(receiver.port) as chosen, connect_proxy(receiver.port, refuse=403) as other:
        monkeypatch.setenv("HTTP_PROXY", other.url)
        async with DirectClient(4, 5, Proxies(chosen.url)) as client:
            assert (await get(client, receiver.url())).status_code == 200
    assert chosen.tunnels == [f"127.0.0.1:{receiver.port}"] and other.tunnels == []


async def test_the_proxys_credentials_go_as_basic_authorization(receiver):
    async with connect_proxy(receiver.port) as proxy:
        url = proxy.url.replace("http://", "http://gateway:p%40ss@")
        async with DirectClient(4, 5, Proxies(url)) as client:
            assert (await get(client, receiver.url())).status_code == 200
    assert proxy.authorizations == ["Basic " + base64.b64encode(b"gateway:p@ss").decode()]


async def test_a_refusing_proxy_is_a_proxy_error_and_frees_the_slot(receiver):
    async with connect_proxy(receiver.port, refuse=407) as proxy:
        async with DirectClient(1, 5, Proxies(proxy.url)) as client:
            for _ in range(2):  # one connection allowed: the first failure gave it back
                with pytest.raises(httpx.ProxyError, match="refused a tunnel.*407"):
                    await get(client, receiver.url())
    assert receiver.hosts == []


async def test_an_https_target_gets_tls_inside_the_tunnel_with_its_own_name(monkeypatch, tmp_path):
    """The tunnel goes to the address given (CONNECT_TO); TLS inside it names the URL's host (SNI) and
    checks the certificate against it, and Host names it too."""
    ca = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.test").configure_cert(served)
    receiver, server = await receiving(served)
    served.sni_callback = lambda _socket, name, _context: receiver.server_names.append(name)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # the transport's context trusts the test CA
    try:
        async with connect_proxy(receiver.port) as proxy:
            monkeypatch.setenv("HTTPS_PROXY", proxy.url)
            async with DirectClient(4, 5, Proxies()) as client:
                url = receiver.url("https", "hooks.test")
                for _ in range(2):
                    answer = await get(client, url, **{CONNECT_TO: ("127.0.0.1",)})
                    assert (answer.status_code, answer.text) == (200, "ok")
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|match"):
                    await get(client, receiver.url("https", "other.test"), **{CONNECT_TO: ("127.0.0.1",)})
    finally:
        server.close()
    assert proxy.tunnels == [f"127.0.0.1:{receiver.port}"] * 2  # the name never reaches the proxy
    assert receiver.server_names[:1] == ["hooks.test"]
    assert receiver.hosts == [f"hooks.test:{receiver.port}"] * 2


# Webhook deliveries.


def deliverer(**settings: object) -> WebhookDeliverer:
    return WebhookDeliverer.from_settings(None, make_settings("sqlite:///unused.db", **settings))  # type: ignore[arg-type]


async def deliver(webhooks: WebhookDeliverer, url: str):
    event = Claimed(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 1, {"hello": "world"}, 0)
    try:
        return await webhooks.attempt(event, Target(url, {}, ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]))
    finally:
        await webhooks.http.aclose()


async def test_webhook_deliveries_go_through_the_egress_proxy(receiver):
    async with connect_proxy(receiver.port) as proxy:
        webhooks = deliverer(egress_proxy=proxy.url, allow_private_webhook_urls=True)
        outcome = await deliver(webhooks, receiver.url())
    assert (outcome.response_status, outcome.error) == (200, None)
    assert proxy.tunnels == [f"127.0.0.1:{receiver.port}"] and len(receiver.hosts) == 1


async def test_a_proxy_does_not_get_round_the_private_address_check(monkeypatch, receiver):
    async with connect_proxy(receiver.port) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        outcome = await deliver(deliverer(allow_private_webhook_urls=False), receiver.url())
    assert outcome.response_status is None and "private, loopback or link-local" in outcome.error
    assert proxy.tunnels == [] and receiver.hosts == []


async def test_the_tunnel_goes_to_the_address_checked_not_to_the_name(monkeypatch, receiver):
    """The name is resolved and checked by us, and the proxy is asked for that address: resolved again
    (by the proxy, or by us) it could point inside the network by then (DNS rebinding)."""
    answers = iter(["127.0.0.1", "10.0.0.1"])  # the second answer would be the rebinding: never asked for

    async def resolve(host, port, **_options):
        assert host == "hooks.test"
        return [(2, 1, 6, "", (next(answers), port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolve)
    monkeypatch.setattr(netguard, "is_public", lambda address: str(address) == "127.0.0.1")  # as if public
    async with connect_proxy(receiver.port) as proxy:
        outcome = await deliver(deliverer(egress_proxy=proxy.url), receiver.url(host="hooks.test"))
    assert (outcome.response_status, outcome.error) == (200, None)
    assert proxy.tunnels == [f"127.0.0.1:{receiver.port}"]
    assert receiver.hosts == [f"hooks.test:{receiver.port}"]


async def test_a_name_with_several_addresses_is_tried_at_each_until_one_answers(monkeypatch, receiver):
    """As a connection by name would: the first address refuses (nothing listens on 127.0.0.2), the next
    answers; both were checked."""

    async def resolve(host, port, **_options):
        return [(2, 1, 6, "", ("127.0.0.2", port)), (2, 1, 6, "", ("127.0.0.1", port))]

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolve)
    monkeypatch.setattr(netguard, "is_public", lambda address: str(address).startswith("127.0.0."))  # as if public
    outcome = await deliver(deliverer(), receiver.url(host="hooks.test"))
    assert (outcome.response_status, outcome.error) == (200, None)
    assert receiver.hosts == [f"hooks.test:{receiver.port}"]


def test_a_standard_variable_naming_a_proxy_we_cant_use_is_warned_about_and_ignored(monkeypatch, tmp_path, caplog):
    """Set for other programs (a socks5:// proxy on a developer's machine): ours go direct, every command
    still starts; the warning shows no URL (it may hold a password)."""
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HTTPS_PROXY", "socks5://user:pr0xyPassw0rd@proxy.internal:1080")
    Settings.from_env()
    assert not Proxies()
    assert "HTTPS_PROXY (or ALL_PROXY) is ignored" in caplog.text and "pr0xyPassw0rd" not in caplog.text
