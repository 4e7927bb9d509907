"""The ``pigeon`` block of a send request: a short note and how loudly the pigeon announces it."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec


class PigeonMessage(msgspec.Struct):
    """A note carried by pigeon: 1-100 characters, announced softly or loudly on arrival."""

    text: Annotated[str, msgspec.Meta(min_length=1, max_length=100, description="The note.")]
    ring: Literal["Soft", "Loud"] = "Soft"


BLOCK = PigeonMessage
EXAMPLES = {"PigeonMessage": {"text": "Meet at noon", "ring": "Loud"}}
