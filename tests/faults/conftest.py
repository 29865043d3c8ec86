"""The drills' figures (how long each recovery took), printed at the end of the run."""

from __future__ import annotations

from typing import Any

from tests.faults.figures import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("fault drills: recovery")
        for line in FIGURES:
            terminalreporter.write_line(line)
