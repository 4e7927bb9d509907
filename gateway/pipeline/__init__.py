"""The path of a message: acceptance, dispatch to a channel adapter, status changes and their events."""
