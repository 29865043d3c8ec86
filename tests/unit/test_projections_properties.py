"""The contract's order-and-duplicates rule, proved over generated logs: shuffle, duplicate,
re-report, add or drop derived events, and every projection gives the same documents."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.events import Envelope, new_envelope
from shared.projections import Completions, Pot, Progression
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
        if env.type == "CourseDayAttended":
            later = [t for t in TIMES if t >= env.occurred_at]
            repeats.append(new_envelope(env.data, occurred_at=rnd.choice(later), id=uuid.uuid4()))
        elif env.type == "TrainerDayDelivered":
            data = env.data
            if trainer_days[(data.trainer_id, data.occasion_id, data.day)] == 1:  # type: ignore[attr-defined]
                repeats.append(new_envelope(data, occurred_at=rnd.choice(TIMES), id=uuid.uuid4()))
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
            assert sum(r["net_sek"] for r in rows) == sum(r["gross_sek"] for r in rows) - credits
            days = sum(r["participant_days"] for r in rows)
            pot_per_day = pot["pot_sek"] // days if days else 0
            assert pot["pot_sek"] == days * pot_per_day
