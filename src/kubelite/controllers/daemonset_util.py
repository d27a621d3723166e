"""Where a DaemonSet's pods belong, and what each pod is made of.

Kubernetes' `pkg/controller/daemon/util` and `NodeShouldRunDaemonPod` of `daemon_controller.go`
(1.33), as pure functions of the objects the informers hold:

- a node is eligible when the daemon pod would fit it: the template's `nodeName` (if any) is the
  node, its nodeSelector and required node affinity match the node, and every NoSchedule and
  NoExecute taint is tolerated. A pod that is already there may stay through untolerated
  NoSchedule taints (they only keep new pods off), but not through an untolerated NoExecute one.
  `spec.unschedulable` is not looked at: a cordoned node carries the unschedulable taint, which
  daemon pods tolerate, so cordoning a node keeps its daemons;
- every daemon pod gets the tolerations Kubernetes adds (`add_daemon_tolerations`), so that the
  node lifecycle controller never evicts a daemon from a sick node and pressure taints do not
  keep it off one;
- a pod is pinned to its node through a required node affinity on `metadata.name`, which the
  scheduler honours: the scheduler, not the controller, binds daemon pods;
- the `controller-revision-hash` and `pod-template-generation` labels tell an up-to-date pod from
  an old one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubelite.api import meta
from kubelite.api.nodeaffinity import METADATA_NAME, RequiredNodeAffinity
from kubelite.api.strategies.apps import TEMPLATE_GENERATION_ANNOTATION
from kubelite.api.tolerations import (
    DO_NOT_SCHEDULE,
    NO_EXECUTE,
    NO_SCHEDULE,
    TAINT_NODE_DISK_PRESSURE,
    TAINT_NODE_MEMORY_PRESSURE,
    TAINT_NODE_NETWORK_UNAVAILABLE,
    TAINT_NODE_NOT_READY,
    TAINT_NODE_PID_PRESSURE,
    TAINT_NODE_UNREACHABLE,
    TAINT_NODE_UNSCHEDULABLE,
    Toleration,
    compile_tolerations,
    find_untolerated_taint,
)
from kubelite.api.types import Obj
from kubelite.controllers.deployment_util import scaled_value

# apps.DefaultDaemonSetUniqueLabelKey (= ControllerRevisionHashLabelKey).
HASH_LABEL = "controller-revision-hash"
# extensions.DaemonSetTemplateGenerationKey: the template generation a pod was made from.
TEMPLATE_GENERATION_LABEL = "pod-template-generation"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"


# AddOrUpdateDaemonPodTolerations, in its order: no tolerationSeconds, so never evicted.
_DAEMON_TOLERATIONS: tuple[tuple[str, str], ...] = (
    (TAINT_NODE_NOT_READY, NO_EXECUTE),
    (TAINT_NODE_UNREACHABLE, NO_EXECUTE),
    (TAINT_NODE_DISK_PRESSURE, NO_SCHEDULE),
    (TAINT_NODE_MEMORY_PRESSURE, NO_SCHEDULE),
    (TAINT_NODE_PID_PRESSURE, NO_SCHEDULE),
    (TAINT_NODE_UNSCHEDULABLE, NO_SCHEDULE),
)
# Only a pod on the host's network can run before the node's network is up.
_HOST_NETWORK_TOLERATION = (TAINT_NODE_NETWORK_UNAVAILABLE, NO_SCHEDULE)
_NO_EXECUTE_ONLY = frozenset((NO_EXECUTE,))


# --- tolerations and the pod template --------------------------------------------------------


def _toleration_identity(t: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """Toleration.MatchToleration: tolerations are one and the same by key, effect, operator
    and value."""
    return (
        t.get("key") or "",
        t.get("effect") or "",
        t.get("operator") or "",
        t.get("value") or "",
    )


def _same_toleration(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return _toleration_identity(a) == _toleration_identity(b) and a.get(
        "tolerationSeconds"
    ) == b.get("tolerationSeconds")


def add_or_update_toleration(spec: Obj, toleration: Obj) -> bool:
    """AddOrUpdateTolerationInPodSpec: add `toleration`, or put it in place of those with the
    same identity (a daemon's own toleration replaces a user's one with tolerationSeconds, so
    the daemon is never evicted); False when it was there already, unchanged."""
    current = spec.get("tolerations") or []
    result = []
    updated = False
    identity = _toleration_identity(toleration)
    for existing in current:
        if _toleration_identity(existing) == identity:
            if _same_toleration(existing, toleration):
                return False
            result.append(dict(toleration))
            updated = True
            continue
        result.append(existing)
    if not updated:
        result.append(dict(toleration))
    spec["tolerations"] = result
    return True


def add_daemon_tolerations(spec: Obj) -> None:
    """AddOrUpdateDaemonPodTolerations: what every daemon pod tolerates, in place."""
    wanted = list(_DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(_HOST_NETWORK_TOLERATION)
    for key, effect in wanted:
        add_or_update_toleration(spec, {"key": key, "operator": "Exists", "effect": effect})


def template_generation(ds: Obj) -> int | None:
    """GetTemplateGeneration: the annotation the API server keeps; None when it is missing or
    unreadable (the hash alone then tells new pods from old)."""
    text = ((ds.get("metadata") or {}).get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None


def create_pod_template(template: Obj, generation: int | None, hash_: str) -> Obj:
    """CreatePodTemplate: the DaemonSet's template with the daemon tolerations and the
    generation and revision labels, a copy."""
    result = meta.clone(template)
    spec = result.setdefault("spec", {})
    add_daemon_tolerations(spec)
    md = result.setdefault("metadata", {})
    pod_labels = md.get("labels") or {}
    md["labels"] = pod_labels
    if generation is not None:
        pod_labels[TEMPLATE_GENERATION_LABEL] = str(generation)
    if hash_:
        pod_labels[HASH_LABEL] = hash_
    return result


def _name_term(node_name: str) -> Obj:
    return {"matchFields": [{"key": METADATA_NAME, "operator": "In", "values": [node_name]}]}


def pin_to_node(spec: Obj, node_name: str) -> None:
    """ReplaceDaemonSetPodNodeNameNodeAffinity: the pod's required node affinity becomes the
    one term `metadata.name In [node]`, in place. The template's own required terms were
    already matched against the node when it was found eligible; preferred terms stay."""
    affinity = spec.get("affinity")
    if not isinstance(affinity, dict):
        affinity = spec["affinity"] = {}
    node_affinity = affinity.get("nodeAffinity")
    if not isinstance(node_affinity, dict):
        node_affinity = affinity["nodeAffinity"] = {}
    required = node_affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, dict):
        required = node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] = {}
    required["nodeSelectorTerms"] = [_name_term(node_name)]


def target_node_name(pod: Obj) -> str | None:
    """GetTargetNodeName: the node a pod is bound to, or, before the scheduler has bound it,
    the node its `metadata.name In [node]` affinity names; None when neither says."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = meta.get_path(
        spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution"
    )
    for term in (required or {}).get("nodeSelectorTerms") or ():
        for expr in (term or {}).get("matchFields") or ():
            if expr.get("key") == METADATA_NAME and expr.get("operator") == "In":
                values = expr.get("values") or []
                return str(values[0]) if len(values) == 1 else None
    return None


def is_pod_updated(pod: Obj, hash_: str, generation: int | None) -> bool:
    """IsPodUpdated: the pod carries the current revision's hash or template generation."""
    pod_labels = meta.labels_of(pod)
    if generation is not None and pod_labels.get(TEMPLATE_GENERATION_LABEL) == str(generation):
        return True
    return bool(hash_) and pod_labels.get(HASH_LABEL) == hash_


def creation_order_key(pod: Obj) -> tuple[bool, str, str]:
    """podByCreationTimestampAndPhase: scheduled pods first, then oldest first, then by name."""
    md = pod.get("metadata") or {}
    scheduled = bool((pod.get("spec") or {}).get("nodeName"))
    return (not scheduled, md.get("creationTimestamp") or "", md.get("name") or "")


# --- eligibility --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Placement:
    """Whether a daemon pod should be on a node: `should_run` (a missing pod is to be made)
    and `should_continue` (a pod already there may stay)."""

    should_run: bool
    should_continue: bool


NOWHERE = Placement(False, False)
EVERYWHERE = Placement(True, True)


class DaemonPlacement:
    """A DaemonSet's template compiled for NodeShouldRunDaemonPod: a controller asks about
    every node, and a node change asks about every DaemonSet."""

    __slots__ = ("affinity", "node_name", "tolerations")

    def __init__(self, ds: Obj) -> None:
        template = (ds.get("spec") or {}).get("template") or {}
        spec = meta.clone(template.get("spec") or {})
        add_daemon_tolerations(spec)  # NewPod: the pod as it would be made.
        self.node_name: str = spec.get("nodeName") or ""
        self.affinity = RequiredNodeAffinity.from_pod({"spec": spec})
        self.tolerations: tuple[Toleration, ...] = compile_tolerations(spec.get("tolerations"))

    def on(self, node: Obj) -> Placement:
        """NodeShouldRunDaemonPod. Unparseable affinity terms match nothing, as the
        scheduler reads them (Kubernetes ignores the errors here too)."""
        name = meta.name_of(node)
        if self.node_name and self.node_name != name:
            return NOWHERE
        if not self.affinity.match_node(node):
            return NOWHERE
        taints = (node.get("spec") or {}).get("taints")
        if not taints or find_untolerated_taint(taints, self.tolerations, DO_NOT_SCHEDULE) is None:
            return EVERYWHERE
        evicting = find_untolerated_taint(taints, self.tolerations, _NO_EXECUTE_ONLY)
        return Placement(False, evicting is None)


def node_should_run_daemon_pod(node: Obj, ds: Obj) -> Placement:
    """NodeShouldRunDaemonPod for one node (DaemonPlacement compiles once for many)."""
    return DaemonPlacement(ds).on(node)


# --- the update strategy ------------------------------------------------------------------------


def _rolling_update(ds: Obj) -> Obj | None:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    if (strategy.get("type") or ROLLING_UPDATE) != ROLLING_UPDATE:
        return None
    rolling = strategy.get("rollingUpdate")
    return rolling if isinstance(rolling, dict) else None


def is_rolling_update(ds: Obj) -> bool:
    strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
    return (strategy.get("type") or ROLLING_UPDATE) == ROLLING_UPDATE


def surge_count(ds: Obj, number_to_schedule: int) -> int:
    """SurgeCount: maxSurge of `number_to_schedule` nodes, a percentage rounded up; 0 without
    a rolling update or maxSurge. Raises ValueError on a malformed value."""
    rolling = _rolling_update(ds)
    if rolling is None or rolling.get("maxSurge") is None:
        return 0
    return scaled_value(rolling["maxSurge"], number_to_schedule, True)


def unavailable_count(ds: Obj, number_to_schedule: int) -> int:
    """UnavailableCount: maxUnavailable of `number_to_schedule` nodes, rounded up; 0 without a
    rolling update. Raises ValueError on a malformed or missing value (the API server always
    defaults it)."""
    rolling = _rolling_update(ds)
    if rolling is None:
        return 0
    value = rolling.get("maxUnavailable")
    if value is None:
        raise ValueError("nil value for IntOrString")
    return scaled_value(value, number_to_schedule, True)


def allows_surge(ds: Obj) -> bool:
    """AllowsSurge: whether two pods may share a node during an update (maxSurge of one node
    rounds up above zero)."""
    try:
        return surge_count(ds, 1) > 0
    except ValueError:
        return False
