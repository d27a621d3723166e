"""The identity of a StatefulSet's pods and claims, read from their names and objects.

Kubernetes' `stateful_set_utils.go`. A StatefulSet's pod is known by its name alone,
`<set>-<ordinal>`: that is how it is found again after it was deleted, and why the controller
creates by name rather than by generateName. Each pod carries:

- the labels `statefulset.kubernetes.io/pod-name` (a Service can select one pod),
  `apps.kubernetes.io/pod-index` (its ordinal) and `controller-revision-hash` (the revision of
  the template it was made from);
- `spec.hostname` = its name and `spec.subdomain` = the set's serviceName, set once at
  creation, so that it is `<pod>.<service>` in DNS;
- for each of the set's volumeClaimTemplates a volume of the template's name that mounts the
  claim `<template>-<set>-<ordinal>`, which outlives the pod.

The retention policy (`persistentVolumeClaimRetentionPolicy`) is carried out by the garbage
collector: the claim gets an ownerReference to the set when it is to go with the set
(`whenDeleted: Delete`), to its pod once that pod is scaled away (`whenScaled: Delete`), and
none under Retain.
"""

from __future__ import annotations

import datetime as dt
import re

from kubelite.api import meta
from kubelite.api.pods import is_pod_ready
from kubelite.api.types import Obj
from kubelite.controllers import podutil
from kubelite.controllers.podcontrol import owner_reference, pod_from_template

POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
REVISION_LABEL = "controller-revision-hash"
RETAIN = "Retain"
DELETE = "Delete"
ROLLING_UPDATE = "RollingUpdate"
ON_DELETE = "OnDelete"
PARALLEL = "Parallel"

# statefulPodRegex: anything, a dash, and the ordinal (parsed as a 32-bit int).
_NAME = re.compile(r"^(.*)-([0-9]+)$", re.DOTALL)
_INT32_MAX = 2**31 - 1


# --- names and ordinals -------------------------------------------------------------------------


def parent_and_ordinal(pod: Obj) -> tuple[str, int]:
    """The set a pod's name says it belongs to, and its ordinal; ("", -1) if it has none."""
    found = _NAME.match(meta.name_of(pod))
    if found is None:
        return "", -1
    digits = found.group(2)
    ordinal = int(digits) if len(digits) <= 10 and int(digits) <= _INT32_MAX else -1
    return found.group(1), ordinal


def ordinal_of(pod: Obj) -> int:
    return parent_and_ordinal(pod)[1]


def spec_of(sset: Obj) -> Obj:
    return sset.get("spec") or {}


def replicas_of(sset: Obj) -> int:
    replicas = spec_of(sset).get("replicas")
    return 1 if replicas is None else int(replicas)


def start_ordinal(sset: Obj) -> int:
    """spec.ordinals.start, 0 when not given."""
    return int((spec_of(sset).get("ordinals") or {}).get("start") or 0)


def end_ordinal(sset: Obj) -> int:
    """The last ordinal the set should have (inclusive); start - 1 for a set of none."""
    return start_ordinal(sset) + replicas_of(sset) - 1


def in_ordinal_range(pod: Obj, sset: Obj) -> bool:
    ordinal = ordinal_of(pod)
    return start_ordinal(sset) <= ordinal <= end_ordinal(sset)


def pod_name(sset: Obj, ordinal: int) -> str:
    return f"{meta.name_of(sset)}-{ordinal}"


def claim_name(sset: Obj, template: Obj, ordinal: int) -> str:
    return f"{meta.name_of(template)}-{meta.name_of(sset)}-{ordinal}"


def is_member(sset: Obj, pod: Obj) -> bool:
    """Whether the pod's name makes it one of the set's (isMemberOf)."""
    return parent_and_ordinal(pod)[0] == meta.name_of(sset)


def allows_burst(sset: Obj) -> bool:
    """Parallel pod management: create and delete without waiting for each pod in turn."""
    return spec_of(sset).get("podManagementPolicy") == PARALLEL


def pod_revision(pod: Obj) -> str:
    return meta.labels_of(pod).get(REVISION_LABEL, "")


# --- identity and storage -----------------------------------------------------------------------


def identity_matches(sset: Obj, pod: Obj) -> bool:
    """The pod has the name, namespace and pod-name label of a member of the set."""
    parent, ordinal = parent_and_ordinal(pod)
    return (
        ordinal >= 0
        and parent == meta.name_of(sset)
        and meta.name_of(pod) == pod_name(sset, ordinal)
        and meta.namespace_of(pod) == meta.namespace_of(sset)
        and meta.labels_of(pod).get(POD_NAME_LABEL) == meta.name_of(pod)
    )


def claim_templates(sset: Obj) -> list[Obj]:
    return [t for t in spec_of(sset).get("volumeClaimTemplates") or [] if isinstance(t, dict)]


def storage_matches(sset: Obj, pod: Obj) -> bool:
    """Every claim template is mounted by a volume of its name that names the pod's claim."""
    ordinal = ordinal_of(pod)
    if ordinal < 0:
        return False
    volumes = {v.get("name"): v for v in (pod.get("spec") or {}).get("volumes") or []}
    for template in claim_templates(sset):
        volume = volumes.get(meta.name_of(template))
        source = (volume or {}).get("persistentVolumeClaim")
        if not source or source.get("claimName") != claim_name(sset, template, ordinal):
            return False
    return True


def claims_for(sset: Obj, ordinal: int) -> dict[str, Obj]:
    """The claims the pod of `ordinal` mounts, by template name (getPersistentVolumeClaims).

    Each is its template with the pod's claim name, the set's namespace, and the set's
    selector's matchLabels added to the template's labels.
    """
    match_labels = (spec_of(sset).get("selector") or {}).get("matchLabels") or {}
    claims = {}
    for template in claim_templates(sset):
        claim = meta.clone(template)
        claim.pop("status", None)
        md = claim.setdefault("metadata", {})
        md["name"] = claim_name(sset, template, ordinal)
        md["namespace"] = meta.namespace_of(sset)
        md["labels"] = {**(md.get("labels") or {}), **match_labels}
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        claims[meta.name_of(template)] = claim
    return claims


def update_storage(sset: Obj, pod: Obj) -> None:
    """Make the pod's volumes mount its claims, replacing volumes of the templates' names."""
    spec = pod.setdefault("spec", {})
    claims = claims_for(sset, ordinal_of(pod))
    volumes = [
        {"name": name, "persistentVolumeClaim": {"claimName": meta.name_of(claim)}}
        for name, claim in claims.items()
    ]
    volumes += [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    spec["volumes"] = volumes


def update_identity(sset: Obj, pod: Obj) -> None:
    """Name, namespace and the pod-name and pod-index labels, from the pod's ordinal."""
    ordinal = ordinal_of(pod)
    md = pod.setdefault("metadata", {})
    md["name"] = pod_name(sset, ordinal)
    md["namespace"] = meta.namespace_of(sset)
    labels = md.get("labels")
    if not isinstance(labels, dict):
        labels = md["labels"] = {}
    labels[POD_NAME_LABEL] = md["name"]
    labels[POD_INDEX_LABEL] = str(ordinal)


def new_pod(sset: Obj, ordinal: int) -> Obj:
    """The set's pod of `ordinal` from its template (newStatefulSetPod)."""
    pod = pod_from_template(spec_of(sset).get("template") or {}, sset)
    pod["metadata"]["name"] = pod_name(sset, ordinal)
    update_identity(sset, pod)
    # Set only at creation: a pod's hostname and subdomain never change.
    pod["spec"]["hostname"] = pod["metadata"]["name"]
    service = spec_of(sset).get("serviceName")
    if service:
        pod["spec"]["subdomain"] = service
    update_storage(sset, pod)
    return pod


def new_versioned_pod(
    current_set: Obj, update_set: Obj, current_revision: str, update_revision: str, ordinal: int
) -> Obj:
    """A pod at the current revision below the partition, else at the update revision.

    newVersionedStatefulSetPod, Go's operator precedence included: a RollingUpdate set without
    a rollingUpdate block keeps its first status.currentReplicas ordinals at the current
    revision; OnDelete sets make new pods at the update revision.
    """
    strategy = spec_of(current_set).get("updateStrategy") or {}
    rolling = strategy.get("rollingUpdate")
    start = start_ordinal(current_set)
    current_replicas = int((current_set.get("status") or {}).get("currentReplicas") or 0)
    keep_current = (
        strategy.get("type") == ROLLING_UPDATE
        and rolling is None
        and ordinal < start + current_replicas
    ) or (rolling is not None and ordinal < start + int(rolling.get("partition") or 0))
    if keep_current:
        pod = new_pod(current_set, ordinal)
        pod["metadata"]["labels"][REVISION_LABEL] = current_revision
    else:
        pod = new_pod(update_set, ordinal)
        pod["metadata"]["labels"][REVISION_LABEL] = update_revision
    return pod


# --- what state a pod is in ---------------------------------------------------------------------


def phase_of(pod: Obj) -> str:
    return (pod.get("status") or {}).get("phase") or ""


def is_created(pod: Obj) -> bool:
    """A pod the API server holds has a phase; one only planned here has none."""
    return phase_of(pod) != ""


def is_running_and_ready(pod: Obj) -> bool:
    return phase_of(pod) == "Running" and is_pod_ready(pod)


def is_available(pod: Obj, min_ready_seconds: int, now: dt.datetime) -> bool:
    return podutil.is_available(pod, min_ready_seconds, now)


def is_unavailable(pod: Obj, min_ready_seconds: int, now: dt.datetime) -> bool:
    return not is_available(pod, min_ready_seconds, now) or podutil.is_terminating(pod)


# --- claims and the retention policy ------------------------------------------------------------


def retention_policy(sset: Obj) -> tuple[str, str]:
    """(whenDeleted, whenScaled), Retain for what the set does not say."""
    policy = spec_of(sset).get("persistentVolumeClaimRetentionPolicy") or {}
    return policy.get("whenDeleted") or RETAIN, policy.get("whenScaled") or RETAIN


def _refs(claim: Obj) -> list[Obj]:
    return list((claim.get("metadata") or {}).get("ownerReferences") or [])


def _matches_ref(ref: Obj, owner: Obj) -> bool:
    """The reference names this owner's kind and name (whatever its uid)."""
    return (
        ref.get("apiVersion") == owner.get("apiVersion")
        and ref.get("kind") == owner.get("kind")
        and ref.get("name") == meta.name_of(owner)
    )


def _uid(obj: Obj) -> str:
    return (obj.get("metadata") or {}).get("uid") or ""


def has_owner_ref(claim: Obj, owner: Obj) -> bool:
    return any(ref.get("uid") == _uid(owner) for ref in _refs(claim))


def has_stale_owner_ref(claim: Obj, owner: Obj) -> bool:
    """A reference to an earlier object of the owner's kind and name (another uid)."""
    for ref in _refs(claim):
        if _matches_ref(ref, owner):
            return ref.get("uid") != _uid(owner)
    return False


def has_unexpected_controller(claim: Obj, sset: Obj, pod: Obj) -> bool:
    """Under a Delete policy, a controller of the claim that is neither this set nor its pod."""
    if retention_policy(sset) == (RETAIN, RETAIN):
        return False
    for ref in _refs(claim):
        for owner in (sset, pod):
            if _matches_ref(ref, owner):
                if ref.get("uid") != _uid(owner):
                    return True
                break
        else:
            if ref.get("controller"):
                return True
    return False


def _has_non_controller_owner(claim: Obj, sset: Obj, pod: Obj) -> bool:
    return any(
        ref.get("uid") in (_uid(sset), _uid(pod)) and not ref.get("controller")
        for ref in _refs(claim)
    )


def claim_owner_up_to_date(claim: Obj, sset: Obj, pod: Obj) -> bool:
    """Whether the claim's owners are what the retention policy asks (isClaimOwnerUpToDate).

    A claim with stale references (an earlier set or pod of the same name) is left alone.
    """
    if has_stale_owner_ref(claim, sset) or has_stale_owner_ref(claim, pod):
        return True
    if has_unexpected_controller(claim, sset, pod):
        return not (has_owner_ref(claim, sset) or has_owner_ref(claim, pod))
    if _has_non_controller_owner(claim, sset, pod):
        return False
    when_deleted, when_scaled = retention_policy(sset)
    on_set, on_pod = has_owner_ref(claim, sset), has_owner_ref(claim, pod)
    scaled_down = not in_ordinal_range(pod, sset)
    if when_scaled == DELETE and when_deleted == DELETE:
        return on_set != scaled_down and on_pod == scaled_down
    if when_scaled == DELETE:
        return not on_set and on_pod == scaled_down
    if when_deleted == DELETE:
        return on_set and not on_pod
    return not on_set and not on_pod


def claim_owner_refs(claim: Obj, sset: Obj, pod: Obj) -> list[Obj]:
    """The claim's ownerReferences as the retention policy wants them
    (updateClaimOwnerRefForSetAndPod): other owners kept, the set's and pod's rewritten."""
    unexpected = has_unexpected_controller(claim, sset, pod)
    refs = [r for r in _refs(claim) if not (_matches_ref(r, sset) or _matches_ref(r, pod))]
    if unexpected:
        return refs
    when_deleted, when_scaled = retention_policy(sset)
    scaled_down = not in_ordinal_range(pod, sset)
    wanted = []
    if when_deleted == DELETE and (when_scaled == RETAIN or not scaled_down):
        wanted.append(sset)
    if when_scaled == DELETE and scaled_down:
        wanted.append(pod)
    for owner in wanted:
        if not any(r.get("uid") == _uid(owner) for r in refs):
            refs.append(owner_reference(owner))
    return refs
