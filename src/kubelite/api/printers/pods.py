"""`kubectl get pods`: the Pod columns, with READY, STATUS and RESTARTS as Kubernetes computes them.

The STATUS cell is not a field of the Pod: Kubernetes' `printPod` (1.33) derives it from the
phase, the pod's conditions, and the states of its init, sidecar and app containers, in an order
people have learnt to read (`Init:1/2`, `CrashLoopBackOff`, `Terminating`...). `summarize` walks
the pod the same way, so that the rules can be read and tested apart from the row layout.

The rules, in the order they override each other:

1. the phase, or `status.reason` when set (`Evicted`, `NodeLost`); `SchedulingGated` while a
   scheduling gate holds the pod;
2. the first init container that has not finished well gives `Init:<reason>`,
   `Init:Signal:N`, `Init:ExitCode:N` or `Init:<index>/<count>`; a sidecar (an init container
   with `restartPolicy: Always`) that has started counts as done;
3. once initialized, the app containers, the last one first so that the first container's state
   wins: a waiting reason, a terminated reason, or `Signal:N`/`ExitCode:N`; a pod whose
   containers completed while one still runs is `Running` again (`NotReady` when the pod's Ready
   condition is not true);
4. a pod being deleted is `Terminating`, or `Unknown` when its node was lost.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kubelite.api import meta
from kubelite.api import pods as podutil
from kubelite.api.printers import (
    AGE_COLUMN,
    NAME_COLUMN,
    NONE,
    PRINTERS,
    Column,
    Printer,
    age_of,
)
from kubelite.api.types import Obj

# The status.reason the node lifecycle controller gives the pods of an unreachable node
# (NodeUnreachablePodReason, pkg/util/node).
NODE_UNREACHABLE_POD_REASON = "NodeLost"
# The PodScheduled condition's reason while scheduling gates hold a pod (core/v1
# PodReasonSchedulingGated).
POD_REASON_SCHEDULING_GATED = "SchedulingGated"
# The waiting reason of an init container whose turn has not come yet: not worth an
# `Init:<reason>` of its own, so printPod shows the `Init:<index>/<count>` progress instead.
POD_INITIALIZING = "PodInitializing"
# Phases after which a pod never runs again (IsPodPhaseTerminal): such a pod being deleted keeps
# its last status instead of `Terminating`.
TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
# The reason the kubelet gives a container that exited 0, and what printPod turns back into
# `Running` while another container still runs.
COMPLETED = "Completed"

POD_COLUMNS = (
    NAME_COLUMN,
    Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", description="The aggregate status of the containers in this pod."),
    Column(
        "Restarts",
        description="The number of times the containers in this pod have been restarted and "
        "when the last container in this pod has restarted.",
    ),
    AGE_COLUMN,
    Column(
        "IP",
        priority=1,
        description="podIP address allocated to the pod. Routable at least within the cluster. "
        "Empty if not yet allocated.",
    ),
    Column(
        "Node",
        priority=1,
        description="NodeName indicates in which node this pod is scheduled. If empty, this pod "
        "is a candidate for scheduling by the scheduler defined in schedulerName. Once this field "
        "is set, the kubelet for this node becomes responsible for the lifecycle of this pod. This "
        "field should not be used to express a desire for the pod to be scheduled on a specific "
        "node. https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename",
    ),
    Column(
        "Nominated Node",
        priority=1,
        description="nominatedNodeName is set only when this pod preempts other pods on the "
        "node, but it cannot be scheduled right away as preemption victims receive their graceful "
        "termination periods. This field does not guarantee that the pod will be scheduled on "
        "this node. Scheduler may decide to place the pod elsewhere if other nodes become "
        "available sooner. Scheduler may also decide to give the resources on this node to a "
        "higher priority pod that is created after preemption. As a result, this field may be "
        "different than PodSpec.nodeName when the pod is scheduled.",
    ),
    Column(
        "Readiness Gates",
        priority=1,
        description="If specified, all readiness gates will be evaluated for pod readiness. A "
        "pod is ready when all its containers are ready AND all conditions specified in the "
        'readiness gates have status equal to "True" More info: '
        "https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates",
    ),
)


@dataclass
class Restarts:
    """Restarts counted over some containers, and when the latest of them ended."""

    count: int = 0
    last: dt.datetime | None = None

    def add(self, container_status: Obj) -> None:
        self.count += _int(container_status.get("restartCount"))
        finished = meta.parse_time(
            meta.get_path(container_status, "lastState", "terminated", "finishedAt", default="")
        )
        if finished is not None and (self.last is None or finished > self.last):
            self.last = finished


@dataclass
class PodSummary:
    """What `kubectl get pods` says of a pod: READY as ready/total, STATUS, and restarts."""

    ready: int
    total: int
    status: str
    restarts: Restarts


def summarize(pod: Obj) -> PodSummary:
    """Walk a pod as Kubernetes' printPod does (see the module docstring for the rules)."""
    spec = pod.get("spec") or {}
    status = pod.get("status") or {}
    phase = status.get("phase") or ""
    conditions = status.get("conditions") or []

    reason = status.get("reason") or phase
    if any(
        c.get("type") == "PodScheduled" and c.get("reason") == POD_REASON_SCHEDULING_GATED
        for c in conditions
    ):
        reason = POD_REASON_SCHEDULING_GATED

    init_specs = spec.get("initContainers") or []
    init_by_name = {c.get("name"): c for c in init_specs}
    # Sidecars count among the pod's containers in READY.
    total = len(spec.get("containers") or []) + len(podutil.sidecars(spec))
    ready = 0

    every_restart = Restarts()
    sidecar_restarts = Restarts()
    initializing = False
    for index, container in enumerate(status.get("initContainerStatuses") or []):
        init_spec = init_by_name.get(container.get("name"))
        sidecar = init_spec is not None and podutil.is_restartable_init_container(init_spec)
        every_restart.add(container)
        if sidecar:
            sidecar_restarts.add(container)
        terminated = podutil.state_of(container, "terminated")
        waiting = podutil.state_of(container, "waiting")
        if terminated is not None and _int(terminated.get("exitCode")) == 0:
            continue
        if sidecar and container.get("started") is True:
            if container.get("ready"):
                ready += 1
            continue
        # The first init container that is not done says what the pod waits for.
        initializing = True
        if terminated is not None:
            reason = "Init:" + _terminated_reason(terminated)
        elif waiting is not None and (waiting.get("reason") or "") not in ("", POD_INITIALIZING):
            reason = "Init:" + waiting["reason"]
        else:
            reason = f"Init:{index}/{len(init_specs)}"
        break

    restarts = every_restart
    # A pod already Initialized whose sidecar crashed later still has its app containers
    # counted, and their waiting or terminated states override the `Init:` status.
    if not initializing or _condition_status(conditions, "Initialized") == "True":
        # App containers' restarts plus the sidecars': finished init containers no longer count.
        restarts = sidecar_restarts
        has_running = False
        for container in reversed(status.get("containerStatuses") or []):
            restarts.add(container)
            waiting = podutil.state_of(container, "waiting")
            terminated = podutil.state_of(container, "terminated")
            if waiting is not None and waiting.get("reason"):
                reason = waiting["reason"]
            elif terminated is not None:
                reason = _terminated_reason(terminated)
            elif container.get("ready") and podutil.state_of(container, "running") is not None:
                has_running = True
                ready += 1
        if reason == COMPLETED and has_running:
            pod_ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in conditions
            )
            reason = "Running" if pod_ready else "NotReady"

    if meta.get_path(pod, "metadata", "deletionTimestamp"):
        if status.get("reason") == NODE_UNREACHABLE_POD_REASON:
            reason = "Unknown"
        elif phase not in TERMINAL_PHASES:
            reason = "Terminating"

    return PodSummary(ready=ready, total=total, status=reason, restarts=restarts)


def format_restarts(restarts: Restarts, now: dt.datetime) -> str:
    """The RESTARTS cell: `3`, or `3 (2m ago)` once the time of the last restart is known."""
    if restarts.count and restarts.last is not None:
        ago = meta.human_duration((now - restarts.last).total_seconds())
        return f"{restarts.count} ({ago} ago)"
    return str(restarts.count)


def pod_ip(pod: Obj) -> str:
    """The pod's primary IP: `podIP` wins over `podIPs[0]`, as in Kubernetes' v1 conversion."""
    ip = meta.get_path(pod, "status", "podIP", default="")
    return ip or meta.get_path(pod, "status", "podIPs", 0, "ip", default="")


def readiness_gates(pod: Obj) -> str:
    """`true/total` over the pod's readiness gates, judged by the first condition of each type."""
    gates = meta.get_path(pod, "spec", "readinessGates", default=[])
    if not gates:
        return NONE
    conditions = meta.get_path(pod, "status", "conditions", default=[])
    passed = sum(
        1 for g in gates if _condition_status(conditions, g.get("conditionType")) == "True"
    )
    return f"{passed}/{len(gates)}"


def pod_cells(pod: Obj, now: dt.datetime) -> list[Any]:
    summary = summarize(pod)
    return [
        meta.name_of(pod),
        f"{summary.ready}/{summary.total}",
        summary.status,
        format_restarts(summary.restarts, now),
        age_of(pod, now),
        pod_ip(pod) or NONE,
        meta.get_path(pod, "spec", "nodeName", default="") or NONE,
        meta.get_path(pod, "status", "nominatedNodeName", default="") or NONE,
        readiness_gates(pod),
    ]


# metav1.RowCompleted rows: Kubernetes marks the rows of pods that will not run again.
_SUCCEEDED_ROW = {
    "type": "Completed",
    "status": "True",
    "reason": "Succeeded",
    "message": "The pod has completed successfully.",
}
_FAILED_ROW = {
    "type": "Completed",
    "status": "True",
    "reason": "Failed",
    "message": "The pod failed.",
}


def pod_row_conditions(pod: Obj) -> list[Obj]:
    phase = meta.get_path(pod, "status", "phase", default="")
    if phase == "Succeeded":
        return [dict(_SUCCEEDED_ROW)]
    if phase == "Failed":
        return [dict(_FAILED_ROW)]
    return []


def _terminated_reason(terminated: Obj) -> str:
    """The kubelet's reason, else the signal, else the exit code."""
    if terminated.get("reason"):
        return str(terminated["reason"])
    signal = _int(terminated.get("signal"))
    if signal:
        return f"Signal:{signal}"
    return f"ExitCode:{_int(terminated.get('exitCode'))}"


def _condition_status(conditions: list[Obj], type_: str | None) -> str | None:
    condition = meta.find_condition(conditions, type_ or "")
    return None if condition is None else condition.get("status")


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


PRINTERS[("", "Pod")] = Printer(POD_COLUMNS, pod_cells, pod_row_conditions)
