"""The Node authorizer: what a pod refers to, the graph of which node holds which pods, the
decisions and reasons of `NodeAuthorizer` (Kubernetes' `node_authorizer.go` with
AuthorizeNodeWithSelectors on), the authorizer chain's 403, and the name a
`fieldSelector=metadata.name=x` list gives authorization (`requestinfo.go`).

Each test states Kubernetes' behaviour; a difference found later is marked
`xfail(strict=True)` with the difference as its reason (none is, for now).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from apiserver_fixtures import Stores, seed_default_policy
from testcluster import wait_for

from kubelite.api.errors import StatusError
from kubelite.api.types import Obj
from kubelite.apiserver import request_info
from kubelite.apiserver.auth import User
from kubelite.apiserver.rbac import node as node_module
from kubelite.apiserver.rbac.authorizer import Attributes, Authorizer
from kubelite.apiserver.rbac.node import (
    ACCOUNT,
    CLAIM,
    CONFIG_MAP,
    POD,
    SECRET,
    NodeAuthorizer,
    NodeGraph,
    node_name_of,
    pod_references,
)
from kubelite.apiserver.rbac.policy import CLUSTER_ROLE_BINDINGS, PolicyCache
from kubelite.storage.sqlite import SqliteStore

NS = "ns"
NODE_A = User("system:node:a", ("system:nodes", "system:authenticated"))
NODE_B = User("system:node:b", ("system:nodes", "system:authenticated"))
ALICE = User("alice", ("system:authenticated",))
ADMIN = User("system:admin", ("system:masters", "system:authenticated"))
NO_RELATIONSHIP_A = "no relationship found between node 'a' and this object"


def pod(name: str = "web", node: str = "", namespace: str = NS, **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }
    if node:
        body["spec"]["nodeName"] = node
    return body


def key(name: str = "web", namespace: str = NS) -> str:
    return f"/registry/pods/{namespace}/{name}"


def put(graph: NodeGraph, body: Obj) -> None:
    md = body["metadata"]
    graph.apply(key(md["name"], md["namespace"]), orjson.dumps(body))


def attrs(
    user: User,
    verb: str,
    resource: str,
    name: str = "",
    *,
    namespace: str = NS,
    group: str = "",
    subresource: str = "",
    field_selector: str = "",
) -> Attributes:
    return Attributes(
        user,
        verb,
        True,
        namespace=namespace,
        group=group,
        version="v1",
        resource=resource,
        subresource=subresource,
        name=name,
        field_selector=field_selector,
    )


@pytest.fixture
def graph(store: SqliteStore) -> NodeGraph:
    return NodeGraph(store)


@pytest.fixture
def nodes(graph: NodeGraph) -> NodeAuthorizer:
    return NodeAuthorizer(graph)


# --- pod_references -------------------------------------------------------------------------


def _refs(*extra: tuple[str, str]) -> set[tuple[str, str, str]]:
    return {(POD, NS, "web"), *((kind, NS, name) for kind, name in extra)}


def _container(**fields: Any) -> Obj:
    return {"name": "x", "image": "busybox", **fields}


SECRET_ENV = [{"name": "E", "valueFrom": {"secretKeyRef": {"name": "env-s", "key": "k"}}}]
REFERENCES = [
    pytest.param({}, _refs(), id="nothing-but-the-pod"),
    pytest.param(
        {"volumes": [{"name": "v", "secret": {"secretName": "vol-s"}}]},
        _refs((SECRET, "vol-s")),
        id="secret-volume",
    ),
    pytest.param(
        {"volumes": [{"name": "v", "configMap": {"name": "vol-c"}}]},
        _refs((CONFIG_MAP, "vol-c")),
        id="configmap-volume",
    ),
    pytest.param(
        {
            "volumes": [
                {
                    "name": "v",
                    "projected": {
                        "sources": [
                            {"secret": {"name": "proj-s"}},
                            {"configMap": {"name": "proj-c"}},
                            {"serviceAccountToken": {"path": "token"}},
                            {"downwardAPI": {"items": []}},
                        ]
                    },
                }
            ]
        },
        _refs((SECRET, "proj-s"), (CONFIG_MAP, "proj-c")),
        id="projected-volume",
    ),
    pytest.param(
        {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]},
        _refs((CLAIM, "data")),
        id="persistentvolumeclaim-volume",
    ),
    pytest.param(
        {"volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]},
        _refs((CLAIM, "web-scratch")),
        id="ephemeral-volume-names-its-claim-pod-volume",
    ),
    pytest.param(
        {
            "volumes": [
                {"name": "v", "csi": {"driver": "d", "nodePublishSecretRef": {"name": "csi-s"}}}
            ]
        },
        _refs((SECRET, "csi-s")),
        id="csi-node-publish-secret",
    ),
    pytest.param(
        {
            "containers": [
                _container(
                    env=[
                        *SECRET_ENV,
                        {"name": "C", "valueFrom": {"configMapKeyRef": {"name": "env-c"}}},
                        {"name": "F", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {"name": "V", "value": "plain"},
                    ]
                )
            ]
        },
        _refs((SECRET, "env-s"), (CONFIG_MAP, "env-c")),
        id="env-value-from",
    ),
    pytest.param(
        {
            "containers": [
                _container(
                    envFrom=[
                        {"secretRef": {"name": "from-s"}},
                        {"configMapRef": {"name": "from-c"}},
                    ]
                )
            ]
        },
        _refs((SECRET, "from-s"), (CONFIG_MAP, "from-c")),
        id="env-from",
    ),
    pytest.param(
        {"imagePullSecrets": [{"name": "pull"}, {"name": "pull-2"}]},
        _refs((SECRET, "pull"), (SECRET, "pull-2")),
        id="image-pull-secrets",
    ),
    pytest.param(
        {"initContainers": [_container(env=SECRET_ENV)]},
        _refs((SECRET, "env-s")),
        id="init-container",
    ),
    pytest.param(
        {"ephemeralContainers": [_container(envFrom=[{"configMapRef": {"name": "debug-c"}}])]},
        _refs((CONFIG_MAP, "debug-c")),
        id="ephemeral-container",
    ),
    pytest.param({"serviceAccountName": "robot"}, _refs((ACCOUNT, "robot")), id="service-account"),
    pytest.param(
        {"imagePullSecrets": [{"name": ""}], "volumes": [{"name": "v", "secret": {}}]},
        _refs(),
        id="empty-names-are-no-references",
    ),
]


@pytest.mark.parametrize(("spec", "expected"), REFERENCES)
def test_pod_references_every_kind_of_reference(spec: Obj, expected: set[Any]) -> None:
    body = pod()
    body["spec"].update(spec)
    assert pod_references(body) == expected


IN_TREE_SECRET_VOLUMES = [
    pytest.param({"rbd": {"monitors": ["m"], "image": "i", "secretRef": {"name": "x"}}}, id="rbd"),
    pytest.param({"cephfs": {"monitors": ["m"], "secretRef": {"name": "x"}}}, id="cephfs"),
    pytest.param({"flexVolume": {"driver": "d", "secretRef": {"name": "x"}}}, id="flexVolume"),
    pytest.param({"azureFile": {"secretName": "x", "shareName": "s"}}, id="azureFile"),
    pytest.param({"cinder": {"volumeID": "v", "secretRef": {"name": "x"}}}, id="cinder"),
    pytest.param(
        {"iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0, "secretRef": {"name": "x"}}},
        id="iscsi",
    ),
    pytest.param(
        {"scaleIO": {"gateway": "g", "system": "s", "secretRef": {"name": "x"}}}, id="scaleIO"
    ),
    pytest.param({"storageos": {"volumeName": "v", "secretRef": {"name": "x"}}}, id="storageos"),
]


@pytest.mark.parametrize("source", IN_TREE_SECRET_VOLUMES)
def test_pod_references_the_secrets_of_in_tree_volumes(source: Obj) -> None:
    body = pod(volumes=[{"name": "v", **source}])
    assert (SECRET, NS, "x") in pod_references(body)


# --- node_name_of ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (NODE_A, "a"),
        (User("system:node:a", ("system:authenticated",)), None),  # not in system:nodes
        (User("kubelet-a", ("system:nodes",)), None),  # not named system:node:<name>
        (ALICE, None),
        (User("system:node:", ("system:nodes",)), ""),  # a node, but which one?
    ],
)
def test_node_name_of_needs_the_name_and_the_group(user: User, expected: str | None) -> None:
    assert node_name_of(user) == expected


# --- NodeGraph ------------------------------------------------------------------------------


def test_graph_relates_a_bound_pod_and_what_it_refers_to_to_its_node(graph: NodeGraph) -> None:
    put(graph, pod(node="a", volumes=[{"name": "v", "secret": {"secretName": "s"}}]))
    assert graph.related("a", POD, NS, "web")
    assert graph.related("a", SECRET, NS, "s")
    assert not graph.related("b", SECRET, NS, "s")
    # Same name, other kind or namespace: another object.
    assert not graph.related("a", CONFIG_MAP, NS, "s")
    assert not graph.related("a", SECRET, "other", "s")


def test_graph_ignores_pods_not_yet_bound(graph: NodeGraph) -> None:
    put(graph, pod(volumes=[{"name": "v", "secret": {"secretName": "s"}}]))
    assert not graph.related("a", POD, NS, "web")
    assert not graph.related("a", SECRET, NS, "s")
    assert not graph.related("", SECRET, NS, "s")


def test_graph_binding_a_pod_later_relates_it(graph: NodeGraph) -> None:
    put(graph, pod(volumes=[{"name": "v", "secret": {"secretName": "s"}}]))
    assert not graph.related("a", SECRET, NS, "s")
    put(graph, pod(node="a", volumes=[{"name": "v", "secret": {"secretName": "s"}}]))
    assert graph.related("a", SECRET, NS, "s")


def test_graph_update_moves_the_references(graph: NodeGraph) -> None:
    put(graph, pod(node="a", volumes=[{"name": "v", "secret": {"secretName": "old"}}]))
    assert graph.related("a", SECRET, NS, "old")
    put(graph, pod(node="a", volumes=[{"name": "v", "secret": {"secretName": "new"}}]))
    assert graph.related("a", SECRET, NS, "new")
    assert not graph.related("a", SECRET, NS, "old")
    # The same key on another node: the first node loses it all.
    put(graph, pod(node="b", volumes=[{"name": "v", "secret": {"secretName": "new"}}]))
    assert graph.related("b", SECRET, NS, "new")
    assert graph.related("b", POD, NS, "web")
    assert not graph.related("a", SECRET, NS, "new")
    assert not graph.related("a", POD, NS, "web")


def test_graph_delete_forgets_the_pod(graph: NodeGraph) -> None:
    put(graph, pod(node="a", serviceAccountName="robot"))
    assert graph.related("a", ACCOUNT, NS, "robot")
    graph.apply(key(), None)
    assert not graph.related("a", ACCOUNT, NS, "robot")
    assert not graph.related("a", POD, NS, "web")
    # Deleting what was never there is harmless.
    graph.apply(key("ghost"), None)
    assert not graph.related("a", POD, NS, "ghost")


def test_graph_counts_pods_sharing_a_secret(graph: NodeGraph) -> None:
    shared: Obj = {"volumes": [{"name": "v", "secret": {"secretName": "shared"}}]}
    put(graph, pod("one", node="a", **shared))
    put(graph, pod("two", node="a", **shared))
    assert graph.related("a", SECRET, NS, "shared")
    graph.apply(key("one"), None)
    assert graph.related("a", SECRET, NS, "shared")  # "two" still needs it
    assert not graph.related("a", POD, NS, "one")
    graph.apply(key("two"), None)
    assert not graph.related("a", SECRET, NS, "shared")


def test_graph_one_pod_naming_a_secret_twice_counts_it_once(graph: NodeGraph) -> None:
    put(
        graph,
        pod(
            node="a",
            imagePullSecrets=[{"name": "s"}],
            volumes=[{"name": "v", "secret": {"secretName": "s"}}],
        ),
    )
    put(graph, pod(node="a"))  # the pod no longer refers to it
    assert not graph.related("a", SECRET, NS, "s")


def test_graph_parses_a_pod_written_many_times_once(
    graph: NodeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[bytes] = []

    def loads(value: bytes) -> Any:
        parsed.append(value)
        return orjson.loads(value)

    monkeypatch.setattr(node_module, "orjson", SimpleNamespace(loads=loads))
    for secret in ("s1", "s2", "s3"):
        put(graph, pod(node="a", volumes=[{"name": "v", "secret": {"secretName": secret}}]))
    assert parsed == []  # nothing asked yet, nothing parsed
    assert graph.related("a", SECRET, NS, "s3")
    assert not graph.related("a", SECRET, NS, "s1")
    assert len(parsed) == 1


def test_graph_gives_a_mirror_pod_no_references(graph: NodeGraph) -> None:
    mirror = pod(
        node="a",
        serviceAccountName="robot",
        volumes=[{"name": "v", "secret": {"secretName": "s"}}],
    )
    mirror["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "hash"}
    put(graph, mirror)
    assert graph.related("a", POD, NS, "web")
    assert not graph.related("a", SECRET, NS, "s")
    assert not graph.related("a", ACCOUNT, NS, "robot")


async def test_graph_follows_the_store(stores: Stores) -> None:
    pods = stores.of("pods")
    await pods.create(
        "default", pod("before", node="a", namespace="default", serviceAccountName="default")
    )
    graph = NodeGraph(stores.store)
    await graph.start()
    try:
        # Listed before start returns.
        assert graph.related("a", ACCOUNT, "default", "default")
        await pods.create(
            "default",
            pod(
                "after",
                node="a",
                namespace="default",
                volumes=[{"name": "v", "configMap": {"name": "conf"}}],
            ),
        )
        await wait_for(
            lambda: graph.related("a", CONFIG_MAP, "default", "conf"), what="the new pod"
        )
    finally:
        await graph.stop()


# --- NodeAuthorizer: secrets and configmaps -------------------------------------------------


@pytest.fixture
def bound(graph: NodeGraph) -> NodeGraph:
    """A pod on node a referring to a secret, a configmap, a claim and a service account."""
    put(
        graph,
        pod(
            node="a",
            serviceAccountName="robot",
            volumes=[
                {"name": "s", "secret": {"secretName": "s"}},
                {"name": "c", "configMap": {"name": "c"}},
                {"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
            ],
        ),
    )
    return graph


READ_NAMESPACED = [("secrets", "s"), ("configmaps", "c")]


@pytest.mark.parametrize(("resource", "name"), READ_NAMESPACED)
@pytest.mark.parametrize("verb", ["get", "list", "watch"])
def test_node_reads_one_related_object(
    nodes: NodeAuthorizer, bound: NodeGraph, resource: str, name: str, verb: str
) -> None:
    assert nodes.decide(attrs(NODE_A, verb, resource, name)) == (True, "")
    assert nodes.decide(attrs(NODE_B, verb, resource, name)) == (
        None,
        "no relationship found between node 'b' and this object",
    )
    assert nodes.decide(attrs(NODE_A, verb, resource, "unrelated")) == (None, NO_RELATIONSHIP_A)


@pytest.mark.parametrize(("resource", "name"), READ_NAMESPACED)
@pytest.mark.parametrize(
    ("verb", "subresource", "namespace", "with_name", "reason"),
    [
        ("create", "", NS, True, "can only read resources of this type"),
        ("update", "", NS, True, "can only read resources of this type"),
        ("patch", "", NS, True, "can only read resources of this type"),
        ("delete", "", NS, True, "can only read resources of this type"),
        ("deletecollection", "", NS, False, "can only read resources of this type"),
        ("get", "status", NS, True, "cannot read subresource"),
        ("list", "", "", False, "can only read namespaced object of this type"),
        ("list", "", NS, False, "No Object name found"),
        ("watch", "", NS, False, "No Object name found"),
    ],
)
def test_node_refusals_of_secrets_and_configmaps(
    nodes: NodeAuthorizer,
    bound: NodeGraph,
    resource: str,
    name: str,
    verb: str,
    subresource: str,
    namespace: str,
    with_name: bool,
    reason: str,
) -> None:
    asked = attrs(
        NODE_A,
        verb,
        resource,
        name if with_name else "",
        namespace=namespace,
        subresource=subresource,
    )
    assert nodes.decide(asked) == (None, reason)


# --- persistentvolumeclaims, serviceaccounts/token ------------------------------------------


def test_node_gets_a_related_claim_and_updates_its_status(
    nodes: NodeAuthorizer, bound: NodeGraph
) -> None:
    claims = "persistentvolumeclaims"
    assert nodes.decide(attrs(NODE_A, "get", claims, "data")) == (True, "")
    for verb in ("update", "patch"):
        status = attrs(NODE_A, verb, claims, "data", subresource="status")
        assert nodes.decide(status) == (True, "")
    assert nodes.decide(attrs(NODE_B, "get", claims, "data")) == (
        None,
        "no relationship found between node 'b' and this object",
    )
    other_status = attrs(NODE_A, "patch", claims, "other", subresource="status")
    assert nodes.decide(other_status) == (None, NO_RELATIONSHIP_A)


@pytest.mark.parametrize(
    ("verb", "subresource", "reason"),
    [
        ("list", "", "can only get individual resources of this type"),
        ("watch", "", "can only get individual resources of this type"),
        ("update", "", "can only get individual resources of this type"),
        ("delete", "", "can only get individual resources of this type"),
        ("get", "status", "can only get/update/patch this type"),
        ("create", "status", "can only get/update/patch this type"),
        ("get", "other", "cannot get subresource"),
    ],
)
def test_node_refusals_of_claims(
    nodes: NodeAuthorizer, bound: NodeGraph, verb: str, subresource: str, reason: str
) -> None:
    asked = attrs(NODE_A, verb, "persistentvolumeclaims", "data", subresource=subresource)
    assert nodes.decide(asked) == (None, reason)


def test_node_gets_no_claim_without_a_name(nodes: NodeAuthorizer, bound: NodeGraph) -> None:
    assert nodes.decide(attrs(NODE_A, "get", "persistentvolumeclaims")) == (
        None,
        "No Object name found",
    )


def test_node_requests_tokens_of_service_accounts_its_pods_run_as(
    nodes: NodeAuthorizer, bound: NodeGraph
) -> None:
    token = attrs(NODE_A, "create", "serviceaccounts", "robot", subresource="token")
    assert nodes.decide(token) == (True, "")
    other = attrs(NODE_A, "create", "serviceaccounts", "default", subresource="token")
    assert nodes.decide(other) == (None, NO_RELATIONSHIP_A)
    on_b = attrs(NODE_B, "create", "serviceaccounts", "robot", subresource="token")
    assert nodes.decide(on_b) == (None, "no relationship found between node 'b' and this object")


@pytest.mark.parametrize(
    ("verb", "name", "subresource", "reason"),
    [
        ("get", "robot", "", "can only create tokens for individual service accounts"),
        ("get", "robot", "token", "can only create tokens for individual service accounts"),
        ("create", "", "token", "can only create tokens for individual service accounts"),
        ("create", "robot", "", "can only create token subresource of serviceaccount"),
        ("create", "robot", "other", "can only create token subresource of serviceaccount"),
    ],
)
def test_node_refusals_of_service_accounts(
    nodes: NodeAuthorizer, bound: NodeGraph, verb: str, name: str, subresource: str, reason: str
) -> None:
    asked = attrs(NODE_A, verb, "serviceaccounts", name, subresource=subresource)
    assert nodes.decide(asked) == (None, reason)


# --- leases ---------------------------------------------------------------------------------

LEASES = "coordination.k8s.io"


@pytest.mark.parametrize("verb", ["get", "update", "patch", "delete"])
def test_node_uses_its_own_lease(nodes: NodeAuthorizer, verb: str) -> None:
    own = attrs(NODE_A, verb, "leases", "a", namespace="kube-node-lease", group=LEASES)
    assert nodes.decide(own) == (True, "")
    other = attrs(NODE_A, verb, "leases", "b", namespace="kube-node-lease", group=LEASES)
    assert nodes.decide(other) == (
        None,
        "can only access node lease with the same name as the requesting node",
    )


def test_node_creates_a_lease_whatever_its_name(nodes: NodeAuthorizer) -> None:
    # The name is in the body; NodeRestriction checks it.
    create = attrs(NODE_A, "create", "leases", namespace="kube-node-lease", group=LEASES)
    assert nodes.decide(create) == (True, "")


@pytest.mark.parametrize(
    ("verb", "namespace", "reason"),
    [
        ("list", "kube-node-lease", "can only get, create, update, patch, or delete a node lease"),
        ("watch", "kube-node-lease", "can only get, create, update, patch, or delete a node lease"),
        ("get", "kube-system", 'can only access leases in the "kube-node-lease" system namespace'),
        ("create", NS, 'can only access leases in the "kube-node-lease" system namespace'),
    ],
)
def test_node_refusals_of_leases(
    nodes: NodeAuthorizer, verb: str, namespace: str, reason: str
) -> None:
    asked = attrs(NODE_A, verb, "leases", "a", namespace=namespace, group=LEASES)
    assert nodes.decide(asked) == (None, reason)


# --- nodes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "name", "subresource", "expected"),
    [
        ("get", "a", "", (True, "")),
        ("list", "a", "", (True, "")),  # fieldSelector=metadata.name=a
        ("watch", "a", "", (True, "")),
        ("get", "b", "", (None, "node 'a' cannot read 'b', only its own Node object")),
        ("watch", "b", "", (None, "node 'a' cannot read 'b', only its own Node object")),
        ("list", "", "", (None, "node 'a' cannot read all nodes, only its own Node object")),
        ("watch", "", "", (None, "node 'a' cannot read all nodes, only its own Node object")),
        # Writes by name are NodeRestriction's business.
        ("create", "", "", (True, "")),
        ("update", "b", "", (True, "")),
        ("patch", "b", "", (True, "")),
        ("update", "b", "status", (True, "")),
        ("patch", "a", "status", (True, "")),
        ("delete", "a", "", (None, "")),
        ("get", "a", "status", (None, "")),
        ("get", "a", "proxy", (None, "")),
    ],
)
def test_node_decisions_about_nodes(
    nodes: NodeAuthorizer,
    verb: str,
    name: str,
    subresource: str,
    expected: tuple[bool | None, str],
) -> None:
    asked = attrs(NODE_A, verb, "nodes", name, namespace="", subresource=subresource)
    assert nodes.decide(asked) == expected


# --- pods -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verb", "name", "subresource", "selector", "expected"),
    [
        ("get", "web", "", "", (True, "")),
        ("get", "elsewhere", "", "", (None, NO_RELATIONSHIP_A)),
        ("get", "", "", "", (None, "No Object name found")),
        ("list", "", "", "spec.nodeName=a", (True, "")),
        ("watch", "", "", "spec.nodeName=a", (True, "")),
        ("watch", "", "", "spec.nodeName==a", (True, "")),
        ("list", "", "", "status.phase!=Failed,spec.nodeName=a", (True, "")),
        (
            "list",
            "",
            "",
            "",
            (None, "can only list/watch pods with spec.nodeName field selector"),
        ),
        (
            "list",
            "",
            "",
            "spec.nodeName=b",
            (None, "can only list/watch pods with spec.nodeName field selector"),
        ),
        (
            "watch",
            "",
            "",
            "spec.nodeName!=b",
            (None, "can only list/watch pods with spec.nodeName field selector"),
        ),
        (
            "list",
            "",
            "",
            "spec.nodeName=a,bad",
            (None, "can only list/watch pods with spec.nodeName field selector"),
        ),
        # fieldSelector=metadata.name=x: one pod, related or not
        ("list", "web", "", "metadata.name=web", (True, "")),
        ("watch", "elsewhere", "", "metadata.name=elsewhere", (None, NO_RELATIONSHIP_A)),
        # mirror pods and what a kubelet writes: NodeRestriction's business
        ("create", "", "", "", (True, "")),
        ("delete", "elsewhere", "", "", (True, "")),
        ("update", "elsewhere", "status", "", (True, "")),
        ("patch", "elsewhere", "status", "", (True, "")),
        ("create", "elsewhere", "eviction", "", (True, "")),
        # and nothing else, not even what the system:node role would allow
        ("update", "web", "", "", (None, "")),
        ("patch", "web", "", "", (None, "")),
        ("get", "web", "log", "", (None, "")),
        ("get", "web", "status", "", (None, "")),
        ("create", "web", "binding", "", (None, "")),
        ("deletecollection", "", "", "spec.nodeName=a", (None, "")),
    ],
)
def test_node_decisions_about_pods(
    nodes: NodeAuthorizer,
    bound: NodeGraph,
    verb: str,
    name: str,
    subresource: str,
    selector: str,
    expected: tuple[bool | None, str],
) -> None:
    asked = attrs(NODE_A, verb, "pods", name, subresource=subresource, field_selector=selector)
    assert nodes.decide(asked) == expected


# --- the system:node rules, and users who are not nodes -------------------------------------


@pytest.mark.parametrize(
    ("verb", "resource", "group", "subresource", "namespace", "allowed"),
    [
        ("create", "events", "", "", NS, True),
        ("patch", "events", "", "", NS, True),
        ("get", "services", "", "", NS, True),
        ("list", "services", "", "", "", True),
        ("get", "endpoints", "", "", NS, True),
        ("create", "tokenreviews", "authentication.k8s.io", "", "", True),
        ("create", "subjectaccessreviews", "authorization.k8s.io", "", "", True),
        ("create", "certificatesigningrequests", "certificates.k8s.io", "", "", True),
        ("list", "runtimeclasses", "node.k8s.io", "", "", True),
        ("list", "csidrivers", "storage.k8s.io", "", "", True),
        ("get", "deployments", "apps", "", NS, False),
        ("create", "deployments", "apps", "", NS, False),
        ("delete", "events", "", "", NS, False),
        ("list", "endpoints", "", "", NS, False),
        ("create", "namespaces", "", "", "", False),
        ("get", "clusterroles", "rbac.authorization.k8s.io", "", "", False),
    ],
)
def test_node_static_rules(
    nodes: NodeAuthorizer,
    verb: str,
    resource: str,
    group: str,
    subresource: str,
    namespace: str,
    allowed: bool,
) -> None:
    asked = attrs(NODE_A, verb, resource, namespace=namespace, group=group, subresource=subresource)
    assert nodes.decide(asked) == ((True, "") if allowed else (None, ""))


def test_node_non_resource_paths_are_left_to_rbac(nodes: NodeAuthorizer) -> None:
    # The system:node role names no URL: paths are RBAC's (system:discovery and the like).
    assert nodes.decide(Attributes(NODE_A, "get", False, path="/healthz")) == (None, "")


@pytest.mark.parametrize("user", [ALICE, ADMIN, User("system:node:a", ("system:authenticated",))])
@pytest.mark.parametrize(
    ("verb", "resource", "name", "namespace"),
    [
        ("get", "secrets", "s", NS),
        ("create", "events", "", NS),
        ("get", "nodes", "a", ""),
        ("list", "pods", "", NS),
    ],
)
def test_users_who_are_not_nodes_get_no_opinion(
    nodes: NodeAuthorizer,
    bound: NodeGraph,
    user: User,
    verb: str,
    resource: str,
    name: str,
    namespace: str,
) -> None:
    assert nodes.decide(attrs(user, verb, resource, name, namespace=namespace)) == (None, "")


# --- an unknown node; volumes and CSINodes --------------------------------------------------


def test_node_with_no_name_is_an_unknown_node(nodes: NodeAuthorizer) -> None:
    nameless = User("system:node:", ("system:nodes",))
    assert nodes.decide(attrs(nameless, "create", "events")) == (
        None,
        'unknown node for user "system:node:"',
    )


@pytest.mark.parametrize(
    ("resource", "group"),
    [("persistentvolumes", ""), ("volumeattachments", "storage.k8s.io")],
)
def test_node_gets_only_related_volumes(nodes: NodeAuthorizer, resource: str, group: str) -> None:
    """kubelite serves neither kind, so nothing relates one to a node: every get is refused
    as Kubernetes refuses an unrelated one."""
    asked = attrs(NODE_A, "get", resource, "unrelated", namespace="", group=group)
    assert nodes.decide(asked) == (None, NO_RELATIONSHIP_A)
    listed = attrs(NODE_A, "list", resource, namespace="", group=group)
    assert nodes.decide(listed) == (None, "can only get individual resources of this type")


def test_node_reads_only_its_own_csinode(nodes: NodeAuthorizer) -> None:
    asked = attrs(NODE_A, "get", "csinodes", "b", namespace="", group="storage.k8s.io")
    assert nodes.decide(asked) == (
        None,
        "can only access CSINode with the same name as the requesting node",
    )


@pytest.mark.parametrize(
    ("verb", "name", "decision"),
    [
        ("get", "a", (True, "")),
        ("update", "a", (True, "")),
        ("delete", "a", (True, "")),
        ("create", "", (True, "")),  # NodeRestriction checks the name of what is created
        ("list", "", (None, "can only get, create, update, patch, or delete a CSINode")),
    ],
)
def test_node_writes_its_own_csinode(
    nodes: NodeAuthorizer, verb: str, name: str, decision: tuple[bool | None, str]
) -> None:
    asked = attrs(NODE_A, verb, "csinodes", name, namespace="", group="storage.k8s.io")
    assert nodes.decide(asked) == decision


# --- the authorizer chain -------------------------------------------------------------------


@pytest.fixture
def policy(store: SqliteStore) -> PolicyCache:
    cache = PolicyCache(store)
    seed_default_policy(cache)
    return cache


@pytest.fixture
def chain(policy: PolicyCache, nodes: NodeAuthorizer) -> Authorizer:
    return Authorizer(policy, nodes)


def refusal(authorizer: Authorizer, asked: Attributes) -> StatusError:
    with pytest.raises(StatusError) as caught:
        authorizer.check(asked)
    return caught.value


def test_chain_forbids_a_node_reading_another_nodes_secret(
    chain: Authorizer, graph: NodeGraph
) -> None:
    put(graph, pod("theirs", node="b", volumes=[{"name": "v", "secret": {"secretName": "s"}}]))
    refused = refusal(chain, attrs(NODE_A, "get", "secrets", "s"))
    assert refused.code == 403
    assert refused.message == (
        'secrets "s" is forbidden: User "system:node:a" cannot get resource "secrets" in API '
        'group "" in the namespace "ns": no relationship found between node \'a\' and this '
        "object"
    )
    chain.check(attrs(NODE_B, "get", "secrets", "s"))


def test_chain_allows_by_the_node_authorizer_before_rbac(
    chain: Authorizer, bound: NodeGraph
) -> None:
    assert chain.decide(attrs(NODE_A, "get", "secrets", "s")) == (True, "")
    assert chain.decide(attrs(NODE_A, "create", "events")) == (True, "")


def test_chain_without_a_node_authorizer_is_rbac_alone(
    policy: PolicyCache, bound: NodeGraph
) -> None:
    refused = refusal(Authorizer(policy), attrs(NODE_A, "get", "secrets", "s"))
    assert refused.message == (
        'secrets "s" is forbidden: User "system:node:a" cannot get resource "secrets" in API '
        'group "" in the namespace "ns"'
    )


def test_chain_lets_system_masters_do_anything(chain: Authorizer) -> None:
    assert chain.decide(attrs(ADMIN, "delete", "secrets", "s")) == (True, "")


def test_chain_joins_the_reasons_of_the_authorizers_with_no_opinion(
    chain: Authorizer, policy: PolicyCache
) -> None:
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "broken"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "gone"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "system:node:a"}
        ],
    }
    policy.apply(f"{CLUSTER_ROLE_BINDINGS}broken", orjson.dumps(binding))
    allowed, reason = chain.decide(attrs(NODE_A, "get", "secrets", "s"))
    assert not allowed
    assert reason == (
        f'{NO_RELATIONSHIP_A}\nRBAC: clusterrole.rbac.authorization.k8s.io "gone" not found'
    )


def _request(
    user: User, method: str, path: str, *, watch: str | None = None, selector: str = ""
) -> Attributes:
    info = request_info.parse(method, path, watch, selector)
    return Attributes.of_request(user, info, path)


def test_chain_from_a_request_a_node_lists_its_own_pods(chain: Authorizer) -> None:
    own = _request(NODE_A, "GET", "/api/v1/pods", selector="spec.nodeName=a")
    assert chain.decide(own) == (True, "")
    refused = refusal(chain, _request(NODE_A, "GET", "/api/v1/pods", watch="true"))
    assert refused.message == (
        'pods is forbidden: User "system:node:a" cannot watch resource "pods" in API group "" '
        "at the cluster scope: can only list/watch pods with spec.nodeName field selector"
    )


def test_chain_from_a_request_a_field_selected_name_is_the_name_authorized(
    chain: Authorizer, bound: NodeGraph
) -> None:
    path = f"/api/v1/namespaces/{NS}/secrets"
    assert chain.decide(_request(NODE_A, "GET", path, selector="metadata.name=s")) == (True, "")
    refused = refusal(chain, _request(NODE_A, "GET", path, watch="1", selector="metadata.name=x"))
    assert refused.message == (
        'secrets "x" is forbidden: User "system:node:a" cannot watch resource "secrets" in API '
        f'group "" in the namespace "{NS}": {NO_RELATIONSHIP_A}'
    )
    refused = refusal(chain, _request(NODE_A, "GET", path))
    assert refused.message.endswith(": No Object name found")


# --- request_info: the name a field selector gives ------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "selector", "selected"),
    [
        ("GET", "/api/v1/namespaces/ns/secrets", "metadata.name=s", "s"),
        ("GET", "/api/v1/namespaces/ns/secrets", "metadata.name==s", "s"),
        ("GET", "/api/v1/nodes", "metadata.name=a,spec.unschedulable=false", "a"),
        ("GET", "/api/v1/nodes", "metadata.name!=a", ""),
        ("GET", "/api/v1/nodes", "spec.unschedulable=false", ""),
        ("GET", "/api/v1/nodes", "", ""),
        ("GET", "/api/v1/nodes", "metadata.name", ""),  # not a selector
        # names that cannot be a path segment are ignored
        ("GET", "/api/v1/namespaces/ns/secrets", "metadata.name=a/b", ""),
        ("GET", "/api/v1/namespaces/ns/secrets", "metadata.name=a%2Fb", ""),
        ("GET", "/api/v1/namespaces/ns/secrets", "metadata.name=..", ""),
        ("GET", "/api/v1/namespaces/ns/secrets", "metadata.name=.", ""),
        ("GET", "/api/v1/namespaces/ns/secrets", "metadata.name=", ""),
        # a request with a name in its path, or that is no list, selects nothing
        ("GET", "/api/v1/namespaces/ns/secrets/s", "metadata.name=t", ""),
        ("DELETE", "/api/v1/namespaces/ns/secrets", "metadata.name=s", ""),
        ("POST", "/api/v1/namespaces/ns/secrets", "metadata.name=s", ""),
    ],
)
def test_request_info_selected_name(method: str, path: str, selector: str, selected: str) -> None:
    info = request_info.parse(method, path, None, selector)
    assert info.selected_name == selected
    assert info.name == ("s" if path.endswith("/s") else "")


def test_request_info_keeps_the_field_selector_of_lists_and_watches() -> None:
    listed = request_info.parse("GET", "/api/v1/pods", None, "spec.nodeName=a")
    assert (listed.verb, listed.field_selector) == ("list", "spec.nodeName=a")
    watched = request_info.parse("GET", "/api/v1/pods", "true", "spec.nodeName=a")
    assert (watched.verb, watched.field_selector) == ("watch", "spec.nodeName=a")
    named = request_info.parse("GET", "/api/v1/namespaces/ns/pods/web", None, "spec.nodeName=a")
    assert (named.verb, named.field_selector) == ("get", "")


@pytest.mark.parametrize(
    ("selector", "field"),
    [("spec.nodeName=a", "field_selector"), ("metadata.name=web", "selected_name")],
)
def test_request_info_legacy_watch_path_reads_no_selector(selector: str, field: str) -> None:
    info = request_info.parse("GET", "/api/v1/watch/namespaces/ns/pods", None, selector)
    assert info.verb == "watch"
    assert getattr(info, field) == ""


@pytest.mark.parametrize(
    ("watch", "verb"),
    [
        (None, "list"),
        ("false", "list"),
        ("FALSE", "list"),
        ("0", "list"),
        ("yes", "watch"),
        ("True", "watch"),
        ("", "watch"),  # `?watch` alone
    ],
)
def test_request_info_watch_parameter_is_true_unless_false_or_zero(
    watch: str | None, verb: str
) -> None:
    """Convert_Slice_string_To_bool: only no value, "false" (any case) and "0" are false."""
    assert request_info.parse("GET", "/api/v1/pods", watch).verb == verb
