"""What the drills measured, printed at the end of the run (tests/faults/conftest.py)."""

FIGURES: list[str] = []
