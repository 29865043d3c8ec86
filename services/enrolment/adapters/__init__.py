"""Enrolment's adapters: HTTP API and the personal-data vault."""
