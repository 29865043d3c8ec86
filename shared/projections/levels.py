"""Levels (nivåer) as the years in the profession pass: the rule, written once.

A newcomer starts at the level their years give (Ny under 2 years, Van 2 to under 5, Erfaren 5
and more; supervisors and managers are Arbetsledare och chef), and levels up as years pass.
Enrolment records the level changes (`ParticipantLevelChanged`); certification's Stationen
shows administrators whose level-up is due. Both read the rule here.
"""

from __future__ import annotations

import datetime as dt

from shared.events.models import Level

# What a Swedish reader sees for a level or a journey (intyg, credentials, Stationen, pages).
LEVEL_NAMES = {"ny": "Ny", "van": "Van", "erfaren": "Erfaren", "chef": "Arbetsledare och chef"}
JOURNEY_NAMES = {"barn_och_unga": "Barn och unga"}

SUPERVISOR_ROLES = frozenset({"arbetsledare", "chef", "enhetschef", "sektionschef"})

# Years in the profession at which a level is reached; supervisors and managers are Chef.
LEVEL_THRESHOLDS: tuple[tuple[float, Level], ...] = ((2.0, Level.VAN), (5.0, Level.ERFAREN))
_RANK = {Level.NY: 0, Level.VAN: 1, Level.ERFAREN: 2}
YEAR = dt.timedelta(days=365.25)


def level_for(role: str, years_in_profession: float) -> Level:
    """Ny under 2 years, Van 2 to under 5, Erfaren 5 and more; supervisors and managers Chef."""
    if role in SUPERVISOR_ROLES:
        return Level.CHEF
    if years_in_profession < 2:
        return Level.NY
    if years_in_profession < 5:
        return Level.VAN
    return Level.ERFAREN


def levels_reached(
    role: str, years_at_registration: float, registered_at: dt.datetime, as_of: dt.date
) -> list[tuple[Level, dt.datetime]]:
    """The levels the years in the profession reach after registration, up to and including
    the date `as_of` (UTC), each with the moment it was reached. Chef stays Chef."""
    if role in SUPERVISOR_ROLES:
        return []
    reached = []
    for threshold, level in LEVEL_THRESHOLDS:
        if years_at_registration < threshold:
            at = registered_at + (threshold - years_at_registration) * YEAR
            if at.astimezone(dt.UTC).date() <= as_of:
                reached.append((level, at))
    return reached


def is_higher(level: Level, than: Level) -> bool:
    return level in _RANK and than in _RANK and _RANK[level] > _RANK[than]
