"""The notification process's consumer side: bus events into facts and due notices.

A `Projector` for the shared `ProjectionRunner`: each envelope is applied once (its id is
recorded in `applied_events` in the same transaction as the notices it makes due), and after a
restart the facts are folded again from the applied envelopes, without making anything due
twice. The sender reads the same facts from another thread, hence the lock.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from services.notification.adapters.outbox import Outbox
from services.notification.domain import Facts
from services.notification.policies import react
from shared.events import Envelope, topic_name
from shared.platform.db import Cursor

TOPICS = tuple(topic_name(s) for s in ("reference", "enrolment", "scheduling", "certification"))


class NoticeProjector:
    name = "notification"
    topics: Sequence[str] = TOPICS
    tables: Sequence[str] = ("notices", "calendars")

    def __init__(self, clock: Callable[[], dt.datetime], settle: dt.timedelta,
                 max_age: dt.timedelta) -> None:
        self.facts = Facts()
        self.lock = threading.RLock()
        self.clock = clock
        self.settle = settle
        """How long a notice waits before it is sent, so that the events that travel with
        the one that made it due (in other partitions) have arrived when it is written."""
        self.max_age = max_age

    def reset(self) -> None:
        with self.lock:
            self.facts = Facts()

    def snapshot_state(self) -> Any:
        with self.lock:
            return self.facts

    def restore_state(self, state: Any) -> None:
        with self.lock:
            self.facts = state

    def load(self, envelopes: Iterable[Envelope]) -> None:
        with self.lock:
            for env in envelopes:
                self.facts.apply(env)

    def apply(self, cur: Cursor, env: Envelope) -> None:
        now = self.clock()
        with self.lock:
            self.facts.apply(env)
            notices = react(self.facts, env, now, self.max_age)
        Outbox.add(cur, notices, now + self.settle)
