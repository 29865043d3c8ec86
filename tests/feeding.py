"""Feeding a service's copies (`shared.platform.copies`) in-process, as its consumer would but
without the broker: envelopes go through the consumer's own runner, in one transaction per
batch, each id once."""

from __future__ import annotations

import datetime as dt

from shared.events import Envelope, EventData, new_envelope
from shared.platform.consumer import ProjectionRunner
from shared.platform.store import ServiceApplication
from yrkesresan import stores


def feed(runner: ProjectionRunner, *facts: EventData | Envelope,
         occurred_at: dt.datetime | None = None) -> int:
    """Apply the facts (bare event data gets a fresh envelope); how many were new."""
    envelopes = [f if isinstance(f, Envelope) else new_envelope(f, occurred_at=occurred_at)
                 for f in facts]
    return runner.apply_batch(envelopes)


def pump(runner: ProjectionRunner, *apps: ServiceApplication) -> int:
    """Everything the stores published so far, as the relays would have put it on the bus."""
    return stores.rebuild(runner, apps)
