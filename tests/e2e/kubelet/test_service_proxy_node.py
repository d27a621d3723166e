"""The service proxy of a real node (`kubelite agent`): a Deployment behind a Service answers
on its ClusterIP from the node itself (the output hook) and from a pod on the CNI bridge (the
bridge's traffic passes the inet hooks), its name resolves through the kube-dns Service (UDP
through the proxy to the cluster DNS), it answers on its NodePort at the node's IP, and the
node's table is its own (`kubelite-<bridge>`), which `kubelite reset` removes (the fixture
checks reset).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess

import pytest
from tests.integration.cluster import Cluster

from conftest import http_get, pod_ready, service_address, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("nft") is None,
        reason="runs containers and reads nftables: needs root and nft",
    ),
]


def _manifest(cluster_ip: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: proxied}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: proxied}}}}
  template:
    metadata: {{labels: {{app: proxied}}}}
    spec:
      containers: [{{name: nginx, image: nginx, ports: [{{containerPort: 80, name: web}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: proxied}}
spec:
  type: NodePort
  clusterIP: {cluster_ip}
  selector: {{app: proxied}}
  ports: [{{port: 8080, targetPort: web}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: proxy-client}}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{{name: c, image: busybox, command: [sleep, "3600"]}}]
"""


def _bridge(cluster: Cluster) -> str:
    return cluster.extra_args[cluster.extra_args.index("--bridge") + 1]


def test_a_deployment_behind_a_service_answers_through_the_nodes_proxy(node: Cluster) -> None:
    groups = node.kubectl("api-resources", "--api-group=discovery.k8s.io", "-o", "name").stdout
    if "endpointslices" not in groups:
        pytest.skip("this API server does not serve discovery.k8s.io/v1 endpointslices yet")
    # A ClusterIP of its own: other test clusters on this machine have tables of their own
    # with addresses from the same default range.
    cluster_ip = service_address(
        node, (100 + secrets.randbelow(150)) * 256 + 1 + secrets.randbelow(250)
    )
    node.kubectl("apply", "-f", "-", stdin=_manifest(cluster_ip))
    try:
        wait_for("the client pod", lambda: pod_ready(node, "proxy-client"), timeout=120)
        node.kubectl("rollout", "status", "deployment/proxied", "--timeout=120s")
        table = f"kubelite-{_bridge(node)}"
        rules = subprocess.run(
            ["nft", "list", "table", "inet", table], capture_output=True, text=True, check=True
        ).stdout
        assert "service-ips" in rules
        # From the node itself: the output hook.
        wait_for(
            "the ClusterIP from the node", lambda: "nginx" in http_get(f"http://{cluster_ip}:8080/")
        )
        # From a pod on the bridge to the ClusterIP (the endpoints are pods on the same bridge).
        wait_for(
            "the ClusterIP from a pod",
            lambda: "nginx"
            in node.kubectl(
                "exec", "proxy-client", "--", "wget", "-q", "-O", "-", f"http://{cluster_ip}:8080/",
                check=False,
            ).stdout,
        )  # fmt: skip
        # The pod's resolver is the kube-dns Service's address, which only this proxy leads to
        # the cluster DNS: names resolve through it.
        wait_for(
            "the Service's name through the kube-dns Service",
            lambda: cluster_ip
            in node.kubectl(
                "exec", "proxy-client", "--", "nslookup", "proxied.default.svc.cluster.local",
                check=False,
            ).stdout,
        )  # fmt: skip
        service = json.loads(node.kubectl("get", "service", "proxied", "-o", "json").stdout)
        node_port = service["spec"]["ports"][0]["nodePort"]
        node_obj = json.loads(node.kubectl("get", "nodes", "-o", "json").stdout)["items"][0]
        node_ip = next(
            a["address"] for a in node_obj["status"]["addresses"] if a["type"] == "InternalIP"
        )
        wait_for(
            "the NodePort on the node's IP",
            lambda: "nginx" in http_get(f"http://{node_ip}:{node_port}/"),
        )
    finally:
        node.kubectl(
            "delete", "deployment/proxied", "service/proxied", "pod/proxy-client",
            "--grace-period=1", "--timeout=60s", check=False,
        )  # fmt: skip
