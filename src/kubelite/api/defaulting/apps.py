"""Defaults of the apps/v1 workloads (Kubernetes' `pkg/apis/apps/v1/defaults.go`).

A workload's pod template gets the pod spec defaults as a Pod would (`SetDefaults_PodSpec` and
the container defaults run on every PodTemplateSpec), then the workload's own: one replica,
rolling updates of 25% for Deployments, one pod at a time for DaemonSets, ordered pods and a
partition of 0 for StatefulSets, and ten old revisions kept.
"""

from __future__ import annotations

from kubelite.api.defaulting.core import default_persistent_volume_claim
from kubelite.api.defaulting.fields import object_field, set_if_empty, set_if_none
from kubelite.api.defaulting.pods import default_pod_spec
from kubelite.api.types import Obj

# appsv1 constants and the numbers defaults.go writes.
ROLLING_UPDATE = "RollingUpdate"
ORDERED_READY = "OrderedReady"
RETAIN = "Retain"
DEFAULT_REPLICAS = 1
DEFAULT_REVISION_HISTORY_LIMIT = 10
DEFAULT_PROGRESS_DEADLINE_SECONDS = 600
DEPLOYMENT_MAX_UNAVAILABLE = "25%"
DEPLOYMENT_MAX_SURGE = "25%"
DAEMON_SET_MAX_UNAVAILABLE = 1
DAEMON_SET_MAX_SURGE = 0


def default_pod_template(spec: Obj) -> None:
    """The pod spec defaults inside a workload's `spec.template`."""
    template = spec.setdefault("template", {})
    if isinstance(template, dict):
        default_pod_spec(template.setdefault("spec", {}))


def workload_spec(obj: Obj) -> Obj:
    """A workload's spec, made if missing, with its pod template defaulted: where every
    workload's own defaults start."""
    spec = obj.setdefault("spec", {})
    default_pod_template(spec)
    return spec


def _default_rolling_update(
    strategy: Obj, max_unavailable: int | str, max_surge: int | str
) -> None:
    """A Deployment's or DaemonSet's update strategy: RollingUpdate unless another type is
    given, and then its rollingUpdate block with both bounds."""
    set_if_empty(strategy, "type", ROLLING_UPDATE)
    if strategy["type"] == ROLLING_UPDATE:
        rolling = object_field(strategy, "rollingUpdate")
        set_if_none(rolling, "maxUnavailable", max_unavailable)
        set_if_none(rolling, "maxSurge", max_surge)


def default_deployment(obj: Obj) -> None:
    """SetDefaults_Deployment."""
    spec = workload_spec(obj)
    set_if_none(spec, "replicas", DEFAULT_REPLICAS)
    strategy = spec.setdefault("strategy", {})
    _default_rolling_update(strategy, DEPLOYMENT_MAX_UNAVAILABLE, DEPLOYMENT_MAX_SURGE)
    set_if_none(spec, "revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
    set_if_none(spec, "progressDeadlineSeconds", DEFAULT_PROGRESS_DEADLINE_SECONDS)


def default_replica_set(obj: Obj) -> None:
    """SetDefaults_ReplicaSet."""
    spec = workload_spec(obj)
    set_if_none(spec, "replicas", DEFAULT_REPLICAS)


def default_replication_controller(obj: Obj) -> None:
    """SetDefaults_ReplicationController: an empty selector, and empty labels, are the
    template's labels."""
    spec = obj.setdefault("spec", {})
    template = spec.get("template")
    if isinstance(template, dict):
        template_labels = (template.get("metadata") or {}).get("labels") or {}
        if template_labels:
            set_if_empty(spec, "selector", dict(template_labels))
            md = obj.setdefault("metadata", {})
            set_if_empty(md, "labels", dict(template_labels))
        default_pod_template(spec)
    set_if_none(spec, "replicas", DEFAULT_REPLICAS)


def default_daemon_set(obj: Obj) -> None:
    """SetDefaults_DaemonSet."""
    spec = workload_spec(obj)
    strategy = spec.setdefault("updateStrategy", {})
    _default_rolling_update(strategy, DAEMON_SET_MAX_UNAVAILABLE, DAEMON_SET_MAX_SURGE)
    set_if_none(spec, "revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)


def default_stateful_set(obj: Obj) -> None:
    """SetDefaults_StatefulSet: StatefulSetAutoDeletePVC is GA, and MaxUnavailableStatefulSet is
    beta and on in 1.37 (#139466), so a rolling update's maxUnavailable defaults to 1."""
    spec = workload_spec(obj)
    set_if_empty(spec, "podManagementPolicy", ORDERED_READY)
    strategy = spec.setdefault("updateStrategy", {})
    if not strategy.get("type"):
        strategy["type"] = ROLLING_UPDATE
        # Only a defaulted type gets a rollingUpdate block; an explicit RollingUpdate without
        # one stays without one.
        if not isinstance(strategy.get("rollingUpdate"), dict):
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == ROLLING_UPDATE and isinstance(rolling, dict):
        if rolling.get("partition") is None:
            rolling["partition"] = 0
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
    policy = object_field(spec, "persistentVolumeClaimRetentionPolicy")
    set_if_empty(policy, "whenDeleted", RETAIN)
    set_if_empty(policy, "whenScaled", RETAIN)
    set_if_none(spec, "replicas", DEFAULT_REPLICAS)
    set_if_none(spec, "revisionHistoryLimit", DEFAULT_REVISION_HISTORY_LIMIT)
    for claim in spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            default_claim_template(claim)


def default_claim_template(claim: Obj) -> None:
    """A volumeClaimTemplate as apps/v1 serves it: the claim defaults, and the apiVersion and
    kind that Kubernetes' v1 conversion writes into every template (kubernetes#87583)."""
    claim["apiVersion"] = "v1"
    claim["kind"] = "PersistentVolumeClaim"
    default_persistent_volume_claim(claim)
