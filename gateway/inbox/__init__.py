"""The web inbox at /inbox (issue 19): a tenant's conversations, each message's timeline with the sandbox
providers' wire exchanges, webhook deliveries, and the simulated user's replies – server-rendered pages
(Jinja2) with a small style sheet and script the gateway serves itself."""
