"""The pigeon post's callbacks, one route for both kinds, told apart by ``event``:

- ``{"event": "report", "noteId", "status": "delivered"|"lost"}`` to the per-message callback URL (its
  token names our message);
- ``{"event": "note", "noteId", "from", "text"}``, a user's note, to the URL the operator configures at the
  provider (its token names the traffic account).
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar import Response, post
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.params import FromPath

from channels.base import CallbacksDependency, InboundMessage, StatusReport

STATUSES = {"delivered": "Delivered", "lost": "Failed"}


class PigeonCallback(msgspec.Struct):
    """A delivery report or a user's note."""

    event: Literal["report", "note"]
    note_id: str = msgspec.field(name="noteId")
    status: Literal["delivered", "lost"] | None = None
    sender: str | None = msgspec.field(default=None, name="from")
    text: str | None = None


@post("/", status_code=200, tags=["callbacks"], summary="Pigeon post callback")
async def pigeon_callback(
    data: PigeonCallback, token: str | None, callbacks: CallbacksDependency, account_id: FromPath[UUID]
) -> Response[dict[str, Any]]:
    if data.event == "report":
        message_id = callbacks.message_of_token(token)
        if message_id is None:
            raise NotAuthorizedException("The callback token is missing, forged or expired.")
        if data.status is None:
            raise ValidationException("The report is not valid.", extra=[{"key": "status", "message": "is required"}])
        status = STATUSES[data.status]
        report = StatusReport(
            status=status,
            message_id=message_id,
            provider_message_id=data.note_id,
            error_code="pigeon.lost" if status == "Failed" else None,
        )
        if not await callbacks.report(account_id, report):
            raise NotFoundException("No message of this traffic account with this token.")
    else:
        if await callbacks.account_of_token(token) != account_id:
            raise NotAuthorizedException("The callback token is missing or not this traffic account's.")
        missing = [key for key, value in (("from", data.sender), ("text", data.text)) if not value]
        if missing:
            problems = [{"key": key, "message": "is required: a non-empty string"} for key in missing]
            raise ValidationException("The note is not valid.", extra=problems)
        inbound = InboundMessage(
            sender=data.sender or "", content={"type": "text", "text": data.text}, provider_message_id=data.note_id
        )
        if not await callbacks.receive(account_id, inbound):
            raise NotFoundException("No such traffic account.")
    return Response({"status": "ok"})
