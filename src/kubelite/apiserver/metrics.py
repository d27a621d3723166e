"""`/metrics`: the API server's Prometheus metrics, under Kubernetes' own names.

Requests are counted by verb, group, resource, subresource and code, and timed in a histogram
(`apiserver_request_total`, `apiserver_request_duration_seconds`); open watches are a gauge
(`apiserver_registered_watchers`); the store's revision and object counts are read at scrape
time. Each server has its own registry so that several can live in one test process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# Kubernetes' buckets for apiserver_request_duration_seconds.
LATENCY_BUCKETS = (
    0.005,
    0.025,
    0.05,
    0.1,
    0.2,
    0.4,
    0.6,
    0.8,
    1.0,
    1.25,
    1.5,
    2.0,
    3.0,
    4.0,
    5.0,
    6.0,
    8.0,
    10.0,
    15.0,
    20.0,
    30.0,
    45.0,
    60.0,
)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _StoreCollector(Collector):
    def __init__(self, revision: Callable[[], int], counts: Callable[[], dict[str, int]]) -> None:
        self._revision = revision
        self._counts = counts

    def collect(self) -> Iterable[GaugeMetricFamily]:
        rev = GaugeMetricFamily(
            "kubelite_storage_revision", "The newest revision of the store (resourceVersion)."
        )
        rev.add_metric([], self._revision())
        yield rev
        objects = GaugeMetricFamily(
            "apiserver_storage_objects",
            "Number of stored objects at the time of last check split by kind.",
            labels=["resource"],
        )
        for resource, count in sorted(self._counts().items()):
            objects.add_metric([resource], count)
        yield objects


class Metrics:
    """The API server's Prometheus metrics, under the names kube-apiserver uses, so that
    dashboards and `kubectl get --raw /metrics` read the same series."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "apiserver_request",
            "Counter of apiserver requests broken out for each verb, group, resource, "
            "subresource and HTTP response code.",
            ["verb", "group", "resource", "subresource", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "apiserver_request_duration_seconds",
            "Response latency distribution in seconds for each verb, group, resource and "
            "subresource.",
            ["verb", "group", "resource", "subresource"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.watchers = Gauge(
            "apiserver_registered_watchers",
            "Number of currently open watches.",
            registry=self.registry,
        )

    def watch_count(self, delta: int) -> None:
        self.watchers.inc(delta)

    def observe(
        self, verb: str, group: str, resource: str, subresource: str, code: int, seconds: float
    ) -> None:
        self.requests.labels(verb, group, resource, subresource, str(code)).inc()
        # A watch's duration is how long it stayed open, not a latency.
        if verb != "WATCH":
            self.latency.labels(verb, group, resource, subresource).observe(seconds)

    def add_store(self, revision: Callable[[], int], counts: Callable[[], dict[str, int]]) -> None:
        self.registry.register(_StoreCollector(revision, counts))

    def render(self) -> bytes:
        return generate_latest(self.registry)


# The verb labels kube-apiserver reports (validRequestMethods in k8s.io/apiserver's
# endpoints/metrics/metrics.go); any other method a client sends (OPTIONS, PROPFIND, ... which
# reach the handler and get a 4xx) is counted as OTHER_VERB, so that the label's values are
# Kubernetes' and not the client's choice. (aiohttp's parser refuses methods it does not know.)
VERB_LABELS = frozenset(
    (
        "APPLY",
        "CONNECT",
        "CREATE",
        "DELETE",
        "DELETECOLLECTION",
        "GET",
        "LIST",
        "PATCH",
        "POST",
        "PROXY",
        "PUT",
        "UPDATE",
        "WATCH",
        "WATCHLIST",
    )
)
OTHER_VERB = "other"


def request_verb(verb: str, method: str, content_type: str) -> str:
    """Kubernetes' verb label: LIST, WATCH, GET, POST, PUT, PATCH, APPLY, DELETE, ..."""
    if verb == "patch" and content_type.startswith("application/apply-patch"):
        return "APPLY"
    if verb in ("list", "watch", "deletecollection"):
        return verb.upper()
    if verb == "get":
        return "GET"
    label = method.upper()
    return label if label in VERB_LABELS else OTHER_VERB
