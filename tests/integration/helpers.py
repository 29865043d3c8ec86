"""Helpers for tests that run the pipe in-process: threads for relay and consumer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from shared.events import ContractError, Envelope, parse_envelope


def wait_for(predicate: Callable[[], bool], timeout: float = 60, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def in_thread(target: Callable[[], Any]) -> threading.Thread:
    t = threading.Thread(target=target, daemon=True)
    t.start()
    return t


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[bytes]:
    """Every message value on a topic, read from the beginning until `expected` are seen.
    (End offsets are wrong on the local broker, so we count instead of reading 'to the end'.)"""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        found = consumer.partitions_for_topic(topic) or ()
        parts = [TopicPartition(topic, p) for p in sorted(found)]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        values: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(values) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                values.extend(r.value for r in batch)
        return values
    finally:
        consumer.close()


def envelopes(values: list[bytes]) -> list[Envelope]:
    return [parse_envelope(v) for v in values]


def contract_valid(value: bytes) -> bool:
    """Whether a message on a topic is an envelope the contract accepts."""
    try:
        parse_envelope(value)
    except ContractError:
        return False
    return True
