"""Random (version 4) UUIDs for rows written in bulk.

``uuid.uuid4()`` reads 16 bytes from the kernel per id; a 10,000-recipient bulk send makes 20,000
ids, and system calls are slow on small virtual machines. These are made a thousand at a time from
one read of the same kernel randomness, as asyncpg's UUID: a ``uuid.UUID`` (equal to, hashed and
written as one) that it builds in C, a third of the cost of ``uuid.UUID(bytes=..., version=4)``.
"""

from __future__ import annotations

import os
from uuid import UUID

from asyncpg.pgproto.pgproto import UUID as FastUUID

_POOL = 1024  # ids made at once for new_id
# The version (4) and variant (RFC 4122) bits set on random bytes 6 and 8 of each id, as uuid.UUID(version=4) sets them.
_VERSION = bytes(b & 0x0F | 0x40 for b in range(256))
_VARIANT = bytes(b & 0x3F | 0x80 for b in range(256))
_pool: list[UUID] = []


def new_ids(count: int) -> list[UUID]:
    """``count`` new ids."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = raw[6::16].translate(_VERSION)
    raw[8::16] = raw[8::16].translate(_VARIANT)
    data = bytes(raw)
    return [FastUUID(data[start : start + 16]) for start in range(0, len(data), 16)]


def new_id() -> UUID:
    # list.pop and list.extend are atomic: threads need no lock (two refilling at once only make spares).
    try:
        return _pool.pop()
    except IndexError:
        _pool.extend(new_ids(_POOL))
        return _pool.pop()
