"""The tenants' message events as they happen: the event tail (one per process), the server-sent event
stream and the long-polls built on it."""
