"""Scheduling's read models."""
