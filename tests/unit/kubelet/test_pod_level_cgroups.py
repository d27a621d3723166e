"""The cgroups of a pod with resources of its own (`spec.resources`, KEP-2837): the pod's
cgroup gets the pod-level limits and the cpu shares of its pod-level requests
(ResourceConfigForPod), and a container without a limit of its own is held to the pod's
(getCPULimit / getMemoryLimit)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kubelite.kubelet import runtime_config as rc
from kubelite.kubelet.pod_cgroups import (
    UNLIMITED,
    PodCgroups,
    PodResourceConfig,
    pod_resource_config,
)

Obj = dict[str, Any]
MI = 1 << 20


def _pod(resources: Obj | None, *containers: Obj, qos: str) -> Obj:
    spec: Obj = {"containers": list(containers) or [{"name": "a"}, {"name": "b"}]}
    if resources is not None:
        spec["resources"] = resources
    return {
        "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
        "spec": spec,
        "status": {"qosClass": qos},
    }


LIMITS = {"cpu": "500m", "memory": "128Mi"}


def test_the_pod_cgroup_of_a_guaranteed_pod_gets_its_pod_level_limits() -> None:
    pod = _pod({"requests": LIMITS, "limits": LIMITS}, qos="Guaranteed")
    assert pod_resource_config(pod) == PodResourceConfig(
        cpu_shares=512, cpu_quota=50_000, cpu_period=100_000, memory_limit=128 * MI
    )


def test_a_pod_level_limit_bounds_a_burstable_pod_whose_containers_have_none() -> None:
    pod = _pod(
        {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": LIMITS},
        {"name": "a", "resources": {"limits": {"cpu": "100m"}}},
        {"name": "b"},
        qos="Burstable",
    )
    # Without the pod's own limits, container b would leave the whole pod unbounded.
    assert pod_resource_config(pod) == PodResourceConfig(
        cpu_shares=256, cpu_quota=50_000, cpu_period=100_000, memory_limit=128 * MI
    )


def test_a_burstable_pod_that_limits_only_cpu_stays_unbounded_in_memory() -> None:
    pod = _pod({"requests": {"cpu": "250m"}, "limits": {"cpu": "1"}}, qos="Burstable")
    config = pod_resource_config(pod)
    assert (config.cpu_quota, config.memory_limit) == (100_000, UNLIMITED)


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        # No limits of its own: the pod's, and its shares from the pod's cpu limit (the
        # request a limit stands in for).
        ({"name": "a"}, (50_000, 100_000, 512, 128 * MI)),
        # Its own limits and requests win.
        (
            {
                "name": "a",
                "resources": {
                    "requests": {"cpu": "100m", "memory": "32Mi"},
                    "limits": {"cpu": "200m", "memory": "64Mi"},
                },
            },
            (20_000, 100_000, 102, 64 * MI),
        ),
        # Its own cpu limit, the pod's memory limit.
        ({"name": "a", "resources": {"limits": {"cpu": "200m"}}}, (20_000, 100_000, 204, 128 * MI)),
    ],
)
def test_a_container_without_a_limit_of_its_own_is_held_to_the_pods(
    container: Obj, expected: tuple[int, int, int, int]
) -> None:
    pod = _pod({"requests": LIMITS, "limits": LIMITS}, container, qos="Guaranteed")
    made = rc.container_resources(pod, container, memory_capacity=1 << 30)
    assert (
        made.cpu_quota,
        made.cpu_period,
        made.cpu_shares,
        made.memory_limit_in_bytes,
    ) == expected


def test_without_pod_level_resources_a_container_without_limits_has_none() -> None:
    container = {"name": "a"}
    made = rc.container_resources(_pod(None, container, qos="BestEffort"), container, 1 << 30)
    assert (made.cpu_quota, made.memory_limit_in_bytes, made.cpu_shares) == (0, 0, 2)


def test_the_pod_cgroup_files_are_written_as_the_kernel_takes_them(tmp_path: Path) -> None:
    cgroup = "/kubelite/kubepods/podu-1"
    for controller in ("cpu", "memory"):
        (tmp_path / controller / cgroup.lstrip("/")).mkdir(parents=True)
    pod = _pod({"requests": LIMITS, "limits": LIMITS}, qos="Guaranteed")
    PodCgroups(tmp_path).write(cgroup, pod_resource_config(pod))
    cpu = tmp_path / "cpu" / cgroup.lstrip("/")
    memory = tmp_path / "memory" / cgroup.lstrip("/")
    assert (cpu / "cpu.cfs_quota_us").read_text() == "50000"
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000"
    assert (cpu / "cpu.shares").read_text() == "512"
    assert (memory / "memory.limit_in_bytes").read_text() == str(128 * MI)
