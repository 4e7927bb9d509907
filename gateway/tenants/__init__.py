"""Tenants and what belongs to them: customers and their login, API keys, traffic accounts, WhatsApp
templates; the authentication of customer API calls."""
