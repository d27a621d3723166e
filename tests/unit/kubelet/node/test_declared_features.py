"""node.status.declaredFeatures (KEP-5328, GA in 1.37): what the kubelet publishes."""

from __future__ import annotations

from kubelite.kubelet.node import declared_features as df
from kubelite.kubelet.node import status
from kubelite.kubelet.node.machine import MachineInfo

MACHINE = MachineInfo(
    num_cores=2,
    memory_bytes=4 << 30,
    filesystem_bytes=100 << 30,
    machine_id="m",
    system_uuid="u",
    boot_id="b",
    kernel_version="6.1.0",
    os_image="Debian GNU/Linux 12 (bookworm)",
    architecture="amd64",
    hostname="vm",
    hugepages={},
)
CONFIG = status.NodeConfig(
    name="node-1", internal_ip="192.0.2.10", kubelet_version="v1.37.0", runtime_version="0.1.0"
)
HEALTHY = {"MemoryPressure": False, "DiskPressure": False, "PIDPressure": False}


def test_the_1_37_defaults_declare_what_kubelite_does() -> None:
    assert df.declared_features() == [
        "GuaranteedQoSPodCPUResize",
        "InPlacePodLevelResourcesVerticalScaling",
        "RestartAllContainersOnContainerExits",
    ]


def test_features_1_37_would_declare_but_kubelite_lacks_are_withheld_with_why() -> None:
    assert set(df.withheld()) == {
        "ExtendWebSocketsToKubelet",
        "InPlacePodVerticalScalingInitContainers",
    }
    assert all(df.withheld().values())


def test_a_feature_follows_its_gate() -> None:
    gates = dict(df.GATES_1_37, RestartAllContainersOnContainerExits=False)
    assert "RestartAllContainersOnContainerExits" not in df.declared_features(gates)
    # Alpha-off in 1.37 but implemented nowhere either: on only if its gate is.
    assert "InPlacePodVerticalScalingMemoryBackedVolumes" not in df.declared_features()
    gates = dict(df.GATES_1_37, InPlacePodVerticalScalingMemoryBackedVolumes=True)
    assert "InPlacePodVerticalScalingMemoryBackedVolumes" in df.declared_features(gates)


def test_cpu_resize_of_guaranteed_pods_is_declared_without_a_cpu_manager() -> None:
    # cpuManagerPolicy none declares it whatever InPlacePodVerticalScalingExclusiveCPUs says.
    gates = dict(df.GATES_1_37, InPlacePodVerticalScalingExclusiveCPUs=False)
    assert "GuaranteedQoSPodCPUResize" in df.declared_features(gates)


def test_user_namespaces_with_host_network_needs_the_runtime_too() -> None:
    gates = dict(df.GATES_1_37, UserNamespacesHostNetworkSupport=True)
    assert "UserNamespacesHostNetworkSupport" not in df.declared_features(gates)


def test_the_node_status_carries_the_sorted_list() -> None:
    made = status.conditions(None, pressure=HEALTHY, runtime_problem="", now="2026-12-02T00:00:00Z")
    node = status.node_object(CONFIG, MACHINE, made)
    features = node["status"]["declaredFeatures"]
    assert features == sorted(set(features)) == df.declared_features()
    assert status.node_status(CONFIG, MACHINE, made)["declaredFeatures"] == features
