"""The bar the administrator's long commands show (`import-log`, `rebuild`)."""

from __future__ import annotations

import sys
from typing import Any


def events_bar(label: str) -> Any:
    """A rich bar of events on standard error (`label`: its first column, a rich format such as
    `{task.description}`), with what is done, the time taken and the time left; drawn only
    where standard error is a terminal (`disable` otherwise: a job's log gets no escapes)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("händelser"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
        disable=not sys.stderr.isatty())
