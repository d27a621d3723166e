"""What every namespace gets from the controller manager: the `default` ServiceAccount and the
`kube-root-ca.crt` ConfigMap holding the cluster's CA, kept there if someone removes them."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import yaml
from cluster import Cluster


def _wait(what: str, check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _get(cluster: Cluster, *args: str) -> dict | None:
    done = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(done.stdout) if done.returncode == 0 else None


def _cluster_ca(cluster: Cluster) -> str:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    return base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"]).decode()


def test_a_new_namespace_gets_a_default_service_account(cluster: Cluster, namespace: str) -> None:
    account = _wait(
        "the default ServiceAccount", lambda: _get(cluster, "sa", "default", "-n", namespace)
    )
    assert account["metadata"]["namespace"] == namespace
    cluster.kubectl("delete", "sa", "default", "-n", namespace)
    again = _wait(
        "the default ServiceAccount again",
        lambda: (
            (sa := _get(cluster, "sa", "default", "-n", namespace))
            and sa["metadata"]["uid"] != account["metadata"]["uid"]
            and sa
        ),
    )
    assert again["metadata"]["name"] == "default"


def test_every_namespace_gets_the_cluster_ca_and_keeps_it(cluster: Cluster, namespace: str) -> None:
    config_map = _wait(
        "kube-root-ca.crt", lambda: _get(cluster, "configmap", "kube-root-ca.crt", "-n", namespace)
    )
    assert config_map["data"]["ca.crt"] == _cluster_ca(cluster)
    assert "kubernetes.io/description" in config_map["metadata"]["annotations"]
    cluster.kubectl(
        "patch",
        "configmap",
        "kube-root-ca.crt",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"data":{"ca.crt":"tampered"}}',
    )
    _wait(
        "the CA to be put back",
        lambda: (
            (cm := _get(cluster, "configmap", "kube-root-ca.crt", "-n", namespace))
            and cm["data"]["ca.crt"] == _cluster_ca(cluster)
        ),
    )
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert _get(cluster, "configmap", "kube-root-ca.crt", "-n", name) is not None
