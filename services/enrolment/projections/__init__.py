"""Enrolment's own read models, kept from its event store."""
