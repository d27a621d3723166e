"""VolumeBinding's PreFilter: a pod waits, on every node, for the claims it mounts.

Rows follow kube-scheduler's volume_binding.go (PreFilter and podHasPVCs): the messages are
its own, and every refusal is UnschedulableAndUnresolvable but for a missing StorageClass,
which is an error.
"""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import FakeHandle, FakeListers, make_node

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import PodInfo
from kubelite.scheduler.plugins.volume_binding import ERR_REASON_UNBOUND_IMMEDIATE, VolumeBinding

Obj = dict[str, Any]


def claim(name: str, *, bound: bool = False, phase: str = "", **spec: Any) -> Obj:
    status = {"phase": "Bound" if bound else (phase or "Pending")}
    if bound:
        spec["volumeName"] = f"pv-{name}"
    return {
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": "default"},
        "spec": spec,
        "status": status,
    }


def pod_with(*volumes: Obj) -> PodInfo:
    return PodInfo(
        {
            "metadata": {"name": "web-0", "namespace": "default", "uid": "u"},
            "spec": {"containers": [{"name": "c"}], "volumes": list(volumes)},
        }
    )


def pvc_volume(name: str) -> Obj:
    return {"name": "data", "persistentVolumeClaim": {"claimName": name}}


def run(pod: PodInfo, *objects: Obj) -> tuple[Code, str]:
    plugin = VolumeBinding(FakeHandle([make_node("n1")], FakeListers(*objects)))
    _, status = plugin.pre_filter({}, pod, [])
    return status.code, status.message()


deleting = claim("data")
deleting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("pod", "objects", "code", "message"),
    [
        # No claim among the volumes: nothing to wait for.
        (pod_with({"name": "tmp", "emptyDir": {}}), [], Code.SKIP, ""),
        (pod_with(pvc_volume("data")), [claim("data", bound=True)], Code.SUCCESS, ""),
        (
            pod_with(pvc_volume("data")),
            [],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            'persistentvolumeclaim "data" not found',
        ),
        (
            pod_with(pvc_volume("data")),
            [claim("data")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            ERR_REASON_UNBOUND_IMMEDIATE,
        ),
        (
            pod_with(pvc_volume("data")),
            [deleting],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            'persistentvolumeclaim "data" is being deleted',
        ),
        (
            pod_with(pvc_volume("data")),
            [claim("data", phase="Lost", volumeName="gone")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            'persistentvolumeclaim "data" bound to non-existent persistentvolume "gone"',
        ),
        (
            pod_with(pvc_volume("data")),
            [claim("data", storageClassName="fast")],
            Code.ERROR,
            'storageclass.storage.k8s.io "fast" not found',
        ),
        # A generic ephemeral volume's claim is named after the pod and the volume.
        (
            pod_with({"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}),
            [],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            "waiting for ephemeral volume controller to create the persistentvolumeclaim "
            '"web-0-scratch"',
        ),
        # Every claim is looked at: one unbound one is enough to wait.
        (
            pod_with(pvc_volume("a"), {"name": "b", "persistentVolumeClaim": {"claimName": "b"}}),
            [claim("a", bound=True), claim("b")],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            ERR_REASON_UNBOUND_IMMEDIATE,
        ),
    ],
)
def test_pre_filter(pod: PodInfo, objects: list[Obj], code: Code, message: str) -> None:
    assert run(pod, *objects) == (code, message)
