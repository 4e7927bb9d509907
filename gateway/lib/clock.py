"""The time, as every part of the gateway stores it: aware, in UTC."""

from __future__ import annotations

import datetime


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
