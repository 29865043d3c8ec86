"""Regions plug in their own consumers: per-region streams and an HTTP feed (issue 10)."""
