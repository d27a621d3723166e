"""The arithmetic of a PodDisruptionBudget's status, apart from the controller that writes it.

Kubernetes' `pkg/controller/disruption` computes, for each budget and the pods it selects:

- expectedPods: how many pods there should be. For `minAvailable: N` that is simply the pods
  found; for a percentage, or for `maxUnavailable` in either form, it is the sum of the scales
  of the pods' controllers (a Deployment's, StatefulSet's, ... spec.replicas), since "50% of
  what?" must not shrink as pods go away.
- desiredHealthy: `minAvailable` (a percentage of expectedPods, rounded up), or expectedPods less
  `maxUnavailable` (a percentage rounded up, so the budget errs on the side of fewer
  disruptions), never below 0.
- currentHealthy: the pods that are ready, not being deleted, and not recently evicted (the
  eviction subresource records those in `disruptedPods`; an entry older than DeletionTimeout
  is dropped, since a delete that has not come by then will not).
- disruptionsAllowed: currentHealthy - desiredHealthy, but 0 while it would be negative or while
  no pods are expected (a budget whose first pods appear before the controller has seen them
  must not allow anything).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from kubelite.api import meta
from kubelite.api import poddisruptionbudget as pdbs
from kubelite.api.conditions import set_status_condition
from kubelite.api.pods import is_pod_ready
from kubelite.api.types import Obj

# DeletionTimeout: how long an eviction's entry in disruptedPods waits for the pod's delete.
DELETION_TIMEOUT = dt.timedelta(minutes=2)


def needs_scale(spec: Obj) -> bool:
    """Whether expectedPods comes from the pods' controllers rather than the pods found."""
    if spec.get("maxUnavailable") is not None:
        return True
    return isinstance(spec.get("minAvailable"), str)


def budget_numbers(spec: Obj, pods_found: int, expected_scale: int) -> tuple[int, int]:
    """(expectedPods, desiredHealthy) for the spec (getExpectedPodCount).

    `expected_scale` is the sum of the controllers' scales, used where `needs_scale` says.
    Raises pdbs.IntOrPercentError for a value that is neither an integer nor a percentage.
    """
    max_unavailable = spec.get("maxUnavailable")
    min_available = spec.get("minAvailable")
    if max_unavailable is not None:
        unavailable = pdbs.scaled_value(max_unavailable, expected_scale, round_up=True)
        return expected_scale, max(0, expected_scale - unavailable)
    if isinstance(min_available, int) and not isinstance(min_available, bool):
        return pods_found, min_available
    if isinstance(min_available, str):
        return expected_scale, pdbs.scaled_value(min_available, expected_scale, round_up=True)
    return 0, 0


def disruptions_allowed(current_healthy: int, desired_healthy: int, expected: int) -> int:
    allowed = current_healthy - desired_healthy
    return 0 if expected <= 0 or allowed <= 0 else allowed


def _disrupted_at(disrupted: Obj, name: str) -> dt.datetime | None:
    value = disrupted.get(name)
    return meta.parse_time(value) if isinstance(value, str) else None


def build_disrupted_pods(
    pods: Iterable[Obj], recorded: Obj | None, now: dt.datetime
) -> tuple[Obj, dt.datetime | None, list[Obj]]:
    """What stays in disruptedPods (buildDisruptedPodMap), when to look again, and the pods
    whose eviction never came to a delete (to be reported).

    An entry stays for a pod that still exists, is not being deleted yet, and was evicted less
    than DeletionTimeout ago; the first such entry to expire is when to look again.
    """
    kept: Obj = {}
    recheck: dt.datetime | None = None
    overdue: list[Obj] = []
    if not recorded:
        return kept, recheck, overdue
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        name = meta.name_of(pod)
        when = _disrupted_at(recorded, name)
        if when is None:
            continue
        expected_deletion = when + DELETION_TIMEOUT
        if expected_deletion < now:
            overdue.append(pod)
            continue
        if recheck is None or expected_deletion < recheck:
            recheck = expected_deletion
        kept[name] = recorded[name]
    return kept, recheck, overdue


def count_healthy(pods: Iterable[Obj], disrupted: Obj, now: dt.datetime) -> int:
    """Ready pods not being deleted and not about to be (countHealthyPods)."""
    healthy = 0
    for pod in pods:
        if pod["metadata"].get("deletionTimestamp"):
            continue
        when = _disrupted_at(disrupted, meta.name_of(pod))
        if when is not None and when + DELETION_TIMEOUT > now:
            continue
        if is_pod_ready(pod):
            healthy += 1
    return healthy


def new_status(
    pdb: Obj,
    *,
    current_healthy: int,
    desired_healthy: int,
    expected: int,
    disrupted: Obj,
    now: dt.datetime,
) -> Obj | None:
    """The status to write (updatePdbStatus), or None when the stored one already says it."""
    allowed = disruptions_allowed(current_healthy, desired_healthy, expected)
    old = pdb.get("status") or {}
    generation = int(pdb["metadata"].get("generation") or 0)
    if (
        int(old.get("currentHealthy") or 0) == current_healthy
        and int(old.get("desiredHealthy") or 0) == desired_healthy
        and int(old.get("expectedPods") or 0) == expected
        and int(old.get("disruptionsAllowed") or 0) == allowed
        and (old.get("disruptedPods") or {}) == disrupted
        and int(old.get("observedGeneration") or 0) == generation
        and pdbs.conditions_up_to_date(pdb)
    ):
        return None
    status: Obj = {"observedGeneration": generation}
    if disrupted:
        status["disruptedPods"] = dict(disrupted)
    status.update(
        {
            "disruptionsAllowed": allowed,
            "currentHealthy": current_healthy,
            "desiredHealthy": desired_healthy,
            "expectedPods": expected,
            "conditions": meta.clone(old.get("conditions") or []),
        }
    )
    pdbs.update_disruption_allowed_condition(status, now)
    return status


def failed_status(pdb: Obj, message: str, now: dt.datetime) -> Obj:
    """failSafe's status: nothing allowed, and DisruptionAllowed False for SyncFailed."""
    status = meta.clone(pdb.get("status") or {})
    status["disruptionsAllowed"] = 0
    conditions = status.setdefault("conditions", [])
    set_status_condition(
        conditions,
        {
            "type": pdbs.DISRUPTION_ALLOWED,
            "status": "False",
            "reason": pdbs.SYNC_FAILED,
            "message": message,
            "observedGeneration": int(status.get("observedGeneration") or 0),
        },
        now,
    )
    return status


def go_label_selector(selector: Obj | None) -> str:
    """A *metav1.LabelSelector as Go's %v prints it (its generated String()), for the
    UnmanagedPods event."""
    if selector is None:
        return "nil"
    match_labels = selector.get("matchLabels") or {}
    labels_text = "".join(f"{k}: {match_labels[k]}," for k in sorted(match_labels))
    expressions = "".join(
        f"LabelSelectorRequirement{{Key:{e.get('key', '')},Operator:{e.get('operator', '')},"
        f"Values:[{' '.join(e.get('values') or [])}],}},"
        for e in selector.get("matchExpressions") or []
    )
    return (
        f"&LabelSelector{{MatchLabels:map[string]string{{{labels_text}}},"
        f"MatchExpressions:[]LabelSelectorRequirement{{{expressions}}},}}"
    )
