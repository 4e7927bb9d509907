"""When to try a failed delivery again: the Svix schedule, with jitter, honouring Retry-After."""

from __future__ import annotations

import random

# Seconds after the first attempt's failure, after the second's, ...: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
RETRY_DELAYS = (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
JITTER = 0.2  # each delay is drawn from +/- 20 % of it, so failed events of one outage don't return together
MAX_RETRY_AFTER = 24 * 3600  # a receiver's Retry-After is honoured up to a day


def retry_delay(attempts: int, retry_after: float | None = None, rng: random.Random | None = None) -> float | None:
    """Seconds until the next attempt after ``attempts`` failed ones, or None when they are all used up.
    A ``retry_after`` the receiver asked for is waited at least."""
    if attempts > len(RETRY_DELAYS):
        return None
    base = RETRY_DELAYS[attempts - 1]
    delay = base * (rng or random).uniform(1 - JITTER, 1 + JITTER)
    return max(delay, min(retry_after or 0.0, MAX_RETRY_AFTER))
