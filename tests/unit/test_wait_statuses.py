"""When a wait for statuses is over (gateway.store.statuses.reached / unreachable)."""

from __future__ import annotations

import pytest

from gateway.store.statuses import reached, unreachable


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        ("Delivered", "Delivered", True),
        ("Read", "Delivered", True),  # a Read message was Delivered
        ("Sent", "Ready", True),
        ("Sent", "Delivered", False),
        ("Failed", "Delivered", False),  # it never was
        ("Failed", "Failed", True),
        ("Received", "Received", True),
        ("Received", "Delivered", False),
    ],
)
def test_reached(current: str, wanted: str, expected: bool) -> None:
    assert reached(current, wanted) is expected


@pytest.mark.parametrize(
    ("current", "wanted", "expected"),
    [
        ("Sent", ["Delivered", "Read"], False),
        ("Created", ["Failed"], False),
        ("Failed", ["Delivered", "Read"], True),
        ("Expired", ["Delivered"], True),
        ("Delivered", ["Failed"], True),  # a delivered message can't fail afterwards
        ("Delivered", ["Failed", "Read"], False),
        ("Read", ["Delivered"], False),  # reached, not unreachable
        ("Received", ["Delivered"], True),
    ],
)
def test_unreachable(current: str, wanted: list[str], expected: bool) -> None:
    assert unreachable(current, wanted) is expected
