"""Fixtures of the integration tests (the databases and the broker: tests/conftest.py)."""

from __future__ import annotations

import functools
from collections.abc import Iterator

import pytest

from services.enrolment import application as enrolment
from services.enrolment.adapters.http import create_api
from shared.platform.broker import LocalBroker
from tests.integration.commands import Command, forget_the_environment, in_this_process
from tests.integration.helpers import served
from tests.ports import broker_with_topics


@pytest.fixture
def enrolment_api(pg_url: str) -> Iterator[tuple[enrolment.Enrolment, str]]:
    """Enrolment on a fresh PostgreSQL database, its HTTP API served on a thread: the
    service and the API's base URL."""
    enrolment.migrate(pg_url)
    e = enrolment.bootstrap(pg_url)
    try:
        with served(create_api(e), "enrolment's API") as url:
            yield e, url
    finally:
        e.close()


@pytest.fixture
def own_broker() -> Iterator[LocalBroker]:
    """A broker of the test's own, for a test that reads topics from their start (the session's
    `broker` holds whatever the tests before it published) or fills them with more than the
    tests after it should wade through."""
    with broker_with_topics() as b:
        yield b


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Iterator[Command]:
    """`cli(env, *args)`: a `yrkesresan` command run in the test's own process with `env` as
    its environment (tests.integration.commands), sparing the imports of a new interpreter."""
    yield functools.partial(in_this_process, monkeypatch)
    forget_the_environment()  # what was read under `env` is not the test run's
