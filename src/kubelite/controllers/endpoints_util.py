"""What the Endpoints and EndpointSlice controllers share: which pods back a Service, at which
address and port, and when the change that moved them happened.

Kubernetes keeps these in `pkg/controller/util/endpoint` and `k8s.io/endpointslice/util`:
ShouldPodBeInEndpoints, ShouldSetHostname, podutil.FindPort, the Service membership of a pod,
and the TriggerTimeTracker behind the `endpoints.kubernetes.io/last-change-trigger-time`
annotation (how long a change took to reach the proxies is measured from it).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from typing import Any

from kubelite.api import labels, meta
from kubelite.api.pods import ready_condition, sidecars
from kubelite.api.types import Obj
from kubelite.client.informer import Informer
from kubelite.controllers import podutil

# k8s.io/api/core/v1 annotation_key_constants.go and well_known_labels.go.
LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
HEADLESS_LABEL = "service.kubernetes.io/headless"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ZONE_LABEL = "topology.kubernetes.io/zone"
# k8s.io/api/discovery/v1 well_known_labels.go.
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
SKIP_MIRROR_LABEL = "endpointslice.kubernetes.io/skip-mirror"

CLUSTER_IP_NONE = "None"
EXTERNAL_NAME = "ExternalName"


def selector_of(service: Obj) -> dict[str, str] | None:
    """The Service's selector; None for a selectorless Service (whose endpoints are by hand).

    An empty selector counts as none: Kubernetes stores an empty map as no map at all.
    """
    selector = (service.get("spec") or {}).get("selector")
    return selector if isinstance(selector, dict) and selector else None


def selects_pods(service: Obj) -> bool:
    """Whether a controller derives this Service's endpoints from pods.

    ExternalName Services get none, and a Service without a selector gets what its owner
    writes (syncService returns early for both).
    """
    spec = service.get("spec") or {}
    return spec.get("type") != EXTERNAL_NAME and selector_of(service) is not None


def pods_of(service: Obj, pods: Iterable[Obj]) -> list[Obj]:
    """Those of `pods` (the Service's namespace) that its selector matches."""
    selector = labels.selector_from_set(selector_of(service) or {})
    return [p for p in pods if selector.matches(meta.labels_of(p))]


def services_of(pod: Obj, services: Iterable[Obj]) -> list[Obj]:
    """The Services (of the pod's namespace) whose selector matches the pod
    (GetPodServiceMemberships)."""
    pod_labels = meta.labels_of(pod)
    return [
        s
        for s in services
        if selects_pods(s) and labels.selector_from_set(selector_of(s)).matches(pod_labels)
    ]


def is_headless(service: Obj) -> bool:
    """Not helper.IsServiceIPSet: no cluster IP, or `None`."""
    cluster_ip = (service.get("spec") or {}).get("clusterIP") or ""
    return cluster_ip in ("", CLUSTER_IP_NONE)


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not terminal, with an IP, and not being deleted unless asked."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return False
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not podutil.is_terminating(pod)


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    """ShouldSetHostname: a pod with a hostname whose subdomain is this Service's name."""
    spec = pod.get("spec") or {}
    return (
        bool(spec.get("hostname"))
        and spec.get("subdomain") == meta.name_of(service)
        and meta.namespace_of(pod) == meta.namespace_of(service)
    )


def ip_family(ip: str) -> str:
    """`IPv4` or `IPv6`; "" for a string that is no address."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    return "IPv4" if address.version == 4 else "IPv6"


def service_family(service: Obj, pod: Obj | None = None) -> str:
    """The family of the addresses the Service's endpoints carry (podToEndpointAddressForService):
    its first ipFamily; else its cluster IP's; else, headless, the pod's primary IP's."""
    spec = service.get("spec") or {}
    families = spec.get("ipFamilies") or []
    if families:
        return str(families[0])
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ip and cluster_ip != CLUSTER_IP_NONE:
        return ip_family(cluster_ip) or "IPv4"
    if pod is not None:
        return ip_family((pod.get("status") or {}).get("podIP") or "") or "IPv4"
    return "IPv4"


def pod_ips(pod: Obj) -> list[str]:
    status = pod.get("status") or {}
    ips = [p.get("ip", "") for p in status.get("podIPs") or () if p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [status["podIP"]]
    return ips


def pod_ips_of_family(pod: Obj, family: str) -> list[str]:
    return [ip for ip in pod_ips(pod) if ip_family(ip) == family]


def target_ref(pod: Obj) -> Obj:
    """The reference an endpoint keeps to its pod: kind, namespace, name and uid only."""
    md = pod["metadata"]
    return {
        "kind": "Pod",
        "namespace": md.get("namespace", ""),
        "name": md.get("name", ""),
        "uid": md.get("uid", ""),
    }


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """podutil.FindPort: a numeric targetPort as it is; a named one looked up among the pod's
    container ports (sidecar init containers too) with the Service port's protocol, None
    where the pod has no such port (it is then left out for this port)."""
    target = service_port.get("targetPort")
    if target is None or target == "":
        target = service_port.get("port")
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol") or "TCP"
    spec = pod.get("spec") or {}
    containers = [*(spec.get("containers") or ()), *sidecars(spec)]
    for container in containers:
        for port in container.get("ports") or ():
            if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                return int(port.get("containerPort") or 0)
    return None


def endpoint_relevant(pod: Obj) -> tuple[Any, ...]:
    """What of a pod can change a Service's endpoints (podEndpointsChanged), so that an update
    changing nothing of it (a container restart count) syncs nothing."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    ready = ready_condition(pod) or {}
    return (
        tuple(sorted(meta.labels_of(pod).items())),
        tuple(pod_ips(pod)),
        status.get("phase"),
        ready.get("status"),
        ready.get("lastTransitionTime"),
        bool(pod["metadata"].get("deletionTimestamp")),
        spec.get("hostname"),
        spec.get("subdomain"),
        spec.get("nodeName"),
        repr(spec.get("containers")),
    )


def services_to_sync(services: Informer, event_type: str, pod: Obj, old: Obj | None) -> list[Obj]:
    """The Services whose endpoints a pod event may change (updatePod): those selecting the old
    pod and those selecting the new, or none when the update changed nothing endpoints show.
    `services` is the Services' cache, indexed by namespace."""
    if event_type == "MODIFIED" and old is not None:
        if endpoint_relevant(old) == endpoint_relevant(pod):
            return []
        return cached_services_of(old, services) + cached_services_of(pod, services)
    return cached_services_of(pod, services)


def cached_services_of(pod: Obj, services: Informer) -> list[Obj]:
    """`services_of` over the Services of the pod's namespace in a cache indexed by namespace."""
    return services_of(pod, services.by_index("namespace", meta.namespace_of(pod)))


def format_trigger_time(when: dt.datetime) -> str:
    """time.RFC3339Nano in UTC: no fractional part when there is none."""
    when = when.astimezone(dt.UTC)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    return text + "Z"


# Per Service: each pod's last Ready transition (when, and to which status), and the
# Service's creation.
_TriggerState = tuple[dict[str, tuple[dt.datetime, str]], dt.datetime | None]


class TriggerTimeTracker:
    """When the change a sync publishes happened (endpointutil.TriggerTimeTracker).

    Per Service it remembers each pod's last Ready transition and the Service's creation; a
    sync reports the earliest of those that moved since the previous sync (a Service seen for
    the first time reports its creation), or None when nothing moved.

    Two differences from upstream, both so that a published change carries its time:
    a Ready flip within the second of the previous transition counts as a move (the times
    have whole seconds, and a pod without probes turns Ready that fast), and a sync whose
    write fails calls `restore`: its retry then reports the same changes again.
    Upstream keeps the new state even then, so a write lost to a conflict (frequent while an
    informer lags behind the store) publishes the change without its trigger time.
    """

    def __init__(self) -> None:
        self._states: dict[str, _TriggerState] = {}
        # The state each key had before its latest compute, for `restore`.
        self._previous: dict[str, _TriggerState | None] = {}

    def compute(self, key: str, service: Obj, pods: Iterable[Obj]) -> dt.datetime | None:
        known = key in self._states
        self._previous[key] = self._states.get(key)
        last_pods, last_service = self._states.get(key, ({}, None))
        earliest: dt.datetime | None = None
        pod_times: dict[str, tuple[dt.datetime, str]] = {}
        for pod in pods:
            condition = ready_condition(pod) or {}
            when = meta.parse_time(condition.get("lastTransitionTime") or "")
            if when is None:
                continue
            name = meta.name_of(pod)
            status = str(condition.get("status") or "")
            pod_times[name] = (when, status)
            before = last_pods.get(name)
            if before is None or when > before[0] or (when == before[0] and status != before[1]):
                earliest = when if earliest is None else min(earliest, when)
        created = meta.parse_time(meta.get_path(service, "metadata", "creationTimestamp") or "")
        if created is not None and (last_service is None or created > last_service):
            earliest = created if earliest is None else min(earliest, created)
        self._states[key] = (pod_times, created)
        if not known:
            return created
        return earliest

    def restore(self, key: str) -> None:
        """Undo the latest compute for `key`: what it published did not get written."""
        if key not in self._previous:
            return
        previous = self._previous.pop(key)
        if previous is None:
            self._states.pop(key, None)
        else:
            self._states[key] = previous

    def forget(self, key: str) -> None:
        self._states.pop(key, None)
        self._previous.pop(key, None)
