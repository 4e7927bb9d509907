from __future__ import annotations

import uuid

import msgspec

from gateway.lib.ids import new_id, new_ids


def test_ids_are_random_version_4_uuids_and_never_repeat() -> None:
    ids = [new_id() for _ in range(5000)]  # several refills of the buffer
    assert len(set(ids)) == 5000
    assert all(i.version == 4 and i.variant == uuid.RFC_4122 for i in ids)


def test_ids_behave_as_standard_uuids() -> None:
    """asyncpg's UUID stands in for uuid.UUID everywhere: compared, hashed, written and read back alike."""
    for made in [new_id(), *new_ids(3)]:
        standard = uuid.UUID(str(made))
        assert isinstance(made, uuid.UUID)
        assert made == standard and hash(made) == hash(standard) and made.bytes == standard.bytes
        assert msgspec.json.encode(made) == msgspec.json.encode(standard)
        assert msgspec.json.decode(msgspec.json.encode(made), type=uuid.UUID) == made
