"""Standard Webhooks signatures: ``v1,`` + base64 HMAC-SHA256 over ``id.timestamp.body``."""

from __future__ import annotations

import datetime

from standardwebhooks import Webhook as Signer

from gateway.models import Webhook

# After a rotation the old secret keeps signing beside the new one, so receivers can switch over.
ROTATION_OVERLAP = datetime.timedelta(hours=24)


def signing_secrets(webhook: Webhook, at: datetime.datetime) -> list[str]:
    """The new secret, and for a day after a rotation the previous one as well."""
    secrets = [webhook.secret]
    if webhook.previous_secret and webhook.secret_rotated_at and at - webhook.secret_rotated_at < ROTATION_OVERLAP:
        secrets.append(webhook.previous_secret)
    return secrets


def signature(secrets: list[str], event_id: str, at: datetime.datetime, body: bytes) -> str:
    """The ``webhook-signature`` header: one ``v1,...`` per secret, space-separated."""
    data = body.decode()
    return " ".join(Signer(secret).sign(event_id, at, data) for secret in secrets)
