"""Billing's adapters: HTTP API."""
