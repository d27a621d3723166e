"""Cascading deletion through the real kubectl: `--cascade=background|foreground|orphan`.

The API server records the cascade a DELETE asks for as a finalizer and the garbage collector
in the server's controller manager carries it out, as in Kubernetes: dependents are the objects
whose metadata.ownerReferences name the owner's uid.
"""

from __future__ import annotations

import json
from typing import Any

from cluster import Cluster

Obj = dict[str, Any]
WAIT = "--timeout=30s"

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
        },
    },
}


def _create(cluster: Cluster, namespace: str, obj: Obj) -> Obj:
    out = cluster.kubectl("create", "-n", namespace, "-o", "json", "-f", "-", stdin=json.dumps(obj))
    return json.loads(out.stdout)


def _get(cluster: Cluster, namespace: str, what: str) -> Obj:
    return json.loads(cluster.kubectl("get", what, "-n", namespace, "-o", "json").stdout)


def _exists(cluster: Cluster, namespace: str, what: str) -> bool:
    result = cluster.kubectl("get", what, "-n", namespace, "-o", "name", check=False)
    if result.returncode != 0:
        assert "NotFound" in result.stderr, result.stderr
    return result.returncode == 0


def owner_ref(owner: Obj, *, block: bool = False) -> Obj:
    ref = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def configmap(name: str, *owners: Obj, finalizers: tuple[str, ...] = ()) -> Obj:
    md: Obj = {"name": name, "ownerReferences": list(owners)}
    if finalizers:
        md["finalizers"] = list(finalizers)
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": {"k": name}}


def test_background_cascade_deletes_the_dependents(cluster: Cluster, namespace: str):
    owner = _create(cluster, namespace, DEPLOYMENT)
    keeper = _create(cluster, namespace, configmap("keeper"))
    _create(cluster, namespace, configmap("one", owner_ref(owner)))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "two", "ownerReferences": [owner_ref(owner, block=True)]},
    }
    _create(cluster, namespace, secret)
    # A dependent with another owner that remains is kept, without the reference to the gone one.
    _create(cluster, namespace, configmap("shared", owner_ref(owner), owner_ref(keeper)))

    out = cluster.kubectl("delete", "deployment", "web", "-n", namespace, "--cascade=background")
    assert out.stdout.strip() == cluster.kubectl_build().deleted('deployment.apps "web"', namespace)
    assert not _exists(cluster, namespace, "deployment/web")
    cluster.kubectl("wait", "--for=delete", "-n", namespace, "configmap/one", "secret/two", WAIT)
    cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "configmap/shared",
        "--for=jsonpath={.metadata.ownerReferences[*].name}=keeper",
        WAIT,
    )
    shared = _get(cluster, namespace, "configmap/shared")
    assert shared["metadata"]["ownerReferences"] == [owner_ref(keeper)]


def test_the_owner_is_matched_by_uid_not_by_name(cluster: Cluster, namespace: str):
    first = _create(cluster, namespace, configmap("owner"))
    _create(cluster, namespace, configmap("child", owner_ref(first)))
    cluster.kubectl("delete", "configmap", "owner", "-n", namespace)
    # A new object under the owner's name is not the owner the dependent named.
    _create(cluster, namespace, configmap("owner"))
    cluster.kubectl("wait", "--for=delete", "-n", namespace, "configmap/child", WAIT)
    assert _exists(cluster, namespace, "configmap/owner")


def test_foreground_cascade_keeps_the_owner_until_blocking_dependents_are_gone(
    cluster: Cluster, namespace: str
):
    owner = _create(cluster, namespace, DEPLOYMENT)
    _create(cluster, namespace, configmap("plain", owner_ref(owner, block=True)))
    # A finalizer of its own holds this dependent, and with it the owner.
    held = configmap("held", owner_ref(owner, block=True), finalizers=("example.com/hold",))
    _create(cluster, namespace, held)

    out = cluster.kubectl(
        "delete", "deployment", "web", "-n", namespace, "--cascade=foreground", "--wait=false"
    )
    assert out.stdout.strip() == cluster.kubectl_build().deleted('deployment.apps "web"', namespace)
    cluster.kubectl("wait", "--for=delete", "-n", namespace, "configmap/plain", WAIT)
    cluster.kubectl(
        "wait",
        "-n",
        namespace,
        "configmap/held",
        "--for=jsonpath={.metadata.deletionTimestamp}",
        WAIT,
    )
    deployment = _get(cluster, namespace, "deployment/web")
    assert deployment["metadata"]["deletionTimestamp"]
    assert deployment["metadata"]["finalizers"] == ["foregroundDeletion"]

    cluster.kubectl(
        "patch",
        "configmap",
        "held",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
    )
    cluster.kubectl("wait", "--for=delete", "-n", namespace, "deployment/web", WAIT)


def test_orphan_cascade_leaves_the_dependents_without_the_reference(
    cluster: Cluster, namespace: str
):
    owner = _create(cluster, namespace, DEPLOYMENT)
    other = _create(cluster, namespace, configmap("other"))
    _create(cluster, namespace, configmap("alone", owner_ref(owner, block=True)))
    _create(cluster, namespace, configmap("both", owner_ref(owner), owner_ref(other)))

    # kubectl waits until the owner is gone, which is after the dependents were let go.
    out = cluster.kubectl("delete", "deployment", "web", "-n", namespace, "--cascade=orphan")
    assert out.stdout.strip() == cluster.kubectl_build().deleted('deployment.apps "web"', namespace)
    assert not _exists(cluster, namespace, "deployment/web")
    alone = _get(cluster, namespace, "configmap/alone")
    assert "ownerReferences" not in alone["metadata"]
    both = _get(cluster, namespace, "configmap/both")
    assert both["metadata"]["ownerReferences"] == [owner_ref(other)]


def test_a_cluster_scoped_owner_may_own_namespaced_objects(cluster: Cluster, namespace: str):
    owner_ns = f"{namespace}-owner"
    cluster.kubectl("create", "namespace", owner_ns)
    owner = _get(cluster, "default", f"namespace/{owner_ns}")
    _create(cluster, namespace, configmap("owned", owner_ref(owner)))
    cluster.kubectl("delete", "namespace", owner_ns, WAIT)
    cluster.kubectl("wait", "--for=delete", "-n", namespace, "configmap/owned", WAIT)
