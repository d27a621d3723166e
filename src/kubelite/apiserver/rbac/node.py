"""The Node authorizer: a kubelet reads what its own pods need, and nothing of other nodes'.

A kubelet authenticates as `system:node:<name>` in `system:nodes`. Kubernetes does not give
it RBAC roles; its own authorizer (`plugin/pkg/auth/authorizer/node`) decides, from a graph of
which pods are bound to which node and what each pod refers to:

- Secrets and ConfigMaps are readable (get, list and watch of one named object) only when a pod
  bound to the node refers to them (volumes, projected sources, env, envFrom, image pull
  secrets); PersistentVolumeClaims likewise (get, and their status); a service account's token
  may be requested only for an account a pod on the node runs as;
- a pod may be read when bound to the node, and pods listed or watched only with the
  `spec.nodeName=<node>` field selector; the Node itself may be read only by its own name (a
  kubelet reads its Node before making it), and created or updated (NodeRestriction admission
  then holds it to its own);
- its Lease only, in `kube-node-lease`, and its CSINode only;
- PersistentVolumes and VolumeAttachments by name, when related to the node through the graph:
  kubelite serves neither kind, so the graph holds none and the answer is Kubernetes' for a
  node that no such object relates to;
- everything else by the `system:node` ClusterRole's rules, held here as they are (the role
  in the store may be edited; what a node may do is not).

The graph is fed by the store's watch of pods. A pod changes often (every status write) while
kubelets read Secrets seldom, so changes are kept as they come and parsed when a question
needs them: a pod written ten times between two questions is parsed once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from kubelite.api import fields
from kubelite.api.goformat import go_quote
from kubelite.apiserver.auth import User
from kubelite.apiserver.rbac import rules
from kubelite.apiserver.rbac.bootstrap_policy import cluster_roles
from kubelite.apiserver.rbac.mirror import StoreMirror
from kubelite.apiserver.rbac.rules import Rule, parse_rules
from kubelite.storage.interface import Store

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
NODE_LEASE_NAMESPACE = "kube-node-lease"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
PODS = "/registry/pods/"

SECRET = "secret"
CONFIG_MAP = "configmap"
CLAIM = "pvc"
ACCOUNT = "serviceaccount"
POD = "pod"
# Vertices of Kubernetes' graph that kubelite never adds (it serves neither kind).
PERSISTENT_VOLUME = "pv"
VOLUME_ATTACHMENT = "volumeattachment"
# A reference: (kind, namespace, name).
Ref = tuple[str, str, str]


def node_rules() -> tuple[Rule, ...]:
    """The rules of the default `system:node` ClusterRole (NodeRules)."""
    role = next(r for r in cluster_roles() if r["metadata"]["name"] == "system:node")
    return parse_rules(role["rules"])


def node_name_of(user: User) -> str | None:
    """The node a user is (NodeIdentity): None for anyone who is not a node."""
    if not user.name.startswith(NODE_USER_PREFIX) or NODES_GROUP not in user.groups:
        return None
    return user.name[len(NODE_USER_PREFIX) :]


# The in-tree volume sources that name a Secret in `secretRef` (VisitPodSecretNames); azureFile
# names it in `secretName`, csi in `nodePublishSecretRef`.
_SECRET_REF_VOLUMES = ("cephfs", "cinder", "flexVolume", "rbd", "scaleIO", "iscsi", "storageos")


def _containers(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for container in spec.get(key) or ():
            if isinstance(container, dict):
                yield container


def pod_references(pod: dict[str, Any]) -> set[Ref]:
    """What a pod refers to (VisitPodSecretNames, VisitPodConfigmapNames, its claims and its
    service account), each as (kind, namespace, name)."""
    metadata = pod.get("metadata") or {}
    namespace = metadata.get("namespace") or ""
    spec = pod.get("spec") or {}
    found: set[Ref] = {(POD, namespace, metadata.get("name") or "")}
    if MIRROR_POD_ANNOTATION in (metadata.get("annotations") or {}):
        # A node makes its mirror pods: what they name must never become the node's to read
        # (graph.go's short circuit; NodeRestriction refuses such pods too).
        return found

    def add(kind: str, name: Any) -> None:
        if isinstance(name, str) and name:
            found.add((kind, namespace, name))

    add(ACCOUNT, spec.get("serviceAccountName"))
    for secret in spec.get("imagePullSecrets") or ():
        add(SECRET, (secret or {}).get("name"))
    for container in _containers(spec):
        for source in container.get("envFrom") or ():
            add(SECRET, ((source or {}).get("secretRef") or {}).get("name"))
            add(CONFIG_MAP, ((source or {}).get("configMapRef") or {}).get("name"))
        for env in container.get("env") or ():
            value_from = (env or {}).get("valueFrom") or {}
            add(SECRET, (value_from.get("secretKeyRef") or {}).get("name"))
            add(CONFIG_MAP, (value_from.get("configMapKeyRef") or {}).get("name"))
    for volume in spec.get("volumes") or ():
        volume = volume or {}
        add(SECRET, (volume.get("secret") or {}).get("secretName"))
        add(CONFIG_MAP, (volume.get("configMap") or {}).get("name"))
        add(CLAIM, (volume.get("persistentVolumeClaim") or {}).get("claimName"))
        if volume.get("ephemeral") is not None:
            add(CLAIM, f"{metadata.get('name')}-{volume.get('name')}")
        add(SECRET, ((volume.get("csi") or {}).get("nodePublishSecretRef") or {}).get("name"))
        add(SECRET, (volume.get("azureFile") or {}).get("secretName"))
        for source_key in _SECRET_REF_VOLUMES:
            add(SECRET, (((volume.get(source_key) or {}).get("secretRef")) or {}).get("name"))
        for source in (volume.get("projected") or {}).get("sources") or ():
            add(SECRET, ((source or {}).get("secret") or {}).get("name"))
            add(CONFIG_MAP, ((source or {}).get("configMap") or {}).get("name"))
    return found


class NodeGraph(StoreMirror):
    """Which node each bound pod is on, and what the pods of each node refer to."""

    prefixes = (PODS,)

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        # Changes not yet parsed: store key -> new value (None: deleted).
        self._pending: dict[str, bytes | None] = {}
        self._pods: dict[str, tuple[str, frozenset[Ref]]] = {}
        self._by_node: dict[str, Counter[Ref]] = {}

    def apply(self, key: str, value: bytes | None) -> None:
        self._pending[key] = value

    def _known(self, prefix: str) -> Iterable[str]:
        return [*self._pods, *self._pending]

    def _settle(self) -> None:
        pending, self._pending = self._pending, {}
        for key, value in pending.items():
            self._forget(key)
            if value is None:
                continue
            pod = orjson.loads(value)
            node = (pod.get("spec") or {}).get("nodeName")
            if not node:
                continue
            refs = frozenset(pod_references(pod))
            self._pods[key] = (node, refs)
            self._by_node.setdefault(node, Counter()).update(refs)

    def _forget(self, key: str) -> None:
        old = self._pods.pop(key, None)
        if old is None:
            return
        node, refs = old
        counts = self._by_node[node]
        counts.subtract(refs)
        for ref in refs:
            if counts[ref] <= 0:
                del counts[ref]
        if not counts:
            del self._by_node[node]

    def related(self, node: str, kind: str, namespace: str, name: str) -> bool:
        """Whether a pod bound to `node` refers to the object (or is it, for a pod)."""
        if self._pending:
            self._settle()
        return (kind, namespace, name) in self._by_node.get(node, ())


def _no_opinion(reason: str = "") -> tuple[bool | None, str]:
    return None, reason


class NodeAuthorizer:
    """Decides for nodes only: True (allowed), or None (no opinion: the next authorizer asks),
    with the reason Kubernetes gives."""

    def __init__(self, graph: NodeGraph) -> None:
        self.graph = graph
        self.rules = node_rules()

    def decide(self, attrs: Any) -> tuple[bool | None, str]:
        node = node_name_of(attrs.user)
        if node is None:
            return None, ""
        if not node:
            return _no_opinion(f"unknown node for user {go_quote(attrs.user.name)}")
        if attrs.is_resource:
            kind = _KINDS.get((attrs.group, attrs.resource))
            if kind is not None:
                return kind(self, node, attrs)
        if self._static(attrs):
            return True, ""
        return None, ""

    def _static(self, attrs: Any) -> bool:
        for rule in self.rules:
            if attrs.is_resource:
                if rules.allows_resource(
                    rule, attrs.verb, attrs.group, attrs.resource, attrs.subresource, attrs.name
                ):
                    return True
            elif rules.allows_url(rule, attrs.verb, attrs.path):
                return True
        return False

    def _related(self, node: str, kind: str, attrs: Any) -> tuple[bool | None, str]:
        if not attrs.name:
            return _no_opinion("No Object name found")
        if self.graph.related(node, kind, attrs.namespace, attrs.name):
            return True, ""
        return _no_opinion(f"no relationship found between node '{node}' and this object")

    def _read_namespaced(self, node: str, kind: str, attrs: Any) -> tuple[bool | None, str]:
        if attrs.verb not in ("get", "list", "watch"):
            return _no_opinion("can only read resources of this type")
        if attrs.subresource:
            return _no_opinion("cannot read subresource")
        if not attrs.namespace:
            return _no_opinion("can only read namespaced object of this type")
        return self._related(node, kind, attrs)

    def _secret(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        return self._read_namespaced(node, SECRET, attrs)

    def _config_map(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        return self._read_namespaced(node, CONFIG_MAP, attrs)

    def _get(self, node: str, kind: str, attrs: Any) -> tuple[bool | None, str]:
        """authorizeGet: one related object, read by name."""
        if attrs.verb != "get":
            return _no_opinion("can only get individual resources of this type")
        if attrs.subresource:
            return _no_opinion("cannot get subresource")
        return self._related(node, kind, attrs)

    def _claim(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        if attrs.subresource == "status":
            if attrs.verb not in ("update", "patch"):
                return _no_opinion("can only get/update/patch this type")
            return self._related(node, CLAIM, attrs)
        return self._get(node, CLAIM, attrs)

    def _volume(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        return self._get(node, PERSISTENT_VOLUME, attrs)

    def _volume_attachment(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        return self._get(node, VOLUME_ATTACHMENT, attrs)

    def _csi_node(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        """authorizeCSINode: a node's own CSINode (NodeRestriction checks the name of a
        create, which the authorizer cannot see)."""
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return _no_opinion("can only get, create, update, patch, or delete a CSINode")
        if attrs.subresource:
            return _no_opinion("cannot authorize CSINode subresources")
        if attrs.verb != "create" and attrs.name != node:
            return _no_opinion("can only access CSINode with the same name as the requesting node")
        return True, ""

    def _account(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        if attrs.verb != "create" or not attrs.name:
            return _no_opinion("can only create tokens for individual service accounts")
        if attrs.subresource != "token":
            return _no_opinion("can only create token subresource of serviceaccount")
        return self._related(node, ACCOUNT, attrs)

    def _lease(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return _no_opinion("can only get, create, update, patch, or delete a node lease")
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return _no_opinion(
                f'can only access leases in the "{NODE_LEASE_NAMESPACE}" system namespace'
            )
        if attrs.verb != "create" and attrs.name != node:
            return _no_opinion(
                "can only access node lease with the same name as the requesting node"
            )
        return True, ""

    def _node(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        if not attrs.subresource:
            if attrs.verb in ("create", "update", "patch"):
                return True, ""  # NodeRestriction holds a node to its own
            if attrs.verb in ("get", "list", "watch"):
                if attrs.name == node:
                    return True, ""
                if not attrs.name:
                    return _no_opinion(
                        f"node '{node}' cannot read all nodes, only its own Node object"
                    )
                return _no_opinion(
                    f"node '{node}' cannot read '{attrs.name}', only its own Node object"
                )
        elif attrs.subresource == "status" and attrs.verb in ("update", "patch"):
            return True, ""
        return None, ""

    def _pod(self, node: str, attrs: Any) -> tuple[bool | None, str]:
        if not attrs.subresource:
            if attrs.verb == "get":
                return self._related(node, POD, attrs)
            if attrs.verb in ("list", "watch"):
                if _pins(attrs.field_selector, "spec.nodeName", node):
                    return True, ""
                if attrs.name:
                    return self._related(node, POD, attrs)
                return _no_opinion("can only list/watch pods with spec.nodeName field selector")
            if attrs.verb in ("create", "delete"):
                return True, ""  # mirror pods; NodeRestriction holds them to the node
        elif (attrs.subresource, attrs.verb) in _POD_SUBRESOURCE_WRITES:
            return True, ""  # NodeRestriction holds them to the node's own pods
        return None, ""


# What a kubelet writes through pod subresources: status reports and evictions.
_POD_SUBRESOURCE_WRITES = frozenset(
    {("status", "update"), ("status", "patch"), ("eviction", "create")}
)


def _pins(selector: str, field: str, value: str) -> bool:
    if not selector:
        return False
    try:
        parsed = fields.parse(selector)
    except ValueError:
        return False
    return any(
        r.field == field and r.operator == fields.EQUALS and r.value == value
        for r in parsed.requirements
    )


_KINDS = {
    ("", "secrets"): NodeAuthorizer._secret,
    ("", "configmaps"): NodeAuthorizer._config_map,
    ("", "persistentvolumeclaims"): NodeAuthorizer._claim,
    ("", "persistentvolumes"): NodeAuthorizer._volume,
    ("storage.k8s.io", "volumeattachments"): NodeAuthorizer._volume_attachment,
    ("storage.k8s.io", "csinodes"): NodeAuthorizer._csi_node,
    ("", "serviceaccounts"): NodeAuthorizer._account,
    ("coordination.k8s.io", "leases"): NodeAuthorizer._lease,
    ("", "nodes"): NodeAuthorizer._node,
    ("", "pods"): NodeAuthorizer._pod,
}
