"""The resources kubelite's components name without asking discovery, and what a resource is.

A `Resource` says what a request is about: group, version, plural, scope. The client gets one
from discovery (`/api`, `/apis`) for a name a person typed, but the controllers, the scheduler,
the kubelet, the proxy and the CLI know at start which resources they watch and write, and
name them here, once: a constant costs no request, and every component agrees on the kind and
the scope (a Node is cluster-scoped wherever it is named).

The constants follow Kubernetes' own grouping: core/v1 first, then the named API groups.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


class ResourceNames:
    """How a resource is named on the wire, for any class with a group, a version and a plural:
    the client's `Resource` here and the API server's `kinds.ResourceType`."""

    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_resource(self) -> str:
        """`pods`, `deployments.apps`: how Kubernetes names the resource in messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class Resource(ResourceNames):
    """A resource as discovery describes it: `pods` in `v1`, `deployments` in `apps/v1`."""

    group: str
    version: str
    plural: str
    kind: str = ""
    namespaced: bool = True
    singular: str = ""
    short_names: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    def matches(self, name: str) -> bool:
        """Whether a lower-case name is this resource's plural, singular, short name or kind."""
        return (
            name == self.plural
            or name == self.singular
            or name in self.short_names
            or name == self.kind.lower()
        )

    def path(
        self,
        *,
        namespace: str | None = None,
        name: str | None = None,
        subresource: str | None = None,
    ) -> str:
        """`/api/v1/namespaces/default/pods/web/status` and the like."""
        path = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name:
            path += f"/{quote(name, safe='')}"
        if subresource:
            path += f"/{subresource}"
        return path


# core/v1
CONFIG_MAPS = Resource("", "v1", "configmaps", kind="ConfigMap")
ENDPOINTS = Resource("", "v1", "endpoints", kind="Endpoints")
EVENTS = Resource("", "v1", "events", kind="Event")
NAMESPACES = Resource("", "v1", "namespaces", kind="Namespace", namespaced=False)
NODES = Resource("", "v1", "nodes", kind="Node", namespaced=False)
PERSISTENT_VOLUME_CLAIMS = Resource(
    "", "v1", "persistentvolumeclaims", kind="PersistentVolumeClaim"
)
PODS = Resource("", "v1", "pods", kind="Pod")
REPLICATION_CONTROLLERS = Resource("", "v1", "replicationcontrollers", kind="ReplicationController")
SECRETS = Resource("", "v1", "secrets", kind="Secret")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", kind="ServiceAccount")
SERVICES = Resource("", "v1", "services", kind="Service")

# apps/v1
CONTROLLER_REVISIONS = Resource("apps", "v1", "controllerrevisions", kind="ControllerRevision")
DAEMON_SETS = Resource("apps", "v1", "daemonsets", kind="DaemonSet")
DEPLOYMENTS = Resource("apps", "v1", "deployments", kind="Deployment")
REPLICA_SETS = Resource("apps", "v1", "replicasets", kind="ReplicaSet")
STATEFUL_SETS = Resource("apps", "v1", "statefulsets", kind="StatefulSet")

# batch/v1
CRON_JOBS = Resource("batch", "v1", "cronjobs", kind="CronJob")
JOBS = Resource("batch", "v1", "jobs", kind="Job")

# authorization.k8s.io/v1
SUBJECT_ACCESS_REVIEWS = Resource(
    "authorization.k8s.io",
    "v1",
    "subjectaccessreviews",
    kind="SubjectAccessReview",
    namespaced=False,
)

# certificates.k8s.io/v1
CERTIFICATE_SIGNING_REQUESTS = Resource(
    "certificates.k8s.io",
    "v1",
    "certificatesigningrequests",
    kind="CertificateSigningRequest",
    namespaced=False,
)

# coordination.k8s.io/v1
LEASES = Resource("coordination.k8s.io", "v1", "leases", kind="Lease")

# discovery.k8s.io/v1
ENDPOINT_SLICES = Resource("discovery.k8s.io", "v1", "endpointslices", kind="EndpointSlice")

# policy/v1
PODDISRUPTIONBUDGETS = Resource("policy", "v1", "poddisruptionbudgets", kind="PodDisruptionBudget")

# rbac.authorization.k8s.io
CLUSTER_ROLES = Resource(
    "rbac.authorization.k8s.io", "v1", "clusterroles", kind="ClusterRole", namespaced=False
)
