"""The Node a kubelet registers: capacity, allocatable, conditions and their times."""

from __future__ import annotations

import pytest

from kubelite.kubelet.node import machine, status
from kubelite.kubelet.node.machine import MachineInfo, Usage

GI = 1 << 30

MACHINE = MachineInfo(
    num_cores=2,
    memory_bytes=24684084 * 1024,
    filesystem_bytes=100 * GI,
    machine_id="3d1219c7c4c5404aaa1f6d2a48adfda4",
    system_uuid="3d1219c7-c4c5-404a-aa1f-6d2a48adfda4",
    boot_id="21f6c44b-c7bd-4743-b6c4-7b32b57f8fac",
    kernel_version="6.1.0-18-amd64",
    os_image="Debian GNU/Linux 12 (bookworm)",
    architecture="amd64",
    hostname="vm",
    hugepages={2 << 20: 0, GI: 0},
)
CONFIG = status.NodeConfig(
    name="node-1",
    internal_ip="192.0.2.10",
    kubelet_version="v1.33.0+kubelite",
    runtime_version="0.1.0",
    pod_cidr="10.42.0.0/24",
)
T0 = "2026-12-02T00:00:00Z"
T1 = "2026-12-02T00:00:10Z"
HEALTHY = {"MemoryPressure": False, "DiskPressure": False, "PIDPressure": False}


def test_capacity_is_the_machine_and_allocatable_leaves_the_eviction_thresholds() -> None:
    assert status.capacity(MACHINE) == {
        "cpu": "2",
        "ephemeral-storage": "104857600Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "memory": "24684084Ki",
        "pods": "110",
    }
    allocatable = status.allocatable(MACHINE)
    # memory.available<100Mi and nodefs.available<10% are held back, as the kubelet does.
    assert allocatable["memory"] == f"{24684084 - 100 * 1024}Ki"
    assert allocatable["ephemeral-storage"] == str(100 * GI - 10 * GI)
    assert allocatable["cpu"] == "2" and allocatable["pods"] == "110"


def test_reserved_huge_pages_are_capacity_of_their_own_and_leave_memory() -> None:
    with_pages = MachineInfo(**{**MACHINE.__dict__, "hugepages": {2 << 20: 512}})
    assert status.capacity(with_pages)["hugepages-2Mi"] == str(512 * (2 << 20))
    assert status.allocatable(with_pages)["memory"] == f"{24684084 - 100 * 1024 - 1024 * 1024}Ki"


def test_a_healthy_node_reports_the_kubelets_conditions_ready_last() -> None:
    made = status.conditions(None, pressure=HEALTHY, runtime_problem="", now=T0)
    assert [(c["type"], c["status"], c["reason"]) for c in made] == [
        ("MemoryPressure", "False", "KubeletHasSufficientMemory"),
        ("DiskPressure", "False", "KubeletHasNoDiskPressure"),
        ("PIDPressure", "False", "KubeletHasSufficientPID"),
        ("Ready", "True", "KubeletReady"),
    ]
    assert made[-1]["message"] == "kubelet is posting ready status"
    assert all(c["lastHeartbeatTime"] == T0 == c["lastTransitionTime"] for c in made)


def test_transition_times_move_only_when_a_status_changes() -> None:
    first = status.conditions(None, pressure=HEALTHY, runtime_problem="", now=T0)
    pressed = {**HEALTHY, "MemoryPressure": True}
    second = status.conditions(first, pressure=pressed, runtime_problem="", now=T1)
    by_type = {c["type"]: c for c in second}
    assert by_type["MemoryPressure"]["status"] == "True"
    assert by_type["MemoryPressure"]["reason"] == "KubeletHasInsufficientMemory"
    assert by_type["MemoryPressure"]["lastTransitionTime"] == T1
    assert by_type["Ready"]["lastTransitionTime"] == T0
    assert by_type["Ready"]["lastHeartbeatTime"] == T1
    assert status.conditions_changed(first, second)
    again = status.conditions(second, pressure=pressed, runtime_problem="", now=T1)
    assert not status.conditions_changed(second, again)


def test_a_runtime_problem_makes_the_node_not_ready_with_its_message() -> None:
    made = status.conditions(
        None, pressure=HEALTHY, runtime_problem="container runtime is down", now=T0
    )
    assert made[-1] == {
        "type": "Ready",
        "status": "False",
        "lastHeartbeatTime": T0,
        "lastTransitionTime": T0,
        "reason": "KubeletNotReady",
        "message": "container runtime is down",
    }


@pytest.mark.parametrize(
    ("memory_free", "disk_free", "expected"),
    [
        (200 << 20, 50 * GI, {"MemoryPressure": False, "DiskPressure": False}),
        (99 << 20, 50 * GI, {"MemoryPressure": True, "DiskPressure": False}),
        (200 << 20, 9 * GI, {"MemoryPressure": False, "DiskPressure": True}),
    ],
)
def test_pressure_follows_the_default_hard_eviction_thresholds(
    memory_free: int, disk_free: int, expected: dict[str, bool]
) -> None:
    found = status.pressures(Usage(memory_free, disk_free, 100 * GI))
    assert {k: found[k] for k in expected} == expected
    assert found["PIDPressure"] is False


def test_the_node_object_carries_labels_cidr_addresses_and_node_info() -> None:
    made = status.conditions(None, pressure=HEALTHY, runtime_problem="", now=T0)
    node = status.node_object(CONFIG, MACHINE, made)
    assert node["metadata"]["labels"] == {
        "beta.kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "kubernetes.io/hostname": "node-1",
        "kubernetes.io/os": "linux",
    }
    assert node["spec"] == {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"]}
    assert node["status"]["addresses"] == [
        {"type": "InternalIP", "address": "192.0.2.10"},
        {"type": "Hostname", "address": "node-1"},
    ]
    info = node["status"]["nodeInfo"]
    assert info["containerRuntimeVersion"] == "kubelite://0.1.0"
    assert info["osImage"] == "Debian GNU/Linux 12 (bookworm)"
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}


def test_machine_files_are_read_as_the_kubelet_reads_them() -> None:
    info = machine.meminfo("MemTotal:       24684084 kB\nHugePages_Total:       0\n")
    assert info == {"MemTotal": 24684084 * 1024, "HugePages_Total": 0}
    assert machine.os_image('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n') == (
        "Debian GNU/Linux 12 (bookworm)"
    )
    assert machine.os_image("") == "Linux"
