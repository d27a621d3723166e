"""What a pod asks of its node, and what it may use at most: Kubernetes' `PodRequests` and
`PodLimits` (k8s.io/component-helpers/resource/helpers.go), which the scheduler, `kubectl
describe` and the kubelet's cgroups all count the same way.

App containers run together, so their amounts add up. Init containers run one at a time before
them, so each only raises the total to what it needs itself. Sidecars (restartable init
containers) start among the init containers and keep running: each adds to the total, and runs
under every init container that starts after it. Pod overhead (`spec.overhead`, set by a
RuntimeClass) comes on top: to every request, and to the limits that are set.

A pod may also state requests and limits of its own (`spec.resources`, see `podlevel`): for the
resources it names, those replace what its containers add up to, since the pod's cgroup is
what bounds them all.

`aggregate` is that rule over any kind of amounts, so that the scheduler can count in its own
integers (and with its scoring floors) and everyone else in `Quantity`s:

    >>> pod = {"spec": {"containers": [{"resources": {"requests": {"cpu": "1"}}}],
    ...                 "initContainers": [{"resources": {"requests": {"cpu": "3"}}}]}}
    >>> str(pod_requests(pod)["cpu"])
    '3'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, Self, TypeVar

from kubelite.api.podlevel import is_pod_level_requests_set, is_pod_level_resources_set, pod_level
from kubelite.api.pods import is_restartable_init_container, spec_of
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj


class Amounts(Protocol):
    """What `aggregate` needs of an amount of resources."""

    def add(self, other: Self, /) -> None: ...

    def set_max(self, other: Self, /) -> None: ...

    def copy(self) -> Self: ...


A = TypeVar("A", bound=Amounts)


def aggregate(spec: Obj, amounts_of: Callable[[Obj], A], empty: Callable[[], A]) -> A:
    """The pod's containers' amounts (`amounts_of` one container) counted as PodRequests counts
    them, without the overhead."""
    total = empty()
    for container in spec.get("containers") or ():
        total.add(amounts_of(container))
    sidecars = empty()
    heaviest_init = empty()
    for container in spec.get("initContainers") or ():
        amounts = amounts_of(container)
        if is_restartable_init_container(container):
            total.add(amounts)
            sidecars.add(amounts)
            running = sidecars.copy()
        else:
            running = amounts.copy()
            running.add(sidecars)
        heaviest_init.set_max(running)
    total.set_max(heaviest_init)
    return total


class ResourceList(dict[str, Quantity]):
    """A core/v1 ResourceList of parsed quantities, with the sums PodRequests makes of them."""

    @classmethod
    def from_json(cls, values: Mapping[str, Any] | None) -> ResourceList:
        return cls((name, Quantity.from_json(raw)) for name, raw in (values or {}).items())

    def add(self, other: Mapping[str, Quantity], /) -> None:
        """addResourceList: every amount of `other` added to this one's."""
        for name, quantity in other.items():
            self[name] = self[name] + quantity if name in self else quantity

    def set_max(self, other: Mapping[str, Quantity], /) -> None:
        """maxResourceList: each amount raised to `other`'s where that is larger."""
        for name, quantity in other.items():
            if name not in self or self[name] < quantity:
                self[name] = quantity

    def copy(self) -> ResourceList:
        return ResourceList(self)


def is_resize_infeasible(pod: Obj) -> bool:
    """IsPodResizeInfeasible: the kubelet said this node can never give the pod its new size
    (a PodResizePending condition with reason Infeasible)."""
    for condition in (pod.get("status") or {}).get("conditions") or ():
        if condition.get("type") == "PodResizePending" and condition.get("reason") == "Infeasible":
            return True
    return False


def requests_with_status(pod: Obj) -> Callable[[Obj], Obj]:
    """A container's requests as PodRequests counts them with `UseStatusResources` (on since
    in-place resize, 1.33): while a resize is pending or under way the node may be giving the
    container more than its spec asks, or its spec may ask for more than it has yet, so each
    amount is the largest of the spec's request, the request the kubelet reports applied
    (`status.containerStatuses[].resources.requests`) and the one it allocated
    (`allocatedResources`); an Infeasible resize's spec does not count (determineContainerReqs).
    A container without status resources counts its spec alone. Returns `requests(container)`.
    """
    status = pod.get("status") or {}
    by_name = {
        s.get("name"): s
        for s in (
            *(status.get("initContainerStatuses") or ()),
            *(status.get("containerStatuses") or ()),
        )
        if isinstance(s, dict)
    }
    infeasible = is_resize_infeasible(pod) if by_name else False

    def requests(container: Obj) -> Obj:
        spec_requests = (container.get("resources") or {}).get("requests") or {}
        found = by_name.get(container.get("name"))
        if found is None or not isinstance(found.get("resources"), dict):
            return spec_requests
        candidates = [
            found["resources"].get("requests") or {},
            found.get("allocatedResources") or {},
        ]
        if not infeasible:
            candidates.append(spec_requests)
        largest: dict[str, Quantity] = {}
        for values in candidates:
            for name, raw in values.items():
                quantity = Quantity.from_json(raw)
                if name not in largest or largest[name] < quantity:
                    largest[name] = quantity
        return {name: str(q) for name, q in largest.items()}

    return requests


def _of(key: str) -> Callable[[Obj], ResourceList]:
    def amounts_of(container: Obj) -> ResourceList:
        return ResourceList.from_json((container.get("resources") or {}).get(key))

    return amounts_of


def aggregate_container_requests(spec: Obj) -> ResourceList:
    """AggregateContainerRequests: the containers' requests alone, without the pod's own
    (`spec.resources`) or the overhead."""
    return aggregate(spec, _of("requests"), ResourceList)


def aggregate_container_limits(spec: Obj) -> ResourceList:
    """AggregateContainerLimits: the containers' limits alone, without the pod's own."""
    return aggregate(spec, _of("limits"), ResourceList)


def pod_requests(pod: Obj, *, use_status_resources: bool = False) -> ResourceList:
    """PodRequests: what the pod asks of its node, overhead included; with
    `use_status_resources`, each container's requests as `requests_with_status` has them."""
    spec = spec_of(pod)
    if use_status_resources:
        requests = requests_with_status(pod)
        total = aggregate(spec, lambda c: ResourceList.from_json(requests(c)), ResourceList)
    else:
        total = aggregate(spec, _of("requests"), ResourceList)
    if is_pod_level_requests_set(pod):
        # Pod-level requests win over the containers' sum where they are set (KEP-2837).
        total.update(ResourceList.from_json(pod_level(pod, "requests")))
    total.add(ResourceList.from_json(spec.get("overhead")))
    return total


def pod_limits(pod: Obj) -> ResourceList:
    """PodLimits: what the pod may use at most, of the resources some container limits; the
    overhead is added to those only (a resource nothing limits stays unlimited)."""
    spec = spec_of(pod)
    total = aggregate(spec, _of("limits"), ResourceList)
    if is_pod_level_resources_set(pod):
        # Pod-level limits win over the containers' sum where they are set (KEP-2837).
        total.update(ResourceList.from_json(pod_level(pod, "limits")))
    for name, quantity in ResourceList.from_json(spec.get("overhead")).items():
        if name in total:
            total[name] = total[name] + quantity
    return total
