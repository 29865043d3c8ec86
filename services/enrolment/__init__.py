"""Enrolment: regions and municipalities, participant accounts, levels, moves, preparations.

The only service that holds personal data (names, e-mail), encrypted per participant."""
