"""What the gateway and its channels share: field errors, the typed shapes of requests and the HTTP transport."""
