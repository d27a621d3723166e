"""The QoS class of a pod (Kubernetes' `pkg/apis/core/helper/qos`, ComputePodQOS).

The API server stamps `status.qosClass` when a pod is created and never changes it; the kubelet
uses it to size cgroups and to pick eviction victims, and `kubectl describe` prints it.

- BestEffort: no container (regular or init) asks for or limits CPU or memory;
- Guaranteed: every container limits both CPU and memory, and the pod's summed requests equal
  its summed limits;
- Burstable: anything in between.

Only non-zero `cpu` and `memory` count.

A pod that sets resources of its own (`spec.resources`, KEP-2837, on since 1.34) is classed by
them alone, its containers' resources aside: Guaranteed when it requests and limits both cpu and
memory with request == limit, BestEffort when it names neither, Burstable otherwise. An empty
`resources: {}` does not count as set (1.37, kubernetes#137150), so such a pod is classed by its
containers.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.podlevel import is_pod_level_resources_set, pod_resources
from kubelite.api.quantity import Quantity

GUARANTEED = "Guaranteed"
BURSTABLE = "Burstable"
BEST_EFFORT = "BestEffort"

# The resources QoS looks at (qos.go supportedQoSComputeResources).
_QOS_RESOURCES = ("cpu", "memory")
_QOS_RESOURCE_SET = frozenset(_QOS_RESOURCES)


def qos_class(pod: dict[str, Any]) -> str:
    """GetPodQOS: the class already in the status, or computed from the containers."""
    stored = (pod.get("status") or {}).get("qosClass")
    return stored if stored else compute_qos_class(pod)


def compute_qos_class(pod: dict[str, Any]) -> str:
    """ComputePodQOS over regular and init containers (ephemeral ones have no resources), or
    over the pod's own resources when it sets some."""
    if is_pod_level_resources_set(pod):
        return _requirements_qos(pod_resources(pod))
    spec = pod.get("spec") or {}
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        # Most containers ask for nothing: `resources: {}`.
        if resources.get("requests"):
            _sum_positive(requests, resources["requests"])
        found = _sum_positive(limits, resources["limits"]) if resources.get("limits") else set()
        if not found >= _QOS_RESOURCE_SET:
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    matching = all(name in limits and limits[name] == q for name, q in requests.items())
    if guaranteed and matching and len(requests) == len(limits):
        return GUARANTEED
    return BURSTABLE


def _sum_positive(totals: dict[str, Quantity], values: dict[str, Any]) -> set[str]:
    """Add the positive cpu and memory quantities to `totals`; return the names seen."""
    seen: set[str] = set()
    for name, raw in values.items():
        if name not in _QOS_RESOURCES:
            continue
        quantity = Quantity.from_json(raw)
        if quantity.sign() > 0:
            seen.add(name)
            totals[name] = totals[name] + quantity if name in totals else quantity
    return seen


def _requirements_qos(resources: dict[str, Any]) -> str:
    """requirementsQOS: one set of requests and limits, resource by resource. A resource whose
    request equals its limit is Guaranteed if that is not zero and BestEffort if it is (neither
    given); a request that differs from the limit is Burstable, and so is a mix of the two."""
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    if not requests and not limits:
        return BEST_EFFORT
    classes = set()
    for name in _QOS_RESOURCES:
        request = Quantity.from_json(requests.get(name, 0))
        limit = Quantity.from_json(limits.get(name, 0))
        if request != limit:
            return BURSTABLE
        classes.add(BEST_EFFORT if request.is_zero() else GUARANTEED)
    return classes.pop() if len(classes) == 1 else BURSTABLE
