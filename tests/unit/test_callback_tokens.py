"""Callback tokens: a message's token verifies with the key that signed it (also after a rotation), and only
with a matching kid, audience and time."""

from __future__ import annotations

import datetime
import time
import uuid

import jwt
import pytest

from gateway.messages import callbacks
from gateway.messages.callbacks import CallbackTokens

OLD, NEW = "o" * 40, "n" * 40


def test_a_token_names_its_message_with_one_key_and_after_a_rotation() -> None:
    message_id = uuid.uuid4()
    token = CallbackTokens((OLD,), 3600).issue(message_id)
    assert CallbackTokens((OLD,), 3600).message_of(token) == message_id
    assert CallbackTokens((NEW, OLD), 3600).message_of(token) == message_id  # rotated: the old key still verifies
    assert CallbackTokens((NEW,), 3600).message_of(token) is None  # the key left


def test_a_token_with_another_kid_audience_or_out_of_time_is_refused() -> None:
    tokens = CallbackTokens((OLD,), 3600)
    message_id = uuid.uuid4()
    claims = {"sub": str(message_id), "aud": "callback", "exp": 2**31}
    assert tokens.message_of(jwt.encode(claims, OLD, algorithm="HS256", headers={"kid": "another"})) is None
    assert tokens.message_of(jwt.encode(claims, OLD, algorithm="HS256")) is None  # no kid
    assert tokens.message_of(tokens.issue_for_account(message_id)) is None  # an account's token
    long_ago = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=2)
    assert tokens.message_of(tokens.issue(message_id, now=long_ago)) is None
    assert tokens.message_of("not.a.token") is None


def test_a_token_issued_or_verified_here_is_remembered_and_still_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = CallbackTokens((OLD,), 3600)
    issued, verified = uuid.uuid4(), uuid.uuid4()
    issued_token = tokens.issue(issued)
    verified_token = CallbackTokens((OLD,), 3600).issue(verified)  # another process's
    assert tokens.message_of(verified_token) == verified
    monkeypatch.setattr(jwt, "decode_complete", None)  # remembered: PyJWT isn't asked again
    assert tokens.message_of(issued_token) == issued
    assert tokens.message_of(verified_token) == verified
    assert CallbackTokens((NEW,), 3600).message_of(issued_token) is None  # remembered by the keys that signed it
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    assert tokens.message_of(issued_token) is None
    assert tokens.message_of(verified_token) is None


def test_the_tokens_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(callbacks, "KNOWN_TOKENS", 2)
    tokens = CallbackTokens((OLD,), 3600)
    first, *_ = [tokens.issue(uuid.uuid4()) for _ in range(3)]
    assert len(tokens._known) == 2 and first not in tokens._known
    assert tokens.message_of(first) is not None  # verified again, then remembered again


def test_tokens_are_what_pyjwt_encodes() -> None:
    tokens, message_id = CallbackTokens((NEW, OLD), 3600), uuid.uuid4()
    now = datetime.datetime.now(datetime.UTC)
    claims = {
        "sub": str(message_id),
        "aud": "callback",
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 3600,
    }
    kid = {"kid": callbacks.key_id(NEW)}
    assert tokens.issue(message_id, now=now) == jwt.encode(claims, NEW, algorithm="HS256", headers=kid)
    claims = {"sub": str(message_id), "aud": "account-callback", "ver": 3}
    assert tokens.issue_for_account(message_id, 3) == jwt.encode(claims, NEW, algorithm="HS256", headers=kid)
