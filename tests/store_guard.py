"""A guard over every statement the test suite runs: only the message store (gateway/store/) may insert
or update messages, their status events and webhook events (see gateway.store.messages).

Installed for every test by tests/conftest.py; a test during which any other module of gateway/ or
channels/ wrote one of these tables fails, naming the module and the statement.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import greenlet
from sqlalchemy import event
from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
GUARDED = re.compile(r"\b(?:INSERT\s+INTO|UPDATE)\s+\"?(message|message_event|webhook_event)\"?[\s(]", re.IGNORECASE)
CHECKED = (ROOT / "gateway", ROOT / "channels")  # the product's code; tests, bench and faults may set up rows
OWNER = ROOT / "gateway" / "store"

violations: list[str] = []


def writer_of(frame: FrameType | None) -> Path | None:
    """The innermost of the project's source files on the stack: who issued the statement. SQLAlchemy's
    asyncio runs a statement in a greenlet of its own, whose stack ends at the driver call: the
    awaiting coroutines are on the parent greenlet's stack."""
    frames: list[FrameType] = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    parent = greenlet.getcurrent().parent
    frame = parent.gr_frame if parent is not None else None
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    for each in frames:
        path = Path(each.f_code.co_filename)
        if path.is_relative_to(ROOT) and not path.is_relative_to(ROOT / ".venv") and path != Path(__file__):
            return path
    return None


def check(statement: str, frame: FrameType | None) -> str | None:
    """A violation's description, or None when the statement is no guarded write or the store issued it."""
    if (table := GUARDED.search(statement)) is None:
        return None
    writer = writer_of(frame)
    if writer is None or not any(writer.is_relative_to(path) for path in CHECKED) or writer.is_relative_to(OWNER):
        return None
    return f"{writer.relative_to(ROOT)} writes {table.group(1)}: {' '.join(statement.split())[:200]}"


def _before_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
    if violation := check(statement, sys._getframe(1)):
        violations.append(violation)


def install() -> None:
    if not event.contains(Engine, "before_cursor_execute", _before_cursor_execute):
        event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
