"""Evaluations (uppföljningsenkät): how many who completed a course answered, and what.

Completions come from the completion fold. One response counts per (`occasion_id`,
`respondent_id`): the one with the latest `occurred_at`, ties to the greater event `id` (a
response rate above one would mean nothing). Means are taken over the responses that answered
each question. Per course, the responses are also split by the mode of their occasion
(CONTRACT.md v1.1): `on_site` when all its days (in its latest plan) are on site, `digital`
when all are digital, else `mixed`; an occasion not yet planned has no mode yet.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from sys import intern
from typing import Any, cast

from shared.events import Envelope
from shared.events.models import CourseOccasionPlanned, EvaluationSubmitted
from shared.projections.completions import NO_CHANGES, CompletionChanges, Completions
from shared.projections.versions import LatestBy, packed_stamp

ResponseKey = tuple[str, str]
"""(occasion_id, respondent_id)"""


Held = tuple[str | int, ...]
"""One response as the fold keeps it: its course, then its answers flat, (course_id,
question, score, question, score, ...) in the order given, the course and questions interned.
A dict of a handful of answers took about 360 bytes; an object over a tuple of them, in a
tuple with the course, about 290; this tuple about 140. A fold holds one per response."""


def _held(course_id: str, answers: Mapping[str, int]) -> Held:
    return (intern(course_id),
            *(item for question, score in answers.items() for item in (intern(question), score)))


class Answers(Mapping[str, int]):
    """One response's answers, question -> score: a view of the tuple the fold keeps (`Held`),
    made for a reader."""

    __slots__ = ("_flat",)

    def __init__(self, held: Held) -> None:
        self._flat = held

    def __getitem__(self, question: str) -> int:
        flat = self._flat
        for i in range(1, len(flat), 2):
            if flat[i] == question:
                return flat[i + 1]  # type: ignore[return-value]
        raise KeyError(question)

    def __iter__(self) -> Iterator[str]:
        return iter(self._flat[1::2])  # type: ignore[arg-type]

    def __len__(self) -> int:
        return len(self._flat) // 2

    def items(self) -> Iterator[tuple[str, int]]:  # type: ignore[override]
        flat = self._flat
        return zip(flat[1::2], flat[2::2], strict=True)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return repr(dict(self.items()))


Response = tuple[str, Mapping[str, int]]
"""(course_id, answers)"""

PLAN_EVENTS = ("CourseOccasionPlanned", "CourseOccasionRescheduled", "CourseOccasionCancelled")

Changed = set[str] | frozenset[str]
_UNCHANGED: frozenset[str] = frozenset()
Outcome = tuple[Changed, CompletionChanges]
"""What one event changed: the courses whose row may have changed, and the completions."""
_NOTHING: Outcome = (_UNCHANGED, NO_CHANGES)


class Evaluations:
    """The `evaluations` projection as a fold."""

    def __init__(self) -> None:
        self._completions = Completions()
        self._responses: LatestBy[ResponseKey, Held] = LatestBy()
        self._respondents: dict[str, list[str]] = {}  # occasion -> its respondents, each once
        self._by_course: dict[str, set[ResponseKey]] = {}  # course -> its responses' keys
        self._wire()

    def _wire(self) -> None:
        """The handler per type (closures over this fold), made again after unpickling: a
        snapshot keeps the fold's facts, not its functions."""
        self._handlers: dict[str, Callable[[Envelope], Outcome]] = {
            "EvaluationSubmitted": self._submitted,
        }
        for name, handler in self._completions.fact_handlers.items():
            self._handlers[name] = _courses_of(handler)
        for name in PLAN_EVENTS:  # a new plan may change an occasion's mode
            self._handlers[name] = self._with_plan_course(self._handlers[name])

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        del state["_handlers"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._wire()

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type this fold does anything with, the function that applies it, for a
        loop that needs no change report (replay): the same code as `apply`."""
        return dict.fromkeys(self._handlers, self.apply)

    def apply(self, env: Envelope) -> Changed:
        """Apply one event; the courses whose row may have changed."""
        return self.changes(env)[0]

    def changes(self, env: Envelope) -> Outcome:
        """Apply one event; the courses whose row may have changed, and the completions it
        gained and lost (`Completions.changes`): for a reader that needs both of one fold."""
        handler = self._handlers.get(env.type)
        if handler is None:
            return _NOTHING
        return handler(env)

    def _submitted(self, env: Envelope) -> Outcome:
        data = cast(EvaluationSubmitted, env.data)
        occasion_id = intern(data.occasion_id)  # one string per occasion, not per response
        key = (occasion_id, data.respondent_id)
        held = self._responses.get(key)
        if not self._responses.offer(key, packed_stamp(env), _held(data.course_id,
                                                                    data.answers)):
            return _NOTHING
        course_id = cast(str, self._responses.values[key][0])
        was = None if held is None else cast(str, held[0])
        if was is None:
            self._respondents.setdefault(occasion_id, []).append(data.respondent_id)
        elif was != course_id:
            self._by_course[was].discard(key)
        self._by_course.setdefault(course_id, set()).add(key)
        return ({course_id} if was is None else {course_id, was}), NO_CHANGES

    def _with_plan_course(
        self, handler: Callable[[Envelope], Outcome]
    ) -> Callable[[Envelope], Outcome]:
        def handle(env: Envelope) -> Outcome:
            occasion_id = cast(CourseOccasionPlanned, env.data).occasion_id
            before = self._completions.plan(occasion_id)
            changed, changes = handler(env)
            after = self._completions.plan(occasion_id)
            if before == after:
                return changed, changes
            return {*changed, *(p.course_id for p in (before, after) if p is not None)}, changes

        return handle

    def result(self, occasions: Iterable[str] | None = None,
               courses: Collection[str] | None = None) -> dict[str, list[dict[str, Any]]]:
        """The contract's replay document: every course with completions or responses; with
        `occasions`, the same document over those occasions only (a region's statistics: what
        replay prints over a log holding only their events); with `courses`, only the rows
        of those courses (what a consumer rewrites after an event changed them)."""
        completions = self._completions.per_course(occasions, courses)
        responses: dict[str, list[tuple[str | None, Mapping[str, int]]]] = {}
        for (occasion_id, _), held in self._counted(occasions, courses):
            plan = self._completions.plan(occasion_id)
            mode = None if plan is None else plan.mode
            responses.setdefault(cast(str, held[0]), []).append((mode, Answers(held)))
        courses = sorted(completions.keys() | responses.keys())
        return {"courses": [self._row(c, completions[c], responses.get(c, [])) for c in courses]}

    def _counted(self, occasions: Iterable[str] | None, courses: Collection[str] | None
                 ) -> Iterable[tuple[ResponseKey, Held]]:
        """The responses that count, of every occasion (None) or of these occasions, of every
        course (None) or of these courses."""
        values = self._responses.values
        if occasions is None:
            if courses is None:
                return self._responses.items()
            return [(key, values[key]) for c in courses for key in self._by_course.get(c, ())]
        counted = [((o, r), values[(o, r)]) for o in occasions
                   for r in self._respondents.get(o, ())]
        if courses is None:
            return counted
        return [(key, response) for key, response in counted if response[0] in courses]

    @staticmethod
    def _row(
        course_id: str, completions: int, answers: list[tuple[str | None, Mapping[str, int]]]
    ) -> dict[str, Any]:
        by_mode: dict[str, list[Mapping[str, int]]] = {}
        for mode, response in answers:
            if mode is not None:
                by_mode.setdefault(mode, []).append(response)
        return {
            "course_id": course_id,
            "completions": completions,
            "responses": len(answers),
            "response_rate": response_rate(len(answers), completions),
            "mean_scores": _mean_scores(response for _, response in answers),
            "by_mode": {
                mode: {"responses": len(responses), "mean_scores": _mean_scores(responses)}
                for mode, responses in sorted(by_mode.items())
            },
        }

    @property
    def completions(self) -> Completions:
        return self._completions

    def responses(self) -> list[tuple[tuple[str, str, str], Mapping[str, int]]]:
        """Every response that counts (one per occasion and respondent, the latest), as
        ((course_id, occasion_id, respondent_id), answers): for readers that group them
        otherwise (by mode, by region)."""
        return [((held[0], occasion_id, respondent_id), Answers(held))  # type: ignore[misc]
                for (occasion_id, respondent_id), held in self._responses.items()]

    def respondents(self, occasion_id: str) -> Sequence[str]:
        """Who responded for an occasion (each once, in the order first seen)."""
        return self._respondents.get(occasion_id, ())

    def responded(self) -> Iterable[str]:
        """The occasions with at least one response."""
        return self._respondents.keys()

    def response(self, occasion_id: str, respondent_id: str) -> Response | None:
        """The response that counts for one occasion and respondent, as (course_id, answers),
        if any."""
        held = self._responses.get((occasion_id, respondent_id))
        return None if held is None else (held[0], Answers(held))  # type: ignore[return-value]


ScoreTotals = dict[str, tuple[int, int]]
"""Per question: (the sum of its scores, how many responses answered it)."""


def score_totals(responses: Iterable[Mapping[str, int]]) -> ScoreTotals:
    """Per question, the sum of the scores and the number of responses that answered it."""
    totals: dict[str, tuple[int, int]] = {}
    for response in responses:
        for question_id, score in response.items():
            held = totals.get(question_id, (0, 0))
            totals[question_id] = (held[0] + score, held[1] + 1)
    return totals


def mean_scores(totals: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """Per question, the mean over the responses that answered it; sorted by question. From
    totals (`score_totals`), so a reader that keeps them as sums (the national dashboard,
    per region and month) takes its means by the same rule."""
    return {q: s / n for q, (s, n) in sorted(totals.items()) if n}


def response_rate(responses: int, completions: int) -> float:
    """Responses / completions; 0 where there are no completions."""
    return responses / completions if completions else 0.0


def _mean_scores(responses: Iterable[Mapping[str, int]]) -> dict[str, float]:
    return mean_scores(score_totals(responses))


def _courses_of(
    handler: Callable[[Envelope], CompletionChanges],
) -> Callable[[Envelope], Outcome]:
    """A completion fact's handler, answering with the courses whose row changed and the
    completion changes."""

    def handle(env: Envelope) -> Outcome:
        changes = handler(env)
        if changes is NO_CHANGES:
            return _NOTHING
        return {c[1] for c in changes.added} | {c[1] for c in changes.removed}, changes

    return handle
