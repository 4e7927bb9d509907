"""Password hashing, API-key digests, webhook secrets and encryption at rest with key rotation."""

from __future__ import annotations

import base64
import hashlib

import pytest
from argon2 import PasswordHasher
from argon2.profiles import RFC_9106_LOW_MEMORY

from gateway.lib import crypto


def test_production_password_hasher_is_argon2id_with_the_rfc_9106_profile(monkeypatch):
    monkeypatch.undo()  # drop conftest's cheap hasher: the module's own one is checked here
    hasher = crypto._hasher
    assert isinstance(hasher, PasswordHasher)
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    )
    assert hasher.hash("x").startswith("$argon2id$")


async def test_verify_password():
    hashed = await crypto.hash_password("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert await crypto.verify_password(hashed, "correct horse battery")
    assert not await crypto.verify_password(hashed, "wrong")
    assert not await crypto.verify_password(None, "anything")  # unknown user: same work, same answer
    assert not await crypto.verify_password("not a hash", "x")


def test_api_key_digest_is_sha256_and_keys_are_random():
    key = crypto.new_api_key()
    assert key.startswith("gk_") and len(key) > 40
    assert crypto.api_key_digest(key) == hashlib.sha256(key.encode()).hexdigest()
    assert crypto.new_api_key() != key


def test_webhook_secret_is_standard_webhooks_format():
    secret = crypto.new_webhook_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 24


def test_encryption_rotates_keys():
    old = crypto.RotatingFernetBackend()
    old.mount_vault("old-key")
    token = old.encrypt("secret value")
    rotated = crypto.RotatingFernetBackend()
    rotated.mount_vault("new-key\nold-key")  # the first encrypts, all decrypt
    assert rotated.decrypt(token) == "secret value"
    new_token = rotated.encrypt("secret value")
    only_new = crypto.RotatingFernetBackend()
    only_new.mount_vault("new-key")
    assert only_new.decrypt(new_token) == "secret value"
    with pytest.raises(Exception):  # noqa: B017  (cryptography's InvalidToken)
        only_new.decrypt(token)
