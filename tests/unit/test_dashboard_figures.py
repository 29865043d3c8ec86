"""The dashboard's figures: one answer for any delivery order and any redelivery, and no
personal data in them."""

from __future__ import annotations

import datetime as dt
import pickle
import random

import orjson

from services.dashboard.figures import Figures
from shared.events import new_envelope
from shared.events.models import (
    AttendanceWithdrawn,
    CertificateIssued,
    CertificateRevoked,
    PriceListSet,
    RegionRegistered,
    YearClosed,
)
from shared.projections.evaluations import Evaluations
from shared.projections.pot import Pot
from yrkesresan.demo import demo_envelopes


def _document(envs: list) -> dict:  # type: ignore[type-arg]
    fold = Figures()
    for env in envs:
        fold.apply(env)
    return fold.document()


def test_any_order_and_redelivery_give_the_same_figures() -> None:
    envs = list(demo_envelopes(30, seed=3))
    shuffled = envs + envs[:200]
    random.Random(5).shuffle(shuffled)
    assert _document(shuffled) == _document(envs)


def test_the_figures_name_no_participant_trainer_or_respondent() -> None:
    envs = list(demo_envelopes(30, seed=3))
    ids = {getattr(env.data, field) for env in envs
           for field in ("participant_id", "trainer_id", "respondent_id")
           if hasattr(env.data, field)}
    text = orjson.dumps(_document(envs)).decode()
    assert not [i for i in ids if i in text]


def test_nation_adds_up_its_regions_and_municipalities() -> None:
    cells = _document(list(demo_envelopes(30, seed=3)))["cells"]
    nation = cells["nation:SE"]
    municipalities = [c for c in cells.values() if c["dimension"] == "municipality"]
    assert sum(c["participant_days"] for c in municipalities) == nation["participant_days"]
    assert sum(c["registered"] for c in municipalities) == nation["registered"]
    assert sum(c["certificates"] for c in municipalities) == nation["certificates"]


def test_figures_kept_batch_by_batch_equal_a_recount() -> None:
    """What `changed_cells` keeps up to date, batch after batch, is what counting everything
    afresh gives, whatever the order and the batch sizes (redeliveries included)."""
    envs = list(demo_envelopes(25, seed=4))
    shuffled = envs + envs[:300]
    random.Random(9).shuffle(shuffled)
    fold = Figures()
    rng = random.Random(2)
    position = 0
    while position < len(shuffled):
        size = rng.choice([1, 7, 50, 400])
        for env in shuffled[position:position + size]:
            fold.apply(env)
        position += size
        fold.changed_cells()
        if rng.random() < 0.1:
            kept = fold.cells()
            assert kept == fold.recount()
    assert fold.cells() == fold.recount() == _document(envs)["cells"]


def test_pot_so_far_is_the_pot_rules_closed_views_included() -> None:
    """A region's pot in the figures is what `yrkesresan replay pot` gives, year by year: the
    closed view's for a closed year (the demo reports days late, after the close, and
    withdraws some), and the nation's pot is the sum of the regions'."""
    envs = list(demo_envelopes(30, seed=3))
    pot = Pot()
    for env in envs:
        pot.apply(env)
    closes = {(e.data.region_id, e.data.year): e for e in envs if isinstance(e.data, YearClosed)}
    closed = set(closes)
    # a day of a closed year withdrawn after the close: the whole log loses it, the pot not
    day = next(d for d in pot.facts.counted_days()
               if (d.plan.region_id, d.date.year) in closed)
    close = closes[day.plan.region_id, day.date.year]
    late = (close.recorded_at or close.occurred_at) + dt.timedelta(days=3)
    envs.append(new_envelope(AttendanceWithdrawn(
        participant_id=day.participant_id, occasion_id=day.plan.occasion_id, day=day.day,
        reason="rapporterad av misstag"),
        occurred_at=late, recorded_at=late))
    pot.apply(envs[-1])
    cells = _document(envs)["cells"]
    late = [(r, y) for r, y in closed
            if sum(pot.facts.participant_days(r, y).values()) * pot.facts.prices.trainer_pot(r, y)
            != pot.result(r, y)["pot_sek"]]
    assert late, "the demo has a closed year whose whole log differs from its closed view"
    regions = [c for c in cells.values() if c["dimension"] == "region"]
    shown = {(c["id"], int(y)): sek for c in regions for y, sek in c["pot_by_year"].items()}
    assert set(late) <= shown.keys()
    for (region_id, year), sek in shown.items():
        assert sek == pot.result(region_id, year)["pot_sek"], (region_id, year)
    assert cells["nation:SE"]["pot_sek"] == sum(shown.values())
    for dimension in ("municipality", "journey", "level", "course", "month"):
        assert sum(c["pot_sek"] for c in cells.values()
                   if c["dimension"] == dimension) == sum(shown.values()), dimension


def test_evaluation_means_by_mode_are_the_evaluation_rules() -> None:
    """Per course and mode the dashboard's means and response count are the `evaluations`
    projection's (which response counts, how a mean is taken)."""
    envs = list(demo_envelopes(30, seed=3))
    cells = _document(envs)["cells"]
    evaluations = Evaluations()
    for env in envs:
        evaluations.apply(env)
    rows = evaluations.result()["courses"]
    assert any(row["by_mode"] for row in rows)
    for row in rows:
        shown = cells[f"course:{row['course_id']}"]["evaluations"]
        for mode, held in row["by_mode"].items():
            assert shown[mode]["responses"] == held["responses"]
            assert shown[mode]["mean_scores"] == {
                q: round(m, 3) for q, m in held["mean_scores"].items()}


def test_a_reference_event_recounts_only_what_it_touches() -> None:
    """A region's new name changes its cell alone; a price list the pot of its region and
    year alone (not every participant's figures); the figures still equal a recount."""
    envs = list(demo_envelopes(25, seed=4))
    fold = Figures()
    for env in envs:
        fold.apply(env)
    fold.cells()
    region = next(e.data for e in envs if isinstance(e.data, RegionRegistered))
    renamed = new_envelope(RegionRegistered(region_id=region.region_id, name="Nytt namn"),
                           occurred_at=dt.datetime.now(dt.UTC))
    fold.apply(renamed)
    assert fold._dirty == set()  # nothing to recount: a name
    assert set(fold.changed_cells()) == {f"region:{region.region_id}"}
    price = next(e for e in envs if isinstance(e.data, PriceListSet))
    moment = price.occurred_at + dt.timedelta(seconds=1)  # recorded before any close
    raised = new_envelope(price.data.model_copy(update={"components": price.data.components
                          .model_copy(update={"trainer_pot": price.data.components.trainer_pot
                                              + 10})}), occurred_at=moment, recorded_at=moment)
    before = fold.cells()[f"region:{price.data.region_id}"]["pot_by_year"][str(price.data.year)]
    fold.apply(raised)
    assert fold._dirty and {source[:3] for source in fold._dirty} == {
        ("pot", price.data.region_id, str(price.data.year))}  # its occasions' parts of the pot
    changed = fold.changed_cells()
    after = changed[f"region:{price.data.region_id}"]["pot_by_year"]  # type: ignore[index]
    assert after[str(price.data.year)] > before
    assert fold.cells() == fold.recount()


def test_the_fold_pickled_for_a_snapshot_goes_on_as_the_live_one() -> None:
    """The worker's runner snapshots the fold (ADR 0020): a fold restored from its pickle and
    given the rest of the log ends with the figures of one that never stopped."""
    envs = list(demo_envelopes(20, seed=6))
    half = len(envs) // 2
    fold = Figures()
    for env in envs[:half]:
        fold.apply(env)
    fold.changed_cells()
    restored = pickle.loads(pickle.dumps(fold, protocol=pickle.HIGHEST_PROTOCOL))
    for env in envs[half:]:
        restored.apply(env)
    assert restored.cells() == _document(envs)["cells"]


def test_certificates_are_those_issued_and_not_revoked() -> None:
    """The certificates figure is CertificateIssued less CertificateRevoked (CONTRACT.md), not
    the completions: live, a completion's certificate may not be issued yet, and a revocation
    may arrive before the withdrawn day behind it. Batch by batch as a recount."""
    envs = list(demo_envelopes(25, seed=4))
    revoked = {e.data.certificate_id for e in envs if isinstance(e.data, CertificateRevoked)}
    standing = [e for e in envs
                if isinstance(e.data, CertificateIssued) and e.data.certificate_id not in revoked]
    late = standing[-10:]  # the certification service has not issued these yet
    fold = Figures()
    for env in envs:
        if env not in late:
            fold.apply(env)
    nation = fold.cells()["nation:SE"]
    assert nation["certificates"] == len(standing) - len(late)
    assert nation["completions"] == len(standing)
    for env in late:
        fold.apply(env)
    changed = fold.changed_cells()["nation:SE"]
    assert changed is not None and changed["certificates"] == len(standing)
    course_id = late[0].data.course_id
    course = fold.cells()[f"course:{course_id}"]["certificates"]
    assert course == sum(1 for e in standing if e.data.course_id == course_id)
    revocation = new_envelope(CertificateRevoked(
        certificate_id=late[0].data.certificate_id, reason="dagen återkallad",
        participant_id=late[0].data.participant_id), occurred_at=dt.datetime.now(dt.UTC))
    fold.apply(revocation)  # before the withdrawal that caused it
    cells = fold.cells()
    assert cells["nation:SE"]["certificates"] == len(standing) - 1
    assert cells["nation:SE"]["completions"] == len(standing)
    assert cells[f"course:{course_id}"]["certificates"] == course - 1
    assert cells == fold.recount()


def test_a_certificate_issued_twice_stands_as_the_later_issue_in_either_order() -> None:
    """A certificate's id is minted for one issue; should two `CertificateIssued` of one id
    differ (not a redelivery: ids of their own), the later issue stands whichever comes first,
    as the latest stamp did before the fold kept no stamps for certificates."""
    envs = list(demo_envelopes(12, seed=6))
    first = next(e for e in envs if isinstance(e.data, CertificateIssued))
    later = new_envelope(first.data.model_copy(update={}), occurred_at=(
        first.occurred_at + dt.timedelta(days=40)))
    assert later.id != first.id
    forwards, backwards = Figures(), Figures()
    for env in [*envs, later]:
        forwards.apply(env)
    for env in [later, *envs]:
        backwards.apply(env)
    assert forwards.document() == backwards.document()
    days = forwards.cells()["nation:SE"]["days_to_certificate"]
    alone = _document(envs)["cells"]["nation:SE"]["days_to_certificate"]
    assert days["count"] == alone["count"] and days["mean"] > alone["mean"]
