"""Whether this node can give a pod the size its spec now asks for (pure).

Kubernetes' kubelet decides a resize in two steps (`podResizesAdmitHandler.Admit` in
pkg/kubelet/allocation/handlers.go, then the admit handlers run with the Resize operation in
allocation_manager.go):

1. Infeasible: the pod's new requests exceed what the node could ever give a pod, its
   allocatable as the kubelet enforces it (`GetNodeAllocatableAbsolute`: capacity less the
   kube- and system-reserved, of which kubelite has none, so the node's capacity). Memory is
   named first when both are short:
   `Node didn't have enough capacity: cpu, requested: 8000, capacity: 2000` (CPU in millicores,
   memory in bytes). Such a resize is not tried again until the spec changes.
2. Deferred: it does not fit beside the other pods now, as the kubelet's predicate admit
   handler counts them (the node's status allocatable less the other pods' allocated requests;
   the first shortfall, in the scheduler's order: pods, cpu, memory, ephemeral storage):
   `Node didn't have enough resource: cpu, requested: 1500, used: 1450, capacity: 1930`
   (InsufficientResourceError). The kubelet tries again when room may have appeared.

Otherwise the resize fits and is allocated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kubelite.api.podresources import ResourceList, pod_requests
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj

# core/v1 PodResizePending reasons.
INFEASIBLE = "Infeasible"
DEFERRED = "Deferred"

CAPACITY_MESSAGE = "Node didn't have enough capacity: "
# lifecycle.InsufficientResourceError.Error().
INSUFFICIENT_RESOURCE = (
    "Node didn't have enough resource: {}, requested: {}, used: {}, capacity: {}"
)

# The resources whose shortfall defers a resize, in the order the scheduler's fit check
# reports them (fitsRequest).
_CHECKED = ("cpu", "memory", "ephemeral-storage")


@dataclass(frozen=True, slots=True)
class Verdict:
    """A resize's outcome: fits (reason ""), or Infeasible or Deferred with a message."""

    reason: str = ""
    message: str = ""

    @property
    def fits(self) -> bool:
        return not self.reason


FITS = Verdict()


def _amount(name: str, value: Any) -> int:
    quantity = value if isinstance(value, Quantity) else Quantity.from_json(value)
    return quantity.milli_value() if name == "cpu" else quantity.value()


def _request(requests: ResourceList, name: str) -> int:
    """GetResourceRequest: one resource of a pod's PodRequests (CPU in millicores)."""
    found = requests.get(name)
    return _amount(name, found) if found is not None else 0


def check_infeasible(pod: Obj, capacity: Mapping[str, Any]) -> Verdict:
    """Step 1: the pod's requests against the node's absolute allocatable."""
    requests = pod_requests(pod)
    cpu, memory = _request(requests, "cpu"), _request(requests, "memory")
    cpu_available = _amount("cpu", capacity.get("cpu", 0))
    memory_available = _amount("memory", capacity.get("memory", 0))
    if memory > memory_available:
        return Verdict(
            INFEASIBLE,
            f"{CAPACITY_MESSAGE}memory, requested: {memory}, capacity: {memory_available}",
        )
    if cpu > cpu_available:
        return Verdict(
            INFEASIBLE, f"{CAPACITY_MESSAGE}cpu, requested: {cpu}, capacity: {cpu_available}"
        )
    return FITS


def check_fits_now(pod: Obj, allocatable: Mapping[str, Any], others: Iterable[Obj]) -> Verdict:
    """Step 2: the pod beside the node's other pods (each as allocated, counted with its
    status resources, as the scheduler's NodeInfo counts assigned pods)."""
    others = list(others)
    allowed_pods = _amount("pods", allocatable.get("pods", 0))
    if allocatable.get("pods") is not None and len(others) + 1 > allowed_pods:
        return Verdict(DEFERRED, INSUFFICIENT_RESOURCE.format("pods", 1, len(others), allowed_pods))
    requests = pod_requests(pod)
    # The other pods' requests, summed up once and only when some resource needs them.
    used_by_others: list[ResourceList] | None = None
    for name in _CHECKED:
        want = _request(requests, name)
        if want <= 0 or allocatable.get(name) is None:
            continue
        if used_by_others is None:
            used_by_others = [pod_requests(o, use_status_resources=True) for o in others]
        used = sum(_request(other, name) for other in used_by_others)
        available = _amount(name, allocatable[name])
        if want > available - used:
            return Verdict(DEFERRED, INSUFFICIENT_RESOURCE.format(name, want, used, available))
    return FITS


def check_resize(
    pod: Obj, *, capacity: Mapping[str, Any], allocatable: Mapping[str, Any], others: Iterable[Obj]
) -> Verdict:
    """Both steps: can the node give `pod` (its spec: the desired size) what it asks?"""
    verdict = check_infeasible(pod, capacity)
    if not verdict.fits:
        return verdict
    return check_fits_now(pod, allocatable, others)
