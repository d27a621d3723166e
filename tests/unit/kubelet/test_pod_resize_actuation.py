"""In-place resize on the kubelet: what to do to running containers, in which order, and what
their statuses then say."""

from __future__ import annotations

import pytest
from resize_doubles import Cgroups, actuator, running

from kubelite.kubelet import pod_actions as pa
from kubelite.kubelet.allocation.manager import POD_RESOURCES
from kubelite.kubelet.pod_cgroups import pod_resource_config
from kubelite.kubelet.resize_actions import compute_resize_actions
from kubelite.kubelet.resize_actuation import ResizeError
from kubelite.kubelet.status.resources import apply_resources, status_resources
from kubelite.runtime.cri import LinuxContainerResources

CGROUP = "/kubelite/kubepods/poduid-web"


def resources(cpu: str, memory: str) -> dict:
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}


def web(cpu: str = "200m", memory: str = "128Mi", *, policy: dict | None = None) -> dict:
    container: dict = {"name": "app", "image": "busybox", "resources": resources(cpu, memory)}
    if policy:
        container["resizePolicy"] = [
            {"resourceName": name, "restartPolicy": rule} for name, rule in policy.items()
        ]
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "uid-web", "generation": 2},
        "spec": {"containers": [container]},
        "status": {"qosClass": "Guaranteed"},
    }


def runtime_status() -> pa.PodRuntimeStatus:
    return pa.PodRuntimeStatus(containers=[running()])


def test_a_changed_allocation_updates_the_container_in_place_by_default() -> None:
    actions = pa.PodActions()
    resize = compute_resize_actions(
        web(), runtime_status(), actions, lambda name: resources("100m", "64Mi")
    )
    assert [u.name for u in resize.updates["cpu"]] == ["app"]
    assert [u.name for u in resize.updates["memory"]] == ["app"]
    assert not resize.restarts and not actions.containers_to_kill


def test_restart_container_policy_restarts_it_for_that_resource_only() -> None:
    pod = web(policy={"memory": "RestartContainer", "cpu": "NotRequired"})
    # Only CPU changed: in place.
    actions = pa.PodActions()
    resize = compute_resize_actions(
        pod, runtime_status(), actions, lambda name: resources("100m", "128Mi")
    )
    assert "cpu" in resize.updates and not actions.containers_to_kill
    # Memory changed: the container is killed and started again.
    actions = pa.PodActions()
    resize = compute_resize_actions(
        pod, runtime_status(), actions, lambda name: resources("200m", "64Mi")
    )
    assert not resize.updates and resize.update_pod_resources
    assert [(k.container_id, k.message) for k in actions.containers_to_kill] == [
        ("c1", "Container app resize requires restart")
    ]
    assert actions.containers_to_start == [0]


def test_nothing_to_do_when_the_container_runs_with_its_allocation() -> None:
    actuated = {"app": resources("200m", "128Mi"), POD_RESOURCES: {}}
    resize = compute_resize_actions(web(), runtime_status(), pa.PodActions(), actuated.get)
    assert resize.empty


def test_decreases_are_applied_before_increases() -> None:
    pod = web()
    pod["spec"]["containers"].append(
        {"name": "side", "image": "busybox", "resources": resources("100m", "64Mi")}
    )
    status = pa.PodRuntimeStatus(containers=[running(), running("side", "c2")])
    before = {"app": resources("100m", "128Mi"), "side": resources("200m", "64Mi")}
    resize = compute_resize_actions(pod, status, pa.PodActions(), before.get)
    assert [u.name for u in resize.updates["cpu"]] == ["side", "app"]


async def test_growing_sets_the_pod_cgroup_before_the_container() -> None:
    log: list = []
    recorded: dict = {}
    before = pod_resource_config(web("100m", "64Mi"))
    resize = compute_resize_actions(
        web(), runtime_status(), pa.PodActions(), lambda name: resources("100m", "64Mi")
    )
    await actuator(log, Cgroups(log, before), recorded).actuate(web(), CGROUP, resize)
    assert log == [
        ("pod", "memory_limit", 128 << 20),
        ("container", "c1", 10000, 128 << 20),
        ("pod", "cpu_quota", 20000),
        ("pod", "cpu_shares", 204),
        ("container", "c1", 20000, 128 << 20),
    ]
    assert recorded["app"] == resources("200m", "128Mi")


async def test_shrinking_sets_the_containers_before_the_pod_cgroup() -> None:
    log: list = []
    before = pod_resource_config(web())
    small = web("100m", "64Mi")
    resize = compute_resize_actions(
        small, runtime_status(), pa.PodActions(), lambda name: resources("200m", "128Mi")
    )
    await actuator(log, Cgroups(log, before, usage=1 << 20), {}).actuate(small, CGROUP, resize)
    assert log == [
        ("container", "c1", 20000, 64 << 20),
        ("pod", "memory_limit", 64 << 20),
        ("container", "c1", 10000, 64 << 20),
        ("pod", "cpu_shares", 102),
        ("pod", "cpu_quota", 10000),
    ]


async def test_a_memory_limit_is_not_lowered_below_what_the_pod_uses() -> None:
    log: list = []
    small = web("200m", "64Mi")
    resize = compute_resize_actions(
        small, runtime_status(), pa.PodActions(), lambda name: resources("200m", "128Mi")
    )
    cgroups = Cgroups(log, pod_resource_config(web()), usage=100 << 20)
    with pytest.raises(ResizeError) as raised:
        await actuator(log, cgroups, {}).actuate(small, CGROUP, resize)
    assert str(raised.value) == (
        "aborting attempt to set pod memory limit less than current memory usage for pod web"
    )
    assert log == []


def test_the_status_reports_what_the_runtime_runs_and_what_was_allocated() -> None:
    allocated = resources("200m", "128Mi")
    applied = LinuxContainerResources(
        cpu_period=100000, cpu_quota=20000, cpu_shares=204, memory_limit_in_bytes=128 << 20
    )
    assert status_resources(allocated, running(res=applied), None) == allocated
    # The runtime still runs the old size: that is what resources says.
    old = LinuxContainerResources(
        cpu_period=100000, cpu_quota=10000, cpu_shares=102, memory_limit_in_bytes=64 << 20
    )
    assert status_resources(allocated, running(res=old), None) == {
        "limits": {"cpu": "100m", "memory": "64Mi"},
        "requests": {"cpu": "100m", "memory": "128Mi"},
    }
    statuses = [{"name": "app", "volumeMounts": []}]
    apply_resources(statuses, {"app": allocated}, {"app": running(res=old)}, [])
    assert list(statuses[0]) == ["name", "allocatedResources", "resources", "volumeMounts"]
    assert statuses[0]["allocatedResources"] == {"cpu": "200m", "memory": "128Mi"}
