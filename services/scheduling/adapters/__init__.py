"""Scheduling's adapters: HTTP API."""
