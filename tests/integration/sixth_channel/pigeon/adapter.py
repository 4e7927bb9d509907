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
        return SendResult(
            description=f"provider answered {response.status_code}",
            retry_after=kit.retry_after_of(response),
        )
    try:
        data = response.json()
    except ValueError:
        return SendResult(description=f"provider answered {response.status_code} without JSON")
    if answer == kit.SUCCESS and isinstance(data, dict) and isinstance(data.get("noteId"), str):
        return SendResult(status="Sent", provider_message_id=data["noteId"])
    error = data.get("error") if isinstance(data, dict) else None
    return SendResult(permanent=True, error_code=f"pigeon.{response.status_code}", description=str(error)[:1000])
