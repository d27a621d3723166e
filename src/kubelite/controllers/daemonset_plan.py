"""What a DaemonSet sync decides to create and delete, and the status it reports.

The arithmetic of Kubernetes' `daemon_controller.go` (podsShouldBeOnNode, updateDaemonSetStatus)
and `update.go` (rollingUpdate, 1.33), as pure functions of the nodes' placements (see
daemonset_util.DaemonPlacement), the DaemonSet's pods grouped by node, the current revision's
hash and the time, so that tests can lay out any cluster in a table.

Node by node (`node_actions`): a node that should run the daemon and has no pod gets one; a
failed pod is deleted (the controller holds that back with a back-off, since a kubelet that
keeps refusing the pod would otherwise be fought in a hot loop) and so is a succeeded one; of
several live pods the oldest stays. With maxSurge, two pods may share a node during an update:
the oldest old one stays until the oldest new one is available, unless it is not even ready.
A node that may no longer keep the daemon (an untolerated NoExecute taint, a label gone) loses
its pods.

A rolling update (`rolling_update`) then replaces old pods within the strategy's bounds:

- without surge, old pods are deleted (the next sync makes their replacements) while fewer than
  maxUnavailable nodes are without an available pod; an old pod that is not available anyway
  is always replaced, since deleting it costs no availability;
- with surge, new pods are made beside available old ones on up to maxSurge nodes at a time,
  and beside unavailable ones at once; an old pod goes when the new one beside it is available.

Both bounds are taken of the number of nodes that should run the daemon, rounded up; if both
come to zero, one node at a time may be unavailable. Go iterates its node map in random order;
here nodes are taken by name, so the same cluster always gives the same plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from kubelite.api import meta
from kubelite.api.pods import is_pod_ready
from kubelite.api.types import Obj
from kubelite.controllers import podutil
from kubelite.controllers.daemonset_util import (
    HASH_LABEL,
    NOWHERE,
    Placement,
    allows_surge,
    creation_order_key,
    is_pod_updated,
    surge_count,
    template_generation,
    unavailable_count,
)

NodePods = Mapping[str, Sequence[Obj]]


def _min_ready(ds: Obj) -> int:
    return int((ds.get("spec") or {}).get("minReadySeconds") or 0)


def _phase(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


# --- one node ---------------------------------------------------------------------------------


@dataclass
class NodeActions:
    """What podsShouldBeOnNode wants done on one node."""

    create: bool = False
    delete: list[Obj] = field(default_factory=list)
    # Failed pods: deleted (with a FailedDaemonPod event) unless the node's back-off holds.
    failed: list[Obj] = field(default_factory=list)
    # Succeeded pods: deleted, with a SucceededDaemonPod event.
    succeeded: list[Obj] = field(default_factory=list)


def node_actions(
    ds: Obj, placement: Placement, pods: Sequence[Obj] | None, hash_: str, now: dt.datetime
) -> NodeActions:
    """podsShouldBeOnNode for a node with this placement and these daemon pods (None: the
    node has none at all)."""
    actions = NodeActions()
    if placement.should_run and not pods:
        actions.create = True
        return actions
    if not placement.should_continue:
        actions.delete = [p for p in pods or () if not podutil.is_terminating(p)]
        return actions
    running = []
    for pod in pods or ():
        if podutil.is_terminating(pod):
            continue
        if _phase(pod) == "Failed":
            actions.failed.append(pod)
        elif _phase(pod) == "Succeeded":
            actions.succeeded.append(pod)
        else:
            running.append(pod)
    running.sort(key=creation_order_key)
    if not allows_surge(ds):
        actions.delete = running[1:]  # Keep the oldest.
        return actions
    if len(running) <= 1:
        # A node being surged onto must keep one live pod.
        actions.create = not running and placement.should_run
        return actions
    # Keep the oldest new pod and the oldest old one; any others go.
    oldest_new: Obj | None = None
    oldest_old: Obj | None = None
    for pod in running:
        if meta.labels_of(pod).get(HASH_LABEL) == hash_:
            if oldest_new is None:
                oldest_new = pod
                continue
        elif oldest_old is None:
            oldest_old = pod
            continue
        actions.delete.append(pod)
    # The old pod goes once it is no longer ready, or once the new one is available.
    if (
        oldest_new is not None
        and oldest_old is not None
        and (not is_pod_ready(oldest_old) or podutil.is_available(oldest_new, _min_ready(ds), now))
    ):
        actions.delete.append(oldest_old)
    return actions


def unscheduled_pods_without_node(node_names: set[str], node_to_pods: NodePods) -> list[Obj]:
    """getUnscheduledPodsWithoutNode: pods meant for a node that is gone and never bound.
    No kubelet will ever run them and the pod garbage collector only removes bound pods."""
    return [
        pod
        for node_name, pods in sorted(node_to_pods.items())
        if node_name not in node_names
        for pod in pods
        if not (pod.get("spec") or {}).get("nodeName")
    ]


# --- rolling updates ----------------------------------------------------------------------------


def find_updated_pods_on_node(
    pods: Sequence[Obj], hash_: str, generation: int | None
) -> tuple[Obj | None, Obj | None, bool]:
    """findUpdatedPodsOnNode: (the new pod, the old pod, True) among the live pods of a node,
    or (None, None, False) when there are two of either: the node-by-node pass prunes those
    first."""
    new: Obj | None = None
    old: Obj | None = None
    for pod in pods:
        if podutil.is_terminating(pod):
            continue
        if is_pod_updated(pod, hash_, generation):
            if new is not None:
                return None, None, False
            new = pod
        else:
            if old is not None:
                return None, None, False
            old = pod
    return new, old, True


def desired_node_counts(
    ds: Obj, placements: Mapping[str, Placement], node_to_pods: dict[str, list[Obj]]
) -> tuple[int, int, int]:
    """updatedDesiredNodeCounts: (maxSurge, maxUnavailable, desiredNumberScheduled); every
    node that should run the daemon gets an entry in `node_to_pods`, empty if it has no pod.
    Raises ValueError on a malformed maxSurge or maxUnavailable."""
    desired = 0
    for node_name, placement in placements.items():
        if not placement.should_run:
            continue
        desired += 1
        node_to_pods.setdefault(node_name, [])
    max_unavailable = unavailable_count(ds, desired)
    max_surge = surge_count(ds, desired)
    if desired > 0 and max_unavailable == 0 and max_surge == 0:
        max_unavailable = 1  # An impossible strategy: fall back to one node at a time.
    return max_surge, max_unavailable, desired


def rolling_update(
    ds: Obj,
    placements: Mapping[str, Placement],
    node_to_pods: NodePods,
    hash_: str,
    now: dt.datetime,
) -> tuple[list[Obj], list[str]]:
    """rollingUpdate: (old pods to delete, nodes to make a new pod on). Raises ValueError on
    a malformed maxSurge or maxUnavailable."""
    by_node = {name: list(pods) for name, pods in node_to_pods.items()}
    max_surge, max_unavailable, desired = desired_node_counts(ds, placements, by_node)
    generation = template_generation(ds)
    min_ready = _min_ready(ds)

    def available(pod: Obj) -> bool:
        return podutil.is_available(pod, min_ready, now)

    if max_surge == 0:
        return _replace_without_surge(by_node, hash_, generation, max_unavailable, available), []

    to_delete: list[Obj] = []  # New pod available, or an unavailable old one off its node.
    misplaced: list[Obj] = []  # Available old pods on nodes that should no longer run them.
    candidates: list[str] = []
    allowed: list[str] = []
    surging = 0
    num_available = 0
    for node_name in sorted(by_node):
        new, old, ok = find_updated_pods_on_node(by_node[node_name], hash_, generation)
        if not ok:
            surging += 1  # Being pruned: count it as surging.
            continue
        # Availability counts every node, even those being moved off.
        shown = old if old is not None else new
        if shown is not None and available(shown):
            num_available += 1
        if old is None:
            continue  # Up to date, or empty: the node-by-node pass sees to it.
        should_run = placements.get(node_name, NOWHERE).should_run
        if new is None:
            if not available(old):
                if should_run:
                    allowed.append(node_name)
                else:
                    to_delete.append(old)
            elif not should_run:
                misplaced.append(old)
            elif surging < max_surge:
                candidates.append(node_name)
        elif not available(new):
            surging += 1  # Waiting for the new pod.
        else:
            to_delete.append(old)
    # With surge the owner asked for full availability: a pod leaves a node it no longer
    # belongs on only once as many pods are available elsewhere as are desired.
    deletable = num_available - desired
    if deletable > 0:
        to_delete += misplaced[:deletable]
    remaining = min(max(max_surge - surging, 0), len(candidates))
    return to_delete, allowed + candidates[:remaining]


def _replace_without_surge(
    by_node: dict[str, list[Obj]],
    hash_: str,
    generation: int | None,
    max_unavailable: int,
    available: Callable[[Obj], bool],
) -> list[Obj]:
    """The old pods to delete so that at most maxUnavailable nodes lack an available pod."""
    unavailable = 0
    allowed: list[Obj] = []
    candidates: list[Obj] = []
    for node_name in sorted(by_node):
        new, old, ok = find_updated_pods_on_node(by_node[node_name], hash_, generation)
        if not ok or (new is None) == (old is None):
            # Being pruned, empty, or being replaced: unavailable either way.
            unavailable += 1
        elif new is not None:
            if not available(new):
                unavailable += 1
        else:
            assert old is not None  # exactly one of the two is there, and it is not `new`
            if not available(old):
                allowed.append(old)  # Costs no availability: replace it now.
                unavailable += 1
            elif unavailable < max_unavailable:
                candidates.append(old)
    remaining = min(max(max_unavailable - unavailable, 0), len(candidates))
    return allowed + candidates[:remaining]


# --- status --------------------------------------------------------------------------------------


def status_counts(
    ds: Obj,
    placements: Mapping[str, Placement],
    node_to_pods: NodePods,
    hash_: str,
    now: dt.datetime,
) -> dict[str, int]:
    """updateDaemonSetStatus' counts. A node's oldest pod speaks for it: it is the one that
    stays when a node has several."""
    desired = current = misscheduled = ready = updated = available = 0
    generation = template_generation(ds)
    min_ready = _min_ready(ds)
    for node_name, placement in placements.items():
        pods = node_to_pods.get(node_name) or ()
        if not placement.should_run:
            if pods:
                misscheduled += 1
            continue
        desired += 1
        if not pods:
            continue
        current += 1
        oldest = min(pods, key=creation_order_key)
        if is_pod_ready(oldest):
            ready += 1
            if podutil.is_available(oldest, min_ready, now):
                available += 1
        if is_pod_updated(oldest, hash_, generation):
            updated += 1
    return {
        "desiredNumberScheduled": desired,
        "currentNumberScheduled": current,
        "numberMisscheduled": misscheduled,
        "numberReady": ready,
        "updatedNumberScheduled": updated,
        "numberAvailable": available,
        "numberUnavailable": desired - available,
    }
