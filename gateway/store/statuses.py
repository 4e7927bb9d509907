"""Message statuses and the one rule about them: they only move forward.

Ready < Sent < Delivered < Read. Failed and Expired end a message that was not delivered; nothing
follows Read, Failed or Expired. Callbacks that arrive out of order (a delivery report before the
provider's send response was recorded) therefore can't move a status backwards.
"""

from __future__ import annotations

from collections.abc import Iterable

CREATED = "Created"  # a failover step that has not been triggered
READY = "Ready"
SENT = "Sent"
DELIVERED = "Delivered"
READ = "Read"
FAILED = "Failed"
EXPIRED = "Expired"
RECEIVED = "Received"  # an inbound message

ALL = (CREATED, READY, SENT, DELIVERED, READ, FAILED, EXPIRED, RECEIVED)
FINAL = frozenset({READ, FAILED, EXPIRED, RECEIVED})
_RANK = {CREATED: 0, READY: 1, SENT: 2, DELIVERED: 3, READ: 4}


def can_move(current: str, new: str) -> bool:
    """Whether a message in ``current`` may take ``new``."""
    if current in FINAL or new == current:
        return False
    if new in (FAILED, EXPIRED):
        return current in (CREATED, READY, SENT)  # a delivered message can't fail afterwards
    return _RANK.get(new, -1) > _RANK.get(current, 99)


def reached(current: str, wanted: str) -> bool:
    """Whether a message in ``current`` has taken ``wanted`` or gone past it (a Read message was Delivered)."""
    return current == wanted or _RANK.get(current, -1) > _RANK.get(wanted, 99)


def unreachable(current: str, wanted: Iterable[str]) -> bool:
    """Whether none of ``wanted`` can come any more to a message in ``current`` (a Failed message will never
    be Delivered; a Delivered one never Failed)."""
    return not any(reached(current, status) or can_move(current, status) for status in wanted)
