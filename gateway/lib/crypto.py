"""Secrets at rest, password hashes, API keys and webhook signing secrets."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any

import anyio.to_thread
from advanced_alchemy.types.encrypted_string import FernetBackend
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, MultiFernet

_encryption_keys: tuple[str, ...] = ()


def configure_encryption(keys: tuple[str, ...]) -> None:
    """Set the GATEWAY_SECRET_KEY list; column types read it when they first encrypt or decrypt."""
    global _encryption_keys
    if not keys:
        raise ValueError("at least one encryption key is needed")
    _encryption_keys = keys


def encryption_keys() -> str:
    if not _encryption_keys:
        raise RuntimeError("configure_encryption() was not called")
    return "\n".join(_encryption_keys)


class RotatingFernetBackend(FernetBackend):
    """advanced-alchemy's Fernet backend takes one key; this one takes the GATEWAY_SECRET_KEY list:
    the first key encrypts, every key decrypts, so keys can be rotated without a migration."""

    def mount_vault(self, key: str | bytes) -> None:
        text = key.decode() if isinstance(key, bytes) else key
        fernets = [
            Fernet(base64.urlsafe_b64encode(hashlib.sha256(part.encode()).digest())) for part in text.split("\n")
        ]
        self.fernet: Any = MultiFernet(fernets)


# argon2id with the RFC 9106 low-memory profile (argon2-cffi's default).
_hasher = PasswordHasher()
# Verifying against this when the email is unknown keeps the answer time the same as for a wrong password.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


async def hash_password(password: str) -> str:
    return await anyio.to_thread.run_sync(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
        except (VerificationError, InvalidHashError):
            return False

    return await anyio.to_thread.run_sync(verify)


API_KEY_PREFIX = "gk_"


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def api_key_digest(key: str) -> str:
    """API keys carry 256 random bits, so a plain SHA-256 is a safe and fast lookup hash
    (argon2 is for low-entropy passwords and would cost every request ~50 ms)."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
