"""The message store: the one writer of messages, their status events and the webhook events they
raise (gateway.store.messages explains the rule; tests/store_guard.py enforces it)."""
