from __future__ import annotations

import uuid

from gateway.lib.ids import new_id


def test_ids_are_random_version_4_uuids_and_never_repeat() -> None:
    ids = [new_id() for _ in range(5000)]  # several refills of the buffer
    assert len(set(ids)) == 5000
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)
