"""What the runtime says it can do (CRI Status), the sysctls a pod's namespaces get, and a
security profile's round trip through the runtime's records."""

from __future__ import annotations

import json
from pathlib import Path

from kubelite.runtime import cri
from kubelite.runtime.service import OciRuntimeService, sandbox_sysctls
from kubelite.runtime.state import ContainerRecord, StateStore, container_from_json


class NoImages:
    async def image_status(self, image: str) -> None:
        return None


async def test_the_runtime_offers_no_user_namespaces(tmp_path: Path) -> None:
    runtime = OciRuntimeService(
        image_service=NoImages(),  # type: ignore[arg-type]
        state_dir=tmp_path / "run",
        root_dir=tmp_path / "data",
    )
    handler = (await runtime.status()).handler("")
    assert handler is not None and not handler.features.user_namespaces
    assert (await runtime.status()).handler("kata") is None


def test_a_pod_network_lets_anyone_bind_low_ports_and_ping_unless_the_pod_says_otherwise() -> None:
    meta = cri.PodSandboxMetadata("p", "u", "ns")
    assert sandbox_sysctls(cri.PodSandboxConfig(metadata=meta)) == {
        "net.ipv4.ip_unprivileged_port_start": "0",
        "net.ipv4.ping_group_range": "0 2147483647",
    }
    own = cri.PodSandboxConfig(metadata=meta, sysctls={"net.ipv4.ping_group_range": "1 0"})
    assert sandbox_sysctls(own)["net.ipv4.ping_group_range"] == "1 0"
    host = cri.PodSandboxConfig(metadata=meta, host_network=True, sysctls={"kernel.sem": "1"})
    assert sandbox_sysctls(host) == {"kernel.sem": "1"}


def test_security_profiles_survive_the_records(tmp_path: Path) -> None:
    profile = cri.SecurityProfile(cri.SecurityProfileType.LOCALHOST, "/seccomp/p.json")
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"),
        image="img",
        security_context=cri.LinuxContainerSecurityContext(seccomp=profile, masked_paths=[]),
    )
    record = ContainerRecord(
        id="c1", sandbox_id="sb", config=config, state=cri.ContainerState.CONTAINER_CREATED,
        created_at=1, image_ref="sha256:x", bundle=str(tmp_path / "b"), rootfs="", upper_dir="",
        log_path="", cgroups_path="", stop_signal="SIGTERM",
    )  # fmt: skip
    store = StateStore(tmp_path)
    store.container_dir("c1").mkdir(parents=True)
    store.save_container(record)
    [loaded] = store.load_containers()
    assert loaded.config.security_context == config.security_context
    assert loaded.config.security_context.seccomp is not None
    assert loaded.config.security_context.seccomp.profile_type is cri.SecurityProfileType.LOCALHOST
    # A record written before profiles existed still reads.
    data = json.loads((store.container_dir("c1") / "container.json").read_text())
    for key in ("seccomp", "apparmor"):
        del data["config"]["security_context"][key]
    assert container_from_json(data).config.security_context.seccomp is None
