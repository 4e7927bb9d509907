"""A bulk send's COPY records (gateway.store.messages.accepted_records) hold what NewMessage.row holds."""

from __future__ import annotations

import datetime
import json
import uuid

from gateway.store import messages as store
from gateway.store.messages import NewMessage


def _message(**values: object) -> NewMessage:
    at = datetime.datetime(2026, 12, 7, 6, 0, tzinfo=datetime.UTC)
    defaults: dict[str, object] = {
        "tenant_id": uuid.uuid4(),
        "traffic_account_id": uuid.uuid4(),
        "channel": "sms",
        "destination": "+447700900101",
        "content": {"sender": "Acme", "text": "hi"},
        "message_parts": 2,
        "reference": "r-1",
        "created_at": at,
        "valid_until": at + datetime.timedelta(hours=1),
        "next_attempt_at": at,
    }
    return NewMessage(**(defaults | values))  # type: ignore[arg-type]


def test_the_records_are_the_rows_values_json_as_text_and_conversation_ids_filled_in_later() -> None:
    shared = {"sender": "Acme", "text": "one for many"}
    messages = [
        _message(content=shared, bulk_id=uuid.uuid4()),
        _message(content=shared, status="Created", next_attempt_at=None, failover_chain_id=uuid.uuid4()),
        _message(notify_webhook_id=uuid.uuid4(), notify={"to": "x", "n": [1, 2]}, failover_step=1, reference=None),
    ]
    records = store.accepted_records(messages)
    json_columns = store._json_columns(store.Message.__table__)
    for message, record, event in zip(messages, records.messages, records.events, strict=True):
        row = message.row()
        assert tuple(row) == store._MESSAGE_COLUMNS  # every column of the row, in its order
        values = {
            c: json.loads(v) if c in json_columns and v is not None else v for c, v in zip(row, record, strict=True)
        }
        assert values == row | {"conversation_id": None}
        assert event[1:] == (message.id, 1, message.status, message.created_at)
    assert records.messages[0][10] is records.messages[1][10]  # shared content: one text
    assert len({event[0] for event in records.events}) == 3


def test_records_made_in_parts_add_up() -> None:
    messages = [_message(destination=f"+4477009001{n:02d}") for n in range(5)]
    records = store.AcceptedRecords([], [])
    records += store.accepted_records(messages[:2])
    records += store.accepted_records(messages[2:])
    assert [r[0] for r in records.messages] == [e[1] for e in records.events] == [m.id for m in messages]
