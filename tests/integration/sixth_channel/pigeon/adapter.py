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
    if response.status_code == 429 or response.status_code >= 500:
        return SendResult(
            description=f"provider answered {response.status_code}",
            retry_after=kit.retry_after_of(response),
        )
    try:
        answer = response.json()
    except ValueError:
        return SendResult(description=f"provider answered {response.status_code} without JSON")
    if response.is_success and isinstance(answer, dict) and isinstance(answer.get("noteId"), str):
        return SendResult(status="Sent", provider_message_id=answer["noteId"])
    error = answer.get("error") if isinstance(answer, dict) else None
    return SendResult(permanent=True, error_code=f"pigeon.{response.status_code}", description=str(error)[:1000])
