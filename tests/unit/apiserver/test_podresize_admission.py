"""PodResizeValidator's sum of a pod's requests (GetResourceRequest of pkg/api/v1/resource)."""

from __future__ import annotations

from typing import Any

from kubelite.apiserver.podresize_admission import _not_enough_allocatable, _request


def _container(cpu: str) -> dict[str, Any]:
    return {"name": f"c{cpu}", "resources": {"requests": {"cpu": cpu}}}


def test_the_largest_init_container_counts_when_it_asks_more_than_the_containers() -> None:
    pod = {"spec": {"containers": [_container("1")], "initContainers": [_container("3")]}}
    assert _request(pod, "cpu").milli_value() == 3000
    pod["spec"]["containers"].append(_container("2500m"))
    assert _request(pod, "cpu").milli_value() == 3500


def test_overhead_is_added_only_to_something_requested() -> None:
    pod: dict[str, Any] = {
        "spec": {"containers": [{"name": "c"}], "overhead": {"cpu": "250m", "memory": "10Mi"}}
    }
    assert _request(pod, "cpu").milli_value() == 0
    pod["spec"]["containers"] = [_container("1")]
    assert _request(pod, "cpu").milli_value() == 1250


def test_both_resources_short_are_named_in_one_message() -> None:
    pod = {
        "spec": {
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "2", "memory": "2Gi"}}}]
        }
    }
    node = {"status": {"allocatable": {"cpu": "1", "memory": "1Gi"}}}
    assert _not_enough_allocatable(pod, node) == (
        "Node didn't have enough allocatable resources: cpu, requested: 2000, allocatable: "
        "1000; memory, requested: 2147483648, allocatable: 1073741824"
    )


def test_pod_level_requests_stand_for_the_containers() -> None:
    """A pod-level resize past the node is refused in admission as a container one is."""
    pod = {
        "spec": {
            "resources": {"requests": {"cpu": "3"}},
            "containers": [_container("500m")],
            "overhead": {"cpu": "100m"},
        }
    }
    assert _request(pod, "cpu").milli_value() == 3100
    node = {"status": {"allocatable": {"cpu": "2", "memory": "1Gi"}}}
    assert _not_enough_allocatable(pod, node) == (
        "Node didn't have enough allocatable resources: cpu, requested: 3100, allocatable: 2000"
    )
