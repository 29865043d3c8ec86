"""The contract's rules as folds over events: one place per rule, no I/O.

The live consumers, the rebuild from the event store and `yrkesresan replay` all feed
validated envelopes to these classes: pydantic `Envelope`s, or in replay the msgspec Structs
generated from the same models (`shared.events.fast`), which read field for field the same.
Each applies an event id once, gives the same result for any delivery order, and ignores
derived events (it derives what they would say).
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
