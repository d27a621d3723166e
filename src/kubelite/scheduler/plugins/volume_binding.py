"""VolumeBinding (its PreFilter): a pod waits for the PersistentVolumeClaims it mounts.

kube-scheduler will not place a pod whose claims it cannot see bound: a claim that does not
exist yet, is being deleted, or has lost its volume refuses the pod on every node
(UnschedulableAndUnresolvable, with the claim named), and so does a claim of the Immediate
binding mode that no volume is bound to yet ("pod has unbound immediate PersistentVolumeClaims":
the persistent volume controller binds those, and the pod is tried again when the claim changes).
kubelite has no volume provisioner or binder yet, and serves no StorageClass: a claim without a
class binds Immediately and stays unbound, so its pods stay Pending with Kubernetes' message,
and a claim naming a class gets Kubernetes' error for a class that does not exist. A StatefulSet
with volumeClaimTemplates therefore makes its claims and pods, which wait here.

The WaitForFirstConsumer half (binding volumes to the chosen node in Reserve/PreBind) and the
Filter/Score parts come with storage. Kubernetes:
pkg/scheduler/framework/plugins/volumebinding/volume_binding.go (PreFilter, podHasPVCs).
"""

from __future__ import annotations

from kubelite.api.types import Obj
from kubelite.scheduler.framework.events import (
    PERSISTENT_VOLUME_CLAIM_ADD,
    PERSISTENT_VOLUME_CLAIM_UPDATE,
    UNSCHEDULED_POD_UPDATE,
)
from kubelite.scheduler.framework.interface import Handle
from kubelite.scheduler.framework.status import SKIP, SUCCESS, Status, error, unresolvable
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult

NAME = "VolumeBinding"

ERR_REASON_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"


def claim_names(pod: PodInfo) -> list[tuple[str, bool]]:
    """(claim name, whether it is a generic ephemeral volume's) for each volume that uses one."""
    names = []
    for volume in pod.spec.get("volumes") or ():
        if volume.get("persistentVolumeClaim"):
            names.append((volume["persistentVolumeClaim"].get("claimName", ""), False))
        elif volume.get("ephemeral"):
            # ephemeral.VolumeClaimName: the pod's name, a dash, the volume's name.
            pod_name = pod.pod["metadata"].get("name", "")
            names.append((f"{pod_name}-{volume.get('name', '')}", True))
    return names


def is_bound(claim: Obj) -> bool:
    return bool((claim.get("spec") or {}).get("volumeName")) and (
        (claim.get("status") or {}).get("phase") == "Bound"
    )


class VolumeBinding:
    """Holds a pod back while a PersistentVolumeClaim it mounts is missing or unbound."""

    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> set[str]:
        """A claim made or bound; the pod itself changed."""
        return {PERSISTENT_VOLUME_CLAIM_ADD, PERSISTENT_VOLUME_CLAIM_UPDATE, UNSCHEDULED_POD_UPDATE}

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        names = claim_names(pod)
        listers = self.handle.listers
        if not names or listers is None:
            return None, SKIP
        unbound_immediate = False
        for name, ephemeral in names:
            claim = listers.persistent_volume_claim(pod.namespace, name)
            if claim is None:
                if ephemeral:
                    return None, unresolvable(
                        "waiting for ephemeral volume controller to create the "
                        f'persistentvolumeclaim "{name}"',
                        plugin=NAME,
                    )
                return None, unresolvable(f'persistentvolumeclaim "{name}" not found', plugin=NAME)
            spec = claim.get("spec") or {}
            if (claim.get("status") or {}).get("phase") == "Lost":
                return None, unresolvable(
                    f'persistentvolumeclaim "{name}" bound to non-existent persistentvolume '
                    f'"{spec.get("volumeName", "")}"',
                    plugin=NAME,
                )
            if claim["metadata"].get("deletionTimestamp"):
                return None, unresolvable(
                    f'persistentvolumeclaim "{name}" is being deleted', plugin=NAME
                )
            if is_bound(claim):
                continue
            storage_class = spec.get("storageClassName") or ""
            if storage_class:
                # No StorageClass is served: Kubernetes' lookup of the binding mode fails so.
                return None, error(
                    f'storageclass.storage.k8s.io "{storage_class}" not found', plugin=NAME
                )
            unbound_immediate = True
        if unbound_immediate:
            return None, unresolvable(ERR_REASON_UNBOUND_IMMEDIATE, plugin=NAME)
        return None, SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        # Bound claims' volumes are not tied to nodes until storage has topology.
        return SUCCESS
