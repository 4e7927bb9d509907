"""Random (version 4) UUIDs for rows written in bulk.

``uuid.uuid4()`` reads 16 bytes from the kernel per id; a 10,000-recipient bulk send makes 20,000
ids, and system calls are slow on small virtual machines. This reads the same kernel randomness a
few kilobytes at a time.
"""

from __future__ import annotations

import os
import threading
from uuid import UUID

_CHUNK = 16 * 1024  # 1,024 ids per read
_lock = threading.Lock()
_buffer = b""
_offset = 0


def new_id() -> UUID:
    global _buffer, _offset
    with _lock:
        if _offset >= len(_buffer):
            _buffer, _offset = os.urandom(_CHUNK), 0
        raw = _buffer[_offset : _offset + 16]
        _offset += 16
    return UUID(bytes=raw, version=4)
