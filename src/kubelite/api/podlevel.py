"""Pod-level resources (KEP-2837, the PodLevelResources gate, beta and on since 1.34): a pod's
own `spec.resources`, a budget its containers share.

Only some resources make sense for a whole pod: cpu and memory, which its cgroup bounds, and
huge pages of any size (`hugepages-2Mi`, `hugepages-1Gi`), which its hugetlb cgroup bounds.
Everything that reads a pod's resources asks the same questions of it (component-helpers'
`resource.IsSupportedPodLevelResource`, `IsPodLevelResourcesSet`, `IsPodLevelRequestsSet`,
`IsPodLevelLimitsSet`), so they live here:

    >>> is_supported_pod_level_resource("hugepages-2Mi"), is_supported_pod_level_resource("pods")
    (True, False)
    >>> is_pod_level_resources_set({"spec": {"resources": {"requests": {}}}})
    False

A pod "sets" pod-level resources only when a supported resource appears in its requests or
limits: an empty `resources: {}` is the same as none (1.37 treats it so for QoS too, #137150).
"""

from __future__ import annotations

from kubelite.api.pods import spec_of
from kubelite.api.types import Obj

HUGEPAGES_PREFIX = "hugepages-"  # v1.ResourceHugePagesPrefix

# resource.SupportedPodLevelResources(), as a NotSupported error lists them (sorted, with the
# huge pages prefix standing for every size).
SUPPORTED_POD_LEVEL_RESOURCES = ("cpu", HUGEPAGES_PREFIX, "memory")


def is_supported_pod_level_resource(name: str) -> bool:
    """IsSupportedPodLevelResource: cpu, memory, or huge pages of some size."""
    return name in ("cpu", "memory") or name.startswith(HUGEPAGES_PREFIX)


def pod_resources(pod: Obj) -> Obj:
    """The pod's `spec.resources`, `{}` when it has none (or something that is not an object)."""
    resources = spec_of(pod).get("resources")
    return resources if isinstance(resources, dict) else {}


def _sets_any(values: object) -> bool:
    return isinstance(values, dict) and any(is_supported_pod_level_resource(n) for n in values)


def is_pod_level_requests_set(pod: Obj) -> bool:
    """IsPodLevelRequestsSet: the pod requests some supported resource for itself."""
    return _sets_any(pod_resources(pod).get("requests"))


def is_pod_level_limits_set(pod: Obj) -> bool:
    """IsPodLevelLimitsSet: the pod limits some supported resource for itself."""
    return _sets_any(pod_resources(pod).get("limits"))


def is_pod_level_resources_set(pod: Obj) -> bool:
    """IsPodLevelResourcesSet: the pod requests or limits some supported resource itself."""
    return is_pod_level_requests_set(pod) or is_pod_level_limits_set(pod)


def pod_level(pod: Obj, key: str) -> dict[str, object]:
    """The pod's own `requests` or `limits` (`key`) of the supported resources, raw JSON."""
    values = pod_resources(pod).get(key)
    if not isinstance(values, dict):
        return {}
    return {n: v for n, v in values.items() if is_supported_pod_level_resource(n)}
