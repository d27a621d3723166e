"""Records of sandboxes and containers survive a round trip through their JSON files."""

from __future__ import annotations

from pathlib import Path

from kubelite.runtime import cri
from kubelite.runtime.state import ContainerRecord, SandboxRecord, StateStore


def sandbox_record() -> SandboxRecord:
    return SandboxRecord(
        id="sb1",
        config=cri.PodSandboxConfig(
            metadata=cri.PodSandboxMetadata(name="web", uid="u1", namespace="ns"),
            dns_config=cri.DNSConfig(servers=["10.0.0.10"], searches=["a"], options=["ndots:5"]),
            port_mappings=[cri.PortMapping(container_port=80, host_port=8080)],
            host_aliases=[cri.HostAlias(ip="1.2.3.4", hostnames=["x"])],
            labels={"app": "web"},
        ),
        state=cri.PodSandboxState.SANDBOX_READY,
        created_at=123,
        hostname="web",
        cgroup_parent="/kubelite/sb1",
        ip="10.42.0.2",
        cni_result={"ips": [{"address": "10.42.0.2/24"}]},
        network_ready=True,
    )


def container_record() -> ContainerRecord:
    return ContainerRecord(
        id="c1",
        sandbox_id="sb1",
        config=cri.ContainerConfig(
            metadata=cri.ContainerMetadata(name="main", attempt=2),
            image="busybox",
            command=["sh"],
            envs=[("A", "1")],
            mounts=[cri.Mount(container_path="/d", host_path="/h", readonly=True)],
            resources=cri.LinuxContainerResources(memory_limit_in_bytes=1 << 20),
            security_context=cri.LinuxContainerSecurityContext(
                capabilities=cri.Capability(add_capabilities=["NET_ADMIN"]), run_as_user=5
            ),
        ),
        state=cri.ContainerState.CONTAINER_RUNNING,
        created_at=1,
        image_ref="sha256:abc",
        bundle="/run/c1",
        rootfs="/run/c1/rootfs",
        upper_dir="/data/c1/upper",
        log_path="/logs/main.log",
        cgroups_path="/kubelite/sb1/c1",
        stop_signal="SIGTERM",
        pid=42,
        conmon_pid=41,
    )


def test_records_round_trip(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    sandbox, container = sandbox_record(), container_record()
    store.sandbox_dir("sb1").mkdir()
    store.container_dir("c1").mkdir()
    store.save_sandbox(sandbox)
    store.save_container(container)
    again = StateStore(tmp_path)
    assert again.load_sandboxes() == [sandbox]
    assert again.load_containers() == [container]


def test_a_dir_without_its_record_is_skipped(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.container_dir("half-made").mkdir()
    assert store.load_containers() == []


def test_saving_replaces_the_whole_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    record = container_record()
    store.container_dir("c1").mkdir()
    store.save_container(record)
    record.state = cri.ContainerState.CONTAINER_EXITED
    record.exit_code = 3
    store.save_container(record)
    assert [p.name for p in store.container_dir("c1").iterdir()] == ["container.json"]
    (loaded,) = store.load_containers()
    assert (loaded.state, loaded.exit_code) == (cri.ContainerState.CONTAINER_EXITED, 3)
