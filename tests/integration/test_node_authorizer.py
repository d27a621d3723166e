"""The Node authorizer and NodeRestriction against a real server, with the real kubectl.

A kubelet's credentials (`system:node:<name>` in `system:nodes`) read the Secrets and
ConfigMaps of pods bound to their node and of no other; list pods only with the
`spec.nodeName=<own>` selector; write the status of their own pods, their own Node and Lease;
and nothing else, in Kubernetes' words.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.integration.cluster import Cluster, kubectl_binary, wait_for


def _node_kubectl(cluster: Cluster, tmp_path: Path, node: str):  # type: ignore[no-untyped-def]
    path = tmp_path / f"{node}.kubeconfig"
    cluster.kubelite(
        "kubeconfig", "--user", f"system:node:{node}", "--group", "system:nodes",
        "--data-dir", str(cluster.data_dir), "-o", str(path),
    )  # fmt: skip

    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = cluster.env()
        env["KUBECONFIG"] = str(path)
        return subprocess.run(
            [kubectl_binary(), *args], input=stdin, capture_output=True, text=True,
            env=env, timeout=60,
        )  # fmt: skip

    return kubectl


def _pod(name: str, node: str, secret: str) -> str:
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name},
            "spec": {
                "nodeName": node,
                "containers": [
                    {
                        "name": "c",
                        "image": "busybox",
                        "env": [
                            {
                                "name": "S",
                                "valueFrom": {"secretKeyRef": {"name": secret, "key": "k"}},
                            }
                        ],
                    }
                ],
            },
        }
    )


def test_a_node_reads_only_what_its_own_pods_need(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    for secret in ("mine", "theirs"):
        cluster.kubectl(
            "create", "secret", "generic", secret, "--from-literal=k=v", "-n", namespace
        )
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=_pod("here", "node-a", "mine"))
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=_pod("there", "node-b", "theirs"))
    node_a = _node_kubectl(cluster, tmp_path, "node-a")
    wait_for(
        "node-a to read its pod's secret",
        lambda: node_a("get", "secret", "mine", "-n", namespace).returncode == 0,
    )
    refused = node_a("get", "secret", "theirs", "-n", namespace)
    assert (
        f'Error from server (Forbidden): secrets "theirs" is forbidden: User "system:node:node-a" '
        f'cannot get resource "secrets" in API group "" in the namespace "{namespace}": no '
        "relationship found between node 'node-a' and this object"
    ) in refused.stderr
    everything = node_a("get", "pods", "-n", namespace)
    assert "can only list/watch pods with spec.nodeName field selector" in everything.stderr
    own = node_a(
        "get", "pods", "-n", namespace, "--field-selector=spec.nodeName=node-a", "-o", "name"
    )
    assert own.stdout.split() == ["pod/here"]
    other_node = node_a("get", "node", "node-b")
    assert "node 'node-a' cannot read 'node-b', only its own Node object" in other_node.stderr


def test_node_restriction_holds_a_kubelet_to_its_own_objects(
    cluster: Cluster, namespace: str, tmp_path: Path
) -> None:
    cluster.kubectl("create", "secret", "generic", "s", "--from-literal=k=v", "-n", namespace)
    cluster.kubectl("create", "-n", namespace, "-f", "-", stdin=_pod("theirs", "node-b", "s"))
    node_a = _node_kubectl(cluster, tmp_path, "node-a")
    # kubectl patch would first read pods/status, which a node may not: PUT it raw.
    pod = json.loads(cluster.kubectl("get", "pod", "theirs", "-n", namespace, "-o", "json").stdout)
    pod["status"]["message"] = "mine now"
    body = tmp_path / "status.json"
    body.write_text(json.dumps(pod))
    path = f"/api/v1/namespaces/{namespace}/pods/theirs/status"
    refused = node_a("replace", "--raw", path, "-f", str(body))
    assert (
        'pods "theirs" is forbidden: node "node-a" can only update pod status for pods with '
        "spec.nodeName set to itself"
    ) in refused.stderr
    deleted = node_a("delete", "pod", "theirs", "-n", namespace, "--wait=false")
    assert (
        'pods "theirs" is forbidden: node "node-a" can only delete pods with spec.nodeName set '
        "to itself"
    ) in deleted.stderr
    node = json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-c"}})
    other = node_a("create", "-f", "-", stdin=node)
    assert 'nodes "node-c" is forbidden: node "node-a" is not allowed to modify node "node-c"' in (
        other.stderr
    )
    own = json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": "node-a",
                "labels": {"node-restriction.kubernetes.io/pci": "true"},
            },
        }
    )
    labelled = node_a("create", "-f", "-", stdin=own)
    assert (
        'nodes "node-a" is forbidden: node "node-a" is not allowed to set the following labels: '
        "node-restriction.kubernetes.io/pci"
    ) in labelled.stderr
