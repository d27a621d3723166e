"""Pod-level in-place resize on the kubelet (InPlacePodLevelResourcesVerticalScaling, on since
1.36): the allocation of `spec.resources`, its fit, the pod cgroup change it asks for, and the
pod's own status.resources / status.allocatedResources."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from resize_doubles import Cgroups, actuator, running

from kubelite.kubelet import pod_actions as pa
from kubelite.kubelet.allocation.manager import (
    POD_RESOURCES,
    AllocationManager,
    allocation_of,
    with_allocation,
)
from kubelite.kubelet.allocation.state import ALLOCATED_PODS_STATE
from kubelite.kubelet.pod_cgroups import PodResourceConfig, pod_resource_config
from kubelite.kubelet.resize_actions import compute_resize_actions
from kubelite.kubelet.status import pod_resources as status

CAPACITY = {"cpu": "2", "memory": "4Gi", "pods": "110"}
ALLOCATABLE = {"cpu": "2", "memory": "3996Mi", "pods": "110"}


def pod_level(cpu: str, memory: str) -> dict:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}


def web(cpu: str = "200m", memory: str = "128Mi", *, generation: int = 1) -> dict:
    """A Guaranteed pod bounded by its own resources; its container states none."""
    return {
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "uid-web",
            "generation": generation,
        },
        "spec": {
            "resources": pod_level(cpu, memory),
            "containers": [{"name": "app", "image": "busybox"}],
        },
        "status": {"phase": "Running", "qosClass": "Guaranteed"},
    }


def manager(tmp_path: Path | None = None) -> AllocationManager:
    return AllocationManager(tmp_path, capacity=lambda: CAPACITY, allocatable=lambda: ALLOCATABLE)


# --- allocation -------------------------------------------------------------------------------


def test_the_allocation_holds_the_pods_own_resources(tmp_path: Path) -> None:
    m = manager(tmp_path)
    m.add_pod(web())
    stored = json.loads((tmp_path / ALLOCATED_PODS_STATE).read_text())
    assert stored["data"]["uid-web"][POD_RESOURCES] == pod_level("200m", "128Mi")
    assert allocation_of({"spec": {"containers": []}})[POD_RESOURCES] == {}


def test_a_pod_level_resize_that_fits_is_allocated() -> None:
    m = manager()
    m.add_pod(web())
    wanted = web("400m", "256Mi", generation=2)
    allocated, differs = m.allocated_pod(wanted)
    assert differs and allocated["spec"]["resources"] == pod_level("200m", "128Mi")
    outcome = m.handle_resize(wanted, others=[])
    assert outcome.allocated
    allocated, differs = m.allocated_pod(wanted)
    assert not differs and allocated["spec"]["resources"] == pod_level("400m", "256Mi")
    [condition] = m.conditions("uid-web")
    assert (condition["type"], condition["observedGeneration"]) == ("PodResizeInProgress", 2)


def test_a_pod_level_resize_beyond_the_node_is_infeasible_once() -> None:
    m = manager()
    m.add_pod(web())
    wanted = web("3", "256Mi", generation=2)
    outcome = m.handle_resize(wanted, others=[])
    assert (outcome.verdict.reason, outcome.verdict.message) == (
        "Infeasible",
        "Node didn't have enough capacity: cpu, requested: 3000, capacity: 2000",
    )
    assert outcome.pending_changed
    # The same verdict again changes nothing: no second event.
    assert not m.handle_resize(wanted, others=[]).pending_changed
    assert m.allocated_pod(wanted)[0]["spec"]["resources"] == pod_level("200m", "128Mi")


def test_a_pod_level_resize_beside_other_pods_is_deferred() -> None:
    m = manager()
    m.add_pod(web())
    other = {
        "metadata": {"name": "other", "uid": "uid-other"},
        "spec": {"resources": pod_level("1500m", "64Mi"), "containers": [{"name": "c"}]},
    }
    outcome = m.handle_resize(web("600m", "128Mi", generation=2), others=[other])
    assert outcome.verdict.reason == "Deferred"
    assert outcome.verdict.message == (
        "Node didn't have enough resource: cpu, requested: 600, used: 1500, capacity: 2000"
    )


def test_an_allocation_made_before_pod_level_resources_were_kept_takes_the_spec() -> None:
    legacy: dict[str, dict] = {"app": {}}
    pod = web()
    assert with_allocation(pod, legacy) == (pod, False)
    # Pod-level resources a resize removed are removed from the allocated pod as well.
    removed, differs = with_allocation(pod, {"app": {}, POD_RESOURCES: {}})
    assert differs and "resources" not in removed["spec"]


# --- actuation --------------------------------------------------------------------------------


def test_a_pod_level_change_resizes_the_pod_cgroup_and_no_container() -> None:
    actuated = {"app": {}, POD_RESOURCES: pod_level("200m", "128Mi")}
    status = pa.PodRuntimeStatus(containers=[running()])
    actions = pa.PodActions()
    resize = compute_resize_actions(web("400m", "256Mi"), status, actions, actuated.get)
    assert resize.update_pod_resources and not resize.updates and not resize.restarts
    assert resize.pod_resources == pod_level("400m", "256Mi")
    assert not actions.containers_to_kill and not actions.containers_to_start
    # Nothing changed: nothing to do.
    same = compute_resize_actions(web(), status, pa.PodActions(), actuated.get)
    assert same.empty


def test_a_pod_never_sized_under_the_record_adopts_its_allocation() -> None:
    status = pa.PodRuntimeStatus(containers=[running()])
    resize = compute_resize_actions(web(), status, pa.PodActions(), {"app": {}}.get)
    assert (POD_RESOURCES, pod_level("200m", "128Mi")) in resize.adopted
    assert not resize.update_pod_resources


async def test_growing_the_pod_level_limits_writes_the_pod_cgroup() -> None:
    log: list = []
    cgroups = Cgroups(log, pod_resource_config(web()), usage=1 << 20)
    actuated = {"app": {}, POD_RESOURCES: pod_level("200m", "128Mi")}
    status = pa.PodRuntimeStatus(containers=[running()])
    bigger = web("400m", "256Mi")
    resize = compute_resize_actions(bigger, status, pa.PodActions(), actuated.get)
    await actuator(log, cgroups, {}).actuate(bigger, "/kubelite/kubepods/poduid-web", resize)
    # The pod cgroup alone: no container is updated.
    assert log == [
        ("pod", "memory_limit", 256 << 20),
        ("pod", "cpu_quota", 40000),
        ("pod", "cpu_shares", 409),
    ]


# --- status -----------------------------------------------------------------------------------


def test_a_pod_not_yet_running_reports_its_allocation() -> None:
    pending = web()
    pending["status"]["phase"] = "Pending"
    pending["spec"]["overhead"] = {"cpu": "10m"}
    assert status.status_resources(pending, None, None) == {
        "limits": {"cpu": "210m", "memory": "128Mi"},
        "requests": {"cpu": "210m", "memory": "128Mi"},
    }
    assert status.allocated_resources(pending) == {"cpu": "210m", "memory": "128Mi"}


def test_a_running_pod_reports_what_its_cgroup_holds() -> None:
    pod = web("400m", "256Mi")
    # The cgroup still holds the old size: that is what resources says.
    old_cgroup = pod_resource_config(web())
    assert status.status_resources(pod, old_cgroup, None) == {
        "limits": {"cpu": "200m", "memory": "128Mi"},
        "requests": {"cpu": "200m", "memory": "256Mi"},
    }
    # Resized: the allocation as written.
    assert status.status_resources(pod, pod_resource_config(pod), None) == {
        "limits": {"cpu": "400m", "memory": "256Mi"},
        "requests": {"cpu": "400m", "memory": "256Mi"},
    }
    assert status.allocated_resources(pod) == {"cpu": "400m", "memory": "256Mi"}


def test_what_the_cgroup_cannot_say_is_kept_from_the_last_status() -> None:
    pod = web()
    old = {"phase": "Running", "resources": {"limits": {"cpu": "300m", "memory": "1Gi"}}}
    assert status.status_resources(pod, None, old) == {
        "limits": {"cpu": "300m", "memory": "1Gi"},
        "requests": {"cpu": "200m", "memory": "128Mi"},
    }


def test_a_pod_without_resources_of_its_own_reports_its_containers() -> None:
    pod = {
        "spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "50m"}}},
            ]
        },
        "status": {"phase": "Running", "qosClass": "Burstable"},
    }
    cgroup = PodResourceConfig(cpu_shares=153, cpu_quota=-1, cpu_period=100000, memory_limit=-1)
    assert status.status_resources(pod, cgroup, None) == {
        "requests": {"cpu": "150m", "memory": "64Mi"}
    }
    best_effort = {"spec": {"containers": [{"name": "a"}]}, "status": {"phase": "Running"}}
    floor = PodResourceConfig(cpu_shares=2, cpu_quota=-1, cpu_period=100000, memory_limit=-1)
    assert status.status_resources(best_effort, floor, None) == {}
    assert status.allocated_resources(best_effort) == {}


def test_the_status_of_a_pod_copy_is_not_changed() -> None:
    pod = web()
    before = copy.deepcopy(pod)
    status.status_resources(pod, pod_resource_config(web("400m", "256Mi")), None)
    assert pod == before
