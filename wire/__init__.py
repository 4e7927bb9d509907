"""What the gateway and its channels share: field errors and the typed shapes of requests."""
