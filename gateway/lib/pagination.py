"""Cursor pagination in creation order: stable under inserts, no offsets."""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.lib.problems import invalid
from wire.errors import FieldError

T = TypeVar("T")
MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class Cursor:
    """Position after the row with this (created_at, id)."""

    created_at: datetime.datetime
    id: UUID

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"{self.created_at.isoformat()}|{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str | None, field: str = "cursor") -> Cursor | None:
        """``field``: the parameter that gave it, named in the 400 when it is no cursor."""
        if not text:
            return None
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            created, _, id_ = raw.partition("|")
            cursor = cls(datetime.datetime.fromisoformat(created), UUID(id_))
            if cursor.created_at.tzinfo is None:
                raise ValueError("cursors carry UTC times")
            return cursor
        except (ValueError, UnicodeDecodeError):
            raise invalid([FieldError(field, "is not a cursor this API returned")]) from None


async def page_query(
    session: AsyncSession, query: Select[Any], model: Any, limit: int, cursor: Cursor | None, at: Any = "created_at"
) -> tuple[list[Any], Cursor | None]:
    """One page of ``query`` ordered by (``at``, id), and the cursor of the next page if there is one.
    ``at``: the time column of the order (its name or the column), ``created_at`` unless the rows have another."""
    column = getattr(model, at) if isinstance(at, str) else at
    if cursor is not None:
        query = query.where(or_(column > cursor.created_at, and_(column == cursor.created_at, model.id > cursor.id)))
    rows = list(await session.scalars(query.order_by(column, model.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (Cursor(getattr(rows[-1], column.key), rows[-1].id) if more else None)
