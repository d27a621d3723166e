"""What several plugins share: kube-scheduler's `plugins/helper` normalization, and the
default spreading selector (helper/spread.go)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubelite.api import labels
from kubelite.api.types import Obj
from kubelite.scheduler.framework.interface import MAX_NODE_SCORE, WorkloadListers


def default_normalize_score(
    scores: list[tuple[str, int]], *, reverse: bool, max_priority: int = MAX_NODE_SCORE
) -> list[tuple[str, int]]:
    """helper.DefaultNormalizeScore: scale [0, max(scores)] to [0, max_priority] with integer
    division, and with `reverse` subtract from max_priority (fewer is better). When every score
    is 0, they stay 0, or all become max_priority when reversed.

    >>> default_normalize_score([("a", 1), ("b", 4)], reverse=True)
    [('a', 75), ('b', 0)]
    """
    highest = 0
    for _, score in scores:
        if score > highest:
            highest = score
    if highest == 0:
        if reverse:
            return [(name, max_priority) for name, _ in scores]
        return scores
    if reverse:
        return [(name, max_priority - max_priority * score // highest) for name, score in scores]
    return [(name, max_priority * score // highest) for name, score in scores]


# The controllers whose selector joins a pod's default spreading selector, by (group, version,
# kind) of the pod's controller ownerReference: other versions or kinds are not looked up.
_RC_KIND = ("", "v1", "ReplicationController")
_RS_KIND = ("apps", "v1", "ReplicaSet")
_SS_KIND = ("apps", "v1", "StatefulSet")

# What a pod no Service or controller selects gets: a selector without requirements.
_EVERYTHING = labels.everything()


def default_selector(pod: Obj, listers: WorkloadListers | None) -> labels.Selector:
    """helper.DefaultSelector: the selector that picks the pods of the same workload as `pod`,
    for PodTopologySpread's default constraints, which a pod without constraints of its own
    carries no selector for.

    It is the union of the requirements of every Service in the pod's namespace whose selector
    matches the pod, and of the selector of the pod's controller (its ownerReference with
    `controller: true`) when that is a v1 ReplicationController, an apps/v1 ReplicaSet or an
    apps/v1 StatefulSet the listers hold. They all match the pod, so their requirements never
    contradict each other. A controller that is not cached, or whose selector does not parse,
    adds nothing (Kubernetes drops the error too); so does a nil or empty selector. An empty
    result means the pod belongs to nothing to spread it with.
    """
    if listers is None:
        return _EVERYTHING
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or ""
    pod_labels = metadata.get("labels") or {}
    merged: dict[str, str] = {}
    for service in listers.services(namespace):
        wanted = (service.get("spec") or {}).get("selector")
        # A Service without a selector selects nothing (its endpoints are managed by hand).
        if wanted and _subset(wanted, pod_labels):
            merged.update(wanted)
    owner = _controller_ref(metadata)
    if owner is None:
        return labels.selector_from_set(merged) if merged else _EVERYTHING
    kind = (*_group_version(owner.get("apiVersion") or ""), owner.get("kind") or "")
    name = owner.get("name") or ""
    extra: tuple[labels.Requirement, ...] = ()
    if kind == _RC_KIND:
        rc = listers.replication_controller(namespace, name)
        if rc is not None:
            merged.update((rc.get("spec") or {}).get("selector") or {})
    elif kind in (_RS_KIND, _SS_KIND):
        workload = (
            listers.replica_set(namespace, name)
            if kind == _RS_KIND
            else listers.stateful_set(namespace, name)
        )
        if workload is not None:
            try:
                extra = labels.from_label_selector(
                    (workload.get("spec") or {}).get("selector")
                ).requirements
            except labels.SelectorError:
                extra = ()
    if not extra:
        return labels.selector_from_set(merged) if merged else _EVERYTHING
    requirements = labels.selector_from_set(merged).requirements + extra
    return labels.Selector(tuple(sorted(requirements, key=lambda r: r.key)))


def _subset(wanted: Mapping[str, str], have: Mapping[str, str]) -> bool:
    """Whether a map selector (`key: value`, all must hold) matches the labels."""
    return all(have.get(key) == value for key, value in wanted.items())


def _controller_ref(metadata: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """metav1.GetControllerOf: the first ownerReference with `controller: true`."""
    for ref in metadata.get("ownerReferences") or ():
        if ref.get("controller"):
            return ref
    return None


def _group_version(api_version: str) -> tuple[str, str]:
    """schema.ParseGroupVersion: `v1` is the core group; a malformed value (more than one
    slash) matches no kind."""
    parts = api_version.split("/")
    if len(parts) == 1:
        return "", api_version
    if len(parts) == 2:
        return parts[0], parts[1]
    return "", ""
