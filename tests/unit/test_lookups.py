"""gateway.lib.lookups: a value missing is loaded once for all who want it at that moment."""

from __future__ import annotations

import asyncio

import pytest

from gateway.lib.lookups import Lookups


async def test_concurrent_callers_share_one_load() -> None:
    lookups, loads = Lookups(), []

    async def load() -> str:
        loads.append(1)
        await asyncio.sleep(0.05)
        return "account"

    values = await asyncio.gather(*(lookups.remember("k", load) for _ in range(50)))
    assert values == ["account"] * 50 and len(loads) == 1
    assert await lookups.remember("k", load) == "account" and len(loads) == 1  # remembered


async def test_a_failed_load_fails_only_its_caller() -> None:
    lookups, calls = Lookups(), []

    async def load() -> str:
        calls.append(1)
        await asyncio.sleep(0.05)
        if len(calls) == 1:
            raise LookupError("the database went away")
        return "found"

    first = asyncio.create_task(lookups.remember("k", load))
    await asyncio.sleep(0)
    others = await asyncio.gather(*(lookups.remember("k", load) for _ in range(3)))
    with pytest.raises(LookupError):
        await first
    assert others == ["found"] * 3


async def test_a_value_read_before_a_clear_is_not_remembered() -> None:
    lookups = Lookups()
    reading = asyncio.Event()

    async def stale() -> str:
        reading.set()
        await asyncio.sleep(0.05)
        return "before the change"

    task = asyncio.create_task(lookups.remember("k", stale))
    await reading.wait()
    lookups.clear()  # e.g. the key was revoked through the API meanwhile
    assert await task == "before the change"

    async def fresh() -> str:
        return "after the change"

    assert await lookups.remember("k", fresh) == "after the change"
