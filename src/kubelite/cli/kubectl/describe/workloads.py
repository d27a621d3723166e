"""The text of `kubectl describe` for the workload kinds: the controllers that run pods.

Deployments, ReplicaSets, ReplicationControllers, StatefulSets, DaemonSets, Jobs and CronJobs
each get the layout of their describer in kubectl 1.33 (k8s.io/kubectl/pkg/describe). They share
one block, the pod template (DescribePodTemplate), which is a pod's description without
anything that only a running pod has: no statuses, and downward-API values left blank.

Like `pods`, these are pure functions of objects: `command` fetches what each needs (a
Deployment's ReplicaSets, the pods a controller owns, the events) and passes it in.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kubelite.api import labels, meta
from kubelite.api.labels import format_label_selector
from kubelite.api.quantity import Quantity
from kubelite.api.types import Obj
from kubelite.cli.kubectl.describe.events import describe_events
from kubelite.cli.kubectl.describe.pods import (
    describe_containers,
    describe_volumes,
    topology_spread,
)
from kubelite.cli.kubectl.describe.printing import (
    NONE,
    PrefixWriter,
    annotations_multiline,
    bool_text,
    controlled_by,
    go_value,
    labels_multiline,
    metadata_labels,
    name_and_namespace,
    rfc1123z,
    tolerations_multiline,
)
from kubelite.cli.output import format_labels
from kubelite.controllers.deployment_util import find_new

# DescribePodTemplate indents its block by this much (describeContainers' `space`).
TEMPLATE_SPACE = "  "
# The annotation that names a PersistentVolumeClaim's class before spec.storageClassName.
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
# capIndexesListOrNone: completed indexes are cut after the first comma past this many bytes.
COMPLETED_INDEXES_SOFT_LIMIT = 50


# --- shared pieces ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PodCounts:
    """How many of a controller's pods are in each phase (getPodStatusForController)."""

    running: int = 0
    waiting: int = 0
    succeeded: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return (
            f"{self.running} Running / {self.waiting} Waiting / {self.succeeded} Succeeded / "
            f"{self.failed} Failed"
        )


def controller_uid(obj: Obj) -> str | None:
    """The uid in an object's controller reference (metav1.GetControllerOf), if it has one."""
    for ref in meta.get_path(obj, "metadata", "ownerReferences", default=[]) or []:
        if ref.get("controller"):
            return ref.get("uid")
    return None


def count_pods(pods: list[Obj], owner: Obj) -> PodCounts:
    """The phases of the pods `owner` controls.

    kubectl lists pods by the owner's selector, which other controllers' pods and orphans can
    match too; it counts only those whose controller reference carries the owner's uid. A pod
    in the Unknown phase (or none) is in no column.
    """
    uid = meta.get_path(owner, "metadata", "uid")
    phases = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    for pod in pods:
        if controller_uid(pod) != uid or uid is None:
            continue
        phase = meta.get_path(pod, "status", "phase")
        if phase in phases:
            phases[phase] += 1
    return PodCounts(phases["Running"], phases["Pending"], phases["Succeeded"], phases["Failed"])


def selector_text(selector: Obj | None) -> str:
    """A LabelSelector as labels.Selector's String(): empty for an empty or missing selector.

    (ReplicaSets print metav1.FormatLabelSelector instead, which says `<none>` for empty.)
    """
    return str(labels.from_label_selector(selector))


def int_or_string(value: Any) -> str:
    """intstr.IntOrString's String(): `25%` or `1`; `<nil>` for a missing pointer."""
    if value is None:
        return "<nil>"
    return str(value)


def describe_pod_template(w: PrefixWriter, template: Obj | None) -> None:
    """DescribePodTemplate: labels, annotations, containers, volumes and scheduling hints."""
    template = template or {}
    metadata = template.get("metadata") or {}
    spec = template.get("spec") or {}
    w.write(0, "Pod Template:\n")
    labels_multiline(w, f"{TEMPLATE_SPACE}Labels", metadata.get("labels"))
    if metadata.get("annotations"):
        annotations_multiline(w, f"{TEMPLATE_SPACE}Annotations", metadata["annotations"])
    if spec.get("serviceAccountName"):
        w.write(1, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        describe_containers(
            w, None, "Init Containers", spec["initContainers"], [], space=TEMPLATE_SPACE
        )
    describe_containers(
        w, None, "Containers", spec.get("containers") or [], [], space=TEMPLATE_SPACE
    )
    describe_volumes(w, spec.get("volumes") or [], space=TEMPLATE_SPACE)
    topology_spread(w, spec.get("topologySpreadConstraints") or [], space=TEMPLATE_SPACE)
    if spec.get("priorityClassName"):
        w.write(1, f"Priority Class Name:\t{spec['priorityClassName']}\n")
    labels_multiline(w, f"{TEMPLATE_SPACE}Node-Selectors", spec.get("nodeSelector"))
    tolerations_multiline(w, f"{TEMPLATE_SPACE}Tolerations", spec.get("tolerations") or [])


def _conditions(w: PrefixWriter, conditions: list[Obj] | None) -> None:
    """The Type/Status/Reason table that Deployments, ReplicaSets and RCs print, if any."""
    if not conditions:
        return
    w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
    w.write(1, "----\t------\t------\n")
    for c in conditions:
        w.write(1, f"{c.get('type', '')} \t{c.get('status', '')}\t{c.get('reason', '')}\n")


def _replicas(obj: Obj) -> int:
    """spec.replicas, which the API defaults to 1 (kubectl dereferences it unchecked)."""
    value = meta.get_path(obj, "spec", "replicas")
    return 1 if value is None else int(value)


# --- Deployments ------------------------------------------------------------------------------


def split_replica_sets(deployment: Obj, replica_sets: list[Obj]) -> tuple[list[Obj], Obj | None]:
    """The old ReplicaSets, oldest first, and the new one (FindNewReplicaSet/FindOldReplicaSets).

    The new one is the oldest whose pod template is the Deployment's but for the
    pod-template-hash label; every other is old, those scaled to nothing included.
    """
    new = find_new(deployment, replica_sets)
    new_uid = meta.get_path(new, "metadata", "uid") if new is not None else None
    ordered = sorted(
        replica_sets,
        key=lambda rs: (
            meta.get_path(rs, "metadata", "creationTimestamp") or "",
            meta.name_of(rs),
        ),
    )
    # kubectl tells the new one apart by uid.
    old = [
        rs
        for rs in ordered
        if rs is not new and (new_uid is None or meta.get_path(rs, "metadata", "uid") != new_uid)
    ]
    return old, new


def replica_sets_text(replica_sets: list[Obj]) -> str:
    """printReplicaSetsByLabels: `web-5d4f (3/3 replicas created), ...`, or `<none>`."""
    parts = [
        f"{meta.name_of(rs)} ({meta.get_path(rs, 'status', 'replicas') or 0}/{_replicas(rs)} "
        "replicas created)"
        for rs in replica_sets
    ]
    return ", ".join(parts) or NONE


def describe_deployment(
    deployment: Obj, replica_sets: list[Obj] | None, events: list[Obj] | None, now: dt.datetime
) -> str:
    """describeDeployment.

    `replica_sets` are those the Deployment controls (None when they could not be listed, and
    kubectl then leaves out the OldReplicaSets and NewReplicaSet lines).
    """
    w = PrefixWriter()
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name_and_namespace(w, deployment)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(metadata.get('creationTimestamp'))}\n")
    metadata_labels(w, deployment)
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    w.write(
        0,
        f"Replicas:\t{_replicas(deployment)} desired | {status.get('updatedReplicas', 0)} updated"
        f" | {status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available"
        f" | {status.get('unavailableReplicas', 0)} unavailable\n",
    )
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type', '')}\n")
    w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        w.write(
            0,
            f"RollingUpdateStrategy:\t{int_or_string(rolling.get('maxUnavailable'))} max "
            f"unavailable, {int_or_string(rolling.get('maxSurge'))} max surge\n",
        )
    describe_pod_template(w, spec.get("template"))
    _conditions(w, status.get("conditions"))
    if replica_sets:
        old, new = split_replica_sets(deployment, replica_sets)
        w.write(0, f"OldReplicaSets:\t{replica_sets_text(old)}\n")
        w.write(0, f"NewReplicaSet:\t{replica_sets_text([new] if new is not None else [])}\n")
    describe_events(w, events, now)
    return w.text()


# --- ReplicaSets and ReplicationControllers ---------------------------------------------------


def describe_replica_set(
    rs: Obj, pods: PodCounts | str, events: list[Obj] | None, now: dt.datetime
) -> str:
    """describeReplicaSet; `pods` is the counts of its pods, or why they could not be listed."""
    w = PrefixWriter()
    spec = rs.get("spec") or {}
    name_and_namespace(w, rs)
    w.write(0, f"Selector:\t{format_label_selector(spec.get('selector') or {})}\n")
    metadata_labels(w, rs)
    controlled_by(w, rs)
    current = meta.get_path(rs, "status", "replicas") or 0
    w.write(0, f"Replicas:\t{current} current / {_replicas(rs)} desired\n")
    if isinstance(pods, str):
        w.write(0, f"Pods Status:\terror in fetching pods: {pods}\n")
    else:
        w.write(0, f"Pods Status:\t{pods}\n")
    describe_pod_template(w, spec.get("template"))
    _conditions(w, meta.get_path(rs, "status", "conditions"))
    describe_events(w, events, now)
    return w.text()


def describe_replication_controller(
    rc: Obj, pods: PodCounts, events: list[Obj] | None, now: dt.datetime
) -> str:
    """describeReplicationController: a ReplicaSet's layout with a map for a selector and no
    `Controlled By` line."""
    w = PrefixWriter()
    spec = rc.get("spec") or {}
    name_and_namespace(w, rc)
    w.write(0, f"Selector:\t{format_labels(spec.get('selector'))}\n")
    metadata_labels(w, rc)
    current = meta.get_path(rc, "status", "replicas") or 0
    w.write(0, f"Replicas:\t{current} current / {_replicas(rc)} desired\n")
    w.write(0, f"Pods Status:\t{pods}\n")
    describe_pod_template(w, spec.get("template"))
    _conditions(w, meta.get_path(rc, "status", "conditions"))
    describe_events(w, events, now)
    return w.text()


# --- StatefulSets and DaemonSets --------------------------------------------------------------


def _volume_claim_templates(w: PrefixWriter, templates: list[Obj]) -> None:
    """describeVolumeClaimTemplates; their annotations print as labels do (`k=v`), unfiltered."""
    if not templates:
        w.write(0, "Volume Claims:\t<none>\n")
        return
    w.write(0, "Volume Claims:\n")
    for claim in templates:
        metadata = claim.get("metadata") or {}
        spec = claim.get("spec") or {}
        annotations = metadata.get("annotations") or {}
        storage_class = annotations.get(BETA_STORAGE_CLASS)
        if storage_class is None:
            storage_class = spec.get("storageClassName") or ""
        w.write(1, f"Name:\t{metadata.get('name', '')}\n")
        w.write(1, f"StorageClass:\t{storage_class}\n")
        labels_multiline(w, "Labels", metadata.get("labels"), initial_indent="  ")
        labels_multiline(w, "Annotations", annotations, initial_indent="  ")
        capacity = meta.get_path(spec, "resources", "requests", "storage")
        text = str(Quantity.from_json(capacity)) if capacity is not None else "<default>"
        w.write(1, f"Capacity:\t{text}\n")
        w.write(1, f"Access Modes:\t{go_value(spec.get('accessModes') or [])}\n")


def describe_stateful_set(
    sts: Obj, pods: PodCounts, events: list[Obj] | None, now: dt.datetime
) -> str:
    """describeStatefulSet."""
    w = PrefixWriter()
    metadata = sts.get("metadata") or {}
    spec = sts.get("spec") or {}
    name_and_namespace(w, sts)
    w.write(0, f"CreationTimestamp:\t{rfc1123z(metadata.get('creationTimestamp'))}\n")
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    metadata_labels(w, sts)
    # kubectl 1.37 shows how the set names and manages its pods, and what becomes of their
    # claims (kubernetes/kubernetes#137547, #137394).
    if spec.get("serviceName"):
        w.write(0, f"Service Name:\t{spec['serviceName']}\n")
    if spec.get("podManagementPolicy"):
        w.write(0, f"Pod Management Policy:\t{spec['podManagementPolicy']}\n")
    total = meta.get_path(sts, "status", "replicas") or 0
    w.write(0, f"Replicas:\t{_replicas(sts)} desired | {total} total\n")
    strategy = spec.get("updateStrategy") or {}
    w.write(0, f"Update Strategy:\t{strategy.get('type', '')}\n")
    rolling = strategy.get("rollingUpdate")
    # kubectl prints maxUnavailable only under a partition.
    if rolling is not None and rolling.get("partition") is not None:
        w.write(1, f"Partition:\t{rolling['partition']}\n")
        if rolling.get("maxUnavailable") is not None:
            w.write(1, f"MaxUnavailable:\t{int_or_string(rolling['maxUnavailable'])}\n")
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        # A title without a tab: it ends the alignment of the lines above.
        w.write(0, "Persistent Volume Claim Retention Policy:\n")
        w.write(1, f"WhenDeleted:\t{retention.get('whenDeleted', '')}\n")
        w.write(1, f"WhenScaled:\t{retention.get('whenScaled', '')}\n")
    w.write(0, f"Pods Status:\t{pods}\n")
    describe_pod_template(w, spec.get("template"))
    _volume_claim_templates(w, spec.get("volumeClaimTemplates") or [])
    describe_events(w, events, now)
    return w.text()


def describe_daemon_set(
    ds: Obj, pods: PodCounts, events: list[Obj] | None, now: dt.datetime
) -> str:
    """describeDaemonSet; its node counts are lines without a tab, outside the alignment."""
    w = PrefixWriter()
    spec = ds.get("spec") or {}
    status = ds.get("status") or {}
    name_and_namespace(w, ds)
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    node_selector = meta.get_path(spec, "template", "spec", "nodeSelector")
    w.write(0, f"Node-Selector:\t{format_labels(node_selector)}\n")
    metadata_labels(w, ds)
    for title, key in (
        ("Desired Number of Nodes Scheduled", "desiredNumberScheduled"),
        ("Current Number of Nodes Scheduled", "currentNumberScheduled"),
        ("Number of Nodes Scheduled with Up-to-date Pods", "updatedNumberScheduled"),
        ("Number of Nodes Scheduled with Available Pods", "numberAvailable"),
        ("Number of Nodes Misscheduled", "numberMisscheduled"),
    ):
        w.write(0, f"{title}: {status.get(key, 0)}\n")
    w.write(0, f"Pods Status:\t{pods}\n")
    describe_pod_template(w, spec.get("template"))
    describe_events(w, events, now)
    return w.text()


# --- Jobs and CronJobs ------------------------------------------------------------------------


def _job_selector(selector: Obj | None) -> str:
    try:
        return selector_text(selector)
    except labels.SelectorError as e:
        return f"Failed to get selector: {e}"


def completed_indexes_text(indexes: str, soft_limit: int = COMPLETED_INDEXES_SOFT_LIMIT) -> str:
    """capIndexesListOrNone: the list cut after the first comma at or past `soft_limit`."""
    if not indexes:
        return NONE
    cut = indexes.find(",", soft_limit)
    if cut < 0:
        return indexes
    return indexes[: cut + 1] + "..."


def describe_job(job: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """describeJob."""
    w = PrefixWriter()
    spec = job.get("spec") or {}
    status = job.get("status") or {}
    name_and_namespace(w, job)
    w.write(0, f"Selector:\t{_job_selector(spec.get('selector'))}\n")
    metadata_labels(w, job)
    controlled_by(w, job)
    if spec.get("parallelism") is not None:
        w.write(0, f"Parallelism:\t{spec['parallelism']}\n")
    completions = spec.get("completions")
    w.write(0, f"Completions:\t{'<unset>' if completions is None else completions}\n")
    if spec.get("completionMode") is not None:
        w.write(0, f"Completion Mode:\t{spec['completionMode']}\n")
    if spec.get("suspend") is not None:
        w.write(0, f"Suspend:\t{go_value(bool(spec['suspend']))}\n")
    if spec.get("backoffLimit") is not None:
        w.write(0, f"Backoff Limit:\t{spec['backoffLimit']}\n")
    if spec.get("ttlSecondsAfterFinished") is not None:
        w.write(0, f"TTL Seconds After Finished:\t{spec['ttlSecondsAfterFinished']}\n")
    start = meta.parse_time(status.get("startTime") or "")
    completed = meta.parse_time(status.get("completionTime") or "")
    if start is not None:
        w.write(0, f"Start Time:\t{rfc1123z(status['startTime'])}\n")
    if completed is not None:
        w.write(0, f"Completed At:\t{rfc1123z(status['completionTime'])}\n")
    if start is not None and completed is not None:
        w.write(0, f"Duration:\t{meta.human_duration((completed - start).total_seconds())}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s\n")
    active, succeeded, failed = (status.get(k, 0) for k in ("active", "succeeded", "failed"))
    ready = "" if status.get("ready") is None else f" ({status['ready']} Ready)"
    counts = f"{active} Active{ready} / {succeeded} Succeeded / {failed} Failed"
    w.write(0, f"Pods Statuses:\t{counts}\n")
    if spec.get("completionMode") == "Indexed":
        indexes = completed_indexes_text(status.get("completedIndexes") or "")
        w.write(0, f"Completed Indexes:\t{indexes}\n")
    describe_pod_template(w, spec.get("template"))
    describe_events(w, events, now)
    return w.text()


def _job_template(w: PrefixWriter, template: Obj) -> None:
    """describeJobTemplate: the Job a CronJob makes, fields it leaves out said `<unset>`."""
    spec = template.get("spec") or {}
    if spec.get("selector") is not None:
        w.write(0, f"Selector:\t{_job_selector(spec['selector'])}\n")
    else:
        w.write(0, "Selector:\t<unset>\n")
    for title, key in (("Parallelism", "parallelism"), ("Completions", "completions")):
        value = spec.get(key)
        w.write(0, f"{title}:\t{'<unset>' if value is None else value}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s\n")
    describe_pod_template(w, spec.get("template"))


def describe_cron_job(cron_job: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """describeCronJob."""
    w = PrefixWriter()
    spec = cron_job.get("spec") or {}
    status = cron_job.get("status") or {}
    name_and_namespace(w, cron_job)
    metadata_labels(w, cron_job)
    w.write(0, f"Schedule:\t{spec.get('schedule', '')}\n")
    w.write(0, f"Concurrency Policy:\t{spec.get('concurrencyPolicy', '')}\n")
    suspend = spec.get("suspend")
    w.write(0, f"Suspend:\t{'<unset>' if suspend is None else bool_text(suspend)}\n")
    # kubectl 1.36 (kubernetes/kubernetes#136663).
    time_zone = spec.get("timeZone")
    w.write(0, f"Time Zone:\t{'<unset>' if time_zone is None else time_zone}\n")
    for title, key in (
        ("Successful Job History Limit", "successfulJobsHistoryLimit"),
        ("Failed Job History Limit", "failedJobsHistoryLimit"),
    ):
        value = spec.get(key)
        w.write(0, f"{title}:\t{'<unset>' if value is None else value}\n")
    deadline = spec.get("startingDeadlineSeconds")
    w.write(0, f"Starting Deadline Seconds:\t{'<unset>' if deadline is None else f'{deadline}s'}\n")
    _job_template(w, spec.get("jobTemplate") or {})
    last = status.get("lastScheduleTime")
    w.write(0, f"Last Schedule Time:\t{rfc1123z(last) if last else '<unset>'}\n")
    jobs = status.get("active") or []
    w.write(0, "Active Jobs:\t")
    w.write_line(", ".join(ref.get("name", "") for ref in jobs) if jobs else NONE)
    describe_events(w, events, now)
    return w.text()


def describe_pod_disruption_budget(pdb: Obj, events: list[Obj] | None, now: dt.datetime) -> str:
    """describePodDisruptionBudgetV1: the budget, its selector and what its status allows."""
    w = PrefixWriter()
    spec = pdb.get("spec") or {}
    status = pdb.get("status") or {}
    name_and_namespace(w, pdb)
    if spec.get("minAvailable") is not None:
        w.write(0, f"Min available:\t{int_or_string(spec['minAvailable'])}\n")
    elif spec.get("maxUnavailable") is not None:
        w.write(0, f"Max unavailable:\t{int_or_string(spec['maxUnavailable'])}\n")
    selector = spec.get("selector")
    w.write(0, f"Selector:\t{'<unset>' if selector is None else format_label_selector(selector)}\n")
    w.write(0, "Status:\n")
    w.write(2, f"Allowed disruptions:\t{int(status.get('disruptionsAllowed') or 0)}\n")
    w.write(2, f"Current:\t{int(status.get('currentHealthy') or 0)}\n")
    w.write(2, f"Desired:\t{int(status.get('desiredHealthy') or 0)}\n")
    w.write(2, f"Total:\t{int(status.get('expectedPods') or 0)}\n")
    describe_events(w, events, now)
    return w.text()
