"""Work-queue metrics under client-go's names, for the control plane's `/metrics`.

client-go's workqueue reports, per named queue: `workqueue_depth`, `workqueue_adds_total`,
`workqueue_queue_duration_seconds` (how long a key waited), `workqueue_work_duration_seconds`
(how long its sync took), `workqueue_unfinished_work_seconds` and
`workqueue_longest_running_processor_seconds` (work in progress), `workqueue_retries_total`.
A process that wants them (`kubelite control-plane`) calls `enable()` once with its registry,
as kube-controller-manager sets client-go's global metrics provider; queues made before that,
or without a name, record nothing.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# client-go: metrics.ExponentialBuckets(10e-9, 10, 10).
DURATION_BUCKETS = tuple(1e-8 * 10**i for i in range(10))


class QueueState(Protocol):
    """What a queue tells the scrape: its name, depth and when its keys started processing."""

    name: str

    def depth(self) -> int: ...

    def processing_since(self) -> Iterable[float]: ...


class _Scraped(Collector):
    """The gauges read from the live queues at scrape time."""

    def __init__(self) -> None:
        self.queues: weakref.WeakSet[QueueState] = weakref.WeakSet()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        unfinished = GaugeMetricFamily(
            "workqueue_unfinished_work_seconds",
            "How many seconds of work has done that is in progress and hasn't been observed by "
            "work_duration. Large values indicate stuck threads. One can deduce the number of "
            "stuck threads by observing the rate at which this increases.",
            labels=["name"],
        )
        longest = GaugeMetricFamily(
            "workqueue_longest_running_processor_seconds",
            "How many seconds has the longest running processor for workqueue been running.",
            labels=["name"],
        )
        now = time.monotonic()
        totals: dict[str, tuple[int, float, float]] = {}
        for queue in list(self.queues):
            ages = [now - since for since in queue.processing_since()]
            d, u, m = totals.get(queue.name, (0, 0.0, 0.0))
            totals[queue.name] = (d + queue.depth(), u + sum(ages), max([m, *ages]))
        for name, (d, u, m) in sorted(totals.items()):
            depth.add_metric([name], d)
            unfinished.add_metric([name], u)
            longest.add_metric([name], m)
        yield from (depth, unfinished, longest)


class Provider:
    """The metrics of every named queue of the process, in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.adds = Counter(
            "workqueue_adds", "Total number of adds handled by workqueue", ["name"],
            registry=registry,
        )  # fmt: skip
        self.retries = Counter(
            "workqueue_retries", "Total number of retries handled by workqueue", ["name"],
            registry=registry,
        )  # fmt: skip
        self.queue_duration = Histogram(
            "workqueue_queue_duration_seconds",
            "How long in seconds an item stays in workqueue before being requested.",
            ["name"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.work_duration = Histogram(
            "workqueue_work_duration_seconds",
            "How long in seconds processing an item from workqueue takes.",
            ["name"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self.scraped = _Scraped()
        registry.register(self.scraped)


_provider: Provider | None = None


def enable(registry: CollectorRegistry) -> Provider:
    """Record the metrics of queues made from now on into `registry`."""
    global _provider
    _provider = Provider(registry)
    return _provider


def provider() -> Provider | None:
    return _provider
