"""The log settings (GATEWAY_LOG_FORMAT, GATEWAY_LOG_LEVEL), the redaction every line passes through, and
what a configured process writes (gateway.logs). Configuring changes a process's logging for good, so the
rendered lines are a subprocess's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway.logs import REDACTED, console, redact, redact_text
from gateway.settings import Settings, SettingsError, log_settings

GATEWAY = str(Path(sys.executable).with_name("gateway"))
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
API_KEY = "gk_" + "k" * 43


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in ("GATEWAY_LOG_FORMAT", "GATEWAY_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    return monkeypatch


def test_console_at_info_by_default(environment) -> None:
    assert log_settings() == ("console", "INFO")
    settings = Settings.from_env()
    assert (settings.log_format, settings.log_level) == ("console", "INFO")


def test_the_format_and_level_are_read_in_any_case(environment) -> None:
    environment.setenv("GATEWAY_LOG_FORMAT", "JSON")
    environment.setenv("GATEWAY_LOG_LEVEL", "debug")
    settings = Settings.from_env()
    assert (settings.log_format, settings.log_level) == ("json", "DEBUG")


@pytest.mark.parametrize(("name", "value"), [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "verbose")])
def test_a_bad_value_is_a_settings_error_naming_the_variable(environment, name: str, value: str) -> None:
    environment.setenv(f"GATEWAY_{name}", value)
    with pytest.raises(SettingsError, match=f"GATEWAY_{name} must be one of .*'{value}'"):
        Settings.from_env()


def test_the_cli_refuses_a_bad_format_before_doing_anything(environment) -> None:
    environment.setenv("GATEWAY_LOG_FORMAT", "xml")
    done = subprocess.run([GATEWAY, "openapi"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "GATEWAY_LOG_FORMAT must be one of console, json; got 'xml'" in done.stderr
    assert not done.stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"POST /sandbox/telegram/bot{BOT_TOKEN}/sendMessage", f"POST /sandbox/telegram/bot{REDACTED}/sendMessage"),
        (f"https://api.telegram.org/bot{BOT_TOKEN}/getMe", f"https://api.telegram.org/bot{REDACTED}/getMe"),
        ("/callbacks/sms/1?token=eyJ.abc.def&x=1", f"/callbacks/sms/1?token={REDACTED}&x=1"),
        ("a=1&hub.verify_token=s3cret&hub.challenge=5", f"a=1&hub.verify_token={REDACTED}&hub.challenge=5"),
        ("{'Authorization': 'Bearer abc.def'}", f"{{'Authorization': 'Bearer {REDACTED}'}}"),
        ("authorization: Basic dXNlcjpwYXNz", f"authorization: Basic {REDACTED}"),
        (f"key {API_KEY} refused", f"key gk_{REDACTED} refused"),
        ("postgresql://user:hunter2@db/gateway", f"postgresql://user:{REDACTED}@db/gateway"),
        (
            '{"password": "hunter2", "webhookSecret": "whsec_x"}',
            f'{{"password": "{REDACTED}", "webhookSecret": "{REDACTED}"}}',
        ),
        ("/api/v1/Messages", "/api/v1/Messages"),  # nothing secret: unchanged
        ("127.0.0.1:8000 answered 200", "127.0.0.1:8000 answered 200"),
    ],
)
def test_secrets_are_cut_out_of_any_text(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_fields_named_like_secrets_are_dropped_whole() -> None:
    event = {
        "event": f"calling https://api.telegram.org/bot{BOT_TOKEN}/sendMessage",
        "api_key": "plain",
        "Authorization": "x",
        "webhook_secret": "x",
        "settings": {"botToken": "x"},
        "request": {"headers": {"X-Api-Key": "x", "accept": "json"}, "url": "/x?token=y"},
        "attempt": 2,
        "latency_ms": 1.5,
    }
    assert redact(None, "info", event) == {
        "event": f"calling https://api.telegram.org/bot{REDACTED}/sendMessage",
        "api_key": REDACTED,
        "Authorization": REDACTED,
        "webhook_secret": REDACTED,
        "settings": REDACTED,
        "request": {"headers": {"X-Api-Key": REDACTED, "accept": "json"}, "url": f"/x?token={REDACTED}"},
        "attempt": 2,
        "latency_ms": 1.5,
    }


def test_objects_of_other_types_are_redacted_as_the_text_they_are_rendered_by() -> None:
    class Address:
        def __str__(self) -> str:
            return "https://example.com/hook?token=abc"

    event = {"event": "e", "target": Address(), "enabled": True, "count": 3}
    assert redact(None, "info", event) == {
        "event": "e",
        "target": f"https://example.com/hook?token={REDACTED}",
        "enabled": True,
        "count": 3,
    }


def test_a_console_value_that_could_fake_a_line_or_a_field_is_quoted() -> None:
    line = console(None, "info", {"event": "request", "path": "/x\n2026-01-01T00:00:00Z error forged\tx=1"})
    assert "\n" not in line and "\t" not in line
    assert line.endswith("path='/x\\n2026-01-01T00:00:00Z error forged\\tx=1'"), line


def _lines(log_format: str, level: str = "INFO") -> list[str]:
    """What a process configured by gateway.logs writes: a structlog event, a standard-library record with
    an exception, a debug line of each, and httpx's INFO line (kept at WARNING)."""
    script = textwrap.dedent(
        f"""
        import logging, uuid
        import structlog
        from gateway import logs
        logs.configure({log_format!r}, {level!r})
        events = structlog.get_logger("gateway.test")
        events.info("send", message_id=uuid.UUID(int=1), attempt=1, status="Sent", url="/x?token=abc")
        events.debug("a debug event")
        logging.getLogger("uvicorn.error").debug("a debug record")
        logging.getLogger("httpx").info("HTTP Request: POST https://api.telegram.org/bot{BOT_TOKEN}/sendMessage")
        try:
            raise ValueError("bad {API_KEY}")
        except ValueError:
            logging.getLogger("gateway.other").exception("failed at %s", "/bot{BOT_TOKEN}/getMe")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert not done.stdout
    return done.stderr.splitlines()


def test_json_lines_of_ours_and_of_the_standard_library_alike() -> None:
    first, second = (json.loads(line) for line in _lines("json"))  # one JSON object a line, nothing else
    assert first == {
        "logger": "gateway.test",
        "message_id": "00000000-0000-0000-0000-000000000001",
        "attempt": 1,
        "status": "Sent",
        "url": f"/x?token={REDACTED}",
        "event": "send",
        "level": "info",
        "timestamp": first["timestamp"],
    }
    assert first["timestamp"].endswith("Z")
    assert second["logger"] == "gateway.other" and second["level"] == "error"
    assert second["event"] == f"failed at /bot{REDACTED}/getMe"
    assert "Traceback" in second["exception"] and f"bad gk_{REDACTED}" in second["exception"]
    assert BOT_TOKEN not in json.dumps(second) and API_KEY not in json.dumps(second)


def test_console_lines_are_time_level_event_logger_fields() -> None:
    lines = _lines("console")
    fields = f"message_id=00000000-0000-0000-0000-000000000001 attempt=1 status=Sent url=/x?token={REDACTED}"
    assert re.fullmatch(r"\S+Z info +send \[gateway.test\] " + re.escape(fields), lines[0]), lines[0]
    assert re.fullmatch(rf"\S+Z error +failed at /bot{re.escape(REDACTED)}/getMe \[gateway.other\]", lines[1]), lines[1]
    assert lines[2] == "Traceback (most recent call last):"
    assert lines[-1] == f"ValueError: bad gk_{REDACTED}"


def test_the_level_applies_to_every_logger_but_httpx() -> None:
    lines = [json.loads(line) for line in _lines("json", "DEBUG")]
    assert [line["event"] for line in lines] == [
        "send",
        "a debug event",
        "a debug record",
        f"failed at /bot{REDACTED}/getMe",
    ]
