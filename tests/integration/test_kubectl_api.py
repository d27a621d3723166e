"""kubectl against the API's machinery: patches, server-side apply, discovery, OpenAPI, metrics."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from cluster import KUBECTL_VERSIONS, Cluster

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: mydeployment
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: nginx
        image: nginx
        ports:
        - containerPort: 80
"""

CONFIGMAP = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {"name": "settings"},
    "data": {"a": "1", "b": "2"},
}


def _get(cluster: Cluster, namespace: str, what: str) -> dict:
    return json.loads(cluster.kubectl("get", what, "-n", namespace, "-o", "json").stdout)


@pytest.mark.parametrize("patch_type", ["strategic", "merge", "json"])
def test_kubectl_patch_of_every_type(cluster: Cluster, namespace: str, patch_type: str):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=DEPLOYMENT)
    containers = [{"name": "nginx", "image": "nginx:1.27"}]
    patch = json.dumps(
        {
            "strategic": {"spec": {"template": {"spec": {"containers": containers}}}},
            "merge": {"spec": {"template": {"spec": {"containers": containers}}}},
            "json": [
                {
                    "op": "replace",
                    "path": "/spec/template/spec/containers/0/image",
                    "value": "nginx:1.27",
                }
            ],
        }[patch_type]
    )
    out = cluster.kubectl(
        "patch", "deployment", "mydeployment", "-n", namespace, "--type", patch_type, "-p", patch
    )
    assert out.stdout.strip() == "deployment.apps/mydeployment patched"
    deployment = _get(cluster, namespace, "deployment/mydeployment")
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert [c["image"] for c in containers] == ["nginx:1.27"]
    # A merge patch replaces the list: the container keeps only what the patch gave it,
    # then defaults fill the rest again; a strategic merge keeps the port.
    ports = containers[0].get("ports")
    assert (ports is None) == (patch_type == "merge")
    assert deployment["metadata"]["generation"] == 2


def test_server_side_apply_with_kubectl_and_its_conflicts(cluster: Cluster, namespace: str):
    out = cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", stdin=DEPLOYMENT)
    assert out.stdout.strip() == "deployment.apps/mydeployment serverside-applied"
    deployment = json.loads(
        cluster.kubectl(
            "get", "deployment/mydeployment", "-n", namespace, "-o", "json", "--show-managed-fields"
        ).stdout
    )
    managers = {(m["manager"], m["operation"]) for m in deployment["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    cluster.kubectl("scale", "deployment", "mydeployment", "-n", namespace, "--replicas=5")
    conflict = cluster.kubectl(
        "apply", "--server-side", "-n", namespace, "-f", "-", stdin=DEPLOYMENT, check=False
    )
    assert conflict.returncode == 1
    assert "Apply failed with 1 conflict" in conflict.stderr
    assert ".spec.replicas" in conflict.stderr
    forced = cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", stdin=DEPLOYMENT
    )
    assert "serverside-applied" in forced.stdout
    assert _get(cluster, namespace, "deployment/mydeployment")["spec"]["replicas"] == 3


def test_dry_run_server_validates_and_stores_nothing(cluster: Cluster, namespace: str):
    out = cluster.kubectl(
        "apply", "--dry-run=server", "-n", namespace, "-f", "-", stdin=json.dumps(CONFIGMAP)
    )
    assert out.stdout.strip() == "configmap/settings created (server dry run)"
    missing = cluster.kubectl("get", "configmap", "settings", "-n", namespace, check=False)
    assert missing.returncode == 1 and "NotFound" in missing.stderr


@pytest.mark.parametrize("kubectl_version", KUBECTL_VERSIONS)
def test_api_resources_lists_names_short_names_and_kinds(cluster: Cluster, kubectl_version: str):
    lines = cluster.kubectl("api-resources", version=kubectl_version).stdout.splitlines()
    rows = {tuple(line.split()) for line in lines[1:]}
    assert ("pods", "po", "v1", "true", "Pod") in rows
    assert ("deployments", "deploy", "apps/v1", "true", "Deployment") in rows
    assert ("namespaces", "ns", "v1", "false", "Namespace") in rows
    assert ("leases", "coordination.k8s.io/v1", "true", "Lease") in rows
    assert ("apiservices", "apiregistration.k8s.io/v1", "false", "APIService") in rows


API_SERVICE = """
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata:
  name: v1alpha1.wardle.example.com
spec:
  group: wardle.example.com
  version: v1alpha1
  groupPriorityMinimum: 1000
  versionPriority: 15
  insecureSkipTLSVerify: true
  service:
    namespace: wardle
    name: api
"""


def test_kubectl_applies_gets_and_deletes_an_api_service(cluster: Cluster):
    """Stored and served, cluster-scoped, with the aggregator's table; nothing is proxied."""
    out = cluster.kubectl("apply", "-f", "-", stdin=API_SERVICE).stdout
    assert out.strip() == "apiservice.apiregistration.k8s.io/v1alpha1.wardle.example.com created"
    table = cluster.kubectl("get", "apiservices").stdout.splitlines()
    assert table[0].split() == ["NAME", "SERVICE", "AVAILABLE", "AGE"]
    assert table[1].split()[:3] == ["v1alpha1.wardle.example.com", "wardle/api", "Unknown"]
    stored = json.loads(
        cluster.kubectl("get", "apiservice", "v1alpha1.wardle.example.com", "-o", "json").stdout
    )
    assert stored["spec"]["service"]["port"] == 443
    changed = API_SERVICE.replace("versionPriority: 15", "versionPriority: 16")
    out = cluster.kubectl("apply", "-f", "-", stdin=changed).stdout
    assert out.strip().endswith("configured")
    bad = cluster.kubectl(
        "apply", "-f", "-", stdin=API_SERVICE.replace("name: v1alpha1.", "name: v1."), check=False
    )
    assert bad.returncode == 1
    assert (
        'metadata.name: Invalid value: "v1.wardle.example.com": '
        'must be `spec.version+"."+spec.group`: "v1alpha1.wardle.example.com"' in bad.stderr
    )
    out = cluster.kubectl("delete", "apiservice", "v1alpha1.wardle.example.com").stdout
    assert out.strip() == 'apiservice.apiregistration.k8s.io "v1alpha1.wardle.example.com" deleted'


def test_get_all_uses_the_all_category(cluster: Cluster, namespace: str):
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=DEPLOYMENT)
    out = cluster.kubectl("get", "all", "-n", namespace, "-o", "name").stdout.split()
    assert "deployment.apps/mydeployment" in out


@pytest.mark.parametrize("kubectl_version", KUBECTL_VERSIONS)
def test_explain_reads_the_schema(cluster: Cluster, kubectl_version: str):
    out = cluster.kubectl("explain", "pod.spec.containers.ports", version=kubectl_version).stdout
    assert "containerPort" in out and "ContainerPort" in out


def test_openapi_v3_offers_field_validation_for_patch(cluster: Cluster):
    index = json.loads(cluster.kubectl("get", "--raw", "/openapi/v3").stdout)
    url = index["paths"]["api/v1"]["serverRelativeURL"]
    doc = json.loads(cluster.kubectl("get", "--raw", url).stdout)
    patch = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]["patch"]
    assert {p["name"] for p in patch["parameters"]} >= {"fieldValidation", "fieldManager"}
    assert patch["x-kubernetes-group-version-kind"] == {"group": "", "version": "v1", "kind": "Pod"}
    containers = doc["components"]["schemas"]["io.k8s.api.core.v1.PodSpec"]["properties"][
        "containers"
    ]
    assert containers["x-kubernetes-patch-merge-key"] == "name"


def test_deleting_a_namespace_empties_it_then_removes_it(cluster: Cluster):
    cluster.kubectl(
        "create",
        "-f",
        "-",
        stdin=yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "leaving"}}
        ),
    )
    held = dict(CONFIGMAP, metadata={"name": "held", "finalizers": ["example.com/hold"]})
    cluster.kubectl("create", "-n", "leaving", "-f", "-", stdin=json.dumps(held))
    cluster.kubectl("create", "-n", "leaving", "-f", "-", stdin=json.dumps(CONFIGMAP))
    out = cluster.kubectl("delete", "namespace", "leaving", "--wait=false")
    assert out.stdout.strip() == 'namespace "leaving" deleted'
    ns = json.loads(cluster.kubectl("get", "namespace", "leaving", "-o", "json").stdout)
    assert ns["status"]["phase"] == "Terminating"
    refused = cluster.kubectl(
        "create", "-n", "leaving", "-f", "-", stdin=json.dumps(CONFIGMAP), check=False
    )
    assert refused.returncode == 1
    assert (
        'Error from server (Forbidden): error when creating "STDIN": configmaps "settings" is '
        "forbidden: unable to create new content in namespace leaving because it is being "
        "terminated"
    ) in refused.stderr
    # The namespace controller deletes the content and reports what a finalizer holds back.
    cluster.kubectl(
        "wait", "--for=condition=NamespaceFinalizersRemaining", "namespace/leaving", "--timeout=30s"
    )
    ns = json.loads(cluster.kubectl("get", "namespace", "leaving", "-o", "json").stdout)
    remaining = {c["type"]: c for c in ns["status"]["conditions"]}
    assert (
        "configmaps has 1 resource instances" in remaining["NamespaceContentRemaining"]["message"]
    )
    cluster.kubectl(
        "patch",
        "configmap",
        "held",
        "-n",
        "leaving",
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
    )
    cluster.kubectl("wait", "--for=delete", "namespace/leaving", "--timeout=30s")


def test_system_namespaces_exist_and_default_cannot_be_deleted(cluster: Cluster):
    names = cluster.kubectl("get", "namespaces", "-o", "name").stdout.split()
    for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"namespace/{name}" in names
    out = cluster.kubectl("delete", "namespace", "default", check=False)
    assert out.returncode == 1
    assert 'namespaces "default" is forbidden: this namespace may not be deleted' in out.stderr


def test_the_kubernetes_service_is_there(cluster: Cluster):
    row = cluster.kubectl("get", "service", "kubernetes", "-n", "default").stdout.splitlines()[1]
    assert row.split()[:5] == ["kubernetes", "ClusterIP", "10.43.0.1", "<none>", "443/TCP"]


def test_services_get_cluster_ips_from_the_range(cluster: Cluster, namespace: str):
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "myservice"},
        "spec": {"ports": [{"protocol": "TCP", "port": 80, "targetPort": 9376}]},
    }
    cluster.kubectl("apply", "-n", namespace, "-f", "-", stdin=json.dumps(svc))
    got = _get(cluster, namespace, "service/myservice")
    assert re.fullmatch(r"10\.43\.\d+\.\d+", got["spec"]["clusterIP"])
    assert got["spec"]["clusterIPs"] == [got["spec"]["clusterIP"]]
    assert got["spec"]["type"] == "ClusterIP" and got["spec"]["sessionAffinity"] == "None"


def test_metrics_count_requests_and_watches(cluster: Cluster, namespace: str):
    cluster.kubectl("get", "pods", "-n", namespace)
    text = cluster.kubectl("get", "--raw", "/metrics").stdout
    assert re.search(
        r'apiserver_request_total\{code="200",group="",resource="pods",subresource="",'
        r'verb="LIST"\} \d+',
        text,
    ) or re.search(r'apiserver_request_total\{[^}]*resource="pods"[^}]*verb="LIST"[^}]*\}', text)
    assert "apiserver_request_duration_seconds_bucket" in text
    assert "apiserver_registered_watchers" in text
    assert re.search(r"^kubelite_storage_revision \d+", text, re.MULTILINE)


def test_health_endpoints(cluster: Cluster):
    for path in ("/healthz", "/livez", "/readyz"):
        assert cluster.kubectl("get", "--raw", path).stdout == "ok"
    verbose = cluster.kubectl("get", "--raw", "/readyz?verbose").stdout
    assert "readyz check passed" in verbose
