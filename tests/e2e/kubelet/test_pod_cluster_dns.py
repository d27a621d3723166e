"""A pod on a real node asks the cluster DNS with busybox's nslookup, as the seed's
init-container example does, over the pod network to the node's address.

Pods normally reach the DNS through the kube-dns Service (10.43.0.10), which the node's service
proxy forwards; this test leaves the proxy out and names the node's address in the pod's
dnsConfig, so the DNS must answer on port 53 there (busybox's nslookup knows no other port). It
is skipped when port 53 on the node's address is taken (a cluster of the machine's own).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, service_address, wait_for

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

NS = "clusterdns"


@pytest.fixture(scope="module", autouse=True)
def _dns_on_port_53() -> Iterator[None]:
    """This module's node answers DNS on port 53 (test clusters use any free port)."""
    before = os.environ.get("KUBELITE_CLUSTER_DNS_PORT")
    os.environ["KUBELITE_CLUSTER_DNS_PORT"] = "53"
    try:
        yield
    finally:
        if before is None:
            del os.environ["KUBELITE_CLUSTER_DNS_PORT"]
        else:
            os.environ["KUBELITE_CLUSTER_DNS_PORT"] = before


def _pod(cluster: Cluster, name: str) -> dict:
    return json.loads(cluster.kubectl("get", "pod", name, "-n", NS, "-o", "json").stdout)


def test_a_pod_resolves_services_with_nslookup(node: Cluster) -> None:
    if node.dns_address is None or node.dns_address[1] != 53:
        pytest.skip("port 53 on the node's address is taken: no cluster DNS to ask")
    address = node.dns_address[0]
    node.kubectl("create", "namespace", NS)
    wait_for(
        "the namespace's default ServiceAccount",
        lambda: node.kubectl("get", "sa", "default", "-n", NS, check=False).returncode == 0,
    )
    node.kubectl("create", "service", "clusterip", "myservice", "--tcp=80:9376", "-n", NS)
    ip = node.kubectl(
        "get", "svc", "myservice", "-n", NS, "-o", "jsonpath={.spec.clusterIP}"
    ).stdout
    # The seed's init container waits on `nslookup myservice.<ns>.svc.cluster.local` for its
    # exit status. A name without dots goes through the search list as with dnsPolicy
    # ClusterFirst (busybox's nslookup then also reports the search domains that have no such
    # name, as it does with CoreDNS, and fails: only what it prints is looked at; it searches
    # no name with a dot in it).
    script = (
        f"nslookup myservice.{NS}.svc.cluster.local || exit 1; "
        "nslookup kubernetes.default.svc.cluster.local || exit 1; "
        "nslookup myservice; "
        "if nslookup missing.default.svc.cluster.local; then exit 1; fi"
    )
    apply_manifest(
        node,
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: asker, namespace: {NS}}}
spec:
  restartPolicy: Never
  dnsPolicy: None
  dnsConfig:
    nameservers: ["{address}"]
    searches: [{NS}.svc.cluster.local, svc.cluster.local, cluster.local]
    options: [{{name: ndots, value: "5"}}]
  containers:
  - name: asker
    image: busybox
    command: [sh, -c, "{script}"]
""",
    )
    wait_for(
        "the pod to finish",
        lambda: _pod(node, "asker")["status"].get("phase") in ("Succeeded", "Failed"),
        timeout=120,
    )
    logs = node.kubectl("logs", "asker", "-n", NS).stdout
    assert _pod(node, "asker")["status"]["phase"] == "Succeeded", logs
    assert logs.count(f"Name:\tmyservice.{NS}.svc.cluster.local\nAddress: {ip}\n") == 2
    api = service_address(node, 1)
    assert f"Name:\tkubernetes.default.svc.cluster.local\nAddress: {api}\n" in logs
    assert "server can't find missing.default.svc.cluster.local: NXDOMAIN" in logs
