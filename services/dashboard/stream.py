"""The dashboard's stream processor: a faust-streaming agent over the contract's topics.

The agent takes the envelopes in batches (up to `BATCH` or what arrived within `WITHIN`
seconds: the wait a quiet stream adds to each event's way to the figures) and hands each batch
to the figures' runner (`ProjectionRunner` over `FiguresStore`, the same code `yrkesresan
rebuild dashboard` runs), off the event loop, in one transaction. faust acks a batch's offsets
only after the agent has taken the next one, so offsets are committed after the figures: a
crash re-reads at most the batches not yet committed, and their ids make them change nothing.
No faust Table: see `store.py` for why the figures live in the database instead.

Latency: faust's consumer asks the broker to hold each fetch up to 1.5 s for data
(`fetch_max_wait_ms`, fixed in faust), and the local broker holds it that long even when
records arrive meanwhile, so an event could wait up to 1.5 s before the agent saw it. The
worker asks for the wait every consumer of the project asks for (`YRKESRESAN_FETCH_MAX_WAIT_MS`,
`PromptApp`; bench/dashboard_commands.py measures it). At 50 ms the worker twice stopped taking
records in runs through the enrolment relay on an overloaded machine, which it never did at
1.5 s, and why is not known; at the default of 100 ms it took every record in the benchmark's
runs of 2026-11-30 (through the API at 30/s, and 200/s offered without it), which shows no
more than that.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiokafka.client
import faust
from aiokafka.protocol.metadata import MetadataRequest
from faust.transport.drivers import aiokafka as aiokafka_driver

from shared.events import ALL_TOPICS, ContractError, Envelope, UnknownEventType, parse_envelope
from shared.platform.consumer import ProjectionRunner
from shared.platform.observability import EVENTS_UNKNOWN_TYPE
from shared.platform.settings import current_settings

log = logging.getLogger(__name__)

BATCH = 2000
WITHIN = 0.02


class _MetadataRequestNoAutoCreate(MetadataRequest):
    """A metadata request that does not ask the broker to create the topics it names.

    aiokafka always asks (`allow_auto_topic_creation` defaults to true and its client offers no
    setting). After the local broker came back empty, the worker's first metadata request then
    created the contract topics with the broker's default of 4 partitions before a relay's
    `ensure_topics` made them with their configured count, and a consumer group of the project
    stayed stuck rebalancing the extra partition (the broker drill, tests/faults). The topics are
    the relays' to create; the worker waits for them like every other consumer."""

    def __init__(self, topics: list[str] | None = None,
                 allow_auto_topic_creation: bool | None = False) -> None:
        super().__init__(topics, allow_auto_topic_creation)


# The dashboard worker's process holds faust's aiokafka clients only; the client module builds
# every metadata request through this name.
aiokafka.client.MetadataRequest = _MetadataRequestNoAutoCreate  # type: ignore[misc]


class _PromptConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: aiokafka_driver.Transport) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # aiokafka hands this to its fetcher when the consumer starts, just after this
        consumer._fetch_max_wait_ms = current_settings().fetch_max_wait_ms
        return consumer


class _PromptConsumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _PromptConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _PromptTransport(aiokafka_driver.Transport):
    Consumer = _PromptConsumer


class PromptApp(faust.App):
    """A faust app whose consumer lets the broker hold a fetch as long as every consumer of
    the project does (`Settings.fetch_max_wait_ms`), not faust's fixed 1.5 s."""

    def _new_transport(self) -> Any:
        return _PromptTransport(self.conf.broker_consumer, self)


def envelopes(values: Iterable[bytes | None]) -> list[Envelope]:
    """The valid envelopes of a batch. An unknown type is skipped and counted (CONTRACT.md);
    a value that is not an envelope at all is logged and skipped: the dashboard is a reader,
    and the services' own consumers dead-letter it."""
    valid = []
    for value in values:
        try:
            valid.append(parse_envelope(value or b""))
        except UnknownEventType as e:
            EVENTS_UNKNOWN_TYPE.labels("dashboard", e.type_name).inc()
        except ContractError as e:
            log.warning("not a contract envelope; skipped", extra={"error": str(e)})
    return valid


class Worker:
    """The faust app and what it feeds; `healthy` once the first batch (or none) is in."""

    def __init__(self, runner: ProjectionRunner, bootstrap: str,
                 group_id: str = "yrkesresan.dashboard", topics: Iterable[str] = ALL_TOPICS,
                 datadir: Path = Path("var/faust")) -> None:
        self.runner = runner
        self.applied = 0
        datadir.mkdir(parents=True, exist_ok=True)
        self.app = PromptApp(
            group_id,
            broker=[f"kafka://{b}" for b in bootstrap.split(",")],
            value_serializer="raw",
            key_serializer="raw",
            web_enabled=False,
            web_host="127.0.0.1",
            # Joins on the local broker take half a session timeout (KAFKA.md).
            broker_session_timeout=6,
            broker_heartbeat_interval=1.5,
            consumer_auto_offset_reset="earliest",
            topic_allow_declare=False,
            # faust keeps nothing here that must last (no Tables), but makes the folder: not
            # in the working directory.
            datadir=str(datadir / "{conf.id}"),
        )
        self.topic = self.app.topic(*topics, value_serializer="raw", key_serializer="raw")
        self.app.agent(self.topic, name="dashboard-figures")(self._figures)

    async def _figures(self, stream: Any) -> None:
        loop = asyncio.get_running_loop()
        async for values in stream.take(BATCH, within=WITHIN):
            batch = envelopes(values)
            self.applied += await loop.run_in_executor(None, self.runner.apply_batch, batch)

    def run(self, loglevel: str = "INFO") -> None:
        """Run the worker in the foreground until SIGTERM or SIGINT."""
        worker = faust.Worker(self.app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
        worker.execute_from_commandline()
