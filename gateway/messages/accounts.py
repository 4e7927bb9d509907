"""A traffic account as its channel adapter sees it: where to reach the provider, with which credentials."""

from __future__ import annotations

import hashlib
import hmac

from channels.base import Account
from channels.registry import all_channels
from gateway.channel_routes import sandbox_path
from gateway.models import TrafficAccount
from gateway.tenants.traffic_accounts import credentials_of


def adapter_account(account: TrafficAccount, public_url: str, secret: str) -> Account:
    """The provider URL is the operator's ``baseUrl``, else the sandbox provider for a sandbox account,
    else the provider's own. A sandbox account's unset credentials are derived from ``secret``: stable,
    so the real adapter code (which authenticates and signs with them) runs unchanged; those the channel
    names ``sandbox_unset`` stay unset, as on a live account without them."""
    channel = all_channels()[account.channel]
    base_url = account.settings.get("baseUrl") or (
        public_url.rstrip("/") + sandbox_path(account.channel) if account.sandbox else channel.default_base_url
    )
    credentials = credentials_of(account)
    if account.sandbox:
        derived = {
            key: hmac.new(secret.encode(), f"sandbox:{account.id}:{key}".encode(), hashlib.sha256).hexdigest()
            for key in channel.settings.credentials
            if key not in channel.settings.sandbox_unset
        }
        credentials = derived | credentials
    return Account(account.id, base_url, account.settings, credentials, account.sandbox)
