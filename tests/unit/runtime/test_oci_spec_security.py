"""The security parts of a container's OCI spec, as containerd's CRI plugin makes them:
capabilities, privileged containers, masked paths, seccomp and AppArmor profiles, host
namespaces."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from kubelite.runtime import cri
from kubelite.runtime.errors import ContainerError
from kubelite.runtime.oci import apparmor, spec
from kubelite.runtime.oci.users import User

SANDBOX = spec.SandboxPaths(
    netns="/run/x/ns/net",
    ipc_ns="/run/x/ns/ipc",
    uts_ns="/run/x/ns/uts",
    shm="/run/x/shm",
    hosts="/data/x/hosts",
    resolv_conf="/data/x/resolv.conf",
    hostname_file="/data/x/hostname",
    hostname="web-0",
    cgroup_parent="/kubelite/podabc",
    sysctls={},
)
IMAGE = cri.ImageConfig(cmd=["sh"])
RUNTIME_DEFAULT = cri.SecurityProfile(cri.SecurityProfileType.RUNTIME_DEFAULT)


def generate(sandbox: spec.SandboxPaths = SANDBOX, **security: object) -> dict:
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"),
        image="img",
        security_context=cri.LinuxContainerSecurityContext(**security),  # type: ignore[arg-type]
    )
    return spec.generate_spec(
        config=config, image=IMAGE, user=User(0, 0), sandbox=sandbox, container_id="ctr1"
    )


@pytest.mark.parametrize(
    ("add", "drop", "expected"),
    [
        ([], ["ALL"], []),
        (["NET_ADMIN"], ["ALL"], ["CAP_NET_ADMIN"]),
        # Single drops come after single adds: a capability both added and dropped is gone.
        (["NET_ADMIN"], ["ALL", "NET_ADMIN"], []),
        (["ALL"], ["ALL"], []),
        (["sys_time"], ["chown"], [c for c in spec.DEFAULT_CAPABILITIES if c != "CAP_CHOWN"]
         + ["CAP_SYS_TIME"]),
    ],
)  # fmt: skip
def test_capabilities_follow_containerds_order(
    add: list[str], drop: list[str], expected: list[str]
) -> None:
    caps = cri.Capability(add_capabilities=add, drop_capabilities=drop)
    assert spec.capabilities(caps, privileged=False) == expected


def test_add_all_then_drop_one_is_every_capability_but_that_one() -> None:
    caps = cri.Capability(add_capabilities=["ALL"], drop_capabilities=["CHOWN"])
    every = spec.host_capabilities()
    assert spec.capabilities(caps, privileged=False) == [c for c in every if c != "CAP_CHOWN"]


def test_every_capability_is_the_runtimes_own_effective_set() -> None:
    status = Path("/proc/self/status").read_text()
    effective = int(status.split("CapEff:")[1].split()[0], 16)
    held = spec.host_capabilities()
    assert held == [c for i, c in enumerate(spec.ALL_CAPABILITIES) if effective >> i & 1]


def test_a_privileged_container_gets_the_hosts_devices_and_no_confinement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    null = {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
            "uid": 0, "gid": 0}  # fmt: skip
    monkeypatch.setattr(spec, "host_devices", lambda: [null])
    made = generate(privileged=True, seccomp=RUNTIME_DEFAULT, masked_paths=["/proc/kcore"])
    assert made["linux"]["devices"] == [null]
    assert made["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert "seccomp" not in made["linux"]
    assert "maskedPaths" not in made["linux"] and "readonlyPaths" not in made["linux"]
    cgroup = next(m for m in made["mounts"] if m["destination"] == "/sys/fs/cgroup")
    assert "ro" not in cgroup["options"]


def test_an_unprivileged_container_gets_no_host_device() -> None:
    made = generate()
    assert "devices" not in made["linux"]
    assert made["linux"]["resources"]["devices"] == [{"allow": False, "access": "rwm"}]


def test_masked_paths_none_are_containerds_and_empty_are_none() -> None:
    assert generate()["linux"]["maskedPaths"] == spec.DEFAULT_MASKED_PATHS
    unmasked = generate(masked_paths=[], readonly_paths=[])["linux"]
    assert "maskedPaths" not in unmasked and "readonlyPaths" not in unmasked
    sent = generate(masked_paths=["/proc/kcore"], readonly_paths=["/proc/sys"])["linux"]
    assert sent["maskedPaths"] == ["/proc/kcore"] and sent["readonlyPaths"] == ["/proc/sys"]


def test_runtime_default_seccomp_follows_the_capabilities() -> None:
    plain = generate(seccomp=RUNTIME_DEFAULT)["linux"]["seccomp"]
    admin = generate(
        seccomp=RUNTIME_DEFAULT, capabilities=cri.Capability(add_capabilities=["SYS_ADMIN"])
    )["linux"]["seccomp"]

    def names(profile: dict) -> set[str]:
        return {n for rule in profile["syscalls"] if "args" not in rule for n in rule["names"]}

    assert "mount" not in names(plain) and "mount" in names(admin)


def test_unconfined_or_no_profile_sets_no_seccomp() -> None:
    unconfined = cri.SecurityProfile(cri.SecurityProfileType.UNCONFINED)
    assert "seccomp" not in generate(seccomp=unconfined)["linux"]
    assert "seccomp" not in generate()["linux"]


def test_a_localhost_profile_is_the_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    path.write_text('{"defaultAction": "SCMP_ACT_LOG"}')
    profile = cri.SecurityProfile(cri.SecurityProfileType.LOCALHOST, str(path))
    assert generate(seccomp=profile)["linux"]["seccomp"] == {"defaultAction": "SCMP_ACT_LOG"}


def test_a_missing_localhost_profile_fails_the_create_as_containerd_says(tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    profile = cri.SecurityProfile(cri.SecurityProfileType.LOCALHOST, str(path))
    with pytest.raises(ContainerError) as failure:
        generate(seccomp=profile)
    assert str(failure.value) == (
        'failed to generate container "ctr1" spec: failed to generate spec: '
        f'cannot load seccomp profile "{path}": open {path}: no such file or directory'
    )
    assert failure.value.reason == "CreateContainerError"


def test_apparmor_profiles_are_refused_without_apparmor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apparmor, "is_enabled", lambda: False)
    local = cri.SecurityProfile(cri.SecurityProfileType.LOCALHOST, "k8s-deny-write")
    with pytest.raises(ContainerError, match="apparmor is not supported"):
        generate(apparmor=local)
    with pytest.raises(ContainerError, match="apparmor is not supported"):
        generate(apparmor=RUNTIME_DEFAULT)
    # Nothing to enforce: an unconfined or privileged container runs.
    unconfined = cri.SecurityProfile(cri.SecurityProfileType.UNCONFINED)
    assert "apparmorProfile" not in generate(apparmor=unconfined)["process"]
    assert "apparmorProfile" not in generate(apparmor=RUNTIME_DEFAULT, privileged=True)["process"]


def test_a_localhost_apparmor_profile_is_named_where_apparmor_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(apparmor, "is_enabled", lambda: True)
    local = cri.SecurityProfile(cri.SecurityProfileType.LOCALHOST, "k8s-deny-write")
    assert generate(apparmor=local)["process"]["apparmorProfile"] == "k8s-deny-write"


def test_apparmor_is_enabled_only_with_securityfs_and_the_module_on(tmp_path: Path) -> None:
    securityfs, parameter = tmp_path / "apparmor", tmp_path / "enabled"
    assert not apparmor.is_enabled(securityfs, parameter)
    securityfs.mkdir()
    parameter.write_text("N\n")
    assert not apparmor.is_enabled(securityfs, parameter)
    parameter.write_text("Y\n")
    assert apparmor.is_enabled(securityfs, parameter)


def test_host_pid_and_host_ipc_leave_those_namespaces_out() -> None:
    shared = dataclasses.replace(SANDBOX, ipc_ns="", host_pid=True, shm="/dev/shm")
    made = generate(shared)
    kinds = [ns["type"] for ns in made["linux"]["namespaces"]]
    assert "pid" not in kinds and "ipc" not in kinds
    assert {"type": "network", "path": "/run/x/ns/net"} in made["linux"]["namespaces"]
    shm = next(m for m in made["mounts"] if m["destination"] == "/dev/shm")
    assert shm["source"] == "/dev/shm"
