"""kubectl's typed clients send protobuf bodies (kubectl 1.32 and later); kubelite stores them.

Each command below posts `application/vnd.kubernetes.protobuf` from kubectl 1.32 and 1.33 (`run`
and `expose` post JSON and are here to show both forms give the same objects); the objects are
then read back with `kubectl get -o json`.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from cluster import Cluster
from tests import kubectl_builds

from kubelite.api.protobuf import MEDIA_TYPE

PROTOBUF_VERSIONS = ("1.32", "1.33", kubectl_builds.NEWEST)


def _get(cluster: Cluster, *args: str) -> dict[str, Any]:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


@pytest.mark.parametrize("kubectl_version", PROTOBUF_VERSIONS)
def test_create_namespace(cluster: Cluster, kubectl_version: str) -> None:
    name = f"pb-ns-{kubectl_version.replace('.', '-')}"
    out = cluster.kubectl("create", "namespace", name, version=kubectl_version)
    assert out.stdout.strip() == f"namespace/{name} created"
    namespace = _get(cluster, "namespace", name)
    assert namespace["metadata"]["name"] == name
    assert namespace["status"]["phase"] == "Active"


@pytest.mark.parametrize("kubectl_version", PROTOBUF_VERSIONS)
def test_create_configmap_from_literals_and_a_file(
    cluster: Cluster, namespace: str, kubectl_version: str, tmp_path: Path
) -> None:
    logo = tmp_path / "logo.bin"
    logo.write_bytes(b"\x00\x01\x02\xff\xfe")
    cluster.kubectl(
        "create",
        "configmap",
        "web-config",
        "-n",
        namespace,
        "--from-literal=greeting=hello",
        "--from-literal=empty=",
        f"--from-file=logo.bin={logo}",
        version=kubectl_version,
    )
    configmap = _get(cluster, "configmap", "web-config", "-n", namespace)
    assert configmap["data"] == {"greeting": "hello", "empty": ""}
    assert configmap["binaryData"] == {"logo.bin": "AAEC//4="}


@pytest.mark.parametrize("kubectl_version", PROTOBUF_VERSIONS)
def test_create_secret_generic(cluster: Cluster, namespace: str, kubectl_version: str) -> None:
    cluster.kubectl(
        "create",
        "secret",
        "generic",
        "web-secret",
        "-n",
        namespace,
        "--from-literal=password=hunter2",
        version=kubectl_version,
    )
    secret = _get(cluster, "secret", "web-secret", "-n", namespace)
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"
    assert secret["type"] == "Opaque"


@pytest.mark.parametrize("kubectl_version", PROTOBUF_VERSIONS)
def test_create_serviceaccount(cluster: Cluster, namespace: str, kubectl_version: str) -> None:
    cluster.kubectl("create", "serviceaccount", "web-sa", "-n", namespace, version=kubectl_version)
    assert (
        _get(cluster, "serviceaccount", "web-sa", "-n", namespace)["metadata"]["name"] == "web-sa"
    )


@pytest.mark.parametrize("kubectl_version", PROTOBUF_VERSIONS)
def test_create_service_clusterip_with_int_and_named_target_ports(
    cluster: Cluster, namespace: str, kubectl_version: str
) -> None:
    cluster.kubectl(
        "create",
        "service",
        "clusterip",
        "web-svc",
        "-n",
        namespace,
        "--tcp=80:8080",
        "--tcp=443:https",
        version=kubectl_version,
    )
    spec = _get(cluster, "service", "web-svc", "-n", namespace)["spec"]
    ports = [(p["name"], p["port"], p["targetPort"], p["protocol"]) for p in spec["ports"]]
    assert ports == [("80-8080", 80, 8080, "TCP"), ("443-https", 443, "https", "TCP")]
    assert spec["selector"] == {"app": "web-svc"}
    assert spec["type"] == "ClusterIP"


@pytest.mark.parametrize("kubectl_version", PROTOBUF_VERSIONS)
def test_create_deployment_then_expose_it(
    cluster: Cluster, namespace: str, kubectl_version: str
) -> None:
    cluster.kubectl(
        "create",
        "deployment",
        "web",
        "-n",
        namespace,
        "--image=nginx",
        "--port=80",
        "--replicas=2",
        version=kubectl_version,
    )
    deployment = _get(cluster, "deployment", "web", "-n", namespace)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert (container["name"], container["image"]) == ("nginx", "nginx")
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]

    cluster.kubectl(
        "expose", "deployment", "web", "-n", namespace, "--port=8080", "--target-port=80"
    )
    service = _get(cluster, "service", "web", "-n", namespace)
    assert service["spec"]["selector"] == {"app": "web"}
    assert [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(8080, 80)]


@pytest.mark.parametrize("kubectl_version", PROTOBUF_VERSIONS)
def test_run_a_pod(cluster: Cluster, namespace: str, kubectl_version: str) -> None:
    cluster.kubectl(
        "run",
        "web",
        "-n",
        namespace,
        "--image=nginx",
        "--port=80",
        "--labels=a=b",
        "--env=X=1",
        "--",
        "sleep",
        "10",
        version=kubectl_version,
    )
    pod = _get(cluster, "pod", "web", "-n", namespace)
    assert pod["metadata"]["labels"] == {"a": "b"}
    container = pod["spec"]["containers"][0]
    assert container["args"] == ["sleep", "10"]
    assert container["env"] == [{"name": "X", "value": "1"}]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


@pytest.mark.parametrize("kubectl_version", PROTOBUF_VERSIONS)
def test_drain_without_eviction_deletes_with_protobuf_delete_options(
    cluster: Cluster, namespace: str, kubectl_version: str
) -> None:
    node = f"pb-node-{kubectl_version.replace('.', '-')}"
    cluster.kubectl(
        "create",
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node}}),
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "doomed", "namespace": namespace},
        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
    }
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(pod))
    # --grace-period=0 sends DeleteOptions{gracePeriodSeconds: 0}: a zero that must survive.
    cluster.kubectl(
        "drain",
        node,
        "--force",
        "--disable-eviction",
        "--grace-period=0",
        "--timeout=20s",
        version=kubectl_version,
    )
    gone = cluster.kubectl("get", "pod", "doomed", "-n", namespace, check=False)
    assert "NotFound" in gone.stderr


def test_a_body_that_is_not_protobuf_is_a_bad_request(cluster: Cluster) -> None:
    status, body, _ = cluster.request(
        "POST", "/api/v1/namespaces", b'{"kind":"Namespace"}', content_type=MEDIA_TYPE
    )
    assert status == 400
    assert body["reason"] == "BadRequest"
    assert body["message"] == (
        "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
    )
