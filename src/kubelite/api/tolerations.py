"""Whether a pod's tolerations let it onto a node with taints.

One rule, used by the scheduler (TaintToleration, NodeUnschedulable) and the kubelet (admission
of pods bound to a tainted node, eviction by NoExecute taints). It is `Toleration.ToleratesTaint`
of `k8s.io/api/core/v1` and `TolerationsTolerateTaint` / `FindMatchingUntoleratedTaint` of
component-helpers `scheduling/corev1`, as of Kubernetes 1.33:

* an empty toleration effect matches every effect, otherwise the effects must be equal;
* an empty toleration key matches every key (validation only allows it with `Exists`, but the
  matching itself does not check the operator: an empty key with `Equal` matches any taint whose
  value equals the toleration's value, as in Kubernetes);
* `Exists` matches any value, `Equal` (or no operator) only an equal value; any other operator
  matches nothing.

Tolerations are compiled once into `Toleration` objects because a scheduler checks one pod's
tolerations against thousands of nodes' taints.

>>> t = Toleration.from_json({"key": "dedicated", "operator": "Equal", "value": "gpu"})
>>> t.tolerates({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"})
True
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from kubelite.api.types import ObjView

NO_SCHEDULE = "NoSchedule"
PREFER_NO_SCHEDULE = "PreferNoSchedule"
NO_EXECUTE = "NoExecute"

EQUAL = "Equal"
EXISTS = "Exists"

# The taints Kubernetes puts on nodes itself (core/v1 well_known_taints.go): the node lifecycle
# controller, from the node's conditions and for cordoned nodes; a person, for a node out of
# service.
TAINT_NODE_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_NODE_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_NODE_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_NODE_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
TAINT_NODE_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NODE_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"

# The effects that keep a pod off a node (scheduler helper DoNotScheduleTaintsFilterFunc).
DO_NOT_SCHEDULE = frozenset((NO_SCHEDULE, NO_EXECUTE))


@dataclass(frozen=True, slots=True)
class Toleration:
    """One toleration of a pod spec; `operator` "" means Equal, as Kubernetes reads it."""

    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""

    @classmethod
    def from_json(cls, obj: ObjView) -> Toleration:
        return cls(
            obj.get("key") or "",
            obj.get("operator") or "",
            obj.get("value") or "",
            obj.get("effect") or "",
        )

    def tolerates(self, taint: ObjView) -> bool:
        """Toleration.ToleratesTaint."""
        return self.tolerates_parts(
            taint.get("key") or "", taint.get("value") or "", taint.get("effect") or ""
        )

    def tolerates_parts(self, key: str, value: str, effect: str) -> bool:
        """The same, with the taint already taken apart (the scheduler's inner loop)."""
        if self.effect and self.effect != effect:
            return False
        if self.key and self.key != key:
            return False
        if self.operator in ("", EQUAL):
            return self.value == value
        return self.operator == EXISTS


def compile_tolerations(tolerations: Iterable[ObjView] | None) -> tuple[Toleration, ...]:
    return tuple(Toleration.from_json(t) for t in tolerations or ())


def tolerates_taint(toleration: ObjView, taint: ObjView) -> bool:
    """Whether one toleration (as JSON) tolerates one taint (as JSON)."""
    return Toleration.from_json(toleration).tolerates(taint)


def tolerations_tolerate_taint(tolerations: Iterable[Toleration], taint: ObjView) -> bool:
    """TolerationsTolerateTaint: any of the tolerations tolerates the taint."""
    key = taint.get("key") or ""
    value = taint.get("value") or ""
    effect = taint.get("effect") or ""
    return any(t.tolerates_parts(key, value, effect) for t in tolerations)


def find_untolerated_taint(
    taints: Iterable[ObjView] | None,
    tolerations: Collection[Toleration],
    effects: Collection[str] | None = None,
) -> ObjView | None:
    """FindMatchingUntoleratedTaint: the first taint (among those with one of `effects`, all
    when None) that no toleration tolerates, or None when all are tolerated."""
    for taint in taints or ():
        effect = taint.get("effect") or ""
        if effects is not None and effect not in effects:
            continue
        key = taint.get("key") or ""
        value = taint.get("value") or ""
        if not any(t.tolerates_parts(key, value, effect) for t in tolerations):
            return taint
    return None
