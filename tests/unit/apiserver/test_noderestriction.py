"""NodeRestriction admission (`plugin/pkg/admission/noderestriction/admission.go`): a kubelet
writes only its own Node, Lease and pods, and asks only for tokens bound to its own pods.

The rules are exercised through the real storage the server wires them into (pods, nodes and
leases' validating admission): objects are made as the server itself (no user), then written as
a node, with the user and the request in the context variables the application sets. Where
kubelite differs from Kubernetes, the test states Kubernetes' behaviour and is marked
`xfail(strict=True)` with the difference as its reason (none is, for now).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from apiserver_fixtures import Stores

from kubelite.api import errors, meta
from kubelite.api.types import Obj
from kubelite.apiserver import request_info
from kubelite.apiserver.auth import User, current_request, current_user
from kubelite.apiserver.noderestriction import NodeRestriction
from kubelite.apiserver.rbac.authorizer import AlwaysAllow, Attributes
from kubelite.apiserver.registry import DeleteOptions
from kubelite.apiserver.registry.eviction import EvictionStore
from kubelite.apiserver.registry.generic import ResourceStore
from kubelite.apiserver.registry.status import StatusStore

NS = "default"
N1 = User("system:node:n1", ("system:nodes", "system:authenticated"))
ALICE = User("alice", ("system:authenticated",))
MIRROR = "kubernetes.io/config.mirror"
LEASES_GROUP = "coordination.k8s.io"


@contextlib.contextmanager
def acting(user: User | None, method: str, path: str) -> Iterator[None]:
    """The request as the application sees it: who asks, and what (its path and method)."""
    user_token = current_user.set(user)
    request_token = current_request.set(request_info.parse(method, path))
    try:
        yield
    finally:
        current_request.reset(request_token)
        current_user.reset(user_token)


async def refusal(call: Awaitable[Any]) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as caught:
        await call
    return caught.value


def pod_body(name: str, node: str = "", **spec: Any) -> Obj:
    body: Obj = {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], **spec},
    }
    if node:
        body["spec"]["nodeName"] = node
    return body


def changing(change: Callable[[Obj], object]) -> Callable[[Obj | None], Awaitable[Obj]]:
    async def mutate(current: Obj | None) -> Obj:
        assert current is not None
        change(current)
        current["metadata"].pop("resourceVersion", None)
        return current

    return mutate


def pods_path(name: str = "", subresource: str = "") -> str:
    return "/".join(p for p in (f"/api/v1/namespaces/{NS}/pods", name, subresource) if p)


@pytest.fixture
def pods(stores: Stores) -> ResourceStore:
    return stores.of("pods")


@pytest.fixture
async def node_n1(stores: Stores) -> Obj:
    return await stores.of("nodes").create("", {"metadata": {"name": "n1"}})


@pytest.fixture
async def scheduled(pods: ResourceStore) -> None:
    """`mine` on n1, `theirs` on n2, `waiting` on no node: made by the server itself."""
    await pods.create(NS, pod_body("mine", "n1"))
    await pods.create(NS, pod_body("theirs", "n2"))
    await pods.create(NS, pod_body("waiting"))


def mirror_pod(name: str, node: str, owner: Obj | None = None, **spec: Any) -> Obj:
    body = pod_body(name, node, **spec)
    body["metadata"]["annotations"] = {MIRROR: "hash"}
    if owner is not None:
        body["metadata"]["ownerReferences"] = [owner]
    return body


def node_owner(node: Obj, **fields: Any) -> Obj:
    owner = {
        "apiVersion": "v1",
        "kind": "Node",
        "name": meta.name_of(node),
        "uid": node["metadata"]["uid"],
        "controller": True,
    }
    owner.update(fields)
    return owner


# --- pods: create ---------------------------------------------------------------------------


async def test_node_creates_no_pod_but_a_mirror_pod(pods: ResourceStore) -> None:
    with acting(N1, "POST", pods_path()):
        refused = await refusal(pods.create(NS, pod_body("static", "n1")))
    assert refused.code == 403
    assert refused.message == (
        'pods "static" is forbidden: pod does not have "kubernetes.io/config.mirror" '
        'annotation, node "n1" can only create mirror pods'
    )


@pytest.mark.parametrize(
    "bound_to",
    # Unbound, the pod is also invalid (`must set spec.nodeName if mirror pod annotation is
    # set`): NodeRestriction, a mutating plugin, refuses it before validation.
    ["n2", ""],
)
async def test_node_creates_mirror_pods_bound_to_itself_only(
    pods: ResourceStore, node_n1: Obj, bound_to: str
) -> None:
    with acting(N1, "POST", pods_path()):
        refused = await refusal(
            pods.create(NS, mirror_pod("static", bound_to, node_owner(node_n1)))
        )
    assert refused.message == (
        'pods "static" is forbidden: node "n1" can only create pods with spec.nodeName set to '
        "itself"
    )


async def test_node_creates_its_own_mirror_pod(pods: ResourceStore, node_n1: Obj) -> None:
    with acting(N1, "POST", pods_path()):
        created = await pods.create(NS, mirror_pod("static-n1", "n1", node_owner(node_n1)))
    assert created["metadata"]["annotations"][MIRROR] == "hash"
    assert (await pods.get(NS, "static-n1"))["spec"]["nodeName"] == "n1"


async def test_anyone_else_creates_any_pod(pods: ResourceStore) -> None:
    with acting(ALICE, "POST", pods_path()):
        await pods.create(NS, pod_body("by-alice", "n2"))
    with acting(None, "POST", pods_path()):
        await pods.create(NS, pod_body("by-the-server"))


@pytest.mark.parametrize(
    ("owners", "message"),
    [
        pytest.param(
            lambda node: [],
            'node "n1" can only create pods with an owner reference set to itself',
            id="none",
        ),
        pytest.param(
            lambda node: [
                node_owner(node),
                node_owner(node, name="n2", uid="u2", controller=False),
            ],
            'node "n1" can only create pods with a single owner reference set to itself',
            id="two",
        ),
        pytest.param(
            lambda node: [node_owner(node, name="n2")],
            'node "n1" can only create pods with an owner reference set to itself',
            id="another-node",
        ),
        pytest.param(
            lambda node: [node_owner(node, controller=False)],
            'node "n1" can only create pods with a controller owner reference set to itself',
            id="not-controller",
        ),
        pytest.param(
            lambda node: [node_owner(node, blockOwnerDeletion=True)],
            'node "n1" must not set blockOwnerDeletion on an owner reference',
            id="block-owner-deletion",
        ),
        pytest.param(
            lambda node: [node_owner(node, uid="0badc0de-0000-4000-8000-000000000000")],
            "node n1 UID mismatch: expected 0badc0de-0000-4000-8000-000000000000 got {uid}",
            id="stale-uid",
        ),
    ],
)
async def test_node_mirror_pod_is_owned_by_its_node(
    pods: ResourceStore, node_n1: Obj, owners: Callable[[Obj], list[Obj]], message: str
) -> None:
    body = mirror_pod("static", "n1")
    body["metadata"]["ownerReferences"] = owners(node_n1)
    with acting(N1, "POST", pods_path()):
        refused = await refusal(pods.create(NS, body))
    expected = message.format(uid=node_n1["metadata"]["uid"])
    assert refused.message == f'pods "static" is forbidden: {expected}'


# ServiceAccount admission runs before NodeRestriction (Kubernetes' plugin order), so a mirror
# pod naming an account or a Secret hears its refusal; NodeRestriction's own words for those are
# checked on the plugin alone below.
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"serviceAccountName": "robot"}, "a mirror pod may not reference service accounts"),
        (
            {"volumes": [{"name": "v", "secret": {"secretName": "s"}}]},
            "a mirror pod may not reference secrets",
        ),
        ({"imagePullSecrets": [{"name": "pull"}]}, "a mirror pod may not reference secrets"),
        (
            {"volumes": [{"name": "v", "configMap": {"name": "c"}}]},
            'node "n1" can not create pods that reference configmaps',
        ),
        (
            {"volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]},
            'node "n1" can not create pods that reference persistentvolumeclaims',
        ),
    ],
)
async def test_node_mirror_pod_refers_to_no_other_object(
    pods: ResourceStore, node_n1: Obj, spec: Obj, message: str
) -> None:
    body = mirror_pod("static", "n1", node_owner(node_n1), **spec)
    with acting(N1, "POST", pods_path()):
        refused = await refusal(pods.create(NS, body))
    assert refused.message == f'pods "static" is forbidden: {message}'


@pytest.mark.parametrize(
    ("spec", "what"),
    [
        ({"serviceAccountName": "robot"}, "a service account"),
        ({"volumes": [{"name": "v", "secret": {"secretName": "s"}}]}, "secrets"),
        ({"imagePullSecrets": [{"name": "pull"}]}, "secrets"),
    ],
)
async def test_node_restriction_alone_refuses_mirror_pods_naming_accounts_or_secrets(
    stores: Stores, pods: ResourceStore, node_n1: Obj, spec: Obj, what: str
) -> None:
    pods_resource = pods.resource
    body = mirror_pod("static", "n1", node_owner(node_n1), **spec)
    body["metadata"]["namespace"] = NS
    with acting(N1, "POST", pods_path()):
        refused = await refusal(
            NodeRestriction(stores.store, pods_resource).pods("CREATE", pods_resource, body, None)
        )
    assert refused.message == (
        f'pods "static" is forbidden: node "n1" can not create pods that reference {what}'
    )


@pytest.mark.parametrize(
    ("volume", "what"),
    [
        ({"cephfs": {"monitors": ["m"], "secretRef": {"name": "x"}}}, "secrets"),
        ({"azureFile": {"secretName": "x", "shareName": "s"}}, "secrets"),
        (
            {"projected": {"sources": [{"clusterTrustBundle": {"name": "b", "path": "p"}}]}},
            "clustertrustbundles",
        ),
    ],
)
async def test_node_restriction_alone_refuses_mirror_pods_naming_other_objects(
    restriction: NodeRestriction, node_n1: Obj, volume: Obj, what: str
) -> None:
    body = mirror_pod("static", "n1", node_owner(node_n1), volumes=[{"name": "v", **volume}])
    body["metadata"]["namespace"] = NS
    with acting(N1, "POST", pods_path()):
        refused = await refusal(restriction.pods("CREATE", restriction.pods_resource, body, None))
    assert refused.message == (
        f'pods "static" is forbidden: node "n1" can not create pods that reference {what}'
    )


async def test_node_mirror_pod_may_have_an_ephemeral_volume(
    restriction: NodeRestriction, node_n1: Obj
) -> None:
    """Only a claim the pod names outright is refused: an ephemeral volume's is its own."""
    template = {"spec": {"accessModes": ["ReadWriteOnce"]}}
    volume = {"name": "scratch", "ephemeral": {"volumeClaimTemplate": template}}
    body = mirror_pod("static", "n1", node_owner(node_n1), volumes=[volume])
    body["metadata"]["namespace"] = NS
    with acting(N1, "POST", pods_path()):
        await restriction.pods("CREATE", restriction.pods_resource, body, None)


# --- pods: update, status, delete, eviction -------------------------------------------------


@pytest.mark.parametrize("name", ["mine", "theirs"])
async def test_node_never_updates_a_pod_itself(
    pods: ResourceStore, scheduled: None, name: str
) -> None:
    def relabel(pod: Obj) -> None:
        pod["metadata"].setdefault("labels", {})["x"] = "y"

    with acting(N1, "PUT", pods_path(name)):
        refused = await refusal(pods.update(NS, name, changing(relabel)))
    assert refused.message == (
        f'pods "{name}" is forbidden: unexpected operation "UPDATE", node "n1" can only create '
        "and delete mirror pods"
    )


def _running(pod: Obj) -> None:
    pod["status"] = {"phase": "Running"}


async def test_node_writes_the_status_of_its_own_pods(pods: ResourceStore, scheduled: None) -> None:
    with acting(N1, "PUT", pods_path("mine", "status")):
        updated, _ = await StatusStore(pods).update(NS, "mine", changing(_running))
    assert updated["status"]["phase"] == "Running"


@pytest.mark.parametrize("name", ["theirs", "waiting"])
async def test_node_writes_no_status_of_other_pods(
    pods: ResourceStore, scheduled: None, name: str
) -> None:
    with acting(N1, "PATCH", pods_path(name, "status")):
        refused = await refusal(StatusStore(pods).update(NS, name, changing(_running)))
    assert refused.message == (
        f'pods "{name}" is forbidden: node "n1" can only update pod status for pods with '
        "spec.nodeName set to itself"
    )


async def test_node_changes_no_labels_through_pod_status(
    pods: ResourceStore, scheduled: None
) -> None:
    def relabel(pod: Obj) -> None:
        pod["metadata"]["labels"] = {"app": "trusted"}

    with acting(N1, "PUT", pods_path("mine", "status")):
        refused = await refusal(StatusStore(pods).update(NS, "mine", changing(relabel)))
    assert refused.message == (
        'pods "mine" is forbidden: node "n1" cannot update labels through pod status'
    )


async def test_node_changes_no_resource_claim_statuses(
    pods: ResourceStore, scheduled: None
) -> None:
    def claim(pod: Obj) -> None:
        pod["status"] = {"resourceClaimStatuses": [{"name": "gpu", "resourceClaimName": "x"}]}

    with acting(N1, "PUT", pods_path("mine", "status")):
        refused = await refusal(StatusStore(pods).update(NS, "mine", changing(claim)))
    assert refused.message == (
        'pods "mine" is forbidden: node "n1" cannot update resource claim statues'
    )


async def test_node_writes_no_other_pod_subresource(
    restriction: NodeRestriction, pods: ResourceStore, scheduled: None
) -> None:
    mine = await pods.get(NS, "mine")
    with acting(N1, "PATCH", pods_path("mine", "ephemeralcontainers")):
        refused = await refusal(restriction.pods("UPDATE", pods.resource, mine, mine))
    assert refused.message == (
        'pods "mine" is forbidden: unexpected pod subresource "ephemeralcontainers", only '
        "'status' and 'eviction' are allowed"
    )


async def test_node_deletes_its_own_pods_only(pods: ResourceStore, scheduled: None) -> None:
    with acting(N1, "DELETE", pods_path("theirs")):
        refused = await refusal(pods.delete(NS, "theirs", DeleteOptions(grace_period=0)))
    assert refused.message == (
        'pods "theirs" is forbidden: node "n1" can only delete pods with spec.nodeName set to '
        "itself"
    )
    with acting(N1, "DELETE", pods_path("mine")):
        _, gone = await pods.delete(NS, "mine", DeleteOptions(grace_period=0))
    assert gone


async def test_anyone_else_deletes_and_updates_any_pod(
    pods: ResourceStore, scheduled: None
) -> None:
    with acting(ALICE, "PATCH", pods_path("theirs", "status")):
        await StatusStore(pods).update(NS, "theirs", changing(_running))
    with acting(ALICE, "DELETE", pods_path("theirs")):
        await pods.delete(NS, "theirs", DeleteOptions(grace_period=0))


def _eviction(stores: Stores, pods: ResourceStore) -> EvictionStore:
    return EvictionStore(pods, stores.of("poddisruptionbudgets", "policy"))


def _evict(name: str) -> Obj:
    return {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": name}}


async def test_node_evicts_its_own_pods(
    stores: Stores, pods: ResourceStore, scheduled: None
) -> None:
    with acting(N1, "POST", pods_path("mine", "eviction")):
        _, code = await _eviction(stores, pods).create(NS, "mine", _evict("mine"), {})
    assert code == 201


async def test_node_evicts_no_pod_of_another_node(
    stores: Stores, pods: ResourceStore, scheduled: None
) -> None:
    with acting(N1, "POST", pods_path("theirs", "eviction")):
        refused = await refusal(_eviction(stores, pods).create(NS, "theirs", _evict("theirs"), {}))
    assert refused.message == (
        'pods "theirs" is forbidden: node n1 can only evict pods with spec.nodeName set to itself'
    )


# --- nodes ----------------------------------------------------------------------------------

KUBELET_LABELS = {
    "kubernetes.io/hostname": "n1",
    "kubernetes.io/os": "linux",
    "beta.kubernetes.io/arch": "amd64",
    "topology.kubernetes.io/zone": "z1",
    "node.kubernetes.io/instance-type": "big",
    "kubelet.kubernetes.io/anything": "x",
    "sub.node.kubernetes.io/anything": "x",
    "example.com/team": "a",
    "plain": "x",
}


@pytest.fixture
def nodes(stores: Stores) -> ResourceStore:
    return stores.of("nodes")


async def test_node_registers_itself_with_kubelet_labels(nodes: ResourceStore) -> None:
    with acting(N1, "POST", "/api/v1/nodes"):
        created = await nodes.create("", {"metadata": {"name": "n1", "labels": KUBELET_LABELS}})
    assert created["metadata"]["labels"] == KUBELET_LABELS


async def test_node_registers_no_other_node(nodes: ResourceStore) -> None:
    with acting(N1, "POST", "/api/v1/nodes"):
        refused = await refusal(nodes.create("", {"metadata": {"name": "n2"}}))
    assert refused.code == 403
    assert (
        refused.message == 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    )


async def test_node_registers_without_restricted_labels(nodes: ResourceStore) -> None:
    labels = {
        "node-restriction.kubernetes.io/pool": "secure",
        "a.node-restriction.kubernetes.io/x": "y",
        "node-role.kubernetes.io/control-plane": "",
        "team.k8s.io/x": "y",
        "kubernetes.io/hostname": "n1",
    }
    with acting(N1, "POST", "/api/v1/nodes"):
        refused = await refusal(nodes.create("", {"metadata": {"name": "n1", "labels": labels}}))
    assert refused.message == (
        'nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: '
        "a.node-restriction.kubernetes.io/x, node-restriction.kubernetes.io/pool, "
        "node-role.kubernetes.io/control-plane, team.k8s.io/x"
    )


@pytest.fixture
async def labelled_n1(nodes: ResourceStore) -> Obj:
    """Node n1 as an administrator labelled it."""
    labels = {"node-restriction.kubernetes.io/pool": "secure", "kubernetes.io/hostname": "n1"}
    return await nodes.create("", {"metadata": {"name": "n1", "labels": labels}})


async def test_node_updates_itself_leaving_restricted_labels_alone(
    nodes: ResourceStore, labelled_n1: Obj
) -> None:
    def annotate(node: Obj) -> None:
        node["metadata"]["annotations"] = {"note": "x"}
        node["metadata"]["labels"]["kubernetes.io/hostname"] = "renamed"

    with acting(N1, "PUT", "/api/v1/nodes/n1"):
        updated, _ = await nodes.update("", "n1", changing(annotate))
    assert updated["metadata"]["labels"]["node-restriction.kubernetes.io/pool"] == "secure"


@pytest.mark.parametrize(
    ("change", "forbidden"),
    [
        (
            lambda labels: labels.update({"node-restriction.kubernetes.io/pool": "open"}),
            "node-restriction.kubernetes.io/pool",
        ),
        (
            lambda labels: labels.pop("node-restriction.kubernetes.io/pool"),
            "node-restriction.kubernetes.io/pool",
        ),
        (
            lambda labels: labels.update({"node-role.kubernetes.io/x": "", "k8s.io/y": "z"}),
            "k8s.io/y, node-role.kubernetes.io/x",
        ),
    ],
)
async def test_node_modifies_no_restricted_label(
    nodes: ResourceStore,
    labelled_n1: Obj,
    change: Callable[[dict[str, str]], object],
    forbidden: str,
) -> None:
    with acting(N1, "PUT", "/api/v1/nodes/n1"):
        refused = await refusal(
            nodes.update("", "n1", changing(lambda node: change(node["metadata"]["labels"])))
        )
    assert (
        refused.message == f'nodes "n1" is forbidden: is not allowed to modify labels: {forbidden}'
    )


async def test_node_updates_and_deletes_no_other_node(nodes: ResourceStore) -> None:
    await nodes.create("", {"metadata": {"name": "n2"}})
    with acting(N1, "PUT", "/api/v1/nodes/n2/status"):
        refused = await refusal(
            StatusStore(nodes).update("", "n2", changing(lambda node: node.update(status={})))
        )
    assert (
        refused.message == 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    )
    with acting(N1, "DELETE", "/api/v1/nodes/n2"):
        refused = await refusal(nodes.delete("", "n2", DeleteOptions()))
    assert (
        refused.message == 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"'
    )


async def test_node_deletes_itself(nodes: ResourceStore, labelled_n1: Obj) -> None:
    with acting(N1, "DELETE", "/api/v1/nodes/n1"):
        _, gone = await nodes.delete("", "n1", DeleteOptions())
    assert gone


async def test_anyone_else_labels_any_node(nodes: ResourceStore, labelled_n1: Obj) -> None:
    def relabel(node: Obj) -> None:
        node["metadata"]["labels"]["node-restriction.kubernetes.io/pool"] = "open"

    with acting(ALICE, "PUT", "/api/v1/nodes/n1"):
        await nodes.update("", "n1", changing(relabel))


async def test_node_modifies_no_taints(nodes: ResourceStore, labelled_n1: Obj) -> None:
    def untaint(node: Obj) -> None:
        node.setdefault("spec", {})["taints"] = [{"key": "k", "value": "v", "effect": "NoSchedule"}]

    with acting(N1, "PUT", "/api/v1/nodes/n1"):
        refused = await refusal(nodes.update("", "n1", changing(untaint)))
    assert refused.message == 'nodes "n1" is forbidden: node "n1" is not allowed to modify taints'


async def test_node_registers_without_a_config_source(nodes: ResourceStore) -> None:
    body = {
        "metadata": {"name": "n1"},
        "spec": {"configSource": {"configMap": {"name": "c", "namespace": "kube-system"}}},
    }
    with acting(N1, "POST", "/api/v1/nodes"):
        refused = await refusal(nodes.create("", body))
    assert refused.message == (
        'nodes "n1" is forbidden: node "n1" is not allowed to create pods with a non-nil '
        "configSource"
    )


async def test_node_sets_no_new_config_source(nodes: ResourceStore, labelled_n1: Obj) -> None:
    def configure(node: Obj) -> None:
        node.setdefault("spec", {})["configSource"] = {
            "configMap": {"name": "c", "namespace": "kube-system", "kubeletConfigKey": "k"}
        }

    with acting(N1, "PUT", "/api/v1/nodes/n1"):
        refused = await refusal(nodes.update("", "n1", changing(configure)))
    assert refused.message == (
        'nodes "n1" is forbidden: node "n1" is not allowed to update configSource to a new '
        "non-nil configSource"
    )


async def test_node_writing_an_empty_taint_list_modifies_no_taints(
    nodes: ResourceStore, labelled_n1: Obj
) -> None:
    with acting(N1, "PUT", "/api/v1/nodes/n1"):
        await nodes.update("", "n1", changing(lambda node: node.update(spec={"taints": []})))


# --- leases ---------------------------------------------------------------------------------

LEASE_PATH = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"


def lease(name: str, namespace: str = "kube-node-lease") -> Obj:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"holderIdentity": name}}


@pytest.fixture
def leases(stores: Stores) -> ResourceStore:
    return stores.of("leases", LEASES_GROUP)


async def test_node_creates_its_own_lease(leases: ResourceStore) -> None:
    with acting(N1, "POST", LEASE_PATH):
        created = await leases.create("kube-node-lease", lease("n1"))
    assert meta.name_of(created) == "n1"


async def test_node_creates_no_other_lease(leases: ResourceStore) -> None:
    with acting(N1, "POST", LEASE_PATH):
        refused = await refusal(leases.create("kube-node-lease", lease("n2")))
    assert refused.message == (
        'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same '
        "name as the requesting node"
    )


async def test_node_updates_its_own_lease(leases: ResourceStore) -> None:
    await leases.create("kube-node-lease", lease("n1"))

    def renew(obj: Obj) -> None:
        obj["spec"]["leaseDurationSeconds"] = 40

    with acting(N1, "PUT", f"{LEASE_PATH}/n1"):
        updated, _ = await leases.update("kube-node-lease", "n1", changing(renew))
    assert updated["spec"]["leaseDurationSeconds"] == 40


async def test_node_without_a_name_writes_nothing(leases: ResourceStore) -> None:
    nameless = User("system:node:", ("system:nodes", "system:authenticated"))
    with acting(nameless, "POST", LEASE_PATH):
        refused = await refusal(leases.create("kube-node-lease", lease("x")))
    assert refused.message == (
        'leases.coordination.k8s.io "x" is forbidden: could not determine node from user '
        '"system:node:"'
    )


async def test_anyone_else_creates_any_lease(leases: ResourceStore) -> None:
    with acting(ALICE, "POST", LEASE_PATH):
        await leases.create("kube-node-lease", lease("n2"))


async def test_node_creates_leases_in_kube_node_lease_only(leases: ResourceStore) -> None:
    with acting(N1, "POST", "/apis/coordination.k8s.io/v1/namespaces/default/leases"):
        refused = await refusal(leases.create(NS, lease("n1", NS)))
    assert refused.message == (
        'leases.coordination.k8s.io "n1" is forbidden: can only access leases in the '
        '"kube-node-lease" system namespace'
    )


async def test_node_updates_no_other_lease(leases: ResourceStore) -> None:
    await leases.create("kube-node-lease", lease("n2"))

    def steal(obj: Obj) -> None:
        obj["spec"]["holderIdentity"] = "n1"

    with acting(N1, "PUT", f"{LEASE_PATH}/n2"):
        refused = await refusal(leases.update("kube-node-lease", "n2", changing(steal)))
    assert refused.message == (
        'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same '
        "name as the requesting node"
    )


async def test_node_deletes_no_other_lease(leases: ResourceStore) -> None:
    await leases.create("kube-node-lease", lease("n2"))
    with acting(N1, "DELETE", f"{LEASE_PATH}/n2"):
        refused = await refusal(leases.delete("kube-node-lease", "n2", DeleteOptions()))
    assert refused.message == (
        'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same '
        "name as the requesting node"
    )


# --- serviceaccounts/token ------------------------------------------------------------------


@pytest.fixture
def restriction(stores: Stores, pods: ResourceStore) -> NodeRestriction:
    return NodeRestriction(stores.store, pods.resource)


def token_request(name: str = "mine", uid: str | None = "", **spec: Any) -> Obj:
    ref: Obj = {"apiVersion": "v1", "kind": "Pod", "name": name}
    if uid is not None:
        ref["uid"] = uid
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"boundObjectRef": ref, **spec},
    }


TOKEN_PATH = f"/api/v1/namespaces/{NS}/serviceaccounts/default/token"


async def _uid(pods: ResourceStore, name: str) -> str:
    uid: str = (await pods.get(NS, name))["metadata"]["uid"]
    return uid


async def test_node_token_bound_to_its_own_pod(
    restriction: NodeRestriction, pods: ResourceStore, scheduled: None
) -> None:
    body = token_request("mine", await _uid(pods, "mine"))
    with acting(N1, "POST", TOKEN_PATH):
        await restriction.token(NS, "default", body)


@pytest.mark.parametrize("name", ["theirs", "waiting"])
async def test_node_token_bound_to_another_nodes_pod(
    restriction: NodeRestriction, pods: ResourceStore, scheduled: None, name: str
) -> None:
    body = token_request(name, await _uid(pods, name))
    with acting(N1, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", body))
    assert refused.code == 403
    assert refused.message == (
        'serviceaccounts "default" is forbidden: node requested token bound to a pod scheduled '
        "on a different node"
    )


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"boundObjectRef": None},
        {"boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": "s", "uid": "u"}},
        {"boundObjectRef": {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u"}},
    ],
)
async def test_node_token_not_bound_to_a_pod(
    restriction: NodeRestriction, scheduled: None, spec: Obj
) -> None:
    with acting(N1, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", {"spec": spec}))
    assert refused.message == (
        'serviceaccounts "default" is forbidden: node requested token not bound to a pod'
    )


async def test_node_token_bound_to_a_pod_of_another_uid(
    restriction: NodeRestriction, scheduled: None
) -> None:
    body = token_request("mine", "0badc0de-0000-4000-8000-000000000000")
    with acting(N1, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", body))
    assert refused.code == 403
    assert refused.message.startswith(
        'serviceaccounts "default" is forbidden: the UID in the bound object reference'
    )


async def test_anyone_elses_token_requests_pass(restriction: NodeRestriction) -> None:
    for user in (ALICE, None):
        with acting(user, "POST", TOKEN_PATH):
            await restriction.token(NS, "default", {"spec": {}})


@pytest.mark.parametrize(
    "ref",
    [
        {"apiVersion": "v2", "kind": "Pod", "name": "mine", "uid": "u"},
        {"apiVersion": "v1", "kind": "Pod", "name": "", "uid": "u"},
    ],
)
async def test_node_token_bound_to_a_v1_pod_by_name(
    restriction: NodeRestriction, scheduled: None, ref: Obj
) -> None:
    with acting(N1, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", {"spec": {"boundObjectRef": ref}}))
    assert refused.message == (
        'serviceaccounts "default" is forbidden: node requested token not bound to a pod'
    )


async def test_node_token_binding_names_the_pods_uid(
    restriction: NodeRestriction, scheduled: None
) -> None:
    with acting(N1, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", token_request("mine", None)))
    assert refused.message == (
        'serviceaccounts "default" is forbidden: node requested token with a pod binding without '
        "a uid"
    )


async def test_node_token_bound_to_a_missing_pod_is_not_found(
    restriction: NodeRestriction, scheduled: None
) -> None:
    with acting(N1, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", token_request("ghost", "u")))
    assert (refused.code, refused.message) == (404, 'pods "ghost" not found')


async def test_node_token_uid_mismatch_message(
    restriction: NodeRestriction, scheduled: None
) -> None:
    stale = "0badc0de-0000-4000-8000-000000000000"
    with acting(N1, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", token_request("mine", stale)))
    assert refused.message == (
        f'serviceaccounts "default" is forbidden: the UID in the bound object reference ({stale}) '
        "does not match the UID in record. The object might have been deleted and then recreated"
    )


@pytest.mark.parametrize(
    ("audiences", "message"),
    [
        (["a", "b"], "node may only request 0 or 1 audiences"),
        (
            ["vault"],
            'audience "vault" not found in pod spec volume, system:node:n1 is not authorized '
            "to request tokens for this audience",
        ),
    ],
)
async def test_node_token_audiences_are_those_of_the_pod(
    restriction: NodeRestriction,
    pods: ResourceStore,
    scheduled: None,
    audiences: list[str],
    message: str,
) -> None:
    body = token_request("mine", await _uid(pods, "mine"), audiences=audiences)
    with acting(N1, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", body))
    assert refused.message == f'serviceaccounts "default" is forbidden: {message}'


async def test_node_token_for_an_audience_a_projected_volume_of_the_pod_uses(
    restriction: NodeRestriction, pods: ResourceStore
) -> None:
    volume = {
        "name": "vault-token",
        "projected": {"sources": [{"serviceAccountToken": {"path": "t", "audience": "vault"}}]},
    }
    await pods.create(NS, pod_body("vaulted", "n1", volumes=[volume]))
    body = token_request("vaulted", await _uid(pods, "vaulted"), audiences=["vault"])
    with acting(N1, "POST", TOKEN_PATH):
        await restriction.token(NS, "default", body)


class _Granting(AlwaysAllow):
    """Grants everything, and remembers what it was asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[Attributes] = []

    def decide(self, attrs: Attributes) -> tuple[bool, str]:
        self.asked.append(attrs)
        return True, ""


async def test_node_token_for_an_audience_it_is_granted(
    stores: Stores, pods: ResourceStore, scheduled: None
) -> None:
    granting = _Granting()
    restriction = NodeRestriction(stores.store, pods.resource, granting)
    body = token_request("mine", await _uid(pods, "mine"), audiences=["registry"])
    with acting(N1, "POST", TOKEN_PATH):
        await restriction.token(NS, "default", body)
    (asked,) = granting.asked
    assert (asked.user, asked.verb, asked.namespace, asked.group, asked.resource, asked.name) == (
        N1,
        "request-serviceaccounts-token-audience",
        NS,
        "",
        "registry",
        "default",
    )


async def test_nameless_node_asks_for_no_token(restriction: NodeRestriction) -> None:
    nameless = User("system:node:", ("system:nodes", "system:authenticated"))
    with acting(nameless, "POST", TOKEN_PATH):
        refused = await refusal(restriction.token(NS, "default", token_request("mine", "u")))
    assert refused.message == (
        'serviceaccounts "default" is forbidden: could not determine node from user "system:node:"'
    )
