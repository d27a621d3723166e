"""What a pod asks of its node, and what it may use at most: Kubernetes' `PodRequests` and
`PodLimits` (k8s.io/component-helpers/resource/helpers.go), which the scheduler, `kubectl
describe` and the kubelet's cgroups all count the same way.

App containers run together, so their amounts add up. Init containers run one at a time before
them, so each only raises the total to what it needs itself. Sidecars (restartable init
containers) start among the init containers and keep running: each adds to the total, and runs
under every init container that starts after it. Pod overhead (`spec.overhead`, set by a
RuntimeClass) comes on top: to every request, and to the limits that are set.

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


def _of(key: str) -> Callable[[Obj], ResourceList]:
    def amounts_of(container: Obj) -> ResourceList:
        return ResourceList.from_json((container.get("resources") or {}).get(key))

    return amounts_of


def pod_requests(pod: Obj) -> ResourceList:
    """PodRequests: what the pod asks of its node, overhead included."""
    spec = spec_of(pod)
    total = aggregate(spec, _of("requests"), ResourceList)
    total.add(ResourceList.from_json(spec.get("overhead")))
    return total


def pod_limits(pod: Obj) -> ResourceList:
    """PodLimits: what the pod may use at most, of the resources some container limits; the
    overhead is added to those only (a resource nothing limits stays unlimited)."""
    spec = spec_of(pod)
    total = aggregate(spec, _of("limits"), ResourceList)
    for name, quantity in ResourceList.from_json(spec.get("overhead")).items():
        if name in total:
            total[name] = total[name] + quantity
    return total
