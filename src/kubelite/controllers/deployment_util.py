"""The arithmetic and bookkeeping of Deployments, as pure functions over objects.

Kubernetes' `pkg/controller/deployment/util`: how maxSurge and maxUnavailable resolve against
spec.replicas (percentages round surge up and unavailability down, and both zero means one may
be unavailable), the pod-template-hash that names a Deployment's ReplicaSets, the revision
annotations, which ReplicaSet is the new one, how many pods each step may add or remove,
proportional scaling, and the Deployment's conditions. The controller (`deployment.py`) decides
with these and writes; everything here can be tested without an API.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from kubelite.api import meta
from kubelite.api.conditions import transition_time
from kubelite.api.types import Obj

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
# The annotations a Deployment does not pass on to its ReplicaSets.
_NOT_COPIED = frozenset(
    {
        LAST_APPLIED_ANNOTATION,
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
        "deprecated.deployment.rollback.to",
    }
)
# Longest revision-history annotation Kubernetes keeps (maxRevHistoryLengthInChars).
MAX_REVISION_HISTORY_CHARS = 2000

# Condition types and reasons (deployment/util).
AVAILABLE = "Available"
PROGRESSING = "Progressing"
REPLICA_FAILURE = "ReplicaFailure"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
RS_CREATE_ERROR = "ReplicaSetCreateError"
# progressDeadlineSeconds of MaxInt32 means "no deadline".
_NO_DEADLINE = 2**31 - 1

# rand.SafeEncodeString's alphabet: no vowels, no look-alikes.
_SAFE_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"


# --- spec ----------------------------------------------------------------------------------------


def replicas(d: Obj) -> int:
    value = (d.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def is_rolling_update(d: Obj) -> bool:
    strategy = (d.get("spec") or {}).get("strategy") or {}
    kind: str = strategy.get("type", "RollingUpdate")
    return kind == "RollingUpdate"


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int, or a percentage of `total`."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError(
            f"invalid value for IntOrString: invalid type: string is not a percentage: {value!r}"
        )
    percent = int(value[:-1])
    exact = percent * total / 100
    return math.ceil(exact) if round_up else math.floor(exact)


def fenceposts(d: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) against spec.replicas; both zero makes unavailable one."""
    rolling = ((d.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(d)
    surge = scaled_value(rolling.get("maxSurge"), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Obj) -> int:
    return fenceposts(d)[0] if is_rolling_update(d) else 0


def max_unavailable(d: Obj) -> int:
    desired = replicas(d)
    if not is_rolling_update(d) or desired == 0:
        return 0
    return min(fenceposts(d)[1], desired)


def progress_deadline(d: Obj) -> int | None:
    """spec.progressDeadlineSeconds, or None when the Deployment has no deadline."""
    value = (d.get("spec") or {}).get("progressDeadlineSeconds")
    if value is None or int(value) == _NO_DEADLINE:
        return None
    return int(value)


# --- ReplicaSets ---------------------------------------------------------------------------------


def rs_replicas(rs: Obj | None) -> int:
    """spec.replicas of a ReplicaSet (0 for none)."""
    if rs is None:
        return 0
    value = (rs.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def rs_status(rs: Obj | None, field: str) -> int:
    return int(((rs or {}).get("status") or {}).get(field) or 0)


def total_replicas(rss: Iterable[Obj | None]) -> int:
    return sum(rs_replicas(rs) for rs in rss if rs is not None)


def total_status(rss: Iterable[Obj | None], field: str) -> int:
    return sum(rs_status(rs, field) for rs in rss if rs is not None)


def active(rss: Iterable[Obj | None]) -> list[Obj]:
    """The ReplicaSets that want pods (FilterActiveReplicaSets)."""
    return [rs for rs in rss if rs is not None and rs_replicas(rs) > 0]


def created_at(rs: Obj) -> tuple[str, str]:
    """Sort key: creation time, then name (ReplicaSetsByCreationTimestamp)."""
    return (rs["metadata"].get("creationTimestamp") or "", rs["metadata"].get("name", ""))


def revision(obj: Obj | None) -> int:
    annotations = ((obj or {}).get("metadata") or {}).get("annotations") or {}
    text = annotations.get(REVISION_ANNOTATION, "")
    try:
        return int(text)
    except ValueError:
        return 0


def max_revision(rss: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def template_without_hash(template: Obj) -> Obj:
    md = template.get("metadata") or {}
    labels = {k: v for k, v in (md.get("labels") or {}).items() if k != POD_TEMPLATE_HASH_LABEL}
    return {**template, "metadata": {**md, "labels": labels}}


def equal_ignoring_hash(a: Obj, b: Obj) -> bool:
    """Whether two pod templates are the same but for the pod-template-hash label."""
    # _canonical gives JSON values, whose == is a bool.
    return bool(_canonical(template_without_hash(a)) == _canonical(template_without_hash(b)))


def _canonical(obj: Any) -> Any:
    """Empty maps and lists count as absent, at any depth, as Go's omitempty and
    Semantic.DeepEqual make them."""
    if isinstance(obj, dict):
        kept = {k: _canonical(v) for k, v in obj.items()}
        return {k: v for k, v in kept.items() if v not in ({}, [], None)}
    if isinstance(obj, list):
        return [_canonical(v) for v in obj]
    return obj


def find_new(d: Obj, rss: Sequence[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's (FindNewReplicaSet)."""
    template = (d.get("spec") or {}).get("template") or {}
    for rs in sorted(rss, key=created_at):
        if equal_ignoring_hash((rs.get("spec") or {}).get("template") or {}, template):
            return rs
    return None


def _fnv32a(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value ^= byte
        value = (value * 0x01000193) & 0xFFFFFFFF
    return value


def pod_template_hash(template: Obj, collision_count: int | None = None) -> str:
    """The pod-template-hash of a template: an FNV-32a hash written in a safe alphabet.

    Kubernetes hashes Go's printed form of the template, which a Python program cannot
    reproduce; this hashes its canonical JSON, so names look alike (`web-7c5ddbdf54`) and
    are stable across restarts, though not equal to those another cluster would pick.
    """
    data = orjson.dumps(_canonical(template_without_hash(template)), option=orjson.OPT_SORT_KEYS)
    if collision_count:
        data += int(collision_count).to_bytes(4, "little")
    digits = str(_fnv32a(data))
    return "".join(_SAFE_ALPHANUMS[ord(c) % len(_SAFE_ALPHANUMS)] for c in digits)


def new_rs_replicas(d: Obj, all_rss: Sequence[Obj | None], new_rs: Obj) -> int:
    """How big the new ReplicaSet may be now (NewRSNewReplicas)."""
    if not is_rolling_update(d):
        return replicas(d)
    current = total_replicas(all_rss)
    max_total = replicas(d) + max_surge(d)
    if current >= max_total:
        return rs_replicas(new_rs)
    scale_up = min(max_total - current, replicas(d) - rs_replicas(new_rs))
    return rs_replicas(new_rs) + scale_up


def copied_annotations(d: Obj) -> dict[str, str]:
    annotations = (d.get("metadata") or {}).get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in _NOT_COPIED}


def set_new_rs_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations and the revision onto `rs` (mutated); whether it
    changed (SetNewReplicaSetAnnotations)."""
    md = rs["metadata"]
    annotations: dict[str, str] = dict(md.get("annotations") or {})
    before = dict(annotations)
    annotations.update(copied_annotations(d))
    old_text = annotations.get(REVISION_ANNOTATION, "")
    if old_text and not old_text.lstrip("-").isdigit():
        return False  # Not a number: Kubernetes leaves such a ReplicaSet's annotations alone.
    old = revision(rs)
    if old < new_revision:
        annotations[REVISION_ANNOTATION] = str(new_revision)
        if old_text:
            history = annotations.get(REVISION_HISTORY_ANNOTATION, "")
            history = f"{history},{old_text}" if history else old_text
            while len(history) > MAX_REVISION_HISTORY_CHARS and "," in history:
                history = history.split(",", 1)[1]
            annotations[REVISION_HISTORY_ANNOTATION] = history
    if not exists:
        annotations[DESIRED_REPLICAS_ANNOTATION] = str(replicas(d))
        annotations[MAX_REPLICAS_ANNOTATION] = str(replicas(d) + max_surge(d))
    md["annotations"] = annotations
    return annotations != before


def replicas_annotations_differ(d: Obj, rs: Obj) -> bool:
    annotations = (rs.get("metadata") or {}).get("annotations") or {}
    return annotations.get(DESIRED_REPLICAS_ANNOTATION) != str(replicas(d)) or annotations.get(
        MAX_REPLICAS_ANNOTATION
    ) != str(replicas(d) + max_surge(d))


def with_replicas_annotations(d: Obj, rs: Obj) -> Obj:
    annotations = dict((rs.get("metadata") or {}).get("annotations") or {})
    annotations[DESIRED_REPLICAS_ANNOTATION] = str(replicas(d))
    annotations[MAX_REPLICAS_ANNOTATION] = str(replicas(d) + max_surge(d))
    return {**rs, "metadata": {**rs["metadata"], "annotations": annotations}}


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The new ReplicaSet runs all the Deployment wants, all available."""
    if rs is None:
        return False
    desired = ((rs.get("metadata") or {}).get("annotations") or {}).get(DESIRED_REPLICAS_ANNOTATION)
    want = replicas(d)
    return (
        desired == str(want)
        and rs_replicas(rs) == want
        and rs_status(rs, "availableReplicas") == want
    )


def find_active_or_latest(new_rs: Obj | None, old_rss: Sequence[Obj]) -> Obj | None:
    """The one ReplicaSet with pods, or the newest if none has any; None if several have."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=created_at, reverse=True)
    with_pods = active([*newest_first, new_rs])
    if not with_pods:
        return new_rs if new_rs is not None else newest_first[0]
    if len(with_pods) == 1:
        return with_pods[0]
    return None


def proportional_sizes(d: Obj, rss: list[Obj]) -> dict[str, int]:
    """New sizes of the active ReplicaSets when a Deployment is scaled mid-rollout.

    Each gets a share of the change proportional to its size (against the max-replicas it was
    sized for), larger ones first; what rounding leaves goes to the first. Returns name -> size.
    """
    desired = replicas(d)
    allowed = desired + max_surge(d) if desired > 0 else 0
    to_add = allowed - total_replicas(rss)
    # Larger first; among equals newer first when growing, older first when shrinking
    # (ReplicaSetsBySizeNewer, ReplicaSetsBySizeOlder). Python's sort is stable.
    ordered = sorted(rss, key=created_at, reverse=to_add > 0)
    ordered.sort(key=lambda rs: -rs_replicas(rs))
    sizes: dict[str, int] = {}
    added = 0
    status_replicas = int((d.get("status") or {}).get("replicas") or 0)
    for rs in ordered:
        name = rs["metadata"]["name"]
        size = rs_replicas(rs)
        if to_add != 0 and size != 0 and to_add != added:
            if desired == 0:
                fraction = -size
            else:
                annotations = (rs.get("metadata") or {}).get("annotations") or {}
                try:
                    sized_for = int(annotations[MAX_REPLICAS_ANNOTATION])
                except (KeyError, ValueError):
                    sized_for = status_replicas
                exact = size * allowed / sized_for if sized_for else 0
                fraction = _round_half_away(exact) - size
            left = to_add - added
            share = min(fraction, left) if to_add > 0 else max(fraction, left)
            sizes[name] = size + share
            added += share
        else:
            sizes[name] = size
    if to_add != 0 and ordered:
        first = ordered[0]["metadata"]["name"]
        sizes[first] = max(0, sizes[first] + to_add - added)
    return sizes


def _round_half_away(value: float) -> int:
    """Go's math.Round: halves away from zero (Python's round() goes to even)."""
    return math.floor(abs(value) + 0.5) * (1 if value >= 0 else -1)


# --- status and conditions ---------------------------------------------------------------------


def condition(status: Obj, type_: str) -> Obj | None:
    return meta.find_condition(status.get("conditions"), type_)


def new_condition(type_: str, status: str, reason: str, message: str, now: dt.datetime) -> Obj:
    stamp = meta.format_time(now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def set_condition(status: Obj, cond: Obj) -> None:
    """SetDeploymentCondition: the same status and reason change nothing; the same status
    keeps its transition time; the condition goes last."""
    current = condition(status, cond["type"])
    if current is not None and current["status"] == cond["status"]:
        if current.get("reason") == cond["reason"]:
            return
        since = transition_time(current, cond["status"], cond["lastTransitionTime"])
        cond = {**cond, "lastTransitionTime": since}
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: Obj, type_: str) -> None:
    conditions = [c for c in status.get("conditions") or () if c.get("type") != type_]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


def calculate_status(
    all_rss: Sequence[Obj | None], new_rs: Obj | None, d: Obj, now: dt.datetime
) -> Obj:
    """The Deployment's status from its ReplicaSets (calculateStatus)."""
    available = total_status(all_rss, "availableReplicas")
    unavailable = max(0, total_replicas(all_rss) - available)
    previous = d.get("status") or {}
    status: Obj = {
        "observedGeneration": d["metadata"].get("generation", 0),
        "replicas": total_status(all_rss, "replicas"),
        "updatedReplicas": total_status([new_rs], "replicas"),
        "readyReplicas": total_status(all_rss, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    terminating = terminating_replicas(all_rss)
    if terminating is not None:
        status["terminatingReplicas"] = terminating
    if previous.get("collisionCount") is not None:
        status["collisionCount"] = previous["collisionCount"]
    if previous.get("conditions"):
        status["conditions"] = [dict(c) for c in previous["conditions"]]
    if available >= replicas(d) - max_unavailable(d):
        set_condition(
            status,
            new_condition(
                AVAILABLE, "True", MIN_AVAILABLE, "Deployment has minimum availability.", now
            ),
        )
    else:
        set_condition(
            status,
            new_condition(
                AVAILABLE,
                "False",
                MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.",
                now,
            ),
        )
    return status


def terminating_replicas(rss: Iterable[Obj | None]) -> int | None:
    """GetTerminatingReplicaCountForReplicaSets: the ReplicaSets' terminating pods, summed.

    A ReplicaSet the controller never synced (no observedGeneration, no count) adds nothing;
    one it synced that reports no count makes the sum unknown (None), so the Deployment leaves
    `status.terminatingReplicas` out rather than undercount."""
    total = 0
    for rs in rss:
        if rs is None:
            continue
        status = rs.get("status") or {}
        count = status.get("terminatingReplicas")
        if count is None:
            if not status.get("observedGeneration"):
                continue
            return None
        total += int(count)
    return total


def complete(d: Obj, status: Obj) -> bool:
    """DeploymentComplete: every replica updated and available, and the spec observed."""
    want = replicas(d)
    return (
        int(status.get("updatedReplicas") or 0) == want
        and int(status.get("replicas") or 0) == want
        and int(status.get("availableReplicas") or 0) == want
        and int(status.get("observedGeneration") or 0) >= int(d["metadata"].get("generation", 0))
    )


def progressing(d: Obj, status: Obj) -> bool:
    """DeploymentProgressing: more updated, fewer old, more ready or more available pods."""
    old = d.get("status") or {}

    def n(s: Obj, f: str) -> int:
        return int(s.get(f) or 0)

    old_old = n(old, "replicas") - n(old, "updatedReplicas")
    new_old = n(status, "replicas") - n(status, "updatedReplicas")
    return (
        n(status, "updatedReplicas") > n(old, "updatedReplicas")
        or new_old < old_old
        or n(status, "readyReplicas") > n(old, "readyReplicas")
        or n(status, "availableReplicas") > n(old, "availableReplicas")
    )


def timed_out(d: Obj, status: Obj, now: dt.datetime) -> bool:
    """DeploymentTimedOut: no progress for progressDeadlineSeconds since the last update."""
    deadline = progress_deadline(d)
    if deadline is None:
        return False
    cond = condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = meta.parse_time(cond.get("lastUpdateTime") or "")
    return since is not None and since + dt.timedelta(seconds=deadline) < now
