"""Webhook delivery: the outbox rows the pipeline writes (gateway.store.outbox), delivered to the
customers' webhooks signed the Standard Webhooks way, retried on a schedule, at least once and in
order per message."""
