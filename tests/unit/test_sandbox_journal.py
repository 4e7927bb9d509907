"""What the sandbox journal keeps of an exchange: bodies cut at 64 KB, secrets out of URLs and headers."""

from __future__ import annotations

import httpx

from gateway.logs import REDACTED, redact_headers, redact_text
from gateway.sandbox_journal import MAX_BODY, body_text


def test_bodies_are_cut_at_64_kb_and_stay_text():
    assert body_text(b"x" * (MAX_BODY + 10)) == "x" * MAX_BODY == "x" * 65536
    assert body_text('{"text": "héllo"}'.encode()) == '{"text": "héllo"}'
    assert body_text(b"a\x00b\xff") == "a\ufffdb\ufffd"  # Postgres text holds no NUL; bad UTF-8 replaced


def test_a_bodys_url_secrets_are_cut_and_its_text_kept_as_sent():
    sms = b'{"text":"Your password: 1234","callback":"http://gw/callbacks/sms/1?token=eyJh.eyJ.sig&x=1","validity":5}'
    assert body_text(sms) == (
        '{"text":"Your password: 1234","callback":"http://gw/callbacks/sms/1?token=[redacted]&x=1","validity":5}'
    )
    assert body_text(b'{"token": "left as sent: no URL"}') == '{"token": "left as sent: no URL"}'


def test_secret_headers_and_url_parts_are_redacted_and_nothing_else():
    headers = httpx.Headers(
        {
            "Authorization": "Bearer EAAG-secret",
            "X-Mitto-API-Key": "mitto-secret",
            "X-Viber-Auth-Token": "viber-secret",
            "X-Telegram-Bot-Api-Secret-Token": "telegram-secret",
            "Content-Type": "application/json",
            "X-Hub-Signature-256": "sha256=abc",
        }
    )
    assert redact_headers(headers) == {
        "authorization": REDACTED,
        "x-mitto-api-key": REDACTED,
        "x-viber-auth-token": REDACTED,
        "x-telegram-bot-api-secret-token": REDACTED,
        "content-type": "application/json",
        "x-hub-signature-256": "sha256=abc",
    }
    url = "http://127.0.0.1:8000/sandbox/telegram/bot123456:AAE-secret_token/sendMessage"
    assert redact_text(url) == f"http://127.0.0.1:8000/sandbox/telegram/bot{REDACTED}/sendMessage"
    assert redact_text("http://h/callbacks/sms/1?token=eyJ.x.y") == f"http://h/callbacks/sms/1?token={REDACTED}"
    assert redact_text("http://h/sandbox/sms/sms") == "http://h/sandbox/sms/sms"
