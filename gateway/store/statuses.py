"""Message statuses and the one rule about them: they only move forward.

Ready < Sent < Delivered < Read. Failed and Expired end a message that was not delivered; nothing
follows Read, Failed or Expired. Callbacks that arrive out of order (a delivery report before the
provider's send response was recorded) therefore can't move a status backwards.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

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


def reached(history: Iterable[str], wanted: Collection[str]) -> bool:
    """Whether a message that took the statuses of ``history`` has taken one of ``wanted`` or gone past it
    (a Read message was Delivered), though it may have moved on since (a Sent message that Failed was Sent):
    a wait answers the same whenever it starts."""
    return any(status == one or _RANK.get(status, -1) > _RANK.get(one, 99) for status in history for one in wanted)


def unreachable(history: Iterable[str], current: str, wanted: Collection[str]) -> bool:
    """Whether none of ``wanted`` is in the message's ``history`` (``reached``) nor can come any more to it in
    ``current``, its latest status (a Failed message will never be Delivered; a Delivered one never Failed)."""
    return not reached(history, wanted) and not any(can_move(current, status) for status in wanted)
