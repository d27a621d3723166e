"""The scheduler's plugins by name, and the default profile built from them.

`default_plugins` is kube-scheduler 1.33's default profile (`getDefaultPlugins` in
pkg/scheduler/apis/config/v1/default_plugins.go) in its order and with its score weights, less
the plugins kubelite does not have:

- SchedulingGates and PrioritySort: the scheduling queue does their work (gated pods are not
  queued; the queue orders by priority, then age);
- the volume plugins VolumeRestrictions, NodeVolumeLimits and VolumeZone, and all of
  VolumeBinding but its PreFilter: kubelite has no persistent volumes to place yet;
- ImageLocality (weight 1): not written yet;
- DefaultPreemption: no preemption, so no `preemption: ...` part in FailedScheduling messages;
- DefaultBinder: the scheduler binds through `pods/<name>/binding` itself.

The order matters: Filter stops at the first plugin that refuses a node, so that plugin's reason
is the one a FailedScheduling message counts for the node.
"""

from __future__ import annotations

from collections.abc import Callable

from kubelite.scheduler.framework.interface import Handle, Plugin
from kubelite.scheduler.framework.runtime import Weighted
from kubelite.scheduler.plugins import (
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_balanced_allocation,
    node_resources_fit,
    node_unschedulable,
    pod_topology_spread,
    taint_toleration,
    volume_binding,
)
from kubelite.scheduler.plugins.inter_pod_affinity import InterPodAffinity, NamespaceLabels
from kubelite.scheduler.plugins.node_affinity import NodeAffinity
from kubelite.scheduler.plugins.node_name import NodeName
from kubelite.scheduler.plugins.node_ports import NodePorts
from kubelite.scheduler.plugins.node_resources_balanced_allocation import (
    NodeResourcesBalancedAllocation,
)
from kubelite.scheduler.plugins.node_resources_fit import NodeResourcesFit
from kubelite.scheduler.plugins.node_unschedulable import NodeUnschedulable
from kubelite.scheduler.plugins.pod_topology_spread import PodTopologySpread
from kubelite.scheduler.plugins.taint_toleration import TaintToleration
from kubelite.scheduler.plugins.volume_binding import VolumeBinding

# Builds a plugin from what plugins may use: the snapshot, and the namespaces' labels.
Factory = Callable[[Handle, NamespaceLabels | None], Plugin]

REGISTRY: dict[str, Factory] = {
    node_unschedulable.NAME: lambda handle, namespace_labels: NodeUnschedulable(),
    node_name.NAME: lambda handle, namespace_labels: NodeName(),
    taint_toleration.NAME: lambda handle, namespace_labels: TaintToleration(),
    node_affinity.NAME: lambda handle, namespace_labels: NodeAffinity(),
    node_ports.NAME: lambda handle, namespace_labels: NodePorts(),
    node_resources_fit.NAME: lambda handle, namespace_labels: NodeResourcesFit(),
    volume_binding.NAME: lambda handle, namespace_labels: VolumeBinding(handle),
    pod_topology_spread.NAME: lambda handle, namespace_labels: PodTopologySpread(handle),
    inter_pod_affinity.NAME: InterPodAffinity,
    node_resources_balanced_allocation.NAME: (
        lambda handle, namespace_labels: NodeResourcesBalancedAllocation()
    ),
}

# (plugin, score weight) in kube-scheduler's default order; the weight of a plugin that does
# not score is unused.
DEFAULT_PROFILE: tuple[tuple[str, int], ...] = (
    (node_unschedulable.NAME, 1),
    (node_name.NAME, 1),
    (taint_toleration.NAME, 3),
    (node_affinity.NAME, 2),
    (node_ports.NAME, 1),
    (node_resources_fit.NAME, 1),
    (volume_binding.NAME, 1),
    (pod_topology_spread.NAME, 2),
    (inter_pod_affinity.NAME, 2),
    (node_resources_balanced_allocation.NAME, 1),
)


def default_plugins(
    handle: Handle, namespace_labels: NamespaceLabels | None = None
) -> list[Weighted]:
    """The default profile's plugins, new instances, for a Framework."""
    return [
        Weighted(REGISTRY[name](handle, namespace_labels), weight)
        for name, weight in DEFAULT_PROFILE
    ]
