"""GroupCommit's linger: what arrives while an idle writer waits goes into the same write."""

from __future__ import annotations

import asyncio

from gateway.lib.group_commit import GroupCommit


async def submit_two(group: GroupCommit[int, int]) -> None:
    first = asyncio.create_task(group.submit(1))
    await asyncio.sleep(0.01)  # the first item's writer has started by now
    second = asyncio.create_task(group.submit(2))
    assert (await first, await second) == (1, 2)


async def test_a_lingering_writer_writes_what_arrives_meanwhile_together() -> None:
    writes: list[list[int]] = []

    async def write(items: list[int]) -> list[int]:
        writes.append(list(items))
        return items

    await submit_two(GroupCommit(write, linger=0.1))
    assert writes == [[1, 2]]


async def test_without_linger_an_idle_writer_writes_at_once() -> None:
    writes: list[list[int]] = []

    async def write(items: list[int]) -> list[int]:
        writes.append(list(items))
        return items

    await submit_two(GroupCommit(write))
    assert writes == [[1], [2]]
