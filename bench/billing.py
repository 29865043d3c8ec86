"""Year close of a region with 20,000 participants' year: 1,000 occasions of four days with 20
participants each (80,000 participant-days) and a leader and two trainers a day (12,000
trainer-days), fed to the billing consumer's runner on a fresh PostgreSQL database as the bus
would bring them. Then a billing API process that has read nothing yet closes the year:
`POST /regions/{region}/years/{year}/close`, which folds every fact from the database, divides
the pot and records `YearClosed` and `PotDistributed`. Prints the close (cold, and the invoice
basis of a municipality right after it, warm) next to a baseline measured in the same run: the
same fold over the same events as a log file (`yrkesresan replay pot`, in process). Asserts
nothing.

    .venv/bin/python bench/billing.py [--participants 20000]

The issue's target: the year close under 10 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fastapi.testclient import TestClient  # noqa: E402

from bench._common import scratch_database  # noqa: E402
from services.billing import application as billing_app  # noqa: E402
from services.billing.adapters.http import create_api  # noqa: E402
from shared.events import Envelope, new_envelope  # noqa: E402
from shared.events import models as m  # noqa: E402
from shared.platform.auth import Principal, Role, issue_token, jwks_source  # noqa: E402
from shared.platform.settings import Settings  # noqa: E402
from yrkesresan.replay import replay  # noqa: E402

REGION, YEAR = "rss-bench", 2025
PER_OCCASION, DAYS, MUNICIPALITIES = 20, 4, 12
UTC = dt.UTC


def year_of(participants: int) -> list[Envelope]:
    """The region's year as contract envelopes, in the order the bus might bring them."""
    when = dt.datetime(YEAR, 1, 2, 8, tzinfo=UTC)
    municipalities = [f"kommun-{i:02d}" for i in range(MUNICIPALITIES)]
    out = [new_envelope(m.RegionRegistered(region_id=REGION, name="RSS Bench"), occurred_at=when)]
    out += [new_envelope(m.MunicipalityJoined(municipality_id=k, name=k, region_id=REGION),
                         occurred_at=when) for k in municipalities]
    people = [f"p{i:06d}" for i in range(participants)]
    out += [new_envelope(m.ParticipantRegistered(
        participant_id=p, municipality_id=municipalities[i % MUNICIPALITIES],
        journey="barn_och_unga", role="socialsekreterare", level="ny", years_in_profession=1),
        occurred_at=when) for i, p in enumerate(people)]
    trainers = [f"t{i:04d}" for i in range(participants // PER_OCCASION // 4 * 3 + 3)]
    for o in range(participants // PER_OCCASION):
        occasion = f"o{o:05d}"
        start = dt.date(YEAR, 1, 10) + dt.timedelta(days=o % 330)
        days = tuple(m.CourseDay(day=d, date=start + dt.timedelta(days=7 * (d - 1) % 30),
                                 mode="on_site") for d in range(1, DAYS + 1))
        out.append(new_envelope(m.CourseOccasionPlanned(
            occasion_id=occasion, course_id="bou-ny-handlaggning", region_id=REGION,
            capacity=PER_OCCASION, days=days), occurred_at=when))
        team = trainers[(o % (len(trainers) // 3)) * 3:][:3]
        for d in days:
            at = dt.datetime.combine(d.date, dt.time(16), UTC)
            out += [new_envelope(m.CourseDayAttended(participant_id=p, occasion_id=occasion,
                                                     day=d.day), occurred_at=at)
                    for p in people[o * PER_OCCASION:(o + 1) * PER_OCCASION]]
            out += [new_envelope(m.TrainerDayDelivered(
                occasion_id=occasion, day=d.day, trainer_id=t,
                municipality_id=municipalities[int(t[1:]) % MUNICIPALITIES],
                role="leader" if n == 0 else "trainer"), occurred_at=at)
                for n, t in enumerate(team)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--participants", type=int, default=20_000)
    args = parser.parse_args()
    # the API in this process trusts the key its tokens are signed with (an absolute path)
    os.environ.setdefault("YRKESRESAN_AUTH_JWKS", str(Path(jwks_source(Settings())).resolve()))
    envelopes = year_of(args.participants)
    lines = [e.to_json() for e in envelopes]
    print(f"{args.participants} participants, {len(envelopes)} events "
          f"({sum(e.type == 'CourseDayAttended' for e in envelopes)} participant-days)")
    with scratch_database() as url:
        billing_app.migrate(url)
        fed = billing_app.bootstrap(url)
        runner = fed.runner()
        started = time.perf_counter()
        for i in range(0, len(envelopes), 2000):
            runner.apply_batch(envelopes[i:i + 2000])
        consumed = time.perf_counter() - started
        fed.close()
        print(f"consumer: {len(envelopes) / consumed:,.0f} events/s applied "
              f"({consumed:.1f} s for the year)")

        started = time.perf_counter()
        baseline = replay("pot", lines, REGION, YEAR)
        replayed = time.perf_counter() - started

        service = billing_app.bootstrap(url)  # a fresh API process: nothing folded yet
        token = issue_token(Principal(subject="bench", role=Role.REGIONAL_COORDINATOR,
                                      region_id=REGION))
        headers = {"Authorization": f"Bearer {token}"}
        with TestClient(create_api(service)) as client:
            started = time.perf_counter()
            closed = client.post(f"/regions/{REGION}/years/{YEAR}/close", headers=headers)
            close = time.perf_counter() - started
            assert closed.status_code == 201, closed.text
            started = time.perf_counter()
            invoice = client.get(f"/regions/{REGION}/years/{YEAR}/invoices/kommun-00",
                                 headers=headers)
            warm = time.perf_counter() - started
            assert invoice.status_code == 200, invoice.text
        service.close()
    pot = closed.json()["pot"]
    assert pot["pot_sek"] == baseline["pot_sek"], (pot["pot_sek"], baseline["pot_sek"])
    print(f"pot {pot['pot_sek']:,} kr among {len(pot['trainers'])} trainers")
    print(f"year close, cold API (fold {len(envelopes)} facts from the database, divide, "
          f"record): {close:.2f} s (goal < 10 s: {'meets' if close < 10 else 'MISSES'})")
    print(f"a municipality's invoice basis right after (warm): {warm * 1000:.0f} ms")
    print(f"baseline, the same fold over the same events as a log file (replay pot): "
          f"{replayed:.2f} s; the close takes {close / replayed:.1f}x the baseline")


if __name__ == "__main__":
    main()
