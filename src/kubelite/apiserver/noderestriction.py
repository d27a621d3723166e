"""NodeRestriction admission: a kubelet writes only its own Node, Lease and pods.

The Node authorizer lets a kubelet write Nodes, pods' status and Leases at all; which ones is
this plugin's business (`plugin/pkg/admission/noderestriction`), since only the object says
which node it belongs to:

- pods: a node creates only mirror pods bound to itself (kubelite's kubelet makes none), may
  update the status of, evict and delete only pods bound to itself, and never updates a pod
  itself;
- nodes: a node creates, updates and deletes only its own Node, and does not set labels under
  `node-restriction.kubernetes.io/`, which exist so that administrators can place workloads on
  nodes that a kubelet cannot claim for itself;
- leases: a node creates only its own, in kube-node-lease;
- service account tokens: a node asks only for tokens bound to a pod bound to itself.

Requests of anyone who is not a node pass untouched.
"""

from __future__ import annotations

import orjson

from kubelite.api import errors, meta
from kubelite.api.goformat import go_quote
from kubelite.api.kinds import REGISTRY, ResourceType
from kubelite.api.types import Obj
from kubelite.apiserver.auth import current_request, current_user
from kubelite.apiserver.rbac.node import (
    CLAIM,
    CONFIG_MAP,
    MIRROR_POD_ANNOTATION,
    NODE_LEASE_NAMESPACE,
    SECRET,
    node_name_of,
    pod_references,
)
from kubelite.storage.interface import Store

RESTRICTED_LABEL_DOMAIN = "node-restriction.kubernetes.io"


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


class NodeRestriction:
    """The admission of pods, nodes and leases; `token` for TokenRequests."""

    def __init__(self, store: Store, pods: ResourceType) -> None:
        self.store = store
        self.pods_resource = pods

    async def pods(self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None) -> None:
        node = _node(resource, obj)
        if node is None:
            return
        info = current_request.get()
        subresource = info.subresource if info is not None else ""
        name = meta.name_of(obj)
        bound = meta.get_path(old or obj, "spec", "nodeName", default="")
        if operation == "CREATE":
            await self._mirror_pod(resource, node, obj)
        elif subresource == "eviction":
            # The eviction's write of the DisruptionTarget condition, then its delete.
            if bound != node:
                raise _refuse(
                    resource,
                    name,
                    f"node {node} can only evict pods with spec.nodeName set to itself",
                )
        elif operation == "UPDATE":
            if subresource != "status":
                raise _refuse(
                    resource,
                    name,
                    f'unexpected operation "UPDATE", node "{node}" can only create and delete '
                    "mirror pods",
                )
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
        elif operation == "DELETE" and bound != node:
            raise _refuse(
                resource,
                name,
                f'node "{node}" can only delete pods with spec.nodeName set to itself',
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
        # What the pod names, as the Node authorizer's graph would read it were it no mirror.
        plain = {**pod, "metadata": {**(pod.get("metadata") or {}), "annotations": {}}}
        kinds = {kind for kind, _, _ in pod_references(plain)}
        for kind, word in (
            (SECRET, "secrets"),
            (CONFIG_MAP, "configmaps"),
            (CLAIM, "persistentvolumeclaims"),
        ):
            if kind in kinds:
                raise _refuse(
                    resource, name, f'node "{node}" can not create pods that reference {word}'
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
        if operation not in ("CREATE", "UPDATE"):
            return
        labels = meta.get_path(obj, "metadata", "labels", default={}) or {}
        if old is None:
            forbidden = _forbidden_labels(labels)
            if forbidden:
                raise _refuse(
                    resource,
                    name,
                    f'node "{node}" is not allowed to set the following labels: '
                    f"{', '.join(forbidden)}",
                )
            return
        if meta.get_path(obj, "spec", "taints") != meta.get_path(old, "spec", "taints"):
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
        node = _node(resource, obj)
        if node is None or operation != "CREATE":
            return
        if meta.namespace_of(obj) != NODE_LEASE_NAMESPACE or meta.name_of(obj) != node:
            raise _refuse(
                resource,
                meta.name_of(obj),
                "can only access node lease with the same name as the requesting node",
            )

    async def token(self, namespace: str, account: str, body: Obj) -> None:
        """A node's TokenRequest must be bound to a pod bound to that node."""
        user = current_user.get()
        node = node_name_of(user) if user is not None else None
        if node is None:
            return
        ref = meta.get_path(body, "spec", "boundObjectRef", default=None) or {}
        if ref.get("kind") != "Pod":
            raise errors.forbidden(
                "serviceaccounts", account, "node requested token not bound to a pod"
            )
        kv = await self.store.get(self.pods_resource.key(namespace, ref.get("name") or ""))
        pod = orjson.loads(kv.value) if kv is not None else None
        if pod is None:
            raise errors.forbidden(
                "serviceaccounts",
                account,
                "node requested token bound to a pod that does not exist",
            )
        if ref.get("uid") and ref.get("uid") != meta.get_path(pod, "metadata", "uid"):
            raise errors.forbidden(
                "serviceaccounts", account, "the UID in the bound object reference does not match"
            )
        if meta.get_path(pod, "spec", "nodeName", default="") != node:
            raise errors.forbidden(
                "serviceaccounts",
                account,
                "node requested token bound to a pod scheduled on a different node",
            )
