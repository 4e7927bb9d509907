"""OAuth 2.0 for a service account: the JWT-bearer grant (RFC 7523) as Google documents it
(https://developers.google.com/identity/protocols/oauth2/service-account#httprest).

A live gbm traffic account's ``serviceAccountKey`` is the Google service-account JSON key
(``{"type": "service_account", "client_email", "private_key", "private_key_id", "token_uri", ...}``).
The adapter signs an RS256 JWT with the key's ``private_key``::

    header  {"alg": "RS256", "typ": "JWT", "kid": <private_key_id>}
    claims  {"iss": <client_email>, "scope": "https://www.googleapis.com/auth/businessmessages",
             "aud": <token_uri>, "iat": now, "exp": now + 3600}

and POSTs it to the key's ``token_uri`` as a form ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
&assertion=<jwt>``. Google answers ``{"access_token", "expires_in", "token_type": "Bearer"}``; the access
token is cached per key until ``REFRESH_MARGIN`` seconds before it expires.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from channels import kit
from channels.gbm.errors import retry_after

SCOPE = "https://www.googleapis.com/auth/businessmessages"
DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600  # Google's maximum for the assertion's exp - iat
REFRESH_MARGIN = 300.0  # seconds before expiry at which a cached access token is replaced

# sha256(key) -> (access token, monotonic time it stops being used)
_tokens: dict[str, tuple[str, float]] = {}
_locks: dict[tuple[int, str], asyncio.Lock] = {}  # (event loop, key digest) -> lock


class CredentialError(ValueError):
    """The key can't get an access token, and trying again won't change that (a permanent failure)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class TokenUnavailable(Exception):
    """The token endpoint failed in a way worth retrying (HTTP 429 or 5xx)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class ServiceAccountKey:
    client_email: str
    private_key: str
    private_key_id: str | None
    token_uri: str


def parse_key(text: str) -> ServiceAccountKey:
    """The fields of a service-account JSON key; raises CredentialError for anything else."""
    try:
        data = json.loads(text)
    except (TypeError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise CredentialError("gbm.credentials", "serviceAccountKey must be a Google service-account JSON key")
    missing = [key for key in ("client_email", "private_key") if not isinstance(data.get(key), str) or not data[key]]
    if missing:
        raise CredentialError("gbm.credentials", f"serviceAccountKey lacks {', '.join(missing)}")
    token_uri = data.get("token_uri") if isinstance(data.get("token_uri"), str) and data["token_uri"] else None
    key_id = data.get("private_key_id")
    return ServiceAccountKey(
        client_email=data["client_email"],
        private_key=data["private_key"],
        private_key_id=key_id if isinstance(key_id, str) and key_id else None,
        token_uri=token_uri or DEFAULT_TOKEN_URI,
    )


def assertion(key: ServiceAccountKey, now: float | None = None) -> str:
    """The signed JWT of the grant; raises CredentialError when the private key can't sign."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": key.client_email,
        "scope": SCOPE,
        "aud": key.token_uri,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
    }
    headers = {"kid": key.private_key_id} if key.private_key_id else None
    try:
        return jwt.encode(claims, key.private_key, algorithm="RS256", headers=headers)
    except (ValueError, TypeError, jwt.PyJWTError) as error:
        raise CredentialError("gbm.credentials", f"serviceAccountKey's private_key can't sign: {error}") from None


async def access_token(http: httpx.AsyncClient, key_text: str) -> str:
    """A valid access token for the key: cached, or fetched from its token_uri. Raises CredentialError
    (permanent), TokenUnavailable (transient) or httpx.HTTPError (transient, left to the dispatcher)."""
    digest = hashlib.sha256(key_text.encode()).hexdigest()
    cached = _tokens.get(digest)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    lock = _locks.setdefault((id(asyncio.get_running_loop()), digest), asyncio.Lock())
    async with lock:  # concurrent sends of one account share one token request
        cached = _tokens.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        key = parse_key(key_text)
        response = await http.post(
            key.token_uri,
            data={"grant_type": GRANT_TYPE, "assertion": assertion(key)},
            headers={"Accept": "application/json"},
        )
        token, lifetime = token_of(response)
        _tokens[digest] = (token, time.monotonic() + max(0.0, lifetime - REFRESH_MARGIN))
        return token


def forget(key_text: str) -> None:
    """Drop the cached access token of a key (Google refused it)."""
    _tokens.pop(hashlib.sha256(key_text.encode()).hexdigest(), None)


def token_of(response: httpx.Response) -> tuple[str, float]:
    """(access token, seconds it lives) of the token endpoint's answer."""
    status = response.status_code
    data: Any
    try:
        data = response.json()
    except ValueError:
        data = None
    answer = kit.classify(status)
    if answer == kit.TRANSIENT:
        raise TokenUnavailable(f"the token endpoint answered HTTP {status}", retry_after(response))
    if answer != kit.SUCCESS or not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        error = data.get("error") if isinstance(data, dict) else None
        text = data.get("error_description") if isinstance(data, dict) else None
        code = error if isinstance(error, str) and error.replace("_", "").isalnum() else f"http_{status}"
        detail = text if isinstance(text, str) and text else f"HTTP {status}"
        raise CredentialError(f"gbm.auth.{code}", f"Google refused the service account: {code}: {detail}"[:1000])
    expires_in = data.get("expires_in")
    lifetime = float(expires_in) if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) else 3600
    return data["access_token"], lifetime
