"""The history behind each completion and certificate (revisionsspår), for auditors.

The certification consumer keeps every contract event it applies that a completion can rest
on, as the envelope that arrived (ids, both times, the pseudonymous actor; never a name, which
no event carries), under the subjects it concerns: `participant:<id>` (registration, moves,
level, bookings, days attended or withdrawn, preparations, completions and certificates),
`occasion:<id>` (its plans, re-plans, cancellation), `course:<id>` (its publications) and
`certificate:<id>` (its revocation, which names only the certificate). They are written in
the transaction that records the envelope applied, so a rebuild writes the same rows.

A participant's history is their own events and those of the occasions, courses and
certificates these name, ordered by recording time: `recorded_at`, or `occurred_at` where an
event has none (CONTRACT.md, closed years). "As of" a moment is the same history restricted to
what was recorded by then, and the participant's progression then is the `Progression` fold
over it (the fold `yrkesresan replay progression` runs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import orjson

from shared.events import Envelope, parse_envelope
from shared.events.fields import field_of
from shared.platform.db import utc_text
from shared.projections import Progression
from shared.projections.versions import recorded_of

OCCASION_FACTS = frozenset({"CourseOccasionPlanned", "CourseOccasionRescheduled",
                            "CourseOccasionCancelled"})


recording_time = recorded_of  # `recorded_at`, else `occurred_at` (CONTRACT.md, closed years)


def sort_key(moment: dt.datetime) -> str:
    """A recording time as text that sorts in time order (UTC, microseconds)."""
    return utc_text(moment) + "Z"


def subjects(env: Envelope) -> list[str]:
    """What the event concerns, as `cert_history` keeps it; [] for what no completion rests
    on (trainers, prices, regions, evaluations, which name no participant)."""
    data = env.data
    if env.type == "CertificateRevoked":
        return [f"certificate:{data.certificate_id}"]  # type: ignore[attr-defined]
    participant_id = field_of(data, "participant_id")
    if participant_id is not None:
        return [f"participant:{participant_id}"]
    if env.type in OCCASION_FACTS:
        return [f"occasion:{data.occasion_id}"]  # type: ignore[attr-defined]
    if env.type == "CoursePublished":
        return [f"course:{data.course_id}"]  # type: ignore[attr-defined]
    return []


def rows(envelopes: Iterable[Envelope]) -> list[tuple[str, str, str, str]]:
    """(subject, event id, recording time, envelope) for the envelopes worth keeping."""
    return [(subject, str(env.id), sort_key(recording_time(env)), env.to_json().decode())
            for env in envelopes for subject in subjects(env)]


# -- the document -------------------------------------------------------------------------------

BEHIND_A_COMPLETION = {
    # type -> which field ties it to a completion (course or occasion)
    "ParticipantBooked": "occasion_id", "BookingCancelled": "occasion_id",
    "CourseDayAttended": "occasion_id", "AttendanceWithdrawn": "occasion_id",
    "CourseOccasionPlanned": "occasion_id", "CourseOccasionRescheduled": "occasion_id",
    "CourseOccasionCancelled": "occasion_id",
    "PreparationCompleted": "course_id", "CoursePublished": "course_id",
}


def entry(env: Envelope) -> dict[str, Any]:
    service, _, _ = (env.stream_id or "").partition(":")
    return {"event_id": str(env.id), "type": env.type,
            "occurred_at": env.occurred_at.isoformat(),
            "recorded_at": recording_time(env).isoformat(),
            "recorded_by": env.actor, "service": service or None, "position": env.position,
            "data": env.data.model_dump(mode="json")}


def document(participant_id: str, envelopes: list[Envelope]) -> dict[str, Any]:
    """The participant's history, and per completion (course and occasion) the events behind
    it and its certificates as the events tell (issued, revoked and why), each list in
    recording order."""
    ordered = sorted(envelopes, key=lambda e: (sort_key(recording_time(e)),
                                               e.position or 0, str(e.id)))
    issued: dict[str, tuple[str, str]] = {}  # certificate -> (course, occasion)
    certificates: dict[str, dict[str, Any]] = {}
    pairs: set[tuple[str, str]] = set()
    for env in ordered:
        data: Any = env.data
        if env.type in ("CourseCompleted", "CertificateIssued"):
            pairs.add((data.course_id, data.occasion_id))
        if env.type == "CertificateIssued":
            issued[data.certificate_id] = (data.course_id, data.occasion_id)
            certificates[data.certificate_id] = {
                "certificate_id": data.certificate_id, "status": "valid",
                "issued_at": recording_time(env).isoformat(), "revoked_at": None,
                "reason": None}
        elif env.type == "CertificateRevoked" and data.certificate_id in certificates:
            certificates[data.certificate_id] |= {
                "status": "revoked", "revoked_at": recording_time(env).isoformat(),
                "reason": data.reason}
    completions = []
    for course_id, occasion_id in sorted(pairs):
        completions.append({
            "course_id": course_id, "occasion_id": occasion_id,
            "certificates": [c for cid, c in certificates.items()
                             if issued[cid] == (course_id, occasion_id)],
            "events": [entry(e) for e in ordered
                       if _behind(e, course_id, occasion_id, issued)]})
    return {"participant_id": participant_id, "completions": completions,
            "events": [entry(e) for e in ordered]}


def _behind(env: Envelope, course_id: str, occasion_id: str,
            issued: dict[str, tuple[str, str]]) -> bool:
    data = env.data
    if env.type in ("CourseCompleted", "CertificateIssued"):
        return (getattr(data, "course_id", None), getattr(data, "occasion_id", None)) == (
            course_id, occasion_id)
    if env.type == "CertificateRevoked":
        return issued.get(getattr(data, "certificate_id", "")) == (course_id, occasion_id)
    field = BEHIND_A_COMPLETION.get(env.type)
    if field is None:
        return False
    return getattr(data, field, None) == (course_id if field == "course_id" else occasion_id)


def progression_of(participant_id: str, envelopes: Iterable[Envelope]) -> dict[str, Any] | None:
    """The participant's row of the `progression` projection over these events."""
    fold = Progression()
    appliers = fold.appliers
    for env in envelopes:
        apply = appliers.get(env.type)
        if apply is not None:
            apply(env)
    found = [r for r in fold.result()["participants"] if r["participant_id"] == participant_id]
    return found[0] if found else None


def parse(bodies: Iterable[str]) -> list[Envelope]:
    """The kept envelopes, each once (an envelope may be kept under several subjects)."""
    seen: dict[str, Envelope] = {}
    for body in bodies:
        event_id = orjson.loads(body)["id"]
        if event_id not in seen:
            seen[event_id] = parse_envelope(body)
    return list(seen.values())
