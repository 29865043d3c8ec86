"""Enrolment's copy of the course catalogue, learned from the bus.

Participants mark the preparations and deepening tasks of published courses, so enrolment must
know each course's items. It keeps the latest `CoursePublished` of every course from
`yrkesresan.reference.v1`, in its own database, through the `enrolment-catalogue` consumer;
it imports nothing from scheduling, which publishes the catalogue.
"""

from __future__ import annotations

from shared.platform.copies import COURSES, Copy

NAME = "enrolment-catalogue"
PREFIX = "enrolment_copy"


def catalogue() -> Copy:
    return Copy(NAME, PREFIX, (COURSES,))
