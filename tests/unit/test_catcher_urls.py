"""Only a catcher's exact URL on this gateway passes as the gateway's own webhook target: nothing else of
its address (or another's) becomes reachable where private addresses are refused."""

from __future__ import annotations

import uuid

import pytest

from gateway.webhooks.catchers import catcher_url, is_catcher_url

GATEWAY = "http://127.0.0.1:8000"
CATCHER = uuid.UUID("5560dd0e-2311-43c5-a222-dfb3a1104850")


def test_a_catchers_url_is_the_gateways_own():
    assert catcher_url(GATEWAY + "/", CATCHER) == f"{GATEWAY}/sandbox/catchers/{CATCHER}"
    assert is_catcher_url(catcher_url(GATEWAY, CATCHER), GATEWAY)
    assert is_catcher_url(catcher_url(GATEWAY, CATCHER), GATEWAY + "/")


@pytest.mark.parametrize(
    "url",
    [
        f"{GATEWAY}/sandbox/catchers/{CATCHER}/../../../admin/tenants",
        f"{GATEWAY}/sandbox/catchers/{CATCHER}?x=1",
        f"{GATEWAY}/sandbox/catchers/{CATCHER}#x",
        f"{GATEWAY}/sandbox/catchers/not-a-uuid",
        f"{GATEWAY}/sandbox/sms/inbound",
        f"{GATEWAY}:8001/sandbox/catchers/{CATCHER}",
        f"http://127.0.0.1:8001/sandbox/catchers/{CATCHER}",
        f"http://127.0.0.1:80000/sandbox/catchers/{CATCHER}",
        f"http://user@127.0.0.1:8000/sandbox/catchers/{CATCHER}",
    ],
)
def test_nothing_else_is(url):
    assert not is_catcher_url(url, GATEWAY)


def test_no_catchers_where_the_sandbox_is_off():
    assert not is_catcher_url(catcher_url(GATEWAY, CATCHER), None)
