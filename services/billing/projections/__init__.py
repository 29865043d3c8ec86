"""Billing's projections: the facts it reads from the bus, and the fold over them."""
