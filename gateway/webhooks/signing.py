"""Standard Webhooks signatures: ``v1,`` + base64 HMAC-SHA256 over ``id.timestamp.body``."""

from __future__ import annotations

import base64
import datetime
import functools
import hmac

from gateway.models import Webhook

# After a rotation the old secret keeps signing beside the new one, so receivers can switch over.
ROTATION_OVERLAP = datetime.timedelta(hours=24)
SECRET_PREFIX = "whsec_"


def signing_secrets(webhook: Webhook, at: datetime.datetime) -> list[str]:
    """The new secret, and for a day after a rotation the previous one as well."""
    secrets = [webhook.secret]
    if webhook.previous_secret and webhook.secret_rotated_at and at - webhook.secret_rotated_at < ROTATION_OVERLAP:
        secrets.append(webhook.previous_secret)
    return secrets


def signature(secrets: list[str], event_id: str, at: datetime.datetime, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,...`` per secret, space-separated. What the standardwebhooks
    library's ``Webhook(secret).sign`` makes (a test checks), over the body's bytes as they are and with each
    secret's key decoded once: the library decodes the key and the body again at every call (a tenth of the
    deliverer's CPU per attempt)."""
    signed = b"%s.%d.%s" % (event_id.encode(), int(at.timestamp()), body)
    return " ".join(
        f"v1,{base64.b64encode(hmac.digest(_key(secret), signed, 'sha256')).decode()}" for secret in secrets
    )


@functools.lru_cache(maxsize=4096)
def _key(secret: str) -> bytes:
    """A ``whsec_`` secret's HMAC key (the padding added as the library does: secrets may come unpadded)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX) + "==")
