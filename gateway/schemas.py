"""Shared wire-format pieces: camelCase Structs and the timestamp format of the Chat API."""

from __future__ import annotations

import datetime
from typing import Any, Generic, TypeVar

import msgspec

from wire.errors import FieldError

T = TypeVar("T")


class Schema(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Request bodies: camelCase names; an unknown field is an error that names it."""

    @classmethod
    def rule_errors(cls, raw: dict[str, Any]) -> list[FieldError]:
        """Problems beyond types, checked on the raw body when decoding fails too, so that one answer
        names type errors and rule errors together. Services run the same checks on good bodies."""
        return []


class Out(msgspec.Struct, rename="camel"):
    """Response bodies: camelCase names, fields always present (null rather than missing).

    Timestamps are rendered here, as the Chat API writes them: msgspec encodes ``datetime`` itself
    (six digits, no ``Z``) before any Litestar type encoder could, so each datetime field becomes its
    string form when the response object is made. The schema still says ``date-time``.
    """

    def __post_init__(self) -> None:
        for name in self.__struct_fields__:
            value = getattr(self, name)
            if isinstance(value, datetime.datetime):
                setattr(self, name, format_timestamp(value))


class Page(Out, Generic[T]):
    """A page of a list ordered by creation; pass ``nextCursor`` back as ``cursor`` for the next one."""

    items: list[T]
    next_cursor: str | None


def format_timestamp(value: datetime.datetime) -> str:
    """``2021-07-15T11:50:57.8954350Z``: UTC with seven fractional digits, as the Chat API writes them."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.UTC)
    return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
