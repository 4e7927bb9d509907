"""Channel adapters: one package per provider protocol, found through the ``gateway.channels`` entry points."""
