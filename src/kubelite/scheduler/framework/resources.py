"""Resource amounts as the scheduler counts them: a pod's requests and a node's allocatable.

A pod asks for the larger of what its app containers need together and what its heaviest init
container needs, because init containers run one at a time before the app containers start.
Sidecars (init containers with `restartPolicy: Always`) keep running, so they add to both: to
the app containers' sum, and under every init container that starts after them. Pod overhead
(`spec.overhead`, set by a RuntimeClass) comes on top. This is `resource.PodRequests` of
Kubernetes' component-helpers, whose rule `kubelite.api.podresources.aggregate` holds; the
scheduler counts in integers of its own. A pod's own requests (`spec.resources`, KEP-2837)
replace its containers' sum for the resources they name.

Scoring uses the same sum with a floor per container: a container that requests no CPU counts as
100m and one that requests no memory as 200 MiB, so that pods without requests still spread
(the scheduler's `NonZeroRequested`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.podlevel import is_pod_level_requests_set, pod_level
from kubelite.api.podresources import aggregate, requests_with_status
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.types import Obj

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"

# The floors of NonZeroRequested (pkg/scheduler/util: DefaultMilliCPURequest, DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


@dataclass(slots=True)
class Resource:
    """CPU in millicores, memory and ephemeral storage in bytes, a pod count, and the rest
    (extended resources, hugepages) by name in their base units."""

    milli_cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    allowed_pod_number: int = 0
    scalar: dict[str, int] = field(default_factory=dict)

    def add(self, other: Resource) -> None:
        self.milli_cpu += other.milli_cpu
        self.memory += other.memory
        self.ephemeral_storage += other.ephemeral_storage
        self.allowed_pod_number += other.allowed_pod_number
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) + amount

    def subtract(self, other: Resource) -> None:
        self.milli_cpu -= other.milli_cpu
        self.memory -= other.memory
        self.ephemeral_storage -= other.ephemeral_storage
        self.allowed_pod_number -= other.allowed_pod_number
        for name, amount in other.scalar.items():
            self.scalar[name] = self.scalar.get(name, 0) - amount

    def set_max(self, other: Resource) -> None:
        self.milli_cpu = max(self.milli_cpu, other.milli_cpu)
        self.memory = max(self.memory, other.memory)
        self.ephemeral_storage = max(self.ephemeral_storage, other.ephemeral_storage)
        self.allowed_pod_number = max(self.allowed_pod_number, other.allowed_pod_number)
        for name, amount in other.scalar.items():
            self.scalar[name] = max(self.scalar.get(name, 0), amount)

    def copy(self) -> Resource:
        return Resource(
            self.milli_cpu,
            self.memory,
            self.ephemeral_storage,
            self.allowed_pod_number,
            dict(self.scalar),
        )

    def is_zero(self) -> bool:
        return not (
            self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values())
        )

    def get(self, name: str) -> int:
        """The amount of a resource by its Kubernetes name."""
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pod_number
        return self.scalar.get(name, 0)


def _amount(name: str, value: Any) -> int:
    try:
        quantity = Quantity.from_json(value)
    except QuantityError:
        return 0  # the API server refuses such values; a stray one counts as nothing
    return quantity.milli_value() if name == CPU else quantity.value()


def resource_of(values: Mapping[str, Any] | None) -> Resource:
    """A ResourceList (`{"cpu": "500m", ...}`) as a Resource."""
    result = Resource()
    for name, value in (values or {}).items():
        amount = _amount(name, value)
        if name == CPU:
            result.milli_cpu = amount
        elif name == MEMORY:
            result.memory = amount
        elif name == EPHEMERAL_STORAGE:
            result.ephemeral_storage = amount
        elif name == PODS:
            result.allowed_pod_number = amount
        else:
            result.scalar[name] = amount
    return result


def _non_zero(requests: Obj) -> Resource:
    """A container's CPU and memory requests with the scoring floors."""
    result = Resource()
    cpu = requests.get(CPU)
    memory = requests.get(MEMORY)
    result.milli_cpu = DEFAULT_MILLI_CPU_REQUEST if cpu is None else _amount(CPU, cpu)
    result.memory = DEFAULT_MEMORY_REQUEST if memory is None else _amount(MEMORY, memory)
    return result


def pod_requests(pod: Obj) -> Resource:
    """What the pod asks of its node (resource.PodRequests with UseStatusResources: a pod
    being resized counts the larger of its new and its current size, `requests_with_status`)."""
    spec = pod.get("spec") or {}
    requests = requests_with_status(pod)
    total = aggregate(spec, lambda container: resource_of(requests(container)), Resource)
    if is_pod_level_requests_set(pod):
        _apply_pod_level(total, pod_level(pod, "requests"))
    overhead = spec.get("overhead")
    if overhead:
        total.add(resource_of(overhead))
    return total


def _apply_pod_level(total: Resource, values: Mapping[str, Any]) -> None:
    """The pod's own requests (`spec.resources`) replace its containers' sum, resource by
    resource (PodRequests with pod-level resources, KEP-2837)."""
    own = resource_of(values)
    for name in values:
        if name == CPU:
            total.milli_cpu = own.milli_cpu
        elif name == MEMORY:
            total.memory = own.memory
        else:  # huge pages, the only other resource a pod may request for itself
            total.scalar[name] = own.scalar[name]


def pod_non_zero_requests(pod: Obj) -> Resource:
    """CPU and memory as scoring counts them: every container has at least the floors; the
    overhead is added as it is."""
    spec = pod.get("spec") or {}
    requests = requests_with_status(pod)
    if is_pod_level_requests_set(pod):
        total = _non_zero_with_pod_level(pod, spec, requests)
    else:
        total = aggregate(spec, lambda container: _non_zero(requests(container)), Resource)
    overhead = spec.get("overhead")
    if overhead:
        extra = resource_of(overhead)
        total.milli_cpu += extra.milli_cpu
        total.memory += extra.memory
    return total


def _non_zero_with_pod_level(pod: Obj, spec: Obj, requests: Callable[[Obj], Obj]) -> Resource:
    """getNonMissingContainerRequests for a pod with pod-level requests: its cpu and memory as
    PodRequests counts them, except that a resource neither the pod, nor any container, nor the
    overhead names gets the floor per container (the overhead is added by the caller)."""
    own = pod_level(pod, "requests")
    total = aggregate(spec, lambda container: resource_of(requests(container)), Resource)
    _apply_pod_level(total, own)
    named = set(own) | set(spec.get("overhead") or {})
    for key in ("initContainers", "containers"):
        for container in spec.get(key) or ():
            named.update(requests(container))
    if CPU not in named or MEMORY not in named:
        floors = aggregate(spec, lambda container: _non_zero({}), Resource)
        if CPU not in named:
            total.milli_cpu = floors.milli_cpu
        if MEMORY not in named:
            total.memory = floors.memory
    return Resource(total.milli_cpu, total.memory)
