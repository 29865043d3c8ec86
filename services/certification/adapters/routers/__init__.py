"""Certification's HTTP API by resource, one router each (`adapters/http.py` mounts them)."""
