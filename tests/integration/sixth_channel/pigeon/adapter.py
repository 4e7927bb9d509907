"""The upstream request: POST {base}/notes of the (imaginary) pigeon post API."""

from __future__ import annotations

import httpx

from channels import kit
from channels.base import Account, Outbound, SendResult

DEFAULT_BASE_URL = "https://api.pigeon.invalid"
KEY_HEADER = "X-Loft-Key"


async def send(http: httpx.AsyncClient, account: Account, outbound: Outbound) -> SendResult:
    response = await http.post(
        f"{account.base_url.rstrip('/')}/notes",
        json={
            "to": outbound.destination,
            "text": outbound.block["text"],
            "ring": outbound.block.get("ring", "Soft"),
            "callback": outbound.callback_url,
        },
        headers={KEY_HEADER: account.credentials.get("loftKey", "")},
    )
    answer = kit.classify(response.status_code)
    if answer == kit.TRANSIENT:
        return SendResult.transient(f"provider answered {response.status_code}", kit.retry_after_of(response))
    try:
        data = response.json()
    except ValueError:
        return SendResult.transient(f"provider answered {response.status_code} without JSON")
    if answer == kit.SUCCESS and isinstance(data, dict) and isinstance(data.get("noteId"), str):
        return SendResult.sent(data["noteId"])
    error = data.get("error") if isinstance(data, dict) else None
    return SendResult.rejected(f"pigeon.{response.status_code}", str(error))
