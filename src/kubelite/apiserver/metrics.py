"""`/metrics`: the API server's Prometheus metrics, under Kubernetes' own names.

Requests are counted by verb, group, resource, subresource and code, and timed in a histogram
(`apiserver_request_total`, `apiserver_request_duration_seconds`); open watches are a gauge
(`apiserver_registered_watchers`); the store's revision and object counts are read at scrape
time. Connections dropped for the client's doing (a stall past a timeout, one over the per-address
cap, a failed TLS handshake, a malformed request, a hang-up) are counted by reason rather than
logged at ERROR (`kubelite_apiserver_dropped_connections_total`), failed handshakes also under
Kubernetes' name (`apiserver_tls_handshake_errors_total`); trims of the heap after a burst of
connections are counted too (`kubelite_apiserver_heap_trims_total`). Each server has its own
registry so that several can live in one test process.
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
# Why a connection was dropped: the `reason` of kubelite_apiserver_dropped_connections_total.
HEADER_TIMEOUT = "header_timeout"
REQUEST_TIMEOUT = "request_timeout"
ADDRESS_LIMIT = "address_limit"
# Also counted under Kubernetes' own apiserver_tls_handshake_errors_total.
TLS_HANDSHAKE = "tls_handshake"
MALFORMED_REQUEST = "malformed_request"
CLIENT_DISCONNECT = "client_disconnect"


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
        self.tls_handshake_errors = Counter(
            "apiserver_tls_handshake_errors",
            "Number of requests dropped with 'TLS handshake error from' error",
            registry=self.registry,
        )
        self.dropped_connections = Counter(
            "kubelite_apiserver_dropped_connections",
            "Connections the API server closed for the client's doing, by reason: a timeout "
            "(header_timeout, request_timeout), the per-address cap (address_limit), a failed "
            "TLS handshake (tls_handshake), a malformed request (malformed_request) or the "
            "client going away (client_disconnect).",
            ["reason"],
            registry=self.registry,
        )

        self.heap_trims = Counter(
            "kubelite_apiserver_heap_trims",
            "Times the API server gave freed memory back to the system after a burst of "
            "connections had closed.",
            registry=self.registry,
        )

    def dropped(self, reason: str) -> None:
        self.dropped_connections.labels(reason).inc()
        if reason == TLS_HANDSHAKE:
            self.tls_handshake_errors.inc()

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
