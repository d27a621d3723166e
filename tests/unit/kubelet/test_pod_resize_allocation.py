"""In-place resize on the kubelet: allocations, their checkpoint, and whether a resize fits."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from kubelite.api.podresources import pod_requests
from kubelite.kubelet.allocation import feasibility
from kubelite.kubelet.allocation.manager import AllocationManager
from kubelite.kubelet.allocation.state import ALLOCATED_PODS_STATE, ResourceCheckpoint
from kubelite.scheduler.framework.resources import pod_requests as scheduler_requests

NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
# The test node: 2 cores, 4 GiB.
CAPACITY = {"cpu": "2", "memory": "4Gi", "pods": "110"}
ALLOCATABLE = {"cpu": "2", "memory": "3996Mi", "pods": "110"}


def pod(name: str, cpu: str, memory: str = "64Mi", *, generation: int = 1) -> dict:
    resources = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu, "memory": memory},
    }
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"uid-{name}",
            "generation": generation,
        },
        "spec": {"containers": [{"name": "app", "image": "busybox", "resources": resources}]},
    }


def resized(p: dict, cpu: str, memory: str = "64Mi") -> dict:
    new = json.loads(json.dumps(p))
    new["metadata"]["generation"] += 1
    new["spec"]["containers"][0]["resources"] = {
        "requests": {"cpu": cpu, "memory": memory},
        "limits": {"cpu": cpu, "memory": memory},
    }
    return new


def manager(tmp_path: Path | None = None) -> AllocationManager:
    return AllocationManager(
        tmp_path, capacity=lambda: CAPACITY, allocatable=lambda: ALLOCATABLE, clock=lambda: NOW
    )


def test_a_resize_beyond_the_node_capacity_is_infeasible_with_the_kubelets_words() -> None:
    verdict = feasibility.check_resize(
        pod("big", "8"), capacity=CAPACITY, allocatable=ALLOCATABLE, others=[]
    )
    assert verdict.reason == "Infeasible"
    assert (
        verdict.message == "Node didn't have enough capacity: cpu, requested: 8000, capacity: 2000"
    )


def test_memory_is_named_first_when_both_exceed_the_capacity() -> None:
    verdict = feasibility.check_infeasible(pod("big", "8", "8Gi"), CAPACITY)
    assert verdict.message == (
        "Node didn't have enough capacity: memory, requested: 8589934592, capacity: 4294967296"
    )


def test_a_resize_that_fits_the_node_but_not_beside_its_pods_is_deferred() -> None:
    others = [pod("other", "1500m")]
    verdict = feasibility.check_resize(
        pod("grows", "1"), capacity=CAPACITY, allocatable=ALLOCATABLE, others=others
    )
    assert verdict.reason == "Deferred"
    assert verdict.message == (
        "Node didn't have enough resource: cpu, requested: 1000, used: 1500, capacity: 2000"
    )


def test_other_pods_count_the_larger_of_their_spec_and_their_applied_resources() -> None:
    # Its spec went down to 100m, but the node still gives it 1500m: that is what is used.
    other = pod("shrinking", "100m")
    other["status"] = {
        "containerStatuses": [
            {
                "name": "app",
                "allocatedResources": {"cpu": "100m"},
                "resources": {"requests": {"cpu": "1500m"}},
            }
        ]
    }
    verdict = feasibility.check_fits_now(pod("grows", "1"), ALLOCATABLE, [other])
    assert verdict.reason == "Deferred" and "used: 1500" in verdict.message
    assert str(pod_requests(other, use_status_resources=True)["cpu"]) == "1500m"
    assert scheduler_requests(other).milli_cpu == 1500


def test_an_infeasible_resize_does_not_count_its_spec_for_the_scheduler() -> None:
    other = pod("wants-too-much", "8")
    other["status"] = {
        "conditions": [{"type": "PodResizePending", "status": "True", "reason": "Infeasible"}],
        "containerStatuses": [
            {
                "name": "app",
                "allocatedResources": {"cpu": "100m"},
                "resources": {"requests": {"cpu": "100m"}},
            }
        ],
    }
    assert scheduler_requests(other).milli_cpu == 100


def test_a_fitting_resize_is_allocated_and_in_progress_with_the_pods_generation() -> None:
    m = manager()
    original = pod("web", "100m")
    m.add_pod(original)
    outcome = m.handle_resize(resized(original, "200m", "128Mi"), others=[])
    assert outcome.allocated
    _, differs = m.allocated_pod(resized(original, "200m", "128Mi"))
    assert not differs
    assert m.allocated_resources("uid-web", "app") == {
        "requests": {"cpu": "200m", "memory": "128Mi"},
        "limits": {"cpu": "200m", "memory": "128Mi"},
    }
    assert m.conditions("uid-web") == [
        {
            "type": "PodResizeInProgress",
            "status": "True",
            "lastProbeTime": "2026-01-02T03:04:05Z",
            "lastTransitionTime": "2026-01-02T03:04:05Z",
            "observedGeneration": 2,
        }
    ]
    assert m.clear_in_progress("uid-web") and m.conditions("uid-web") == []


def test_an_infeasible_resize_keeps_the_allocation_and_says_why() -> None:
    m = manager()
    original = pod("web", "100m")
    m.add_pod(original)
    wanted = resized(original, "8")
    outcome = m.handle_resize(wanted, others=[])
    assert not outcome.allocated and outcome.verdict.reason == "Infeasible"
    allocated, differs = m.allocated_pod(wanted)
    assert differs and allocated["spec"]["containers"][0]["resources"]["limits"]["cpu"] == "100m"
    (condition,) = m.conditions("uid-web")
    assert condition["type"] == "PodResizePending" and condition["reason"] == "Infeasible"
    assert condition["observedGeneration"] == 2
    assert (
        condition["message"]
        == "Node didn't have enough capacity: cpu, requested: 8000, capacity: 2000"
    )
    # Going back to the allocated size clears it.
    m.handle_resize(original, others=[])
    assert m.conditions("uid-web") == []


def test_a_deferred_resize_waits_for_room_and_is_allocated_once_the_other_pod_goes() -> None:
    m = manager()
    original, other = pod("web", "500m"), pod("other", "1500m")
    m.add_pod(original)
    m.add_pod(other)
    wanted = resized(original, "1")
    assert m.handle_resize(wanted, others=[other]).verdict.reason == "Deferred"
    assert m.is_deferred("uid-web") and m.pending == ["uid-web"]
    assert m.handle_resize(wanted, others=[]).allocated
    assert m.pending == [] and not m.is_deferred("uid-web")


def test_the_allocation_survives_a_kubelet_restart(tmp_path: Path) -> None:
    first = manager(tmp_path)
    original = pod("web", "100m")
    first.add_pod(original)
    first.handle_resize(resized(original, "200m"), others=[])
    first.set_actuated(original, "app", {"limits": {"cpu": "200m"}})
    stored = json.loads((tmp_path / ALLOCATED_PODS_STATE).read_text())
    assert stored["data"]["uid-web"]["app"]["limits"]["cpu"] == "200m"
    again = manager(tmp_path)
    # The new kubelet is handed the spec of yet another resize: it keeps what was allocated.
    again.add_pod(resized(original, "300m"))
    assert again.allocated_resources("uid-web", "app")["limits"]["cpu"] == "200m"  # type: ignore[index]
    assert again.actuated_resources("uid-web", "app") == {"limits": {"cpu": "200m"}}


def test_a_corrupt_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ALLOCATED_PODS_STATE
    path.write_text(json.dumps({"data": {"uid": {"app": {}}}, "checksum": 1}))
    assert ResourceCheckpoint(path).uids() == []


def test_removed_and_orphaned_pods_leave_the_checkpoint(tmp_path: Path) -> None:
    m = manager(tmp_path)
    for name in ("a", "b", "c"):
        m.add_pod(pod(name, "100m"))
    m.remove_pod("uid-a")
    m.remove_orphans(["uid-b"])
    assert manager(tmp_path).allocated.uids() == ["uid-b"]


class _Client:
    def __init__(self) -> None:
        self.patches: list[dict] = []

    async def patch(self, resource, name, patch, **_):
        self.patches.append(patch)
        return {}


async def test_a_resize_condition_the_kubelet_drops_is_deleted_from_the_stored_status() -> None:
    from kubelite.kubelet.status_manager import StatusManager

    client = _Client()
    manager = StatusManager(client)  # type: ignore[arg-type]
    stored = pod("web", "100m")
    pending = {"type": "PodResizePending", "status": "True", "reason": "Deferred"}
    ready = {"type": "Ready", "status": "True"}
    manager.set_status(stored, {"conditions": [pending, ready]})
    await manager.flush()
    manager.set_status(stored, {"conditions": [ready]})
    await manager.flush()
    assert client.patches[-1]["status"]["conditions"] == [
        ready,
        {"type": "PodResizePending", "$patch": "delete"},
    ]
    # Once deleted, it is not deleted again.
    manager.set_status(stored, {"conditions": [ready], "phase": "Running"})
    await manager.flush()
    assert client.patches[-1]["status"]["conditions"] == [ready]
