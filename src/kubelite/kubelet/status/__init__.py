"""A pod's status as Kubernetes' kubelet computes it: pure functions of the pod, what the
runtime says of its sandboxes and containers, and the kubelet's own facts (probe results, why a
start failed, the node's IPs), with no I/O.

The kubelet's pod workers gather a `PodRuntimeState` and call `generate_pod_status`; the
status manager PATCHes the result. The rules live one module per part of the status:
`containers` (container statuses), `phase`, `conditions`; `generate` strings them together.
"""

from kubelite.kubelet.status.containers import should_container_be_restarted
from kubelite.kubelet.status.generate import (
    generate_pod_status,
    illegal_container_transition,
    terminate_pod_status,
)
from kubelite.kubelet.status.messages import crash_loop_back_off_message
from kubelite.kubelet.status.observed import (
    DEADLINE_EXCEEDED,
    ContainerRuntimeState,
    Eviction,
    PodRuntimeState,
    containers_by_name,
)
from kubelite.kubelet.status.phase import get_phase
from kubelite.kubelet.status.restart_all import is_restarting

__all__ = [
    "DEADLINE_EXCEEDED",
    "ContainerRuntimeState",
    "Eviction",
    "PodRuntimeState",
    "containers_by_name",
    "crash_loop_back_off_message",
    "generate_pod_status",
    "get_phase",
    "illegal_container_transition",
    "is_restarting",
    "should_container_be_restarted",
    "terminate_pod_status",
]
