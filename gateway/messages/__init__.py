"""The life of a message around its store (gateway.store): planning and accepting sends, the dispatch
loop and its channel adapters, the providers' callbacks, timeout failover."""
