"""Smaller Kubernetes 1.34-1.37 changes, seen with the real kubectl (the virtual environment's
build, the release kubelite serves): Service trafficDistribution values and their EndpointSlice
hints, Service names that start with a digit, terminatingReplicas of ReplicaSets and
Deployments, StatefulSets' defaulted maxUnavailable, the scheduler's untolerated-taint reason,
the topology labels binding gives a pod, server-side table columns, and a Job's dropped
spec.scheduling (docs/kubernetes-1.37.md).

Nodes here are plain Node objects (no kubelet runs them); pods that need a status get it written
through the status subresource, as a kubelet would.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from cluster import Cluster, wait_for
from tests import kubectl_builds

Obj = dict[str, Any]
ZONE = "topology.kubernetes.io/zone"
REGION = "topology.kubernetes.io/region"
# The scheduler binds the pods here (conftest's `cluster` runs without it otherwise).
pytestmark = pytest.mark.with_scheduler


def kubectl(cluster: Cluster, *args: str, **kwargs: Any) -> Any:
    return cluster.kubectl(*args, version=kubectl_builds.NEWEST, **kwargs)


def create(cluster: Cluster, namespace: str, *objects: Obj) -> Any:
    manifest = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
    return kubectl(cluster, "create", "-n", namespace, "-f", "-", stdin=manifest)


def get(cluster: Cluster, namespace: str, kind: str, name: str) -> Obj:
    return json.loads(kubectl(cluster, "get", kind, name, "-n", namespace, "-o", "json").stdout)


def set_finalizers(cluster: Cluster, namespace: str, name: str, values: list[str] | None) -> None:
    """Merge-patch the pod's finalizers (None: remove them all)."""
    patch = json.dumps({"metadata": {"finalizers": values}}, separators=(",", ":"))
    kubectl(cluster, "patch", "pod", name, "-n", namespace, "--type=merge", "-p", patch)


def node(name: str, labels: dict[str, str] | None = None, **spec: Any) -> Obj:
    allocatable = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": spec,
        "status": {
            "capacity": allocatable,
            "allocatable": allocatable,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
            # Every field of NodeSystemInfo is required (kubectl checks them).
            "nodeInfo": {
                "machineID": "m",
                "systemUUID": "s",
                "bootID": "b",
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "kernelVersion": "6.1.0-test",
                "architecture": "amd64",
                "osImage": "Debian GNU/Linux 12 (bookworm)",
                "containerRuntimeVersion": "runc://1.1.12",
                "kubeletVersion": "v1.37.0",
            },
        },
    }


def pod(name: str, labels: dict[str, str], **spec: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "containers": [
                {"name": "app", "image": "registry.local/app:1", "ports": [{"containerPort": 80}]}
            ],
            **spec,
        },
    }


def report_running(cluster: Cluster, namespace: str, name: str, ip: str) -> None:
    """What the pod's kubelet would write: Running, Ready, with an address."""
    status = {
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": "True"}],
        }
    }
    kubectl(
        cluster,
        "patch",
        "pod",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps(status),
    )


# --- Services ------------------------------------------------------------------------------------


def service(name: str, distribution: str, selector: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {
            "selector": selector,
            "ports": [{"port": 80}],
            "trafficDistribution": distribution,
        },
    }


def test_traffic_distribution_values_and_their_endpoint_hints(
    cluster: Cluster, namespace: str
) -> None:
    node_name = f"{namespace}-zoned"
    create(cluster, "default", node(node_name, {ZONE: "zone-a"}))
    labels = {"app": "near"}
    # PreferSameNode and PreferSameZone are accepted quietly; PreferClose with a warning.
    quiet = create(
        cluster,
        namespace,
        service("same-node", "PreferSameNode", labels),
        service("same-zone", "PreferSameZone", labels),
    )
    assert "Warning" not in quiet.stderr
    close = create(cluster, namespace, service("close", "PreferClose", labels))
    assert (
        'Warning: spec.trafficDistribution: "PreferClose" is deprecated; use "PreferSameZone"'
        in close.stderr
    )
    refused = kubectl(
        cluster,
        "create",
        "-n",
        namespace,
        "-f",
        "-",
        stdin=json.dumps(service("far", "PreferRegion", labels)),
        check=False,
    )
    assert refused.returncode != 0
    assert (
        'spec.trafficDistribution: Unsupported value: "PreferRegion": supported values: '
        '"PreferClose", "PreferSameZone", "PreferSameNode"'
    ) in refused.stderr

    create(cluster, namespace, pod("near-0", labels, nodeName=node_name))
    report_running(cluster, namespace, "near-0", "10.42.7.10")

    def hints_of(service_name: str) -> Obj | None:
        out = kubectl(
            cluster,
            "get",
            "endpointslices",
            "-n",
            namespace,
            "-l",
            f"kubernetes.io/service-name={service_name}",
            "-o",
            "json",
        ).stdout
        for eps in json.loads(out)["items"]:
            for endpoint in eps.get("endpoints") or ():
                if endpoint.get("hints"):
                    return endpoint["hints"]
        return None

    assert wait_for("node hints", lambda: hints_of("same-node")) == {
        "forZones": [{"name": "zone-a"}],
        "forNodes": [{"name": node_name}],
    }
    assert wait_for("zone hints", lambda: hints_of("same-zone")) == {
        "forZones": [{"name": "zone-a"}]
    }
    assert wait_for("zone hints", lambda: hints_of("close")) == {"forZones": [{"name": "zone-a"}]}


def test_a_service_name_may_start_with_a_digit(cluster: Cluster, namespace: str) -> None:
    """RelaxedServiceNameValidation (KEP-5311) is GA in 1.37."""
    out = kubectl(cluster, "create", "service", "clusterip", "1web", "--tcp=80:80", "-n", namespace)
    assert "service/1web created" in out.stdout
    refused = kubectl(
        cluster,
        "create",
        "service",
        "clusterip",
        "web.1",
        "--tcp=80:80",
        "-n",
        namespace,
        check=False,
    )
    assert "a lowercase RFC 1123 label must consist of lower case alphanumeric" in refused.stderr


# --- workloads ----------------------------------------------------------------------------------


def test_terminating_replicas_of_a_replica_set_and_its_deployment(
    cluster: Cluster, namespace: str
) -> None:
    labels = {"app": "web"}
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            # No node matches: the pods stay Pending, so only the finalizer holds the one deleted.
            "template": {
                "metadata": {"labels": labels},
                "spec": {**pod("x", labels)["spec"], "nodeSelector": {"nowhere": namespace}},
            },
        },
    }
    create(cluster, namespace, deployment)
    wait_for(
        "the deployment's status",
        lambda: get(cluster, namespace, "deployment", "web")["status"].get("replicas") == 2,
    )
    assert get(cluster, namespace, "deployment", "web")["status"]["terminatingReplicas"] == 0
    pods = json.loads(
        kubectl(cluster, "get", "pods", "-n", namespace, "-l", "app=web", "-o", "json").stdout
    )["items"]
    held = pods[0]["metadata"]["name"]
    set_finalizers(cluster, namespace, held, ["kubelite.test/hold"])
    kubectl(cluster, "delete", "pod", held, "-n", namespace, "--wait=false")
    try:
        wait_for(
            "the deployment to count the terminating pod",
            lambda: (
                get(cluster, namespace, "deployment", "web")["status"].get("terminatingReplicas")
                == 1
            ),
        )
        (rs,) = json.loads(kubectl(cluster, "get", "rs", "-n", namespace, "-o", "json").stdout)[
            "items"
        ]
        assert rs["status"]["terminatingReplicas"] == 1
        # The terminating pod is replaced: two active replicas besides it.
        assert rs["status"]["replicas"] == 2
        # kubectl 1.37's describer shows no terminating count.
        described = kubectl(cluster, "describe", "deployment", "web", "-n", namespace).stdout
        assert "Replicas:               2 desired | 2 updated | 2 total" in described
        assert "terminating" not in described.lower()
    finally:
        set_finalizers(cluster, namespace, held, None)
    wait_for(
        "the count to go back to 0",
        lambda: (
            get(cluster, namespace, "deployment", "web")["status"].get("terminatingReplicas") == 0
        ),
    )


def test_a_stateful_sets_rolling_update_gets_max_unavailable_1(
    cluster: Cluster, namespace: str
) -> None:
    stateful_set = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db"},
        "spec": {
            "replicas": 0,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": pod("x", {})["spec"]},
        },
    }
    create(cluster, namespace, stateful_set)
    strategy = get(cluster, namespace, "statefulset", "db")["spec"]["updateStrategy"]
    assert strategy == {
        "type": "RollingUpdate",
        "rollingUpdate": {"partition": 0, "maxUnavailable": 1},
    }


def test_a_jobs_scheduling_is_dropped(cluster: Cluster, namespace: str) -> None:
    """WorkloadWithJob is alpha and off in 1.37: the field is accepted and dropped."""
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "once"},
        "spec": {
            "suspend": True,
            "scheduling": {"schedulingPolicy": {"basic": {}}},
            "template": {"spec": {**pod("x", {})["spec"], "restartPolicy": "Never"}},
        },
    }
    create(cluster, namespace, job)
    assert "scheduling" not in get(cluster, namespace, "job", "once")["spec"]


# --- scheduling and binding ----------------------------------------------------------------------


def test_the_untolerated_taint_reason_names_no_taint(cluster: Cluster, namespace: str) -> None:
    label = {"test": namespace}
    taint = {"key": "dedicated", "value": "secret-team", "effect": "NoSchedule"}
    create(cluster, "default", node(f"{namespace}-tainted", label, taints=[taint]))
    create(cluster, namespace, pod("blocked", {"app": "blocked"}, nodeSelector=label))

    def events() -> str:
        described = kubectl(cluster, "describe", "pod", "blocked", "-n", namespace).stdout
        return described if "FailedScheduling" in described else ""

    described = wait_for("the FailedScheduling event", events)
    assert "1 node(s) had untolerated taint(s)" in described
    assert "secret-team" not in described and "{dedicated" not in described


def test_binding_copies_the_nodes_zone_and_region_onto_the_pod(
    cluster: Cluster, namespace: str
) -> None:
    label = {"test": namespace}
    topology = {ZONE: "zone-b", REGION: "region-2"}
    create(cluster, "default", node(f"{namespace}-placed", {**label, **topology}))
    create(cluster, namespace, pod("placed", {"app": "placed"}, nodeSelector=label))
    wait_for(
        "the pod to be bound",
        lambda: get(cluster, namespace, "pod", "placed")["spec"].get("nodeName"),
    )
    labels = get(cluster, namespace, "pod", "placed")["metadata"]["labels"]
    assert labels == {"app": "placed", **topology}
    shown = kubectl(cluster, "get", "pod", "placed", "-n", namespace, "-L", ZONE).stdout
    assert shown.splitlines()[1].split()[-1] == "zone-b"


# --- tables -------------------------------------------------------------------------------------


def test_service_accounts_show_no_secrets_column(cluster: Cluster, namespace: str) -> None:
    table = kubectl(cluster, "get", "serviceaccount", "default", "-n", namespace).stdout
    assert table.splitlines()[0].split() == ["NAME", "AGE"]


def test_node_wide_table_shows_the_architecture_with_the_kernel(
    cluster: Cluster, namespace: str
) -> None:
    name = f"{namespace}-wide"
    create(cluster, "default", node(name))
    lines = kubectl(cluster, "get", "node", name, "-o", "wide").stdout.splitlines()
    header = lines[0].split()
    assert "ARCH" not in header
    assert header[header.index("KERNEL-VERSION") + 1] == "CONTAINER-RUNTIME"
    assert "6.1.0-test (amd64)" in lines[1]
