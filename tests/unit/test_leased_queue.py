"""LeasedQueue's gather (jobs made due by wake-ups moments apart are claimed together) and refill (claims wait
for several free slots, but never longer than the poll)."""

from __future__ import annotations

import asyncio

from gateway.lib.leased_queue import LeasedQueue


async def claims_of_two_wake_ups(gather: float) -> list[list[int]]:
    """The non-empty claims when job 1 and then, 10 ms later, job 2 become due, each with a wake-up."""
    due: list[int] = []
    claims: list[list[int]] = []
    wake, stop = asyncio.Event(), asyncio.Event()

    async def claim(limit: int) -> list[int]:
        taken = due[:limit]
        del due[:limit]
        if taken:
            claims.append(taken)
        return taken

    async def run(_job: int) -> None:
        pass

    queue = LeasedQueue("jobs", claim, run, wake, concurrency=10, poll_seconds=5, gather=gather)
    loop = asyncio.create_task(queue.run(stop))
    await asyncio.sleep(0.05)  # the first claim found nothing; the loop waits for a wake-up
    for job in (1, 2):
        due.append(job)
        wake.set()
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    stop.set()
    wake.set()
    await loop
    return claims


async def test_jobs_due_within_the_gather_time_are_claimed_in_one_claim() -> None:
    assert await claims_of_two_wake_ups(gather=0.05) == [[1, 2]]


async def test_without_gather_each_wake_up_claims_at_once() -> None:
    assert await claims_of_two_wake_ups(gather=0.0) == [[1], [2]]


async def test_jobs_held_up_elsewhere_delay_a_claim_by_the_poll_at_most() -> None:
    """Slow jobs hold all but one slot, fewer than a refill: a due job is still claimed at the next poll."""
    due = ["slow 1", "slow 2", "slow 3"]
    started: dict[str, float] = {}
    release, wake, stop = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def claim(limit: int) -> list[str]:
        taken = due[:limit]
        del due[:limit]
        return taken

    async def run(job: str) -> None:
        started[job] = asyncio.get_running_loop().time()
        if job.startswith("slow"):
            await release.wait()

    queue = LeasedQueue("jobs", claim, run, wake, concurrency=4, poll_seconds=0.1, refill=3)
    loop = asyncio.create_task(queue.run(stop))
    await asyncio.sleep(0.05)  # the slow jobs hold three of the four slots
    due.append("quick")
    made_due = asyncio.get_running_loop().time()
    wake.set()
    await asyncio.sleep(0.5)
    assert "quick" in started and started["quick"] - made_due <= 0.25
    release.set()
    stop.set()
    wake.set()
    await loop
