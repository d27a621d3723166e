"""The registry of kinds kubelite serves, with the names discovery and kubectl know them by.

A kind is an entry here plus its `Strategy` (defaults, validation, table columns). Everything
generic (REST verbs, watch, patch, discovery, OpenAPI) is driven from this table, so adding a kind
is adding a line, as the issue for the API server asks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kubelite.api.resources import ResourceNames
from kubelite.api.strategies import (
    apiregistration,
    apps,
    batch,
    certificates,
    coordination,
    core,
    discovery,
    events,
    limitrange,
    pods,
    policy,
    rbac,
    resourcequota,
)
from kubelite.api.strategy import Strategy

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Subresource:
    """A subresource as discovery lists it: `pods/status`, `pods/binding`, ..."""

    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    version: str = ""


@dataclass(frozen=True)
class ResourceType(ResourceNames):
    """One served resource: its names, scope, subresources and behaviour."""

    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    strategy: Strategy
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[Subresource, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    # Resources that share storage with another (events.k8s.io/v1 events are core events).
    storage_plural: str = ""
    list_kind: str = field(default="")
    # A warning every request on the resource answers with (a deprecated API's).
    warning: str = ""

    def list_kind_name(self) -> str:
        return self.list_kind or f"{self.kind}List"

    def key_prefix(self, namespace: str = "") -> str:
        """The store prefix of this resource, or of one namespace of it."""
        base = f"/registry/{self.storage_plural or self.plural}/"
        return f"{base}{namespace}/" if self.namespaced and namespace else base

    def key(self, namespace: str, name: str) -> str:
        if self.namespaced:
            return f"/registry/{self.storage_plural or self.plural}/{namespace}/{name}"
        return f"/registry/{self.storage_plural or self.plural}/{name}"

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)

    def __hash__(self) -> int:
        return hash((self.group, self.version, self.plural))


_STATUS_GPU = ("get", "patch", "update")
# The autoscaling/v1 Scale of the workloads that `kubectl scale` and autoscalers resize.
_SCALE = Subresource("scale", "Scale", _STATUS_GPU, "autoscaling", "v1")

RESOURCES: tuple[ResourceType, ...] = (
    ResourceType(
        "",
        "v1",
        "Namespace",
        "namespaces",
        "namespace",
        False,
        core.NamespaceStrategy(),
        short_names=("ns",),
        # Kubernetes serves no deletecollection for namespaces.
        verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
        subresources=(
            Subresource("status", "Namespace", _STATUS_GPU),
            Subresource("finalize", "Namespace", ("update",)),
        ),
    ),
    ResourceType(
        "",
        "v1",
        "Pod",
        "pods",
        "pod",
        True,
        pods.PodStrategy(),
        short_names=("po",),
        categories=("all",),
        subresources=(
            Subresource("attach", "PodAttachOptions", ("create", "get")),
            Subresource("binding", "Binding", ("create",)),
            Subresource("eviction", "Eviction", ("create",), "policy", "v1"),
            # Proxied to the pod's kubelet (apiserver/pod_proxy.py), never stored.
            Subresource("exec", "PodExecOptions", ("create", "get")),
            Subresource("log", "Pod", ("get",)),
            Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
            # In-place resize: only the containers' resources (apiserver/registry/resize.py).
            Subresource("resize", "Pod", _STATUS_GPU),
            Subresource("status", "Pod", _STATUS_GPU),
        ),
    ),
    ResourceType(
        "",
        "v1",
        "Node",
        "nodes",
        "node",
        False,
        core.NodeStrategy(),
        short_names=("no",),
        subresources=(Subresource("status", "Node", _STATUS_GPU),),
    ),
    ResourceType(
        "",
        "v1",
        "Event",
        "events",
        "event",
        True,
        events.CoreEventStrategy(),
        short_names=("ev",),
    ),
    ResourceType(
        "",
        "v1",
        "Service",
        "services",
        "service",
        True,
        core.ServiceStrategy(),
        short_names=("svc",),
        categories=("all",),
        subresources=(Subresource("status", "Service", _STATUS_GPU),),
    ),
    ResourceType(
        "",
        "v1",
        "Endpoints",
        "endpoints",
        "endpoints",
        True,
        core.EndpointsStrategy(),
        short_names=("ep",),
        list_kind="EndpointsList",
        # KEP-4974: deprecated in favour of EndpointSlices (still served, never removed).
        warning="v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice",
    ),
    ResourceType(
        "",
        "v1",
        "ConfigMap",
        "configmaps",
        "configmap",
        True,
        core.ConfigMapStrategy(),
        short_names=("cm",),
    ),
    ResourceType(
        "",
        "v1",
        "LimitRange",
        "limitranges",
        "limitrange",
        True,
        limitrange.LimitRangeStrategy(),
        short_names=("limits",),
    ),
    ResourceType(
        "",
        "v1",
        "Secret",
        "secrets",
        "secret",
        True,
        core.SecretStrategy(),
    ),
    ResourceType(
        "",
        "v1",
        "PersistentVolumeClaim",
        "persistentvolumeclaims",
        "persistentvolumeclaim",
        True,
        core.PersistentVolumeClaimStrategy(),
        short_names=("pvc",),
        subresources=(Subresource("status", "PersistentVolumeClaim", _STATUS_GPU),),
    ),
    ResourceType(
        "",
        "v1",
        "ServiceAccount",
        "serviceaccounts",
        "serviceaccount",
        True,
        core.ServiceAccountStrategy(),
        short_names=("sa",),
        # Issued by apiserver/serviceaccount_token.py, never stored.
        subresources=(
            Subresource("token", "TokenRequest", ("create",), "authentication.k8s.io", "v1"),
        ),
    ),
    ResourceType(
        "",
        "v1",
        "ReplicationController",
        "replicationcontrollers",
        "replicationcontroller",
        True,
        apps.ReplicationControllerStrategy(),
        short_names=("rc",),
        categories=("all",),
        subresources=(
            _SCALE,
            Subresource("status", "ReplicationController", _STATUS_GPU),
        ),
    ),
    ResourceType(
        "",
        "v1",
        "ResourceQuota",
        "resourcequotas",
        "resourcequota",
        True,
        resourcequota.ResourceQuotaStrategy(),
        short_names=("quota",),
        subresources=(Subresource("status", "ResourceQuota", _STATUS_GPU),),
    ),
    # First of the groups, as kube-apiserver lists them (the highest group priority).
    ResourceType(
        "apiregistration.k8s.io",
        "v1",
        "APIService",
        "apiservices",
        "apiservice",
        False,
        apiregistration.APIServiceStrategy(),
        categories=("api-extensions",),
        subresources=(Subresource("status", "APIService", _STATUS_GPU),),
    ),
    ResourceType(
        "apps",
        "v1",
        "Deployment",
        "deployments",
        "deployment",
        True,
        apps.DeploymentStrategy(),
        short_names=("deploy",),
        categories=("all",),
        subresources=(
            _SCALE,
            Subresource("status", "Deployment", _STATUS_GPU),
        ),
    ),
    ResourceType(
        "apps",
        "v1",
        "ReplicaSet",
        "replicasets",
        "replicaset",
        True,
        apps.ReplicaSetStrategy(),
        short_names=("rs",),
        categories=("all",),
        subresources=(
            _SCALE,
            Subresource("status", "ReplicaSet", _STATUS_GPU),
        ),
    ),
    ResourceType(
        "apps",
        "v1",
        "StatefulSet",
        "statefulsets",
        "statefulset",
        True,
        apps.StatefulSetStrategy(),
        short_names=("sts",),
        categories=("all",),
        subresources=(
            _SCALE,
            Subresource("status", "StatefulSet", _STATUS_GPU),
        ),
    ),
    ResourceType(
        "apps",
        "v1",
        "DaemonSet",
        "daemonsets",
        "daemonset",
        True,
        apps.DaemonSetStrategy(),
        short_names=("ds",),
        categories=("all",),
        subresources=(Subresource("status", "DaemonSet", _STATUS_GPU),),
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "SelfSubjectReview",
        "selfsubjectreviews",
        "selfsubjectreview",
        False,
        Strategy(),
        verbs=("create",),
    ),
    ResourceType(
        "authentication.k8s.io",
        "v1",
        "TokenReview",
        "tokenreviews",
        "tokenreview",
        False,
        Strategy(),
        verbs=("create",),
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "LocalSubjectAccessReview",
        "localsubjectaccessreviews",
        "localsubjectaccessreview",
        True,
        Strategy(),
        verbs=("create",),
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectAccessReview",
        "selfsubjectaccessreviews",
        "selfsubjectaccessreview",
        False,
        Strategy(),
        verbs=("create",),
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "SelfSubjectRulesReview",
        "selfsubjectrulesreviews",
        "selfsubjectrulesreview",
        False,
        Strategy(),
        verbs=("create",),
    ),
    ResourceType(
        "authorization.k8s.io",
        "v1",
        "SubjectAccessReview",
        "subjectaccessreviews",
        "subjectaccessreview",
        False,
        Strategy(),
        verbs=("create",),
    ),
    ResourceType(
        "batch",
        "v1",
        "CronJob",
        "cronjobs",
        "cronjob",
        True,
        batch.CronJobStrategy(),
        short_names=("cj",),
        categories=("all",),
        subresources=(Subresource("status", "CronJob", _STATUS_GPU),),
    ),
    ResourceType(
        "batch",
        "v1",
        "Job",
        "jobs",
        "job",
        True,
        batch.JobStrategy(),
        categories=("all",),
        subresources=(Subresource("status", "Job", _STATUS_GPU),),
    ),
    ResourceType(
        "certificates.k8s.io",
        "v1",
        "CertificateSigningRequest",
        "certificatesigningrequests",
        "certificatesigningrequest",
        False,
        certificates.CertificateSigningRequestStrategy(),
        short_names=("csr",),
        subresources=(
            # Approved and Denied conditions only (apiserver/registry/approval.py).
            Subresource("approval", "CertificateSigningRequest", _STATUS_GPU),
            Subresource("status", "CertificateSigningRequest", _STATUS_GPU),
        ),
    ),
    ResourceType(
        "apps",
        "v1",
        "ControllerRevision",
        "controllerrevisions",
        "controllerrevision",
        True,
        apps.ControllerRevisionStrategy(),
    ),
    ResourceType(
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
        "poddisruptionbudget",
        True,
        policy.PodDisruptionBudgetStrategy(),
        short_names=("pdb",),
        subresources=(Subresource("status", "PodDisruptionBudget", _STATUS_GPU),),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        "clusterrolebindings",
        "clusterrolebinding",
        False,
        rbac.ClusterRoleBindingStrategy(),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRole",
        "clusterroles",
        "clusterrole",
        False,
        rbac.ClusterRoleStrategy(),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "RoleBinding",
        "rolebindings",
        "rolebinding",
        True,
        rbac.RoleBindingStrategy(),
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "Role",
        "roles",
        "role",
        True,
        rbac.RoleStrategy(),
    ),
    ResourceType(
        "coordination.k8s.io",
        "v1",
        "Lease",
        "leases",
        "lease",
        True,
        coordination.LeaseStrategy(),
    ),
    ResourceType(
        "discovery.k8s.io",
        "v1",
        "EndpointSlice",
        "endpointslices",
        "endpointslice",
        True,
        discovery.EndpointSliceStrategy(),
    ),
    ResourceType(
        "events.k8s.io",
        "v1",
        "Event",
        "events",
        "event",
        True,
        events.EventsV1Strategy(),
        short_names=("ev",),
        storage_plural="events",
    ),
)


class Registry:
    """Looks resources up the ways requests and kubectl name them."""

    def __init__(self, resources: tuple[ResourceType, ...] = RESOURCES) -> None:
        self.resources = resources
        self._by_path = {(r.group, r.version, r.plural): r for r in resources}
        self._by_kind = {(r.group, r.version, r.kind): r for r in resources}

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_path.get((group, version, plural))

    def by_kind(self, group: str, version: str, kind: str) -> ResourceType | None:
        return self._by_kind.get((group, version, kind))

    def group_versions(self) -> dict[str, list[str]]:
        """Every group (core is "") with its versions, in the order discovery lists them."""
        groups: dict[str, list[str]] = {}
        for r in self.resources:
            versions = groups.setdefault(r.group, [])
            if r.version not in versions:
                versions.append(r.version)
        return groups

    def in_group_version(self, group: str, version: str) -> list[ResourceType]:
        return [r for r in self.resources if r.group == group and r.version == version]


REGISTRY = Registry()
