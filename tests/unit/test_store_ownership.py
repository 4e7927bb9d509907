"""The guard that keeps the message store the only writer of messages, message events and webhook
events (tests/store_guard.py) recognises who wrote what, so the suite-wide check can fail."""

from __future__ import annotations

import sys
from types import FrameType

from tests import store_guard


def _frame_in(relative_path: str) -> FrameType:
    """A frame whose code claims to live in ``relative_path`` of the project."""
    code = compile("import sys\nframe = sys._getframe()", str(store_guard.ROOT / relative_path), "exec")
    scope: dict = {}
    exec(code, scope)  # noqa: S102  (a frame with a chosen file name, nothing else)
    return scope["frame"]


def test_a_write_outside_the_store_is_a_violation() -> None:
    for statement in (
        "UPDATE message SET status=$1 WHERE message.id = $2",
        'INSERT INTO "message_event" (id, message_id) VALUES (?, ?)',
        "update webhook_event set next_attempt_at=now()",
        "WITH given AS (SELECT 1) INSERT INTO message (id) SELECT 1",
    ):
        violation = store_guard.check(statement, _frame_in("gateway/messages/dispatcher.py"))
        assert violation is not None and violation.startswith("gateway/messages/dispatcher.py writes"), statement


def test_the_store_tests_reads_and_other_tables_are_not() -> None:
    assert store_guard.check("UPDATE message SET status=$1", _frame_in("gateway/store/messages.py")) is None
    assert store_guard.check("UPDATE message SET status=$1", sys._getframe()) is None  # a test's own set-up
    in_pipeline = _frame_in("gateway/messages/failover.py")
    for statement in (
        "SELECT message.id FROM message",
        "UPDATE failover_chain SET state='done'",
        "INSERT INTO message_template (id) VALUES (1)",
        "DELETE FROM message WHERE status = 'Created'",
    ):
        assert store_guard.check(statement, in_pipeline) is None, statement
