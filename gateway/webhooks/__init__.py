"""Customers' webhooks: their management (service), and the delivery of the outbox rows the message
store writes (gateway.store.outbox), signed the Standard Webhooks way, retried on a schedule, at
least once and in order per message (deliverer)."""
