"""Certification's adapters: HTTP API."""
