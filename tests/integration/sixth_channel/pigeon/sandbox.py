"""The pigeon sandbox provider: ``POST /sandbox/pigeon/notes`` accepts a note, answers with its id and
reports it delivered to the note's callback URL a moment later; ``POST /sandbox/pigeon/inbound`` makes a
simulated user send a note to a sandbox traffic account."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from litestar import Request, Response, post
from litestar.exceptions import NotFoundException, ValidationException

from channels.base import CallbacksDependency, json_object
from channels.sandbox_support import SimulatedMessage, in_background, post_callback, simulated, simulated_body
from pigeon.adapter import KEY_HEADER

REPORT_DELAY = 0.05


@post("/notes", status_code=200, include_in_schema=False)
async def send_pigeon(request: Request, callbacks: CallbacksDependency) -> Response[dict[str, Any]]:
    if not request.headers.get(KEY_HEADER):
        return Response({"error": "no loft key"}, status_code=401)
    body = json_object(await request.body())
    if body is None or not all(isinstance(body.get(key), str) and body[key] for key in ("to", "text")):
        return Response({"error": "to and text are required"}, status_code=400)
    note_id = f"note-{uuid.uuid4().hex}"
    callback = str(body.get("callback") or "")
    if callbacks.is_own_callback(callback):  # the sandbox calls back only this gateway
        report = {"event": "report", "noteId": note_id, "status": "delivered"}
        in_background(_report(callback, report))
    return Response({"noteId": note_id})


async def _report(callback: str, report: dict[str, str]) -> None:
    await asyncio.sleep(REPORT_DELAY)  # the pigeon flies
    await post_callback(callback, json.dumps(report).encode(), {})


@post("/inbound", status_code=200, include_in_schema=False)
async def user_sends_pigeon(request: Request, callbacks: CallbacksDependency) -> SimulatedMessage:
    """``{"trafficAccountId", "from", "text"}``: a simulated user sends a note to a sandbox traffic account."""
    body = await simulated_body(request)
    problems = [
        {"key": key, "message": "is required: a non-empty string"}
        for key in ("trafficAccountId", "from", "text")
        if not isinstance(body.get(key), str) or not body[key].strip()
    ]
    if problems:
        raise ValidationException("The simulated note is not valid.", extra=problems)
    try:
        account_id = uuid.UUID(body["trafficAccountId"])
    except ValueError:
        raise ValidationException(
            "The simulated note is not valid.", extra=[{"key": "trafficAccountId", "message": "must be a UUID"}]
        ) from None
    account = await callbacks.account(account_id, "pigeon")
    if account is None or not account.sandbox:
        raise NotFoundException("No sandbox pigeon traffic account with this id.")
    note_id = f"note-{uuid.uuid4().hex}"
    note = {"event": "note", "noteId": note_id, "from": body["from"], "text": body["text"]}
    url = await callbacks.provider_callback_url("pigeon", account_id)
    status = await post_callback(url, json.dumps(note).encode(), {})
    return SimulatedMessage(**await simulated(callbacks, "pigeon", account_id, note_id, status))
