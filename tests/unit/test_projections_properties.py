"""The contract's order-and-duplicates rule, proved over generated logs: shuffle, duplicate,
re-report, add or drop derived events, and every projection gives the same documents."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections import Counter
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.events import Envelope, new_envelope
from shared.events.models import AttendanceWithdrawn, YearClosed
from shared.projections import Completions, Invoices, Pot, Progression
from tests.unit.logs import (
    REGIONS,
    TIMES,
    YEARS,
    all_results,
    bogus_derived,
    derived_events,
    fact_logs,
    facts_only,
    fold,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(fact_logs(), st.randoms(use_true_random=False))
def test_any_delivery_order_gives_the_same_documents(
    log: list[Envelope], rnd: random.Random
) -> None:
    shuffled = list(log)
    rnd.shuffle(shuffled)
    assert all_results(shuffled) == all_results(log)


@SETTINGS
@given(fact_logs(), st.randoms(use_true_random=False))
def test_a_redelivered_event_is_applied_once(log: list[Envelope], rnd: random.Random) -> None:
    redelivered = list(log) + [rnd.choice(log) for _ in range(len(log) // 2)] if log else []
    rnd.shuffle(redelivered)
    assert all_results(redelivered) == all_results(log)


@SETTINGS
@given(fact_logs(), st.randoms(use_true_random=False))
def test_a_day_reported_twice_counts_once(log: list[Envelope], rnd: random.Random) -> None:
    """The same (participant, occasion, day) or (trainer, occasion, day) under new event ids.

    An attendance repeated later is the same attendance; a trainer-day repeated with the same
    role and municipality is the same delivery, whenever it is reported (where the log holds
    two different reports of one trainer-day, the latest decides, so those are left alone).
    """
    trainer_days = Counter(
        (e.data.trainer_id, e.data.occasion_id, e.data.day)  # type: ignore[attr-defined]
        for e in log
        if e.type == "TrainerDayDelivered"
    )
    repeats = []
    for env in log:
        # a repeat is recorded no earlier than the report it repeats: a closed year's view
        # that holds the repeat holds the first report too
        recorded = env.recorded_at or env.occurred_at
        if env.type == "CourseDayAttended":
            later = rnd.choice([t for t in TIMES if t >= env.occurred_at])
            repeats.append(new_envelope(env.data, occurred_at=later, id=uuid.uuid4(),
                                        recorded_at=max(later, recorded)))
        elif env.type == "TrainerDayDelivered":
            data = env.data
            if trainer_days[(data.trainer_id, data.occasion_id, data.day)] == 1:  # type: ignore[attr-defined]
                when = rnd.choice(TIMES)
                repeats.append(new_envelope(data, occurred_at=when, id=uuid.uuid4(),
                                            recorded_at=max(when, recorded)))
    reported_twice = log + repeats
    rnd.shuffle(reported_twice)
    assert all_results(reported_twice) == all_results(log)


@SETTINGS
@given(fact_logs(), bogus_derived, st.randoms(use_true_random=False))
def test_derived_events_change_nothing(
    log: list[Envelope], bogus: list[Envelope], rnd: random.Random
) -> None:
    """Present or dropped, consistent or not: results come from the facts."""
    with_derived = log + derived_events(log) + bogus
    rnd.shuffle(with_derived)
    assert all_results(with_derived) == all_results(log)
    assert all_results(facts_only(with_derived)) == all_results(log)


@SETTINGS
@given(fact_logs(), st.randoms(use_true_random=False))
def test_completions_are_reported_as_they_happen(log: list[Envelope], rnd: random.Random) -> None:
    """What `changes` reports, step by step, adds up to the completions held; duplicates
    report nothing (the certification service emits each certificate once)."""
    completions = Completions()
    held: set[tuple[str, str, str]] = set()
    delivered = log + [rnd.choice(log) for _ in range(3)] if log else []
    for env in delivered:
        changes = completions.changes(env)
        assert not held & set(changes.added)
        assert set(changes.removed) <= held
        held = (held - set(changes.removed)) | set(changes.added)
    assert held == completions.completed


@SETTINGS
@given(fact_logs(max_facts=25), st.randoms(use_true_random=False))
def test_progression_names_every_row_it_changes(log: list[Envelope], rnd: random.Random) -> None:
    progression = Progression()
    participants = {p for env in log if (p := getattr(env.data, "participant_id", None))}
    before = {p: progression.participant(p) for p in participants}
    for env in log + [rnd.choice(log) for _ in range(3)] if log else []:
        changed = progression.apply(env)
        after = {p: progression.participant(p) for p in participants}
        assert {p for p in participants if after[p] != before[p]} <= set(changed)
        before = after


@SETTINGS
@given(fact_logs())
def test_the_pot_is_divided_exactly_and_invoiced_once(log: list[Envelope]) -> None:
    results = all_results(log)
    pot_fold = fold(Pot, log)
    for region in REGIONS:
        for year in YEARS:
            pot = results[f"pot/{region}/{year}"]
            invoices = results[f"invoices/{region}/{year}"]
            amounts = [t["amount_sek"] for t in pot["trainers"]]
            if pot["total_points"] > 0:
                assert sum(amounts) == pot["pot_sek"]
                assert sum(pot["municipalities"].values()) == pot["pot_sek"]
                exact = pot_fold.distribution(region, year)
                for share in exact.trainers:
                    quota = Fraction(pot["pot_sek"]) * share.points / exact.total_points
                    assert quota - 1 < share.amount_sek < quota + 1
            else:
                assert pot["trainers"] == [] and pot["municipalities"] == {}
            rows = invoices["municipalities"]
            credits = sum(r["pot_credit_sek"] for r in rows)
            assert credits == sum(pot["municipalities"].values())
            adjustments = sum(r["adjustment_sek"] for r in rows)
            assert sum(r["net_sek"] for r in rows) == (
                sum(r["gross_sek"] for r in rows) - credits + adjustments)
            days = sum(r["participant_days"] for r in rows)
            pot_per_day = pot["pot_sek"] // days if days else 0
            assert pot["pot_sek"] == days * pot_per_day


LATE = TIMES[-1] + dt.timedelta(days=30)  # after every time of the small world
EARLY = TIMES[0] - dt.timedelta(days=30)  # before every time of the small world


@SETTINGS
@given(fact_logs(), fact_logs(max_facts=15), st.randoms(use_true_random=False))
def test_what_is_recorded_after_a_close_changes_nothing_in_the_closed_year(
    log: list[Envelope], more: list[Envelope], rnd: random.Random
) -> None:
    """Closed years: a closed year's pot and invoice basis are those of its closed view, so
    events recorded after every close (late reports, withdrawals, moves, re-plans, prices,
    trainer days) leave them as they were; whatever they change about that year shows as the
    next year's adjustment, and the closed days plus the adjustment are the whole log's days."""
    closes = [new_envelope(YearClosed(region_id=r, year=2024), occurred_at=rnd.choice(TIMES))
              for r in REGIONS]
    late = [e.model_copy(update={"recorded_at": LATE, "id": uuid.uuid4()}) for e in more
            if e.type != "YearClosed"]
    before, after = fold(Invoices, log + closes), fold(Invoices, log + closes + late)
    pot_before, pot_after = fold(Pot, log + closes), fold(Pot, log + closes + late)
    for region in REGIONS:
        assert after.result(region, 2024) == before.result(region, 2024)
        assert pot_after.result(region, 2024) == pot_before.result(region, 2024)
        whole = after.facts.participant_days(region, 2024)
        closed = {r["municipality_id"]: r["participant_days"]
                  for r in after.result(region, 2024)["municipalities"]}
        if after.facts.closed_at(region, 2025) is None:
            adjusted = {r["municipality_id"]: r["adjustment_days"]
                        for r in after.result(region, 2025)["municipalities"]}
            for m in whole.keys() | closed.keys() | adjusted.keys():
                assert closed.get(m, 0) + adjusted.get(m, 0) == whole[m]


@SETTINGS
@given(fact_logs(), st.randoms(use_true_random=False))
def test_withdrawn_days_count_nowhere(log: list[Envelope], rnd: random.Random) -> None:
    """Withdrawing every reported day of one participant on one occasion, in any order and
    before or after the reports, leaves them no completion there and no day charged. (The
    withdrawals are recorded before any close: one recorded after a close shows as the next
    year's adjustment instead, as the closed-year property checks.)"""
    reported = [e for e in log if e.type == "CourseDayAttended"]
    if not reported:
        return
    chosen = rnd.choice(reported).data
    p, o = chosen.participant_id, chosen.occasion_id  # type: ignore[attr-defined]
    withdrawals = [
        new_envelope(AttendanceWithdrawn(participant_id=p, occasion_id=o, day=d, reason="fel"),
                     occurred_at=rnd.choice(TIMES), recorded_at=EARLY)
        for d in range(1, 5)
    ]
    mixed = log + withdrawals
    rnd.shuffle(mixed)
    assert not {c for c in fold(Completions, mixed).completed if c[0] == p and c[2] == o}
    without = [e for e in log if not (e.type == "CourseDayAttended"
                                      and e.data.participant_id == p  # type: ignore[attr-defined]
                                      and e.data.occasion_id == o)]  # type: ignore[attr-defined]
    billed, expected = fold(Invoices, mixed), fold(Invoices, without + withdrawals)
    for region in REGIONS:
        for year in YEARS:
            assert billed.result(region, year) == expected.result(region, year)
