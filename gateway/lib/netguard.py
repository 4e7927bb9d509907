"""Refusing URLs that point into private networks (SSRF), resolving the name as the sender would."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

from channels.base import is_http_url


def url_syntax_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) URL we can call, or None (no name is resolved)."""
    if not is_http_url(url):
        return "must be an absolute http(s) URL"
    parts = urlsplit(url)
    if parts.username or parts.password:
        return "must not carry credentials; use custom headers instead"
    return None


async def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why ``url`` can't be used as a webhook target, or None when it can."""
    return (await checked_url(url, allow_private=allow_private))[0]


async def checked_url(url: str, *, allow_private: bool) -> tuple[str | None, tuple[str, ...] | None]:
    """(why ``url`` can't be used as a webhook target, None), or (None, the addresses found and checked).

    The caller connects to those addresses (the first that answers, as a connection by name would),
    directly or through a proxy's CONNECT tunnel, with the URL's name in Host and TLS: resolved again, by
    us or by a proxy, the name could point elsewhere by then (DNS rebinding). None when private targets
    are allowed: nothing is resolved."""
    if (problem := url_syntax_problem(url)) or allow_private:
        return problem, None
    parts = urlsplit(url)
    try:
        # The name the HTTP client connects to: httpx encodes international names by IDNA 2008 ("faß.de" is
        # xn--fa-hia.de), where the resolver's own encoding (IDNA 2003) would check fass.de instead.
        host = httpx.URL(url).raw_host.decode("ascii")
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except (socket.gaierror, UnicodeError, httpx.InvalidURL):
        return f"host {parts.hostname!r} could not be resolved", None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for address in addresses:
        if not is_public(address):
            return f"resolves to {address}, a private, loopback or link-local address; such targets are refused", None
    return None, tuple(dict.fromkeys(str(address) for address in addresses))  # in the resolver's order


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address reach that address: judge the embedded one.
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if address in _NAT64 or address in _IPV4_COMPATIBLE:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast
