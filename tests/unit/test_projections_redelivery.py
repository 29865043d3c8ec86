"""The idempotency rule without sets of seen ids: every event delivered twice (at once, and
again later) changes no document, and its second delivery reports no change, in every fold
that kept a set of the ids it applied before (completions, evaluations, the billing facts) and
in those built on them (progression, the pot and invoices, certification's facts and its
turns, the dashboard's figures). A fold that counted a redelivery (a day, a response, a
completion gained again) fails here."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.certification.projections.facts import CertificationFacts
from services.dashboard.figures import Figures
from shared.events import Envelope
from shared.projections import Completions, Evaluations, Invoices, Pot
from shared.projections.billing import BillingFacts
from shared.projections.completions import NO_CHANGES
from tests.unit.logs import REGIONS, YEARS, all_results, fact_logs
from yrkesresan.demo import demo_envelopes

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _twice(log: list[Envelope], rnd: random.Random) -> list[Envelope]:
    """Each event at once again, and a random half of them once more later."""
    doubled = [env for env in log for _ in range(2)]
    for env in rnd.sample(log, len(log) // 2):
        doubled.insert(rnd.randrange(doubled.index(env) + 1, len(doubled) + 1), env)
    return doubled


def _regions_and_years(log: list[Envelope]) -> tuple[list[str], list[int]]:
    regions = {*REGIONS, *(r for env in log if (r := getattr(env.data, "region_id", None)))}
    years = {*YEARS, *(env.occurred_at.year for env in log)}
    return sorted(regions), sorted(years)


def _results(log: list[Envelope]) -> dict[str, Any]:
    """`all_results`, with the pot and invoices of every region and year the log names,
    certification's facts and the dashboard's figures beside it, and what each first delivery
    reported; a redelivery must report nothing."""
    out = all_results(log)
    completions, evaluations, facts, billing, pot, invoices, figures = (
        Completions(), Evaluations(), CertificationFacts(), BillingFacts(), Pot(), Invoices(),
        Figures())
    reported: list[Any] = []
    seen: set[Any] = set()
    for env in log:
        changes = completions.changes(env)
        courses, evaluated = evaluations.changes(env)
        touched = facts.apply(env)
        billing.apply(env)
        pot.apply(env)
        invoices.apply(env)
        figures.apply(env)
        if env.id in seen:
            assert changes is NO_CHANGES, env.type
            assert evaluated is NO_CHANGES and not courses, env.type
            assert touched.changes is NO_CHANGES and not touched.gains and not touched.losses
            continue
        seen.add(env.id)
        reported.append((env.id, changes, sorted(courses), evaluated, touched.changes,
                         touched.gains, touched.losses))
    out["reported"] = reported
    out["certification"] = (sorted(facts.turns.items()), facts.evaluations.result(),
                            sorted(facts.completions.completed))
    regions, years = _regions_and_years(log)
    for region in regions:
        out[f"regional/{region}"] = facts.regional.result(region)
        for year in years:
            out[f"pot/{region}/{year}"] = pot.result(region, year)
            out[f"invoices/{region}/{year}"] = invoices.result(region, year)
            out[f"billing/{region}/{year}"] = (
                sorted(billing.participant_days(region, year).items()),
                sorted(billing.trainer_points(region, year).items()))
    out["figures"] = figures.document()
    return out


@SETTINGS
@given(fact_logs(), st.randoms(use_true_random=False))
def test_every_event_delivered_twice_changes_nothing(log: list[Envelope],
                                                     rnd: random.Random) -> None:
    assert _results(_twice(log, rnd)) == _results(log)


def test_the_demo_log_delivered_twice_gives_the_same_documents() -> None:
    """A realistic log (moves, withdrawals, re-plans, certificates and revocations)."""
    log = list(demo_envelopes(25, seed=7, years=2, regions=2))
    once = _results(log)
    assert once["figures"]["cells"]["nation:SE"]["participant_days"] > 0
    # completions were gained (and their turns counted: `touched.gains`; the facts keep the
    # turns of the completions lost at least once only)
    assert once["certification"][2] and any(gains for *_, gains, _ in once["reported"])
    assert any(p["pot_sek"] for k, p in once.items() if k.startswith("pot/"))
    assert _results(_twice(log, random.Random(11))) == once
