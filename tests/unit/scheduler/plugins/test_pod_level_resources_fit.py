"""What a pod with resources of its own (`spec.resources`, KEP-2837) asks of a node: its
pod-level requests win over its containers' sum where set (component-helpers' PodRequests), in
Filter, in the node's accounting and in scoring (getNonMissingContainerRequests)."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import filter_all, make_node

from kubelite.api.podresources import pod_limits, pod_requests
from kubelite.scheduler.framework.resources import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    pod_non_zero_requests,
)
from kubelite.scheduler.framework.resources import pod_requests as scheduler_requests
from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import PodInfo
from kubelite.scheduler.plugins.node_resources_fit import NodeResourcesFit

Obj = dict[str, Any]
MI = 1 << 20


def _pod(
    name: str = "pod",
    resources: Obj | None = None,
    containers: list[Obj] | None = None,
    overhead: Obj | None = None,
) -> Obj:
    spec: Obj = {"containers": containers or [{"name": "a"}, {"name": "b"}]}
    if resources is not None:
        spec["resources"] = resources
    if overhead is not None:
        spec["overhead"] = overhead
    return {"metadata": {"name": name, "namespace": "default", "uid": f"u-{name}"}, "spec": spec}


def _requests(cpu: str | None = None, memory: str | None = None) -> Obj:
    values = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": f"c-{cpu}-{memory}", "resources": {"requests": values}}


def test_pod_level_requests_win_over_the_containers_sum() -> None:
    pod = _pod(
        resources={"requests": {"cpu": "2"}, "limits": {"cpu": "3", "memory": "1Gi"}},
        containers=[_requests("500m", "100Mi"), _requests("500m")],
    )
    requests, limits = pod_requests(pod), pod_limits(pod)
    # cpu from the pod; memory, which the pod does not request, from the containers.
    assert {k: str(v) for k, v in requests.items()} == {"cpu": "2", "memory": "100Mi"}
    assert {k: str(v) for k, v in limits.items()} == {"cpu": "3", "memory": "1Gi"}
    counted = scheduler_requests(pod)
    assert (counted.milli_cpu, counted.memory) == (2000, 100 * MI)


def test_the_overhead_comes_on_top_of_pod_level_requests() -> None:
    pod = _pod(resources={"requests": {"cpu": "1"}}, overhead={"cpu": "250m"})
    assert str(pod_requests(pod)["cpu"]) == "1250m"
    assert scheduler_requests(pod).milli_cpu == 1250


def test_huge_pages_requested_by_the_pod_are_counted() -> None:
    pod = _pod(resources={"requests": {"memory": "1Gi", "hugepages-2Mi": "4Mi"}})
    assert scheduler_requests(pod).scalar == {"hugepages-2Mi": 4 * MI}


@pytest.mark.parametrize(
    ("resources", "containers", "expected"),
    [
        # Without pod-level requests: the floors per container that names neither.
        (None, [{"name": "a"}, {"name": "b"}], (2 * DEFAULT_MILLI_CPU_REQUEST, 2 * 200 * MI)),
        # The pod requests both: no floor anywhere.
        ({"requests": {"cpu": "300m", "memory": "64Mi"}}, None, (300, 64 * MI)),
        # The pod requests cpu only, no container memory: memory gets the floors.
        ({"requests": {"cpu": "300m"}}, None, (300, 2 * DEFAULT_MEMORY_REQUEST)),
        # A container names memory: then memory is what the containers ask, floors aside.
        ({"requests": {"cpu": "300m"}}, [_requests(memory="10Mi"), {"name": "b"}], (300, 10 * MI)),
    ],
)
def test_scoring_floors_only_apply_to_what_nobody_requests(
    resources: Obj | None, containers: list[Obj] | None, expected: tuple[int, int]
) -> None:
    counted = pod_non_zero_requests(_pod(resources=resources, containers=containers))
    assert (counted.milli_cpu, counted.memory) == expected


def _node(*pods: Obj, cpu: str = "2", memory: str = "4Gi") -> Any:
    allocatable = {"cpu": cpu, "memory": memory, "pods": "10"}
    return make_node("n1", allocatable=allocatable, pods=[PodInfo(p) for p in pods])


def test_filter_refuses_a_node_without_room_for_the_pod_level_requests() -> None:
    pod = PodInfo(_pod(resources={"requests": {"cpu": "3"}}, containers=[_requests("100m")]))
    (status,) = filter_all(NodeResourcesFit(), pod, [_node()])
    assert (status.code, status.reasons) == (Code.UNSCHEDULABLE, ["Insufficient cpu"])


def test_filter_counts_the_pod_level_requests_of_the_pods_already_there() -> None:
    running = _pod("running", resources={"requests": {"cpu": "1500m"}})
    pod = PodInfo(_pod(containers=[_requests("600m")]))
    (status,) = filter_all(NodeResourcesFit(), pod, [_node(running)])
    assert status.reasons == ["Insufficient cpu"]
    (status,) = filter_all(
        NodeResourcesFit(), PodInfo(_pod(containers=[_requests("500m")])), [_node(running)]
    )
    assert status.code == Code.SUCCESS
