"""Resource amounts as the scheduler counts them: a pod's requests and a node's allocatable.

A pod asks for the larger of what its app containers need together and what its heaviest init
container needs, because init containers run one at a time before the app containers start.
Sidecars (init containers with `restartPolicy: Always`) keep running, so they add to both: to
the app containers' sum, and under every init container that starts after them. Pod overhead
(`spec.overhead`, set by a RuntimeClass) comes on top. This is `resource.PodRequests` of
Kubernetes' component-helpers, whose rule `kubelite.api.podresources.aggregate` holds; the
scheduler counts in integers of its own.

Scoring uses the same sum with a floor per container: a container that requests no CPU counts as
100m and one that requests no memory as 200 MiB, so that pods without requests still spread
(the scheduler's `NonZeroRequested`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kubelite.api.podresources import aggregate
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


def _requests(container: Obj) -> Obj:
    return (container.get("resources") or {}).get("requests") or {}


def _non_zero(requests: Obj) -> Resource:
    """A container's CPU and memory requests with the scoring floors."""
    result = Resource()
    cpu = requests.get(CPU)
    memory = requests.get(MEMORY)
    result.milli_cpu = DEFAULT_MILLI_CPU_REQUEST if cpu is None else _amount(CPU, cpu)
    result.memory = DEFAULT_MEMORY_REQUEST if memory is None else _amount(MEMORY, memory)
    return result


def pod_requests(pod: Obj) -> Resource:
    """What the pod asks of its node (resource.PodRequests)."""
    spec = pod.get("spec") or {}
    total = aggregate(spec, lambda container: resource_of(_requests(container)), Resource)
    overhead = spec.get("overhead")
    if overhead:
        total.add(resource_of(overhead))
    return total


def pod_non_zero_requests(pod: Obj) -> Resource:
    """CPU and memory as scoring counts them: every container has at least the floors; the
    overhead is added as it is."""
    spec = pod.get("spec") or {}
    total = aggregate(spec, lambda container: _non_zero(_requests(container)), Resource)
    overhead = spec.get("overhead")
    if overhead:
        extra = resource_of(overhead)
        total.milli_cpu += extra.milli_cpu
        total.memory += extra.memory
    return total
