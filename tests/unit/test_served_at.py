"""`gateway serve --host/--port` are the server's own address when GATEWAY_PUBLIC_URL is unset, and a public
URL on this machine but another port is warned about (issue 18). The whole path, a real `gateway serve`
whose sandbox reports reach it, is tests/integration/test_serve_port.py."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.cli import _served_at


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("GATEWAY_PUBLIC_URL", "GATEWAY_HOST", "GATEWAY_PORT"):
        # Set, then deleted: monkeypatch then restores the original state after the test, including the
        # GATEWAY_HOST and GATEWAY_PORT _served_at writes (a delenv of an unset name records nothing).
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    return monkeypatch


def test_the_port_served_is_the_public_url_when_none_is_set(environment, caplog) -> None:
    settings = _served_at("127.0.0.1", 8011)
    assert settings.public_base_url == "http://127.0.0.1:8011"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "GATEWAY_PUBLIC_URL" in r.message]


def test_a_public_url_here_on_another_port_is_warned_about(environment, caplog) -> None:
    environment.setenv("GATEWAY_PUBLIC_URL", "http://localhost:8000")
    settings = _served_at(None, 8011)
    assert settings.public_base_url == "http://localhost:8000"  # as told: only a warning
    [warning] = [r for r in caplog.records if "GATEWAY_PUBLIC_URL" in r.message]
    assert warning.levelno == logging.WARNING and "8011" in warning.message


def test_a_public_url_elsewhere_is_no_concern(environment, caplog) -> None:
    environment.setenv("GATEWAY_PUBLIC_URL", "https://gateway.example.com")  # a proxy in front
    _served_at("0.0.0.0", 8011)
    assert not [r for r in caplog.records if "GATEWAY_PUBLIC_URL" in r.message]
