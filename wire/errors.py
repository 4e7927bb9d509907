"""The one way a request's problems are named, by the gateway and by every channel."""

from __future__ import annotations

import msgspec


class FieldError(msgspec.Struct, frozen=True):
    """One problem with one field of a request, named by its JSON path."""

    field: str
    message: str
