"""What a pod sees of the cluster's Services and DNS on a real node: its /etc/resolv.conf by
dnsPolicy, its /etc/hosts, its hostname, and the Services' environment variables, as the
kubelet makes them (the agent's defaults: --cluster-dns 10.43.0.10, --cluster-domain
cluster.local, the host's /etc/resolv.conf)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.integration.cluster import Cluster

from conftest import apply_manifest, service_address, wait_for
from kubelite.kubelet.dns import is_usable_resolv_conf, parse_resolv_conf

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(os.geteuid() != 0, reason="runs containers: needs root"),
]

NS = "dnsenv"
CLUSTER_SEARCH = f"{NS}.svc.cluster.local svc.cluster.local cluster.local"
# What each pod prints, between markers that split the log into its parts.
MARK = "@@@"
REPORT = (
    f"echo {MARK}env; env | sort; echo {MARK}resolv; cat /etc/resolv.conf; echo {MARK}hosts; "
    f"cat /etc/hosts; echo {MARK}hostname; hostname"
)


def _pod(cluster: Cluster, name: str) -> dict:
    return json.loads(cluster.kubectl("get", "pod", name, "-n", NS, "-o", "json").stdout)


def _report(cluster: Cluster, name: str) -> dict[str, str]:
    """The pod's printout once it has succeeded, by part (env, resolv, hosts, hostname)."""
    wait_for(
        f"{name} to succeed", lambda: _pod(cluster, name)["status"].get("phase") == "Succeeded"
    )
    logs = cluster.kubectl("logs", name, "-n", NS).stdout
    parts: dict[str, str] = {}
    for chunk in logs.split(MARK)[1:]:
        title, _, body = chunk.partition("\n")
        parts[title] = body
    return parts


def _env(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _events(cluster: Cluster, pod: str, reason: str) -> list[str]:
    done = cluster.kubectl(
        "get", "events", "-n", NS, "-o", "json",
        "--field-selector", f"involvedObject.name={pod},reason={reason}",
    )  # fmt: skip
    return [e["message"] for e in json.loads(done.stdout)["items"]]


def _host_resolv() -> tuple[list[str], list[str], list[str]]:
    """The node's resolver file as the agent chooses it (its searches end pods' search lines)."""
    host = Path("/etc/resolv.conf")
    if not is_usable_resolv_conf(host):
        pytest.skip("this machine's /etc/resolv.conf names a local stub resolver")
    parsed = parse_resolv_conf(host.read_text())
    return parsed.servers, parsed.searches, parsed.options


@pytest.fixture(scope="module")
def services(node: Cluster) -> dict[str, str]:
    """The namespace and its Services (created before any pod): name -> cluster IP."""
    node.kubectl("create", "namespace", NS)
    wait_for(
        "the namespace's default ServiceAccount",
        lambda: node.kubectl("get", "sa", "default", "-n", NS, check=False).returncode == 0,
    )
    apply_manifest(
        node,
        f"""
apiVersion: v1
kind: Service
metadata: {{name: my-svc, namespace: {NS}}}
spec:
  selector: {{app: nothing}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
  - {{name: dns-udp, port: 53, protocol: UDP}}
---
apiVersion: v1
kind: Service
metadata: {{name: headless, namespace: {NS}}}
spec:
  clusterIP: None
  selector: {{app: nothing}}
  ports: [{{port: 6379}}]
---
apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: {NS}}}
spec: {{type: ExternalName, externalName: example.com}}
---
apiVersion: v1
kind: Service
metadata: {{name: elsewhere, namespace: default}}
spec:
  selector: {{app: nothing}}
  ports: [{{port: 81}}]
""",
    )
    ips = {}
    for namespace, name in ((NS, "my-svc"), ("default", "kubernetes"), ("default", "elsewhere")):
        done = node.kubectl("get", "svc", name, "-n", namespace, "-o", "jsonpath={.spec.clusterIP}")
        ips[name] = done.stdout
    return ips


def test_a_cluster_first_pod_sees_its_namespaces_services_and_the_cluster_dns(
    node: Cluster, services: dict[str, str]
) -> None:
    _, host_searches, _ = _host_resolv()
    apply_manifest(
        node,
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: cf, namespace: {NS}}}
spec:
  restartPolicy: Never
  hostname: web-0
  subdomain: web
  hostAliases:
  - {{ip: 10.1.2.3, hostnames: [foo.local, bar.local]}}
  containers:
  - name: main
    image: busybox
    env:
    - {{name: MY_URL, value: "http://$(MY_SVC_SERVICE_HOST):$(MY_SVC_SERVICE_PORT_HTTP)/"}}
    - name: POD_IP
      valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}
    command: ["sh", "-c", "{REPORT}"]
""",
    )
    report = _report(node, "cf")
    ip = _pod(node, "cf")["status"]["podIP"]
    svc = services["my-svc"]
    api = services["kubernetes"]
    env = _env(report["env"])
    service_vars = {k: v for k, v in env.items() if "_SERVICE_" in k or "_PORT" in k}
    assert service_vars == {
        "MY_SVC_SERVICE_HOST": svc,
        "MY_SVC_SERVICE_PORT": "80",
        "MY_SVC_SERVICE_PORT_HTTP": "80",
        "MY_SVC_SERVICE_PORT_DNS_UDP": "53",
        "MY_SVC_PORT": f"tcp://{svc}:80",
        "MY_SVC_PORT_80_TCP": f"tcp://{svc}:80",
        "MY_SVC_PORT_80_TCP_PROTO": "tcp",
        "MY_SVC_PORT_80_TCP_PORT": "80",
        "MY_SVC_PORT_80_TCP_ADDR": svc,
        "MY_SVC_PORT_53_UDP": f"udp://{svc}:53",
        "MY_SVC_PORT_53_UDP_PROTO": "udp",
        "MY_SVC_PORT_53_UDP_PORT": "53",
        "MY_SVC_PORT_53_UDP_ADDR": svc,
        "KUBERNETES_SERVICE_HOST": api,
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": f"tcp://{api}:443",
        "KUBERNETES_PORT_443_TCP": f"tcp://{api}:443",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443",
        "KUBERNETES_PORT_443_TCP_ADDR": api,
    }
    assert env["MY_URL"] == f"http://{svc}:80/"
    # The sandbox's IP, known before the first container starts.
    assert env["POD_IP"] == ip
    search = " ".join([CLUSTER_SEARCH, *host_searches])
    assert (
        report["resolv"]
        == f"search {search}\nnameserver {service_address(node, 10)}\noptions ndots:5\n"
    )
    assert report["hosts"] == (
        "# Kubernetes-managed hosts file.\n"
        "127.0.0.1\tlocalhost\n"
        "::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\n"
        "fe00::0\tip6-mcastprefix\n"
        "fe00::1\tip6-allnodes\n"
        "fe00::2\tip6-allrouters\n"
        f"{ip}\tweb-0.web.{NS}.svc.cluster.local\tweb-0\n"
        "\n"
        "# Entries added by HostAliases.\n"
        "10.1.2.3\tfoo.local\tbar.local\n"
    )
    assert report["hostname"] == "web-0\n"


def test_a_default_pod_without_service_links_has_the_hosts_resolver_and_only_kubernetes(
    node: Cluster, services: dict[str, str]
) -> None:
    servers, searches, options = _host_resolv()
    apply_manifest(
        node,
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: dflt, namespace: {NS}}}
spec:
  restartPolicy: Never
  dnsPolicy: Default
  enableServiceLinks: false
  hostname: db-1
  subdomain: db
  setHostnameAsFQDN: true
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "{REPORT}"]
""",
    )
    report = _report(node, "dflt")
    env = _env(report["env"])
    assert sorted(k for k in env if "_SERVICE_" in k) == [
        "KUBERNETES_SERVICE_HOST",
        "KUBERNETES_SERVICE_PORT",
        "KUBERNETES_SERVICE_PORT_HTTPS",
    ]
    expected = "".join(
        [f"search {' '.join(searches)}\n"] * bool(searches)
        + [f"nameserver {s}\n" for s in servers[:3]]
        + [f"options {' '.join(options)}\n"] * bool(options)
    )
    assert report["resolv"] == expected
    fqdn = f"db-1.db.{NS}.svc.cluster.local"
    assert report["hostname"] == f"{fqdn}\n"
    assert f"\t{fqdn}\tdb-1\n" in report["hosts"]
    assert env["HOSTNAME"] == fqdn


def test_dns_policy_none_and_the_nameserver_limit_warning(
    node: Cluster, services: dict[str, str]
) -> None:
    apply_manifest(
        node,
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: none, namespace: {NS}}}
spec:
  restartPolicy: Never
  dnsPolicy: None
  dnsConfig:
    nameservers: [192.0.2.1, 192.0.2.2, 192.0.2.3]
    searches: [a.example]
    options: [{{name: ndots, value: "2"}}, {{name: edns0}}]
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "{REPORT}"]
""",
    )
    report = _report(node, "none")
    assert report["resolv"] == (
        "search a.example\nnameserver 192.0.2.1\nnameserver 192.0.2.2\nnameserver 192.0.2.3\n"
        "options ndots:2 edns0\n"
    )
    assert _events(node, "none", "DNSConfigForming") == []


def test_a_cluster_first_pod_with_three_more_nameservers_gets_a_dns_config_forming_warning(
    node: Cluster, services: dict[str, str]
) -> None:
    apply_manifest(
        node,
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: many, namespace: {NS}}}
spec:
  restartPolicy: Never
  dnsConfig:
    nameservers: [192.0.2.1, 192.0.2.2, 192.0.2.3]
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "{REPORT}"]
""",
    )
    report = _report(node, "many")
    dns = service_address(node, 10)
    assert f"nameserver {dns}\nnameserver 192.0.2.1\nnameserver 192.0.2.2\n" in report["resolv"]
    assert "192.0.2.3" not in report["resolv"]
    assert _events(node, "many", "DNSConfigForming")[0] == (
        "Nameserver limits were exceeded, some nameservers have been omitted, the applied "
        f"nameserver line is: {dns} 192.0.2.1 192.0.2.2"
    )


def test_an_fqdn_too_long_for_the_kernel_fails_the_sandbox(
    node: Cluster, services: dict[str, str]
) -> None:
    apply_manifest(
        node,
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: longfqdn, namespace: {NS}}}
spec:
  restartPolicy: Never
  hostname: {"h" * 30}
  subdomain: {"s" * 20}
  setHostnameAsFQDN: true
  containers:
  - {{name: main, image: busybox, command: ["true"]}}
""",
    )
    fqdn = f"{'h' * 30}.{'s' * 20}.{NS}.svc.cluster.local"
    messages = wait_for(
        "the FailedCreatePodSandBox event",
        lambda: _events(node, "longfqdn", "FailedCreatePodSandBox"),
    )
    assert messages[0] == (
        "Failed to create pod sandbox: failed to construct FQDN from pod hostname and cluster "
        f"domain, FQDN {fqdn} is too long (64 characters is the max, {len(fqdn)} characters "
        "requested)"
    )
    assert _pod(node, "longfqdn")["status"].get("phase") == "Pending"


def test_a_host_network_pod_keeps_the_cluster_dns_with_cluster_first_with_host_net(
    node: Cluster, services: dict[str, str]
) -> None:
    _, host_searches, _ = _host_resolv()
    apply_manifest(
        node,
        f"""
apiVersion: v1
kind: Pod
metadata: {{name: hostnet, namespace: {NS}}}
spec:
  restartPolicy: Never
  hostNetwork: true
  dnsPolicy: ClusterFirstWithHostNet
  hostAliases:
  - {{ip: 10.9.9.9, hostnames: [db.local]}}
  containers:
  - name: main
    image: busybox
    env:
    - name: POD_IP
      valueFrom: {{fieldRef: {{fieldPath: status.podIP}}}}
    command: ["sh", "-c", "{REPORT}"]
""",
    )
    report = _report(node, "hostnet")
    search = " ".join([CLUSTER_SEARCH, *host_searches])
    assert (
        report["resolv"]
        == f"search {search}\nnameserver {service_address(node, 10)}\noptions ndots:5\n"
    )
    # The node's own hosts file under the host-network header, then the aliases.
    assert report["hosts"] == (
        "# Kubernetes-managed hosts file (host network).\n"
        + Path("/etc/hosts").read_text()
        + "\n# Entries added by HostAliases.\n10.9.9.9\tdb.local\n"
    )
    assert report["hostname"] == f"{os.uname().nodename}\n"
    pod = _pod(node, "hostnet")
    assert _env(report["env"])["POD_IP"] == pod["status"]["hostIP"] == pod["status"]["podIP"]
