"""gateway.lib.netguard: which webhook targets are refused (SSRF).

Only IP literals, ``localhost`` and names under the reserved ``.invalid`` TLD (RFC 6761: never resolves)
are used, so no test depends on outside DNS.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from gateway.lib import netguard
from gateway.lib.netguard import is_public, url_problem

NOT_HTTP = "must be an absolute http(s) URL"
REFUSED = "a private, loopback or link-local address; such targets are refused"

PRIVATE = [
    # IPv4
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.5",
    "10.255.255.255",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254",  # link-local: cloud metadata
    "100.64.0.1",  # CGNAT 100.64.0.0/10
    "100.127.255.255",
    "0.0.0.0",  # unspecified
    "224.0.0.1",  # multicast
    "239.255.255.250",
    "192.0.0.1",
    "198.18.0.1",  # benchmarking
    "192.0.2.1",  # documentation
    "240.0.0.1",  # reserved
    "255.255.255.255",  # broadcast
    # IPv6
    "::1",  # loopback
    "::",  # unspecified
    "fd00::1",  # unique local
    "fc00::1",
    "fe80::1",  # link-local
    "ff02::1",  # multicast, link-local scope
    "ff0e::1",  # multicast, global scope
    "2001:db8::1",  # documentation
    # IPv4-mapped IPv6 of private IPv4
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:192.168.0.1",
    "::ffff:100.64.0.1",
    "::ffff:0.0.0.0",
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "11.0.0.1",  # just past 10/8
    "172.32.0.1",  # just past 172.16/12
    "172.15.255.255",  # just before 172.16/12
    "192.169.0.1",  # just past 192.168/16
    "100.63.255.255",  # just before 100.64/10
    "100.128.0.1",  # just past 100.64/10
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "::ffff:8.8.8.8",  # IPv4-mapped public IPv4
]


@pytest.mark.parametrize("address", PRIVATE)
def test_is_public_refuses_private_addresses(address):
    assert is_public(ipaddress.ip_address(address)) is False


@pytest.mark.parametrize("address", PUBLIC)
def test_is_public_accepts_public_addresses(address):
    assert is_public(ipaddress.ip_address(address)) is True


def test_multicast_is_refused_even_where_python_calls_it_global():
    address = ipaddress.ip_address("224.0.0.1")
    assert address.is_global  # the reason is_public checks multicast on its own
    assert is_public(address) is False
    assert is_public(ipaddress.ip_address("ff0e::1")) is False


def _url(address: str, path: str = "/hook") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}{path}"


@pytest.mark.parametrize("address", PRIVATE)
async def test_url_problem_refuses_private_literals(address):
    problem = await url_problem(_url(address), allow_private=False)
    assert problem is not None and REFUSED in problem, problem
    assert problem.startswith("resolves to "), problem


@pytest.mark.parametrize("address", PUBLIC)
async def test_url_problem_accepts_public_literals(address):
    assert await url_problem(_url(address), allow_private=False) is None
    assert await url_problem(_url(address).replace("http://", "https://", 1), allow_private=False) is None


async def test_url_problem_names_the_address():
    assert await url_problem("http://169.254.169.254/latest/meta-data", allow_private=False) == (
        f"resolves to 169.254.169.254, {REFUSED}"
    )


async def test_localhost_is_resolved_and_refused():
    problem = await url_problem("http://localhost:8080/x", allow_private=False)
    assert problem is not None and REFUSED in problem, problem
    upper = await url_problem("http://LOCALHOST/x", allow_private=False)
    assert upper is not None and REFUSED in upper, upper


async def test_ports_queries_and_fragments_dont_matter():
    assert await url_problem("https://93.184.216.34:8443/a/b?c=d#e", allow_private=False) is None
    problem = await url_problem("https://127.0.0.1:8443/a/b?c=d#e", allow_private=False)
    assert problem is not None and REFUSED in problem


async def test_unresolvable_host():
    problem = await url_problem("https://hooks.example.invalid/x", allow_private=False)
    assert problem == "host 'hooks.example.invalid' could not be resolved"


async def test_every_resolved_address_must_be_public(monkeypatch):
    """A name with one public and one private address is refused (the sender could connect to either)."""

    async def fake_getaddrinfo(host, port, **kwargs):
        assert (host, port) == ("mixed.example.com", 443)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", 443, 0, 0)),
        ]

    loop = netguard.asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    problem = await url_problem("https://mixed.example.com/hook", allow_private=False)
    assert problem == f"resolves to ::1, {REFUSED}"


async def test_resolution_uses_the_url_port_or_the_scheme_default(monkeypatch):
    seen: list[tuple[str, int]] = []

    async def fake_getaddrinfo(host, port, **kwargs):
        seen.append((host, port))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    loop = netguard.asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    for url in ("http://a.example.com/", "https://b.example.com/", "https://c.example.com:8443/"):
        assert await url_problem(url, allow_private=False) is None
    assert seen == [("a.example.com", 80), ("b.example.com", 443), ("c.example.com", 8443)]


async def test_link_local_with_a_zone_index_is_refused(monkeypatch):
    async def fake_getaddrinfo(host, port, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1%eth0", port, 0, 2))]

    loop = netguard.asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    problem = await url_problem("http://router.example.com/", allow_private=False)
    assert problem == f"resolves to fe80::1, {REFUSED}"


async def test_allow_private_skips_resolution(monkeypatch):
    async def must_not_resolve(*args, **kwargs):
        raise AssertionError("allow_private=True must not resolve the host")

    loop = netguard.asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", must_not_resolve)
    for url in (
        "http://127.0.0.1:9999/hook",
        "http://localhost/x",
        "http://[::1]/",
        "http://10.0.0.5/",
        "http://169.254.169.254/latest",
        "https://hooks.example.invalid/x",  # not even resolved
    ):
        assert await url_problem(url, allow_private=True) is None, url


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "javascript:alert(1)",
        "/relative/path",
        "example.com/hook",
        "//example.com/hook",
        "",
        "http://",
        "https:///path-only",
        "http://:80/",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://[::1/",
    ],
)
@pytest.mark.parametrize("allow_private", [False, True])
async def test_not_an_absolute_http_url(url, allow_private):
    assert await url_problem(url, allow_private=allow_private) == NOT_HTTP


@pytest.mark.parametrize("allow_private", [False, True])
@pytest.mark.parametrize(
    "url", ["https://user:pass@93.184.216.34/hook", "http://user@93.184.216.34/", "http://:secret@127.0.0.1/"]
)
async def test_credentials_in_the_url_are_refused(url, allow_private):
    assert await url_problem(url, allow_private=allow_private) == (
        "must not carry credentials; use custom headers instead"
    )


async def test_scheme_is_case_insensitive():
    assert await url_problem("HTTPS://93.184.216.34/hook", allow_private=False) is None


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("2002:c0a8:101::1", False),  # 6to4 of 192.168.1.1
        ("::127.0.0.1", False),  # IPv4-compatible
        ("::1", False),
    ],
)
def test_ipv6_forms_carrying_an_ipv4_address_are_judged_by_it(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


async def test_an_international_name_is_checked_as_the_client_will_connect_to_it(monkeypatch):
    seen: list[str] = []

    async def fake_getaddrinfo(host, port, **kwargs):
        seen.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]

    loop = netguard.asyncio.get_running_loop()
    monkeypatch.setattr(loop, "getaddrinfo", fake_getaddrinfo)
    assert await url_problem("https://faß.example/hook", allow_private=False) is None
    assert seen == ["xn--fa-hia.example"]  # IDNA 2008, as httpx sends it; not IDNA 2003's "fass.example"
