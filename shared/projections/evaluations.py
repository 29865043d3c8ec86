"""Evaluations (uppföljningsenkät): how many who completed a course answered, and what.

Completions come from the completion fold. A respondent who submits the survey of an occasion
more than once counts once, with their latest answers (by `occurred_at`): a response rate above
one would mean nothing. Means are taken over the responses that answered each question.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from shared.events import Envelope
from shared.events.models import EvaluationSubmitted
from shared.projections.completions import NO_CHANGES, CompletionChanges, Completions
from shared.projections.dedupe import SeenIds
from shared.projections.versions import LatestBy, stamp_of

ResponseKey = tuple[str, str, str]
"""(course_id, occasion_id, respondent_id)"""

Changed = set[str] | frozenset[str]
_UNCHANGED: frozenset[str] = frozenset()


class Evaluations:
    """The `evaluations` projection as a fold."""

    def __init__(self) -> None:
        self._seen = SeenIds()
        self._completions = Completions()
        self._responses: LatestBy[ResponseKey, Mapping[str, int]] = LatestBy()
        self._handlers: dict[str, Callable[[Envelope], Changed]] = {
            "EvaluationSubmitted": self._submitted,
        }
        for name, handler in self._completions.fact_handlers.items():
            self._handlers[name] = _courses_of(handler)

    @property
    def appliers(self) -> dict[str, Callable[[Envelope], object]]:
        """Per event type this fold does anything with, the function that applies it, for a
        loop that needs no change report (replay): the same code as `apply`."""
        return dict.fromkeys(self._handlers, self.apply)  # apply: the id check first

    def apply(self, env: Envelope) -> Changed:
        """Apply one event; the courses whose row may have changed."""
        handler = self._handlers.get(env.type)
        if handler is None or not self._seen.first_time(env):
            return _UNCHANGED
        return handler(env)

    def _submitted(self, env: Envelope) -> Changed:
        data = cast(EvaluationSubmitted, env.data)
        key = (data.course_id, data.occasion_id, data.respondent_id)
        if not self._responses.offer(key, stamp_of(env), data.answers):
            return _UNCHANGED
        return {data.course_id}

    def result(self) -> dict[str, list[dict[str, Any]]]:
        """The contract's replay document: every course with completions or responses."""
        completions = self._completions.per_course()
        responses: dict[str, list[Mapping[str, int]]] = {}
        for (course_id, _, _), answers in self._responses.items():
            responses.setdefault(course_id, []).append(answers)
        courses = sorted(completions.keys() | responses.keys())
        return {"courses": [self._row(c, completions[c], responses.get(c, [])) for c in courses]}

    @staticmethod
    def _row(course_id: str, completions: int, answers: list[Mapping[str, int]]) -> dict[str, Any]:
        totals: dict[str, list[int]] = {}
        for response in answers:
            for question_id, score in response.items():
                total = totals.setdefault(question_id, [0, 0])
                total[0] += score
                total[1] += 1
        return {
            "course_id": course_id,
            "completions": completions,
            "responses": len(answers),
            "response_rate": len(answers) / completions if completions else 0.0,
            "mean_scores": {q: s / n for q, (s, n) in sorted(totals.items())},
        }

    @property
    def completions(self) -> Completions:
        return self._completions

    def responses(self) -> list[tuple[ResponseKey, Mapping[str, int]]]:
        """Every response that counts (one per occasion and respondent, the latest), with its
        course, occasion and respondent: for readers that group them otherwise (by mode, by
        region)."""
        return self._responses.items()


def _courses_of(
    handler: Callable[[Envelope], CompletionChanges],
) -> Callable[[Envelope], Changed]:
    """A completion fact's handler, answering with the courses whose row changed."""

    def handle(env: Envelope) -> Changed:
        changes = handler(env)
        if changes is NO_CHANGES:
            return _UNCHANGED
        return {c[1] for c in changes.added} | {c[1] for c in changes.removed}

    return handle
