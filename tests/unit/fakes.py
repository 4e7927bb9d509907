"""What unit tests of the channels' routes give them in place of the gateway."""

from __future__ import annotations

from typing import Any

from litestar.di import Provide


def given_callbacks(callbacks: Any) -> dict[str, Provide]:
    """The ``callbacks`` dependency the channels' callback and sandbox routes take, as the app provides it."""
    return {"callbacks": Provide(lambda: callbacks, sync_to_thread=False)}
