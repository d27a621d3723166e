"""`kubectl get` columns of apps/v1: the workloads Deployment, ReplicaSet, StatefulSet, DaemonSet,
and the ControllerRevisions that record their templates.

Each shows its replica counts as Kubernetes' printers (1.33) do: Deployment and StatefulSet as a
`ready/desired` string, ReplicaSet and DaemonSet as separate integer columns. The wide columns
list the pod template's containers and images, and the selector as a label-selector string
(`app=web,tier in (back,front)`), which is where the four differ in small ways kept here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kubelite.api import labels, meta
from kubelite.api.labels import format_label_selector
from kubelite.api.printers import (
    AGE_COLUMN,
    NAME_COLUMN,
    NONE,
    PRINTERS,
    Column,
    Printer,
    age_of,
    format_labels,
)
from kubelite.api.types import Obj

# spec.replicas when a client left it out (the apps/v1 defaults of Deployment, ReplicaSet and
# StatefulSet).
DEFAULT_REPLICAS = 1
# What a selector that cannot be parsed prints as in the Deployment printer (the others print
# metav1.FormatLabelSelector's `<error>`).
DEPLOYMENT_SELECTOR_INVALID = "<invalid>"

CONTAINERS_COLUMN = Column(
    "Containers", priority=1, description="Names of each container in the template."
)
IMAGES_COLUMN = Column(
    "Images", priority=1, description="Images referenced by each container in the template."
)
_READY_PODS_COLUMN = Column("Ready", description="Number of the pod with ready state")


def template_columns(selector_description: str) -> tuple[Column, Column, Column]:
    """The wide columns of a workload that runs a pod template: its containers, their images,
    and its selector, described as the kind's own OpenAPI field is."""
    return (
        CONTAINERS_COLUMN,
        IMAGES_COLUMN,
        Column("Selector", priority=1, description=selector_description),
    )


def container_cells(workload: Obj) -> list[str]:
    """The CONTAINERS and IMAGES cells: the pod template's names and images, comma-separated."""
    containers = meta.get_path(workload, "spec", "template", "spec", "containers", default=[])
    names = ",".join(c.get("name") or "" for c in containers)
    images = ",".join(c.get("image") or "" for c in containers)
    return [names, images]


def _replicas(workload: Obj) -> int:
    return meta.get_path(workload, "spec", "replicas", default=DEFAULT_REPLICAS)


def _status(workload: Obj, name: str) -> int:
    return meta.get_path(workload, "status", name, default=0)


# --- Deployment -----------------------------------------------------------------------------

DEPLOYMENT_COLUMNS = (
    NAME_COLUMN,
    _READY_PODS_COLUMN,
    Column(
        "Up-to-date",
        description="Total number of non-terminating pods targeted by this deployment that have "
        "the desired template spec.",
    ),
    Column(
        "Available",
        description="Total number of available non-terminating pods (ready for at least "
        "minReadySeconds) targeted by this deployment.",
    ),
    AGE_COLUMN,
    *template_columns(
        "Label selector for pods. Existing ReplicaSets whose pods are selected by "
        "this will be the ones affected by this deployment. It must match the pod template's "
        "labels.",
    ),
)


def deployment_cells(deployment: Obj, now: dt.datetime) -> list[Any]:
    try:
        # Unlike the other workloads, an empty selector prints as an empty cell.
        selector = str(labels.from_label_selector(meta.get_path(deployment, "spec", "selector")))
    except labels.SelectorError:
        selector = DEPLOYMENT_SELECTOR_INVALID
    return [
        meta.name_of(deployment),
        f"{_status(deployment, 'readyReplicas')}/{_replicas(deployment)}",
        _status(deployment, "updatedReplicas"),
        _status(deployment, "availableReplicas"),
        age_of(deployment, now),
        *container_cells(deployment),
        selector,
    ]


# --- ReplicaSet -----------------------------------------------------------------------------

REPLICA_SET_COLUMNS = (
    NAME_COLUMN,
    Column(
        "Desired",
        type="integer",
        description="Replicas is the number of desired pods. This is a pointer to distinguish "
        "between explicit zero and unspecified. Defaults to 1. More info: "
        "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
    ),
    Column(
        "Current",
        type="integer",
        description="Replicas is the most recently observed number of non-terminating pods. "
        "More info: https://kubernetes.io/docs/concepts/workloads/controllers/replicaset",
    ),
    Column(
        "Ready",
        type="integer",
        description="The number of non-terminating pods targeted by this ReplicaSet with a "
        "Ready Condition.",
    ),
    AGE_COLUMN,
    *template_columns(
        "Selector is a label query over pods that should match the replica count. "
        "Label keys and values that must match in order to be controlled by this replica set. It "
        "must match the pod template's labels. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/"
        "#label-selectors",
    ),
)


def replica_set_cells(replica_set: Obj, now: dt.datetime) -> list[Any]:
    return [
        meta.name_of(replica_set),
        _replicas(replica_set),
        _status(replica_set, "replicas"),
        _status(replica_set, "readyReplicas"),
        age_of(replica_set, now),
        *container_cells(replica_set),
        format_label_selector(meta.get_path(replica_set, "spec", "selector")),
    ]


# --- ReplicationController ------------------------------------------------------------------

_RC_DOC = "https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller"
REPLICATION_CONTROLLER_COLUMNS = (
    NAME_COLUMN,
    Column(
        "Desired",
        type="integer",
        description="Replicas is the number of desired replicas. This is a pointer to distinguish "
        "between explicit zero and unspecified. Defaults to 1. More info: "
        f"{_RC_DOC}#what-is-a-replicationcontroller",
    ),
    Column(
        "Current",
        type="integer",
        description="Replicas is the most recently observed number of replicas. More info: "
        f"{_RC_DOC}#what-is-a-replicationcontroller",
    ),
    Column(
        "Ready",
        type="integer",
        description="The number of ready replicas for this replication controller.",
    ),
    AGE_COLUMN,
    *template_columns(
        "Selector is a label query over pods that should match the Replicas count. "
        "If Selector is empty, it is defaulted to the labels present on the Pod template. Label "
        "keys and values that must match in order to be controlled by this replication "
        "controller, if empty defaulted to labels on Pod template. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/"
        "#label-selectors",
    ),
)


def replication_controller_cells(rc: Obj, now: dt.datetime) -> list[Any]:
    # The selector is a plain map, printed as labels.SelectorFromSet prints it.
    selector = meta.get_path(rc, "spec", "selector") or {}
    return [
        meta.name_of(rc),
        _replicas(rc),
        _status(rc, "replicas"),
        _status(rc, "readyReplicas"),
        age_of(rc, now),
        *container_cells(rc),
        ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or NONE,
    ]


# --- StatefulSet ----------------------------------------------------------------------------

# Kubernetes shows no selector for StatefulSets, even wide.
STATEFUL_SET_COLUMNS = (
    NAME_COLUMN,
    _READY_PODS_COLUMN,
    AGE_COLUMN,
    CONTAINERS_COLUMN,
    IMAGES_COLUMN,
)


def stateful_set_cells(stateful_set: Obj, now: dt.datetime) -> list[Any]:
    return [
        meta.name_of(stateful_set),
        f"{_status(stateful_set, 'readyReplicas')}/{_replicas(stateful_set)}",
        age_of(stateful_set, now),
        *container_cells(stateful_set),
    ]


# --- DaemonSet ------------------------------------------------------------------------------

_DAEMON_SET_DOC = "https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
DAEMON_SET_COLUMNS = (
    NAME_COLUMN,
    Column(
        "Desired",
        type="integer",
        description="The total number of nodes that should be running the daemon pod "
        f"(including nodes correctly running the daemon pod). More info: {_DAEMON_SET_DOC}",
    ),
    Column(
        "Current",
        type="integer",
        description="The number of nodes that are running at least 1 daemon pod and are "
        f"supposed to run the daemon pod. More info: {_DAEMON_SET_DOC}",
    ),
    Column(
        "Ready",
        type="integer",
        description="numberReady is the number of nodes that should be running the daemon pod "
        "and have one or more of the daemon pod running with a Ready Condition.",
    ),
    Column(
        "Up-to-date",
        type="integer",
        description="The total number of nodes that are running updated daemon pod",
    ),
    Column(
        "Available",
        type="integer",
        description="The number of nodes that should be running the daemon pod and have one or "
        "more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
    ),
    Column(
        "Node Selector",
        description="NodeSelector is a selector which must be true for the pod to fit on a "
        "node. Selector which must match a node's labels for the pod to be scheduled on that "
        "node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
    ),
    AGE_COLUMN,
    *template_columns(
        "A label query over pods that are managed by the daemon set. Must match in "
        "order to be controlled. It must match the pod template's labels. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/"
        "#label-selectors",
    ),
)


def daemon_set_cells(daemon_set: Obj, now: dt.datetime) -> list[Any]:
    node_selector = meta.get_path(daemon_set, "spec", "template", "spec", "nodeSelector")
    return [
        meta.name_of(daemon_set),
        _status(daemon_set, "desiredNumberScheduled"),
        _status(daemon_set, "currentNumberScheduled"),
        _status(daemon_set, "numberReady"),
        _status(daemon_set, "updatedNumberScheduled"),
        _status(daemon_set, "numberAvailable"),
        format_labels(node_selector),
        age_of(daemon_set, now),
        *container_cells(daemon_set),
        format_label_selector(meta.get_path(daemon_set, "spec", "selector")),
    ]


# --- ControllerRevision ---------------------------------------------------------------------

CONTROLLER_REVISION_COLUMNS = (
    NAME_COLUMN,
    Column("Controller", description="Controller of the object"),
    Column(
        "Revision", description="Revision indicates the revision of the state represented by Data."
    ),
    AGE_COLUMN,
)


def controller_name(obj: Obj) -> str:
    """The CONTROLLER cell: `kind.group/name` in lower case (`statefulset.apps/web`), as
    printers.FormatResourceName writes the controller reference, or `<none>`."""
    for ref in meta.get_path(obj, "metadata", "ownerReferences", default=None) or []:
        if ref.get("controller"):
            api_version = ref.get("apiVersion") or ""
            group = api_version.split("/")[0] if "/" in api_version else ""
            kind = ref.get("kind") or ""
            group_kind = f"{kind}.{group}" if group else kind
            name = ref.get("name") or ""
            return f"{group_kind.lower()}/{name}" if group_kind else name
    return NONE


def controller_revision_cells(revision: Obj, now: dt.datetime) -> list[Any]:
    return [
        meta.name_of(revision),
        controller_name(revision),
        revision.get("revision") or 0,
        age_of(revision, now),
    ]


PRINTERS.update(
    {
        ("apps", "ControllerRevision"): Printer(
            CONTROLLER_REVISION_COLUMNS, controller_revision_cells
        ),
        ("apps", "Deployment"): Printer(DEPLOYMENT_COLUMNS, deployment_cells),
        ("apps", "ReplicaSet"): Printer(REPLICA_SET_COLUMNS, replica_set_cells),
        ("", "ReplicationController"): Printer(
            REPLICATION_CONTROLLER_COLUMNS, replication_controller_cells
        ),
        ("apps", "StatefulSet"): Printer(STATEFUL_SET_COLUMNS, stateful_set_cells),
        ("apps", "DaemonSet"): Printer(DAEMON_SET_COLUMNS, daemon_set_cells),
    }
)
