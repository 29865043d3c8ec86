"""Scheduling's own copy of who and where: regions, municipalities with their region,
participants (current municipality, erased or not, journey and level) and trainers (home
municipality), and for planning the completions certification decided.

Learned from the bus (`yrkesresan.reference.v1`, `yrkesresan.enrolment.v1`,
`yrkesresan.certification.v1`, `yrkesresan.billing.v1`) by the `scheduling-registry` consumer
into scheduling's own database, never by calling enrolment, certification or billing.
Scheduling books only participants it knows, records the municipality from here (not from the
command), assigns only trainers it knows (their home municipality from here), plans occasions
only in regions it knows, and scopes administrators and coordinators by it. Planning support
counts from it who still needs each course (`services/scheduling/planning.py`).

Billing's closed years (`YearClosed`, `yrkesresan.billing.v1`) tell which attendance is late:
only the region's coordinator reports a day of a closed year. Another fact is one more `Fact`
in `shared.platform.copies` and its name in `FACTS`.
"""

from __future__ import annotations

from shared.platform.copies import (
    CLOSED_YEARS,
    COMPLETIONS,
    LEVELS,
    MUNICIPALITIES,
    PARTICIPANTS,
    REGIONS,
    TRAINERS,
    Copy,
)

NAME = "scheduling-registry"
PREFIX = "scheduling_copy"
FACTS = (REGIONS, MUNICIPALITIES, PARTICIPANTS, TRAINERS, LEVELS, COMPLETIONS, CLOSED_YEARS)


def registry() -> Copy:
    return Copy(NAME, PREFIX, FACTS)
