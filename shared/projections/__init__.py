"""The contract's rules as folds over events: one place per rule, no I/O.

The live consumers, the rebuild from the event store and `yrkesresan replay` all feed
validated envelopes to these classes: pydantic `Envelope`s, or in replay the msgspec Structs
generated from the same models (`shared.events.fast`), which read field for field the same.
Each gives the same result for any delivery order, ignores derived events (it derives what
they would say), and changes nothing when an event comes again: the contract's idempotency
rule. No fold keeps the ids it applied for it (a set of 128-bit ids cost about 90 bytes an
event in each fold that kept one: gigabytes over the national history). Every fact is kept in
a form that the same event delivered again cannot change: sets (bits) of days and items, the
latest value by `occurred_at` and id (`versions.LatestBy`, `AsOfMap`), a timeline that ignores a
stamp it holds, the earliest report or withdrawal; and what a fold reports (completions
gained and lost, rows that may have changed) is the change of that state, so a redelivery
reports nothing. `tests/unit/test_projections_redelivery.py` delivers every event twice.
"""

from shared.projections.completions import Completion, CompletionChanges, Completions
from shared.projections.evaluations import Evaluations
from shared.projections.invoices import Invoices
from shared.projections.pot import Distribution, Pot, Share, distribute, divide_pot
from shared.projections.prices import GR_COMPONENTS, GR_POINTS, PriceLists
from shared.projections.progression import Progression

__all__ = [
    "GR_COMPONENTS",
    "GR_POINTS",
    "Completion",
    "CompletionChanges",
    "Completions",
    "Distribution",
    "Evaluations",
    "Invoices",
    "Pot",
    "PriceLists",
    "Progression",
    "Share",
    "distribute",
    "divide_pot",
]
