"""When a wait for statuses is over (gateway.store.statuses.reached / unreachable): decided by the message's
status history, so that a wait answers the same whenever it starts."""

from __future__ import annotations

import pytest

from gateway.store.statuses import reached, unreachable


@pytest.mark.parametrize(
    ("history", "wanted", "expected"),
    [
        (["Ready", "Sent", "Delivered"], ["Delivered"], True),
        (["Ready", "Sent", "Delivered", "Read"], ["Delivered"], True),
        (["Ready", "Sent", "Read"], ["Delivered"], True),  # a Read message was Delivered
        (["Ready", "Sent"], ["Ready"], True),
        (["Ready", "Sent"], ["Delivered"], False),
        (["Ready", "Failed"], ["Delivered"], False),  # it never was
        (["Ready", "Sent", "Failed"], ["Sent"], True),  # it was Sent, though it Failed since
        (["Ready", "Sent", "Failed"], ["Delivered", "Sent"], True),
        (["Ready", "Failed"], ["Sent"], False),
        (["Ready", "Sent", "Failed"], ["Failed"], True),
        (["Received"], ["Received"], True),
        (["Received"], ["Delivered"], False),
    ],
)
def test_reached(history: list[str], wanted: list[str], expected: bool) -> None:
    assert reached(history, wanted) is expected


@pytest.mark.parametrize(
    ("history", "wanted", "expected"),
    [
        (["Ready", "Sent"], ["Delivered", "Read"], False),
        (["Created"], ["Failed"], False),
        (["Ready", "Sent", "Failed"], ["Delivered", "Read"], True),
        (["Ready", "Sent", "Expired"], ["Delivered"], True),
        (["Ready", "Sent", "Delivered"], ["Failed"], True),  # a delivered message can't fail afterwards
        (["Ready", "Sent", "Delivered"], ["Failed", "Read"], False),
        (["Ready", "Sent", "Delivered", "Read"], ["Delivered"], False),  # reached, not unreachable
        (["Ready", "Sent", "Failed"], ["Sent"], False),  # reached before it Failed
        (["Ready", "Sent", "Failed"], ["Sent", "Delivered"], False),
        (["Ready", "Failed"], ["Sent"], True),
        (["Received"], ["Delivered"], True),
    ],
)
def test_unreachable(history: list[str], wanted: list[str], expected: bool) -> None:
    assert unreachable(history, history[-1], wanted) is expected
