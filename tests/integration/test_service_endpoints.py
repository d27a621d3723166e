"""Services on a real server: its Endpoints, EndpointSlice and ServiceLB controllers on hollow
nodes, seen by the real kubectl.

The server runs its scheduler and controllers; one `kubelite hollow-nodes` process gives it two
nodes (one labelled with a zone) for the whole module. Hollow pods go Running and Ready with a
pod IP; a test makes one not ready by writing its Ready condition through `pods/status`, as a
kubelet whose readiness probe failed would. Waits are on conditions, with timeouts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from cluster import Cluster
from test_cli import PRINTS_AS, both, masked
from test_hollow_nodes import get_json, hollow_nodes, wait_until
from tests import kubectl_builds

from kubelite.api import meta

Obj = dict[str, Any]

pytestmark = pytest.mark.integration

ZONE = "topology.kubernetes.io/zone"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    base = tmp_path_factory.mktemp("services")
    c = Cluster(base / "data", base / "cache")
    c.start()
    try:
        with hollow_nodes(
            c, "--count", "2", "--name-prefix", "hn-svc-", "--label", f"{ZONE}=zone-a"
        ):
            yield c
    finally:
        c.stop()


def apply(cluster: Cluster, namespace: str, *objects: Obj) -> None:
    cluster.kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}),
    )


def deployment(name: str, replicas: int, labels: dict[str, str], port_name: str = "http") -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "registry.local/web:1",
                            "ports": [{"name": port_name, "containerPort": 8080}],
                        }
                    ]
                },
            },
        },
    }


def service(name: str, selector: dict[str, str] | None, **spec: Any) -> Obj:
    body: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"ports": [{"name": "web", "port": 80, "targetPort": "http"}]} | spec,
    }
    if selector is not None:
        body["spec"]["selector"] = selector
    return body


def slices_of(cluster: Cluster, namespace: str, name: str) -> list[Obj]:
    listing = get_json(
        cluster, "endpointslices", "-n", namespace, "-l", f"kubernetes.io/service-name={name}"
    )
    return listing["items"]


def endpoint_states(slices: list[Obj]) -> dict[str, tuple[bool, bool, bool]]:
    """Pod name -> (ready, serving, terminating) over all the slices."""
    states = {}
    for eps in slices:
        for endpoint in eps.get("endpoints") or ():
            c = endpoint["conditions"]
            states[endpoint["targetRef"]["name"]] = (
                c.get("ready"),
                c.get("serving"),
                c.get("terminating"),
            )
    return states


def running_pods(cluster: Cluster, namespace: str, selector: str, count: int) -> list[Obj]:
    def ready() -> list[Obj] | None:
        pods = get_json(cluster, "pods", "-n", namespace, "-l", selector)["items"]
        with_ip = [p for p in pods if (p.get("status") or {}).get("podIP")]
        return with_ip if len(with_ip) == count else None

    return wait_until(ready, f"{count} pods with IPs for {selector}")


def set_ready(cluster: Cluster, namespace: str, pod: Obj, ready: bool) -> None:
    conditions = []
    for condition in pod["status"]["conditions"]:
        if condition["type"] in ("Ready", "ContainersReady"):
            condition = {
                **condition,
                "status": "True" if ready else "False",
                "lastTransitionTime": meta.format_time(meta.now()),
            }
        conditions.append(condition)
    cluster.kubectl(
        "patch",
        "-n",
        namespace,
        "pod",
        meta.name_of(pod),
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": {"conditions": conditions}}),
    )


def test_deployment_behind_a_service_gets_endpoints_and_a_slice_following_readiness(
    cluster: Cluster, namespace: str
) -> None:
    apply(
        cluster,
        namespace,
        deployment("web", 3, {"app": "web"}),
        service("web", {"app": "web"}),
    )
    pods = running_pods(cluster, namespace, "app=web", 3)
    ips = sorted(p["status"]["podIP"] for p in pods)

    def endpoints_ready() -> Obj | None:
        ep = get_json(cluster, "endpoints", "-n", namespace, "web")
        subsets = ep.get("subsets") or []
        got = sorted(a["ip"] for s in subsets for a in s.get("addresses") or ())
        return ep if got == ips else None

    ep = wait_until(endpoints_ready, "Endpoints with the three pod IPs")
    assert ep["subsets"][0]["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    assert ep["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"]
    address = ep["subsets"][0]["addresses"][0]
    assert address["nodeName"].startswith("hn-svc-")
    assert address["targetRef"]["kind"] == "Pod"

    def slice_ready() -> list[Obj] | None:
        slices = slices_of(cluster, namespace, "web")
        states = endpoint_states(slices)
        return slices if len(states) == 3 and all(s[0] for s in states.values()) else None

    (eps,) = wait_until(slice_ready, "one slice with three ready endpoints")
    assert eps["addressType"] == "IPv4"
    assert eps["metadata"]["generateName"] == "web-"
    assert eps["metadata"]["labels"] == {
        "kubernetes.io/service-name": "web",
        "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
    }
    (owner,) = eps["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("Service", "web", True)
    assert eps["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    assert {e.get("zone") for e in eps["endpoints"]} == {"zone-a"}

    # One pod's readiness probe fails: it moves to notReadyAddresses and ready/serving false.
    victim = pods[0]
    set_ready(cluster, namespace, victim, False)
    victim_ip = victim["status"]["podIP"]

    def not_ready_everywhere() -> bool:
        ep = get_json(cluster, "endpoints", "-n", namespace, "web")
        not_ready = [
            a["ip"] for s in ep.get("subsets") or () for a in s.get("notReadyAddresses") or ()
        ]
        states = endpoint_states(slices_of(cluster, namespace, "web"))
        return not_ready == [victim_ip] and states.get(meta.name_of(victim)) == (
            False,
            False,
            False,
        )

    wait_until(not_ready_everywhere, "the not-ready pod marked in Endpoints and its slice")
    # The slice was updated in place, not replaced.
    (after,) = slices_of(cluster, namespace, "web")
    assert meta.name_of(after) == meta.name_of(eps)

    # Scaled to zero: no addresses, one placeholder slice.
    cluster.kubectl("scale", "-n", namespace, "deployment/web", "--replicas=0")

    def emptied() -> bool:
        ep = get_json(cluster, "endpoints", "-n", namespace, "web")
        slices = slices_of(cluster, namespace, "web")
        return not ep.get("subsets") and len(slices) == 1 and not slices[0].get("endpoints")

    wait_until(emptied, "no endpoints once scaled to zero")


def test_get_svc_endpoints_endpointslices_wide(cluster: Cluster, namespace: str) -> None:
    apply(
        cluster,
        namespace,
        deployment("shop", 2, {"app": "shop"}),
        service("shop", {"app": "shop"}),
    )
    pods = running_pods(cluster, namespace, "app=shop", 2)
    ips = sorted(
        (p["status"]["podIP"] for p in pods), key=lambda ip: [int(x) for x in ip.split(".")]
    )

    def listed() -> str | None:
        out = cluster.kubectl(
            "get", "svc,endpoints,endpointslices", "-n", namespace, "-o", "wide"
        ).stdout
        return out if all(ip in out for ip in ips) and "8080" in out else None

    out = wait_until(listed, "kubectl get listing both pod addresses")
    svc = get_json(cluster, "svc", "-n", namespace, "shop")
    cluster_ip = svc["spec"]["clusterIP"]
    (eps,) = slices_of(cluster, namespace, "shop")
    lines = [re.sub(r"\s+", " ", line).strip() for line in out.splitlines() if line.strip()]
    assert lines[0] == "NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR"
    assert re.fullmatch(
        rf"service/shop ClusterIP {re.escape(cluster_ip)} <none> 80/TCP \S+ app=shop", lines[1]
    )
    assert lines[2] == "NAME ENDPOINTS AGE"
    ep_ips = sorted(
        (
            a["ip"]
            for s in get_json(cluster, "endpoints", "-n", namespace, "shop")["subsets"]
            for a in s["addresses"]
        ),
    )
    assert re.fullmatch(rf"endpoints/shop {','.join(f'{ip}:8080' for ip in ep_ips)} \S+", lines[3])
    assert lines[4] == "NAME ADDRESSTYPE PORTS ENDPOINTS AGE"
    addresses = ",".join(a for e in eps["endpoints"] for a in e["addresses"])
    assert re.fullmatch(
        rf"endpointslice.discovery.k8s.io/{meta.name_of(eps)} IPv4 8080 {addresses} \S+",
        lines[5],
    )


def test_named_port_missing_on_a_pod_leaves_it_out(cluster: Cluster, namespace: str) -> None:
    apply(
        cluster,
        namespace,
        deployment("alpha", 1, {"app": "mixed", "v": "a"}, port_name="http"),
        deployment("beta", 1, {"app": "mixed", "v": "b"}, port_name="other"),
        service("mixed", {"app": "mixed"}),
    )
    pods = running_pods(cluster, namespace, "app=mixed", 2)
    alpha_ip = next(p["status"]["podIP"] for p in pods if p["metadata"]["labels"]["v"] == "a")

    def published() -> list[Obj] | None:
        slices = slices_of(cluster, namespace, "mixed")
        return slices if len(slices) == 2 else None

    slices = wait_until(published, "a slice per port mapping")
    by_ports = {json.dumps(s.get("ports")): s for s in slices}
    with_port = by_ports[json.dumps([{"name": "web", "port": 8080, "protocol": "TCP"}])]
    assert [a for e in with_port["endpoints"] for a in e["addresses"]] == [alpha_ip]
    ep = get_json(cluster, "endpoints", "-n", namespace, "mixed")
    assert [a["ip"] for s in ep["subsets"] for a in s["addresses"]] == [alpha_ip]


def test_selectorless_service_endpoints_are_mirrored(cluster: Cluster, namespace: str) -> None:
    apply(
        cluster,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "external"},
            "spec": {"ports": [{"port": 5432}]},
        },
        {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "external", "labels": {"team": "db"}},
            "subsets": [
                {
                    "addresses": [{"ip": "192.0.2.10"}],
                    "notReadyAddresses": [{"ip": "192.0.2.11"}],
                    "ports": [{"port": 5432}],
                }
            ],
        },
    )

    def mirrored() -> list[Obj] | None:
        slices = slices_of(cluster, namespace, "external")
        return slices if slices and slices[0].get("endpoints") else None

    (eps,) = wait_until(mirrored, "the mirrored slice")
    assert eps["metadata"]["labels"] == {
        "team": "db",
        "kubernetes.io/service-name": "external",
        "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
    }
    assert eps["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert [(e["addresses"], e["conditions"]["ready"]) for e in eps["endpoints"]] == [
        (["192.0.2.10"], True),
        (["192.0.2.11"], False),
    ]
    assert eps["ports"] == [{"name": "", "port": 5432, "protocol": "TCP"}]
    text = described(cluster, "-n", namespace, "endpointslices")
    assert ["Ready:", "false"] in masked(text)
    cluster.kubectl("delete", "-n", namespace, "endpoints", "external")
    wait_until(lambda: not slices_of(cluster, namespace, "external"), "mirrored slice deleted")


def exists(cluster: Cluster, namespace: str, kind: str, name: str) -> bool:
    return cluster.kubectl("get", kind, "-n", namespace, name, check=False).returncode == 0


def test_service_deleted_takes_its_endpoints_and_slices(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, service("gone", {"app": "nothing"}))
    wait_until(
        lambda: (
            exists(cluster, namespace, "endpoints", "gone")
            and slices_of(cluster, namespace, "gone")
        ),
        "Endpoints and the placeholder slice created",
    )
    cluster.kubectl("delete", "-n", namespace, "svc", "gone")
    wait_until(
        lambda: (
            not exists(cluster, namespace, "endpoints", "gone")
            and not slices_of(cluster, namespace, "gone")
        ),
        "Endpoints and slices deleted with the Service",
    )


def test_headless_service_publishes_pod_hostnames(cluster: Cluster, namespace: str) -> None:
    pods = [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"redis-{i}", "labels": {"app": "redis"}},
            "spec": {
                "hostname": f"redis-{i}",
                "subdomain": "redis",
                "containers": [{"name": "redis", "image": "registry.local/redis:1"}],
            },
        }
        for i in range(2)
    ]
    headless = service("redis", {"app": "redis"}, clusterIP="None", ports=[{"port": 6379}])
    apply(cluster, namespace, headless, *pods)
    running_pods(cluster, namespace, "app=redis", 2)

    def published() -> bool:
        ep = get_json(cluster, "endpoints", "-n", namespace, "redis")
        hostnames = sorted(
            a.get("hostname", "") for s in ep.get("subsets") or () for a in s["addresses"]
        )
        slice_hostnames = sorted(
            e.get("hostname", "")
            for s in slices_of(cluster, namespace, "redis")
            for e in s.get("endpoints") or ()
        )
        return hostnames == slice_hostnames == ["redis-0", "redis-1"]

    wait_until(published, "the pods' hostnames in the Endpoints and the slice")
    ep = get_json(cluster, "endpoints", "-n", namespace, "redis")
    assert ep["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}
    (eps,) = slices_of(cluster, namespace, "redis")
    assert eps["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    for kind in ("svc", "endpoints"):
        described(cluster, "-n", namespace, kind)
    text = described(cluster, "-n", namespace, "endpointslices")
    assert ["Hostname:", "redis-0"] in masked(text)


def test_load_balancer_gets_the_node_addresses(cluster: Cluster, namespace: str) -> None:
    apply(cluster, namespace, service("lb", {"app": "lb"}, type="LoadBalancer"))
    nodes = get_json(cluster, "nodes")["items"]
    wanted = sorted(
        a["address"] for n in nodes for a in n["status"]["addresses"] if a["type"] == "InternalIP"
    )

    def ingress() -> list[str] | None:
        svc = get_json(cluster, "svc", "-n", namespace, "lb")
        got = [i["ip"] for i in (svc["status"].get("loadBalancer") or {}).get("ingress") or ()]
        return got if sorted(got) == wanted else None

    wait_until(ingress, "the nodes' addresses as the load balancer's ingress")


def described(cluster: Cluster, *args: str) -> str:
    """`kubelite describe`, compared with kubectl PRINTS_AS's where the machine has that build
    (later releases print some descriptions differently); kubelite's text either way."""
    if kubectl_builds.find(PRINTS_AS).minor != int(PRINTS_AS.split(".")[1]):
        return cluster.kubelite("describe", *args).stdout
    theirs, ours = both(cluster, "describe", *args)
    assert masked(ours) == masked(theirs), f"{args}:\n{ours}\n---- kubectl:\n{theirs}"
    return ours


def test_describe_matches_kubectl(cluster: Cluster, namespace: str) -> None:
    apply(
        cluster,
        namespace,
        deployment("desc", 2, {"app": "desc"}),
        service(
            "desc",
            {"app": "desc"},
            type="NodePort",
            ports=[
                {"name": "web", "port": 80, "targetPort": "http"},
                {"name": "dns", "port": 53, "targetPort": 5353, "protocol": "UDP"},
            ],
        ),
        service("desc-headless", {"app": "desc"}, clusterIP="None"),
        service("desc-lb", {"app": "desc"}, type="LoadBalancer", externalIPs=["192.0.2.7"]),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "desc-ext"},
            "spec": {"type": "ExternalName", "externalName": "example.com"},
        },
    )
    pods = running_pods(cluster, namespace, "app=desc", 2)
    set_ready(cluster, namespace, pods[0], False)

    def settled() -> bool:
        slices = slices_of(cluster, namespace, "desc")
        lb = get_json(cluster, "svc", "-n", namespace, "desc-lb")
        return (
            sorted(s[0] for s in endpoint_states(slices).values()) == [False, True]
            and bool((lb["status"].get("loadBalancer") or {}).get("ingress"))
            and len(slices_of(cluster, namespace, "desc-headless")) == 1
        )

    wait_until(settled, "the slices and the load balancer settled")
    services = described(cluster, "-n", namespace, "svc")
    assert ["External", "Name:", "example.com"] in masked(services)
    assert any(line[:2] == ["LoadBalancer", "Ingress:"] for line in masked(services))
    endpoints = described(cluster, "-n", namespace, "endpoints")
    assert "NotReadyAddresses:" in endpoints
    slices = described(cluster, "-n", namespace, "endpointslices")
    assert ["Zone:", "zone-a"] in masked(slices)


def test_a_taken_or_out_of_range_node_port_or_cluster_ip_is_refused_as_kubernetes_does(
    cluster: Cluster, namespace: str
) -> None:
    def create(name: str, **spec: Any) -> Any:
        body = service(name, {"app": name}, **spec)
        return cluster.kubectl(
            "create", "-n", namespace, "-f", "-", stdin=json.dumps(body), check=False
        )

    taken_port = [{"name": "web", "port": 80, "nodePort": 30080}]
    assert create("np-a", type="NodePort", ports=taken_port).returncode == 0
    refused = create("np-b", type="NodePort", ports=taken_port)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        'The Service "np-b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
        "provided port is already allocated"
    )
    refused = create("np-c", type="NodePort", ports=[{"name": "web", "port": 80, "nodePort": 8080}])
    assert refused.stderr.strip() == (
        'The Service "np-c" is invalid: spec.ports[0].nodePort: Invalid value: 8080: provided '
        "port is not in the valid range. The range of valid ports is 30000-32767"
    )
    assert create("ip-a", clusterIP="10.43.0.5").returncode == 0
    refused = create("ip-b", clusterIP="10.43.0.5")
    assert refused.stderr.strip() == (
        'The Service "ip-b" is invalid: spec.clusterIPs: Invalid value: []string{"10.43.0.5"}: '
        "failed to allocate IP 10.43.0.5: provided IP is already allocated"
    )
    refused = create("ip-c", clusterIP="10.44.0.5")
    assert refused.stderr.strip() == (
        'The Service "ip-c" is invalid: spec.clusterIPs: Invalid value: []string{"10.44.0.5"}: '
        "failed to allocate IP 10.44.0.5: the provided IP (10.44.0.5) is not in the valid range. "
        "The range of valid IPs is 10.43.0.0/16"
    )


def test_server_flags_set_the_ranges_and_turn_servicelb_off(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    base = tmp_path_factory.mktemp("ranges")
    c = Cluster(
        base / "data",
        base / "cache",
        extra_args=[
            "--disable-scheduler",
            "--service-cidr",
            "10.96.0.0/24",
            "--service-node-port-range",
            "31000-31010",
            "--disable",
            "servicelb",
        ],
    )
    c.start()
    try:
        kubernetes = get_json(c, "svc", "-n", "default", "kubernetes")
        assert kubernetes["spec"]["clusterIP"] == "10.96.0.1"
        body = service("np", {"app": "np"}, type="LoadBalancer")
        c.kubectl("create", "-n", "default", "-f", "-", stdin=json.dumps(body))
        svc = get_json(c, "svc", "-n", "default", "np")
        assert svc["spec"]["clusterIP"].startswith("10.96.0.")
        assert 31000 <= svc["spec"]["ports"][0]["nodePort"] <= 31010
        refused = c.kubectl(
            "create",
            "-n",
            "default",
            "-f",
            "-",
            stdin=json.dumps(
                service(
                    "np2", {"app": "np"}, type="NodePort", ports=[{"port": 80, "nodePort": 30080}]
                )
            ),
            check=False,
        )
        assert "The range of valid ports is 31000-31010" in refused.stderr
        # The Endpoints controller runs (so the control plane is up), ServiceLB does not.
        wait_until(
            lambda: (
                c.kubectl("get", "endpoints", "-n", "default", "np", check=False).returncode == 0
            ),
            "the Service's Endpoints",
        )
        assert not (get_json(c, "svc", "-n", "default", "np")["status"].get("loadBalancer") or {})
    finally:
        c.stop()


def test_v1_endpoints_requests_are_warned_of_their_deprecation(
    cluster: Cluster, namespace: str
) -> None:
    apply(cluster, namespace, service("warned", {"app": "warned"}))
    result = cluster.kubectl("get", "endpoints", "-n", namespace)
    assert result.stderr.strip() == (
        "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
    )
    assert cluster.kubectl("get", "endpointslices", "-n", namespace).stderr == ""
