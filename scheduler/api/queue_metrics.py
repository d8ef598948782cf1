"""``/metrics`` lines about refused command messages (the counts in scheduler.messaging.tally)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from scheduler.messaging.tally import TALLY, QueueTally


class QueueMessagesCollector:
    def __init__(self, tally: QueueTally = TALLY) -> None:
        self.tally = tally

    def describe(self) -> Iterable[Metric]:
        return []  # collected fresh on every scrape

    def collect(self) -> Iterable[Metric]:
        rejected, dead_lettered, depth = self.tally.values()
        counter = CounterMetricFamily(
            "scale_scheduler_messages_rejected", "Command messages refused by the message handlers of this process"
        )
        counter.add_metric([], rejected)
        yield counter
        counter = CounterMetricFamily(
            "scale_scheduler_messages_dead_lettered",
            "Refused command messages published to the dead-letter queue by the handlers of this process",
        )
        counter.add_metric([], dead_lettered)
        yield counter
        if depth is not None:
            gauge = GaugeMetricFamily(
                "scale_scheduler_dead_letter_queue_depth",
                "Refused messages waiting in <queue>.dead at the last msg_queue check (every handler's)",
            )
            gauge.add_metric([], depth)
            yield gauge
