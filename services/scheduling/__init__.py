"""Scheduling: the course catalogue, course occasions, bookings, trainer teams, attendance."""
