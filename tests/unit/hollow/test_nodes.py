"""A hollow node registers the Node and Lease a kubelet would, plainly marked as simulated."""

from __future__ import annotations

import ipaddress
import itertools

import orjson
import pytest

from kubelite.hollow import nodes
from kubelite.hollow.nodes import HollowNode, LeaseBody, NodeShape

NOW = "2026-01-02T03:04:05Z"


def _shape(**overrides: object) -> NodeShape:
    values: dict[str, object] = {
        "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110", "ephemeral-storage": "100Gi"},
        "kubelet_version": "v1.33.0+kubelite",
        "kernel_version": "6.1.0",
        "boot_id": "boot",
    }
    values.update(overrides)
    return NodeShape(**values)  # type: ignore[arg-type]


def _node(index: int = 0) -> HollowNode:
    node = HollowNode.numbered("hollow-node-", index, 110)
    node.uid = "uid-1"
    return node


def test_a_node_is_registered_with_a_kubelets_labels_and_the_hollow_mark() -> None:
    obj = nodes.node_object(_node(3), _shape(labels={"zone": "a"}), NOW)
    assert obj["metadata"]["name"] == "hollow-node-3"
    assert obj["metadata"]["labels"] == {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": "hollow-node-3",
        "kubernetes.io/os": "linux",
        "node.kubernetes.io/instance-type": "hollow",
        "kubelite.io/hollow": "true",
        "zone": "a",
    }
    assert "kubelite.io/hollow" in obj["metadata"]["annotations"]
    # Simulated, yet schedulable: no taint unless asked for.
    assert "taints" not in obj["spec"]
    assert obj["spec"]["providerID"] == "kubelite-hollow://hollow-node-3"


def test_taints_are_only_those_asked_for() -> None:
    taint = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    obj = nodes.node_object(_node(), _shape(taints=(taint,)), NOW)
    assert obj["spec"]["taints"] == [taint]


def test_the_status_has_the_kubelets_conditions_ready_last() -> None:
    status = nodes.node_object(_node(), _shape(), NOW)["status"]
    assert [(c["type"], c["status"], c["reason"]) for c in status["conditions"]] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ]
    ready = status["conditions"][-1]
    assert ready["message"] == "kubelet is posting ready status"
    assert ready["lastHeartbeatTime"] == ready["lastTransitionTime"] == NOW


def test_the_status_reports_capacity_addresses_endpoints_and_node_info() -> None:
    node = _node(1)
    status = nodes.node_object(node, _shape(), NOW)["status"]
    assert status["capacity"] == {
        "cpu": "32",
        "ephemeral-storage": "100Gi",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "256Gi",
        "pods": "110",
    }
    assert status["allocatable"] == status["capacity"]
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "198.18.0.2"},
        {"type": "Hostname", "address": "hollow-node-1"},
    ]
    # DaemonEndpoint's JSON field really is a capitalised "Port".
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    info = status["nodeInfo"]
    assert info["kubeletVersion"] == "v1.33.0+kubelite"
    assert info["containerRuntimeVersion"].startswith("kubelite-hollow://")
    assert (info["operatingSystem"], info["architecture"]) == ("linux", "amd64")
    assert len(info["machineID"]) == 32
    assert info["machineID"] == nodes.machine_id("hollow-node-1")  # stable across restarts


def test_each_node_gets_its_own_address_and_pod_cidr() -> None:
    fleet = [HollowNode.numbered("n-", i, 110) for i in range(300)]
    assert len({n.internal_ip for n in fleet}) == 300
    cidrs = [n.pod_cidr for n in fleet]
    assert all(c.prefixlen == 24 for c in cidrs)
    assert all(c.subnet_of(nodes.POD_IP_RANGE) for c in cidrs)
    assert not any(a.overlaps(b) for a, b in itertools.pairwise(cidrs))
    assert all(ipaddress.IPv4Address(n.internal_ip) in nodes.NODE_IP_RANGE for n in fleet)


@pytest.mark.parametrize(
    ("max_pods", "prefix"), [(1, 24), (110, 24), (254, 24), (255, 23), (500, 23), (1000, 22)]
)
def test_the_pod_cidr_holds_every_pod_of_the_node(max_pods: int, prefix: int) -> None:
    assert nodes.pod_cidr_prefix(max_pods) == prefix


def test_the_address_ranges_limit_the_fleet() -> None:
    assert nodes.node_capacity_limit(110) == 16384
    assert nodes.node_capacity_limit(1000) == 4096


def test_a_lease_body_is_the_kubelets_lease_with_the_version_and_renew_time_spliced_in() -> None:
    node = _node(2)
    body = LeaseBody(node, 40).encode("1234", "2026-01-02T03:04:05.123456Z")
    lease = orjson.loads(body)
    assert lease == {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": "hollow-node-2",
            "namespace": "kube-node-lease",
            "resourceVersion": "1234",
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "Node", "name": "hollow-node-2", "uid": "uid-1"}
            ],
        },
        "spec": {
            "holderIdentity": "hollow-node-2",
            "leaseDurationSeconds": 40,
            "renewTime": "2026-01-02T03:04:05.123456Z",
        },
    }


def test_a_heartbeat_patch_only_moves_the_heartbeat_time() -> None:
    node = _node()
    node.ready_since = "2026-01-01T00:00:00Z"
    patch = orjson.loads(nodes.heartbeat_patch(node, NOW))
    conditions = patch["status"]["conditions"]
    assert list(patch) == ["status"] and list(patch["status"]) == ["conditions"]
    assert {c["lastHeartbeatTime"] for c in conditions} == {NOW}
    assert {c["lastTransitionTime"] for c in conditions} == {"2026-01-01T00:00:00Z"}


def test_conditions_differ_only_when_what_the_kubelet_owns_changed() -> None:
    healthy = nodes.node_conditions("t0", "t1")
    assert not nodes.conditions_differ(healthy)
    with_others = [*healthy, {"type": "NetworkUnavailable", "status": "True"}]
    assert not nodes.conditions_differ(with_others)
    unknown = [dict(c) for c in healthy]
    unknown[-1].update(status="Unknown", reason="NodeStatusUnknown")
    assert nodes.conditions_differ(unknown)
    assert nodes.conditions_differ(healthy[:3])


def test_a_node_keeps_the_time_it_became_ready_unless_it_is_not_ready() -> None:
    healthy = nodes.node_conditions("2026-01-01T00:00:00Z", NOW)
    assert nodes.ready_since(healthy, NOW) == "2026-01-01T00:00:00Z"
    unknown = [dict(c) for c in healthy]
    unknown[-1]["status"] = "Unknown"
    assert nodes.ready_since(unknown, NOW) == NOW
    assert nodes.ready_since(None, NOW) == NOW


def test_micro_time_has_microseconds() -> None:
    assert nodes.rfc3339_micro(1_700_000_000.25) == "2023-11-14T22:13:20.250000Z"
    assert nodes.rfc3339(1_700_000_000.25) == "2023-11-14T22:13:20Z"


def test_a_node_numbered_past_the_first_index_keeps_its_numbers_addresses() -> None:
    node = HollowNode.numbered("n-", 7, 110, index=0)
    assert (node.name, node.index) == ("n-7", 0)
    assert node.internal_ip == "198.18.0.8"
    assert str(node.pod_cidr) == "100.64.7.0/24"
