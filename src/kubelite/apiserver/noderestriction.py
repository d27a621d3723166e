"""NodeRestriction admission: a kubelet writes only its own Node, Lease and pods.

The Node authorizer lets a kubelet write Nodes, pods' status and Leases at all; which ones is
this plugin's business (`plugin/pkg/admission/noderestriction`), since only the object says
which node it belongs to:

- pods: a node creates only mirror pods bound to itself (kubelite's kubelet makes none), may
  update the status of, evict and delete only pods bound to itself, and never updates a pod
  itself;
- nodes: a node creates, updates and deletes only its own Node, sets no config source, and does
  not set labels under `node-restriction.kubernetes.io/`, which exist so that administrators
  can place workloads on nodes that a kubelet cannot claim for itself;
- leases: a node touches only its own, in kube-node-lease;
- service account tokens: a node asks only for tokens bound to a pod bound to itself, for an
  audience that pod's volumes use (ServiceAccountNodeAudienceRestriction, on in 1.33) unless
  it is authorized to ask for that audience.

As in Kubernetes it is a mutating plugin (Admit), run after ServiceAccount admission and before
the kind's validation: a node's malformed mirror pod hears this plugin's 403, not a 422.
Requests of anyone who is not a node pass untouched.
"""

from __future__ import annotations

import orjson

from kubelite.api import errors, meta
from kubelite.api.goformat import go_quote
from kubelite.api.kinds import REGISTRY, ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver.auth import current_request, current_user
from kubelite.apiserver.rbac.authorizer import Attributes, Authorizer
from kubelite.apiserver.rbac.node import (
    CONFIG_MAP,
    MIRROR_POD_ANNOTATION,
    NODE_LEASE_NAMESPACE,
    SECRET,
    node_name_of,
    pod_references,
)
from kubelite.storage.interface import Store

RESTRICTED_LABEL_DOMAIN = "node-restriction.kubernetes.io"
# The verb whose grant on an audience (as the resource) lets a node ask for tokens for it
# although none of the pod's volumes uses it (validateNodeServiceAccountAudience).
TOKEN_AUDIENCE_VERB = "request-serviceaccounts-token-audience"


def _nodes_resource() -> ResourceType:
    nodes = REGISTRY.lookup("", "v1", "nodes")
    assert nodes is not None
    return nodes


_NODES = _nodes_resource()


def _node(resource: ResourceType, obj: Obj) -> str | None:
    """The node the request's user is (None: not a node); a node user whose name names no
    node is refused outright."""
    user = current_user.get()
    node = node_name_of(user) if user is not None else None
    if node == "" and user is not None:
        raise _refuse(
            resource, meta.name_of(obj), f"could not determine node from user {go_quote(user.name)}"
        )
    return node


def _refuse(resource: ResourceType, name: str, message: str) -> errors.StatusError:
    return errors.forbidden(resource.plural, name, message, resource.group)


# The kubernetes.io labels a kubelet may set on its Node (kubeletapis.IsKubeletLabel).
KUBELET_LABELS = frozenset(
    {
        "kubernetes.io/hostname",
        "kubernetes.io/arch",
        "kubernetes.io/os",
        "beta.kubernetes.io/arch",
        "beta.kubernetes.io/os",
        "beta.kubernetes.io/instance-type",
        "failure-domain.beta.kubernetes.io/zone",
        "failure-domain.beta.kubernetes.io/region",
        "topology.kubernetes.io/zone",
        "topology.kubernetes.io/region",
        "node.kubernetes.io/instance-type",
    }
)
KUBELET_LABEL_DOMAINS = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _in_domain(domain: str, parent: str) -> bool:
    return domain == parent or domain.endswith("." + parent)


def _forbidden_label(key: str) -> bool:
    domain = key.partition("/")[0] if "/" in key else ""
    if _in_domain(domain, RESTRICTED_LABEL_DOMAIN):
        return True
    if not (_in_domain(domain, "kubernetes.io") or _in_domain(domain, "k8s.io")):
        return False
    return key not in KUBELET_LABELS and not any(
        _in_domain(domain, d) for d in KUBELET_LABEL_DOMAINS
    )


def _forbidden_labels(labels: dict[str, str]) -> list[str]:
    """getForbiddenLabels: node-restriction.kubernetes.io labels, and kubernetes.io or k8s.io
    labels that are not a kubelet's own."""
    return sorted(key for key in labels if _forbidden_label(key))


def _claim_statuses(pod: Obj) -> list[tuple[object, object]]:
    """The pod's resource claim statuses as resourceClaimStatusesEqual compares them."""
    statuses = meta.get_path(pod, "status", "resourceClaimStatuses", default=[]) or []
    return [(s.get("name"), s.get("resourceClaimName")) for s in statuses if isinstance(s, dict)]


def _uses_audience(pod: Obj, audience: str) -> bool:
    """podReferencesAudience: a projected serviceAccountToken source of the pod asks for the
    audience. Kubernetes also follows CSI volumes (inline, or a claim's PersistentVolume) to
    their CSIDriver's tokenRequests; kubelite serves no CSIDriver nor PersistentVolume, and
    Kubernetes finds no audience where the driver is missing."""
    for volume in meta.get_path(pod, "spec", "volumes", default=[]) or []:
        for source in ((volume or {}).get("projected") or {}).get("sources") or ():
            token = (source or {}).get("serviceAccountToken")
            if token is not None and (token.get("audience") or "") == audience:
                return True
    return False


class NodeRestriction:
    """The admission of pods, nodes and leases; `token` for TokenRequests.

    `authorizer` answers whether a node may ask for tokens of an audience its pod does not use
    (None: it may not).
    """

    def __init__(
        self, store: Store, pods: ResourceType, authorizer: Authorizer | None = None
    ) -> None:
        self.store = store
        self.pods_resource = pods
        self.authorizer = authorizer

    async def pods(self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None) -> None:
        node = _node(resource, obj)
        if node is None:
            return
        info = current_request.get()
        subresource = info.subresource if info is not None else ""
        name = meta.name_of(obj)
        bound = meta.get_path(old or obj, "spec", "nodeName", default="")
        if subresource == "":
            if operation == "CREATE":
                await self._mirror_pod(resource, node, obj)
            elif operation == "DELETE":
                if bound != node:
                    raise _refuse(
                        resource,
                        name,
                        f'node "{node}" can only delete pods with spec.nodeName set to itself',
                    )
            else:
                raise _refuse(
                    resource,
                    name,
                    f"unexpected operation {go_quote(operation)}, node {go_quote(node)} can only "
                    "create and delete mirror pods",
                )
        elif subresource == "status":
            if operation != "UPDATE":
                raise _refuse(resource, name, f"unexpected operation {go_quote(operation)}")
            if bound != node:
                raise _refuse(
                    resource,
                    name,
                    f'node "{node}" can only update pod status for pods with spec.nodeName set '
                    "to itself",
                )
            old_labels = meta.get_path(old or {}, "metadata", "labels", default={}) or {}
            if (meta.get_path(obj, "metadata", "labels", default={}) or {}) != old_labels:
                raise _refuse(
                    resource, name, f'node "{node}" cannot update labels through pod status'
                )
            if _claim_statuses(obj) != _claim_statuses(old or {}):
                # Kubernetes' own spelling.
                raise _refuse(resource, name, f'node "{node}" cannot update resource claim statues')
        elif subresource == "eviction":
            # kubelite's eviction writes the DisruptionTarget condition, then deletes: both
            # are the eviction Kubernetes admits once, as a create.
            if bound != node:
                raise _refuse(
                    resource,
                    name,
                    f"node {node} can only evict pods with spec.nodeName set to itself",
                )
        else:
            raise _refuse(
                resource,
                name,
                f"unexpected pod subresource {go_quote(subresource)}, only 'status' and "
                "'eviction' are allowed",
            )

    async def _mirror_pod(self, resource: ResourceType, node: str, pod: Obj) -> None:
        """admitPodCreate: a mirror pod of this node that refers to no other API object."""
        name = meta.name_of(pod)
        annotations = meta.get_path(pod, "metadata", "annotations", default={}) or {}
        if MIRROR_POD_ANNOTATION not in annotations:
            raise _refuse(
                resource,
                name,
                f'pod does not have "{MIRROR_POD_ANNOTATION}" annotation, node "{node}" can only '
                "create mirror pods",
            )
        if meta.get_path(pod, "spec", "nodeName", default="") != node:
            raise _refuse(
                resource,
                name,
                f'node "{node}" can only create pods with spec.nodeName set to itself',
            )
        await self._owned_by_node(resource, node, pod)
        if meta.get_path(pod, "spec", "serviceAccountName", default=""):
            raise _refuse(
                resource,
                name,
                f'node "{node}" can not create pods that reference a service account',
            )
        # The Secrets and ConfigMaps the pod names, as the Node authorizer's graph would read
        # them were it no mirror pod (VisitPodSecretNames, VisitPodConfigmapNames).
        plain = {**pod, "metadata": {**(pod.get("metadata") or {}), "annotations": {}}}
        kinds = {kind for kind, _, _ in pod_references(plain)}
        for kind, word in ((SECRET, "secrets"), (CONFIG_MAP, "configmaps")):
            if kind in kinds:
                raise _refuse(
                    resource, name, f'node "{node}" can not create pods that reference {word}'
                )
        volumes = [v or {} for v in meta.get_path(pod, "spec", "volumes", default=[]) or []]
        for volume in volumes:
            for source in (volume.get("projected") or {}).get("sources") or ():
                if (source or {}).get("clusterTrustBundle") is not None:
                    raise _refuse(
                        resource,
                        name,
                        f'node "{node}" can not create pods that reference clustertrustbundles',
                    )
        # Only a claim named outright: an ephemeral volume's claim is the pod's own.
        if any(volume.get("persistentVolumeClaim") is not None for volume in volumes):
            raise _refuse(
                resource,
                name,
                f'node "{node}" can not create pods that reference persistentvolumeclaims',
            )

    async def _owned_by_node(self, resource: ResourceType, node: str, pod: Obj) -> None:
        """A mirror pod's one owner is its node, as the controller, not blocking deletion."""
        name = meta.name_of(pod)
        owners = meta.get_path(pod, "metadata", "ownerReferences", default=[]) or []
        if len(owners) > 1:
            raise _refuse(
                resource,
                name,
                f'node "{node}" can only create pods with a single owner reference set to itself',
            )
        owner = owners[0] if owners else {}
        if (owner.get("apiVersion"), owner.get("kind"), owner.get("name")) != ("v1", "Node", node):
            raise _refuse(
                resource,
                name,
                f'node "{node}" can only create pods with an owner reference set to itself',
            )
        if not owner.get("controller"):
            raise _refuse(
                resource,
                name,
                f'node "{node}" can only create pods with a controller owner reference set to '
                "itself",
            )
        if owner.get("blockOwnerDeletion"):
            raise _refuse(
                resource,
                name,
                f'node "{node}" must not set blockOwnerDeletion on an owner reference',
            )
        kv = await self.store.get(_NODES.key("", node))
        if kv is None:
            raise errors.not_found("nodes", node)
        uid = meta.get_path(orjson.loads(kv.value), "metadata", "uid", default="")
        if owner.get("uid") != uid:
            raise _refuse(
                resource,
                name,
                f"node {node} UID mismatch: expected {owner.get('uid', '')} got {uid}",
            )

    async def nodes(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        node = _node(resource, obj)
        if node is None:
            return
        name = meta.name_of(obj)
        if name != node:
            raise _refuse(resource, name, f'node "{node}" is not allowed to modify node "{name}"')
        labels = meta.get_path(obj, "metadata", "labels", default={}) or {}
        config_source = meta.get_path(obj, "spec", "configSource")
        if operation == "CREATE":
            # A Node's spec scopes what the node may read: its own config source would widen it.
            if config_source is not None:
                raise _refuse(
                    resource,
                    name,
                    f'node "{node}" is not allowed to create pods with a non-nil configSource',
                )
            forbidden = _forbidden_labels(labels)
            if forbidden:
                raise _refuse(
                    resource,
                    name,
                    f'node "{node}" is not allowed to set the following labels: '
                    f"{', '.join(forbidden)}",
                )
        elif operation == "UPDATE" and old is not None:
            # An old kubelet may drop the field in a status write: only a new value is refused.
            if config_source is not None and config_source != meta.get_path(
                old, "spec", "configSource"
            ):
                raise _refuse(
                    resource,
                    name,
                    f'node "{node}" is not allowed to update configSource to a new non-nil '
                    "configSource",
                )
            # Semantic.DeepEqual: no taints and an empty list are the same.
            taints = meta.get_path(obj, "spec", "taints") or []
            if taints != (meta.get_path(old, "spec", "taints") or []):
                raise _refuse(resource, name, f'node "{node}" is not allowed to modify taints')
            old_labels = meta.get_path(old, "metadata", "labels", default={}) or {}
            changed = {k: v for k, v in labels.items() if old_labels.get(k) != v}
            removed = {k: "" for k in old_labels if k not in labels}
            forbidden = _forbidden_labels({**changed, **removed})
            if forbidden:
                raise _refuse(
                    resource, name, f"is not allowed to modify labels: {', '.join(forbidden)}"
                )

    async def leases(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        """admitLease: the node's own Lease, in kube-node-lease, whatever the operation."""
        node = _node(resource, obj)
        if node is None:
            return
        name = meta.name_of(obj)
        if meta.namespace_of(obj) != NODE_LEASE_NAMESPACE:
            raise _refuse(
                resource,
                name,
                f"can only access leases in the {go_quote(NODE_LEASE_NAMESPACE)} system namespace",
            )
        if name != node:
            raise _refuse(
                resource,
                name,
                "can only access node lease with the same name as the requesting node",
            )

    async def token(self, namespace: str, account: str, body: Obj) -> None:
        """admitServiceAccount: a node's TokenRequest is bound to a pod bound to that node,
        for an audience the pod uses."""
        user = current_user.get()
        node = node_name_of(user) if user is not None else None
        if node is None or user is None:
            return

        def refuse(message: str) -> errors.StatusError:
            return errors.forbidden("serviceaccounts", account, message)

        if not node:
            raise refuse(f"could not determine node from user {go_quote(user.name)}")
        ref = meta.get_path(body, "spec", "boundObjectRef", default=None) or {}
        if (ref.get("apiVersion"), ref.get("kind")) != ("v1", "Pod") or not ref.get("name"):
            raise refuse("node requested token not bound to a pod")
        uid = ref.get("uid") or ""
        if not uid:
            raise refuse("node requested token with a pod binding without a uid")
        kv = await self.store.get(self.pods_resource.key(namespace, ref["name"]))
        if kv is None:
            raise errors.not_found("pods", ref["name"])
        pod = orjson.loads(kv.value)
        if uid != meta.get_path(pod, "metadata", "uid"):
            raise refuse(
                f"the UID in the bound object reference ({uid}) does not match the UID in "
                "record. The object might have been deleted and then recreated"
            )
        if meta.get_path(pod, "spec", "nodeName", default="") != node:
            raise refuse("node requested token bound to a pod scheduled on a different node")
        # ServiceAccountNodeAudienceRestriction (validateNodeServiceAccountAudience).
        audiences = meta.get_path(body, "spec", "audiences", default=[]) or []
        if len(audiences) > 1:
            raise refuse("node may only request 0 or 1 audiences")
        audience = audiences[0] if audiences else ""
        if _uses_audience(pod, audience):
            return
        if self.authorizer is not None and self.authorizer.allowed(
            Attributes(
                user,
                TOKEN_AUDIENCE_VERB,
                True,
                namespace=namespace,
                version="v1",
                resource=audience,
                name=account,
            )
        ):
            return
        raise refuse(
            f"audience {go_quote(audience)} not found in pod spec volume, {user.name} is not "
            "authorized to request tokens for this audience"
        )
