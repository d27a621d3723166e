"""NodeResourcesFit: Filter against allocatable minus requested, and the LeastAllocated score.

The score cases are kube-scheduler's own (noderesources/least_allocated_test.go): cpu there is in
whole cpus ("4000" is 4000 cpus) and memory in bytes, and a pod made without containers has no
requests at all, not even the scoring floors.
"""

from __future__ import annotations

import pytest
from plugin_objects import filter_all, make_node, make_pod, score_all

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import PodInfo
from kubelite.scheduler.plugins.node_resources_fit import NodeResourcesFit

GPU = "example.com/gpu"


def node_with(*pods: PodInfo, cpu: str = "10", memory: str = "20", gpus: str | None = None):
    allocatable = {"cpu": cpu, "memory": memory, "pods": "32", "ephemeral-storage": "20"}
    if gpus is not None:
        allocatable[GPU] = gpus
    return make_node("n1", allocatable=allocatable, pods=list(pods))


@pytest.mark.parametrize(
    ("pod", "running", "reasons"),
    [
        pytest.param(make_pod(), [], [], id="no requests"),
        pytest.param(
            make_pod(requests=[{"cpu": "1", "memory": "1"}]),
            [make_pod("r", requests=[{"cpu": "5", "memory": "5"}])],
            [],
            id="enough room",
        ),
        pytest.param(
            make_pod(requests=[{"cpu": "1", "memory": "1"}]),
            [make_pod("r", requests=[{"cpu": "10", "memory": "19"}])],
            ["Insufficient cpu"],
            id="too little cpu",
        ),
        pytest.param(
            make_pod(requests=[{"cpu": "1", "memory": "2"}]),
            [make_pod("r", requests=[{"cpu": "5", "memory": "19"}])],
            ["Insufficient memory"],
            id="too little memory",
        ),
        pytest.param(
            make_pod(requests=[{"cpu": "6", "memory": "2"}]),
            [make_pod("r", requests=[{"cpu": "5", "memory": "19"}])],
            ["Insufficient cpu", "Insufficient memory"],
            id="every shortfall is a reason",
        ),
        pytest.param(
            make_pod(requests=[{"cpu": "1"}, {"cpu": "1"}], init_requests=[{"cpu": "6"}]),
            [make_pod("r", requests=[{"cpu": "5"}])],
            ["Insufficient cpu"],
            id="the heaviest init container counts",
        ),
        pytest.param(
            make_pod(requests=[{"cpu": "2"}, {"cpu": "3"}], init_requests=[{"cpu": "4"}]),
            [make_pod("r", requests=[{"cpu": "5"}])],
            [],
            id="app containers together fit",
        ),
        pytest.param(
            make_pod(requests=[{"ephemeral-storage": "21"}]),
            [],
            ["Insufficient ephemeral-storage"],
            id="ephemeral storage",
        ),
        pytest.param(
            make_pod(requests=[{"cpu": "1"}], overhead={"cpu": "9500m"}),
            [],
            ["Insufficient cpu"],
            id="pod overhead",
        ),
    ],
)
def test_filter_checks_each_requested_resource(
    pod: PodInfo, running: list[PodInfo], reasons: list[str]
) -> None:
    (status,) = filter_all(NodeResourcesFit(), pod, [node_with(*running)])
    expected = Code.SUCCESS if not reasons else Code.UNSCHEDULABLE
    assert (status.code, status.reasons) == (expected, reasons)


@pytest.mark.parametrize(
    ("gpus", "wanted", "running", "reasons"),
    [
        ("2", "1", "1", []),
        ("2", "2", "1", [f"Insufficient {GPU}"]),
        (None, "1", None, [f"Insufficient {GPU}"]),
        (None, "0", None, []),
    ],
)
def test_extended_resources_are_counted(
    gpus: str | None, wanted: str, running: str | None, reasons: list[str]
) -> None:
    others = [make_pod("r", requests=[{GPU: running}])] if running else []
    (status,) = filter_all(
        NodeResourcesFit(), make_pod(requests=[{GPU: wanted}]), [node_with(*others, gpus=gpus)]
    )
    assert status.reasons == reasons


@pytest.mark.parametrize(
    ("requests", "reasons"),
    [
        (None, ["Too many pods"]),
        ([{"cpu": "20"}], ["Too many pods", "Insufficient cpu"]),
    ],
)
def test_pod_count_is_checked_even_without_requests(
    requests: list[dict[str, str]] | None, reasons: list[str]
) -> None:
    node = make_node(
        "n1", allocatable={"cpu": "4", "memory": "1Gi", "pods": "1"}, pods=[make_pod("r")]
    )
    (status,) = filter_all(NodeResourcesFit(), make_pod(requests=requests), [node])
    assert (status.code, status.reasons) == (Code.UNSCHEDULABLE, reasons)


def test_refusals_with_the_same_reasons_share_one_status() -> None:
    plugin = NodeResourcesFit()
    pod = make_pod(requests=[{"cpu": "20"}])
    first, second = filter_all(plugin, pod, [node_with(), node_with()])
    assert first is second


def sized(name: str, cpu: str, memory: str, *pods: PodInfo):
    return make_node(name, allocatable={"cpu": cpu, "memory": memory}, pods=list(pods))


REQUESTED = [{"cpu": "1000", "memory": "2000"}, {"cpu": "2000", "memory": "3000"}]


@pytest.mark.parametrize(
    ("pod", "nodes", "scores"),
    [
        pytest.param(
            make_pod(),
            [sized("node1", "4000", "10000"), sized("node2", "4000", "10000")],
            [100, 100],
            id="nothing scheduled, nothing requested",
        ),
        pytest.param(
            make_pod(requests=REQUESTED),
            [sized("node1", "4000", "10000"), sized("node2", "6000", "10000")],
            [37, 50],
            id="nothing scheduled, resources requested, differently sized nodes",
        ),
        pytest.param(
            make_pod(),
            [
                sized("node1", "10000", "20000", make_pod("a"), make_pod("b")),
                sized("node2", "10000", "20000", make_pod("c"), make_pod("d")),
            ],
            [100, 100],
            id="no resources requested, pods scheduled",
        ),
        pytest.param(
            make_pod(),
            [
                sized(
                    "node1",
                    "10000",
                    "20000",
                    make_pod("a", requests=[{"cpu": "3000", "memory": "0"}]),
                    make_pod("b", requests=[{"cpu": "3000", "memory": "0"}]),
                ),
                sized(
                    "node2",
                    "10000",
                    "20000",
                    make_pod("c", requests=[{"cpu": "3000", "memory": "0"}]),
                    make_pod("d", requests=[{"cpu": "3000", "memory": "5000"}]),
                ),
            ],
            [70, 57],
            id="no resources requested, pods scheduled with resources",
        ),
        pytest.param(
            make_pod(requests=REQUESTED),
            [
                sized(
                    "node1",
                    "10000",
                    "20000",
                    make_pod("a", requests=[{"cpu": "3000", "memory": "0"}]),
                ),
                sized(
                    "node2",
                    "10000",
                    "50000",
                    make_pod("b", requests=[{"cpu": "3000", "memory": "5000"}]),
                ),
            ],
            [57, 60],
            id="resources requested, pods scheduled with resources, differently sized nodes",
        ),
        pytest.param(
            make_pod(requests=[{"cpu": "3000", "memory": "0"}]),
            [
                sized(
                    "node1",
                    "4000",
                    "10000",
                    make_pod("a", requests=[{"cpu": "3000", "memory": "0"}]),
                ),
                sized(
                    "node2",
                    "4000",
                    "10000",
                    make_pod("b", requests=[{"cpu": "3000", "memory": "5000"}]),
                ),
            ],
            [50, 25],
            id="requested resources exceed node capacity",
        ),
        pytest.param(
            make_pod(),
            [
                make_node(
                    "node1", allocatable={}, pods=[make_pod("a", requests=[{"cpu": "3000"}])]
                ),
                make_node("node2", allocatable={}),
            ],
            [0, 0],
            id="zero node resources",
        ),
    ],
)
def test_least_allocated_score_as_kubernetes_computes_it(
    pod: PodInfo, nodes: list, scores: list[int]
) -> None:
    assert score_all(NodeResourcesFit(), pod, nodes) == scores


def test_score_counts_the_floors_of_containers_without_requests() -> None:
    # 100m of 1 cpu leaves 90; 200Mi of 2000Mi leaves 90.
    node = make_node("n1", allocatable={"cpu": "1", "memory": "2000Mi"})
    assert score_all(NodeResourcesFit(), make_pod(requests=[{}]), [node]) == [90]


def test_registers_pod_deletes_and_node_changes() -> None:
    assert NodeResourcesFit().events_to_register() == {"Pod/Delete", "Node/Add", "Node/Update"}
