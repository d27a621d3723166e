"""`node.status.declaredFeatures`: the new node-level features this kubelet says it has.

Node Declared Features (KEP-5328, GA and locked on in 1.37) let the scheduler and the
NodeDeclaredFeatureValidator admission keep a pod off (or a pod update away from) a node whose
kubelet would not honour what the pod asks for, while nodes of several versions share a
cluster. The kubelet works the list out at start from the registry in
`k8s.io/component-helpers/nodedeclaredfeatures/features`: each feature's `Discover` reads the
kubelet's feature gates, its static configuration and what the runtime supports. The list is
sorted and has no duplicates (`+listType=set`).

What 1.37's registry holds, and what its `Discover` asks (gate defaults of 1.37):

- `RestartAllContainersOnContainerExits`: the gate of that name (beta, on);
- `GuaranteedQoSPodCPUResize`: cpuManagerPolicy `none`, or `static` with the
  InPlacePodVerticalScalingExclusiveCPUs gate (alpha, off). kubelite has no CPU manager, which
  is policy `none`: declared;
- `InPlacePodLevelResourcesVerticalScaling`: the gate (beta, on);
- `InPlacePodVerticalScalingInitContainers`: the gate (GA in 1.37, #140728);
- `InPlacePodVerticalScalingMemoryBackedVolumes`: the gate (alpha, off);
- `ExtendWebSocketsToKubelet`: the gate (beta, on since 1.36);
- `UserNamespacesHostNetworkSupport`: the gate and a runtime that runs user namespaces with the
  host network;
- `VolumeBindMountOptions`: the gate (alpha, off) and a runtime with bind mount options.

Later additions to the registry (CgroupOptions, ContainerUlimits, PerPodPIDLimit,
DownwardAPIAssignedResources, PodDefaultNetworkNone, ...) sit behind alpha gates, off.

A node declares a feature so that pods needing it are sent to it, so kubelite only declares
what its kubelet does: a feature 1.37 would declare but kubelite does not implement is left out
(`Feature.missing` says why), which keeps such pods away instead of letting them run wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

# The kubelet's gates that the registry's Discover functions read, at their 1.37 defaults.
GATES_1_37: Mapping[str, bool] = {
    "RestartAllContainersOnContainerExits": True,
    "InPlacePodVerticalScalingExclusiveCPUs": False,
    "InPlacePodLevelResourcesVerticalScaling": True,
    "InPlacePodVerticalScalingInitContainers": True,
    "InPlacePodVerticalScalingMemoryBackedVolumes": False,
    "ExtendWebSocketsToKubelet": True,
    "UserNamespacesHostNetworkSupport": False,
    "VolumeBindMountOptions": False,
}

# kubelite's kubelet has no CPU manager: it behaves as the `none` policy.
CPU_MANAGER_POLICY = "none"


@dataclass(frozen=True)
class Feature:
    """One registry entry: its name, whether 1.37's Discover says yes on this node (given the
    gates), and, when kubelite's kubelet cannot do what the name promises, why."""

    name: str
    gate: str
    missing: str = ""

    def discovered(self, gates: Mapping[str, bool]) -> bool:
        if self.name == "GuaranteedQoSPodCPUResize":
            return CPU_MANAGER_POLICY == "none" or (
                CPU_MANAGER_POLICY == "static" and gates.get(self.gate, False)
            )
        if self.name == "UserNamespacesHostNetworkSupport":
            # Also needs the runtime's support for user namespaces, which kubelite's lacks.
            return False
        return gates.get(self.gate, False)


REGISTRY: tuple[Feature, ...] = (
    Feature("RestartAllContainersOnContainerExits", "RestartAllContainersOnContainerExits"),
    Feature("GuaranteedQoSPodCPUResize", "InPlacePodVerticalScalingExclusiveCPUs"),
    Feature("InPlacePodLevelResourcesVerticalScaling", "InPlacePodLevelResourcesVerticalScaling"),
    Feature(
        "InPlacePodVerticalScalingInitContainers",
        "InPlacePodVerticalScalingInitContainers",
        missing="the kubelet resizes app and sidecar containers only, not running init containers",
    ),
    Feature(
        "InPlacePodVerticalScalingMemoryBackedVolumes",
        "InPlacePodVerticalScalingMemoryBackedVolumes",
    ),
    Feature(
        "ExtendWebSocketsToKubelet",
        "ExtendWebSocketsToKubelet",
        missing="port-forward over WebSocket tunnelling (SPDY/3.1+portforward.k8s.io) is not "
        "served by the kubelet, only the older ?port= form",
    ),
    Feature("UserNamespacesHostNetworkSupport", "UserNamespacesHostNetworkSupport"),
    Feature("VolumeBindMountOptions", "VolumeBindMountOptions"),
)


def declared_features(gates: Mapping[str, bool] = GATES_1_37) -> list[str]:
    """The names to publish: discovered and implemented, sorted, once each."""
    return sorted(
        {f.name for f in REGISTRY if f.discovered(gates) and not f.missing},
    )


def withheld(gates: Mapping[str, bool] = GATES_1_37) -> dict[str, str]:
    """Features 1.37 would declare here that kubelite leaves out, with why."""
    return {f.name: f.missing for f in REGISTRY if f.discovered(gates) and f.missing}
