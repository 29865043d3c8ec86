"""A consumer holding its lease is the group's only member: a group that leaves it part of its
topics' partitions is noticed (EnvelopeConsumer._partial_since), so that it joins afresh."""

from __future__ import annotations

from kafka import TopicPartition

from shared.platform.consumer import EnvelopeConsumer


class _Cluster:
    def __init__(self, partitions: dict[str, set[int]]) -> None:
        self.partitions = partitions

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions.get(topic)


class _Client:
    def __init__(self, cluster: _Cluster) -> None:
        self.cluster = cluster


class _Consumer:
    """What _partial_since reads of a kafka-python consumer."""

    def __init__(self, partitions: dict[str, set[int]], assigned: set[TopicPartition]) -> None:
        self._client = _Client(_Cluster(partitions))
        self.assigned = assigned

    def assignment(self) -> set[TopicPartition]:
        return self.assigned

    def subscription(self) -> set[str]:
        return set(self._client.cluster.partitions)


def _all(topic: str, count: int) -> set[TopicPartition]:
    return {TopicPartition(topic, p) for p in range(count)}


def test_a_group_holding_every_partition_is_not_partial() -> None:
    consumer = _Consumer({"t": {0, 1, 2}}, _all("t", 3))
    assert EnvelopeConsumer._partial_since(consumer, None) is None  # type: ignore[arg-type]
    assert EnvelopeConsumer._partial_since(consumer, 12.0) is None  # type: ignore[arg-type]


def test_a_partition_that_appeared_and_was_not_assigned_makes_it_partial_and_keeps_the_time(
) -> None:
    # the topic came back with 4 partitions; the group still holds the 3 it had
    consumer = _Consumer({"t": {0, 1, 2, 3}}, _all("t", 3))
    first = EnvelopeConsumer._partial_since(consumer, None)  # type: ignore[arg-type]
    assert first is not None
    assert EnvelopeConsumer._partial_since(consumer, 5.0) == 5.0  # type: ignore[arg-type]
    consumer.assigned = _all("t", 4)
    assert EnvelopeConsumer._partial_since(consumer, 5.0) is None  # type: ignore[arg-type]


def test_a_member_not_yet_assigned_anything_is_partial() -> None:
    consumer = _Consumer({"a": {0}, "b": {0, 1}}, set())
    assert EnvelopeConsumer._partial_since(consumer, None) is not None  # type: ignore[arg-type]
