"""The OCI spec a container gets from its CRI config and its image's config."""

from __future__ import annotations

import dataclasses

import pytest

from kubelite.runtime import cri
from kubelite.runtime.errors import ContainerError
from kubelite.runtime.oci import spec
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
    sysctls={"net.ipv4.ip_unprivileged_port_start": "0"},
)
IMAGE = cri.ImageConfig(
    entrypoint=["/entry"], cmd=["--serve"], env=["PATH=/bin", "A=1"], working_dir="/app"
)


def config(**kwargs: object) -> cri.ContainerConfig:
    return cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name="c"),
        image="img",
        **kwargs,  # type: ignore[arg-type]
    )


def generate(cfg: cri.ContainerConfig, image: cri.ImageConfig = IMAGE) -> dict:
    return spec.generate_spec(
        config=cfg, image=image, user=User(0, 0), sandbox=SANDBOX, container_id="ctr1"
    )


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ([], [], ["/entry", "--serve"]),
        ([], ["--debug"], ["/entry", "--debug"]),
        (["/bin/sh"], [], ["/bin/sh"]),  # a command drops the image's cmd
        (["/bin/sh"], ["-c", "x"], ["/bin/sh", "-c", "x"]),
    ],
)
def test_command_and_args_follow_kubernetes_rules(
    command: list[str], args: list[str], expected: list[str]
) -> None:
    assert generate(config(command=command, args=args))["process"]["args"] == expected


def test_no_command_at_all_is_a_create_error() -> None:
    with pytest.raises(ContainerError, match="no command specified"):
        generate(config(), cri.ImageConfig())


def test_env_is_the_image_env_overlaid_by_the_pod_env() -> None:
    env = generate(config(envs=[("A", "2"), ("B", "3")]))["process"]["env"]
    assert env == ["PATH=/bin", "HOSTNAME=web-0", "A=2", "B=3"]


def test_working_dir_from_config_else_image_else_root() -> None:
    assert generate(config(working_dir="/w"))["process"]["cwd"] == "/w"
    assert generate(config())["process"]["cwd"] == "/app"
    assert generate(config(command=["x"]), cri.ImageConfig())["process"]["cwd"] == "/"


def test_joins_the_pods_namespaces_by_path_with_its_own_pid_namespace() -> None:
    namespaces = generate(config())["linux"]["namespaces"]
    assert {"type": "pid"} in namespaces
    assert {"type": "network", "path": "/run/x/ns/net"} in namespaces
    assert {"type": "ipc", "path": "/run/x/ns/ipc"} in namespaces
    assert {"type": "uts", "path": "/run/x/ns/uts"} in namespaces


def test_cgroups_path_is_under_the_pod_cgroup() -> None:
    assert generate(config())["linux"]["cgroupsPath"] == "/kubelite/podabc/ctr1"


def test_default_capabilities_plus_adds_minus_drops() -> None:
    caps = cri.Capability(add_capabilities=["NET_ADMIN"], drop_capabilities=["CAP_KILL"])
    sc = cri.LinuxContainerSecurityContext(capabilities=caps)
    effective = generate(config(security_context=sc))["process"]["capabilities"]["effective"]
    assert "CAP_NET_ADMIN" in effective
    assert "CAP_KILL" not in effective
    assert "CAP_CHOWN" in effective


def test_drop_all_then_add_keeps_only_the_adds() -> None:
    caps = cri.Capability(add_capabilities=["NET_BIND_SERVICE"], drop_capabilities=["ALL"])
    assert spec.capabilities(caps, privileged=False) == ["CAP_NET_BIND_SERVICE"]


def test_add_all_gives_every_capability() -> None:
    caps = cri.Capability(add_capabilities=["ALL"])
    assert spec.capabilities(caps, privileged=False) == spec.host_capabilities()


def test_privileged_has_all_caps_and_no_masked_paths() -> None:
    sc = cri.LinuxContainerSecurityContext(privileged=True)
    generated = generate(config(security_context=sc))
    assert generated["process"]["capabilities"]["bounding"] == spec.host_capabilities()
    assert "maskedPaths" not in generated["linux"]
    assert generated["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    sys_mount = next(m for m in generated["mounts"] if m["destination"] == "/sys")
    assert "ro" not in sys_mount["options"]


def test_default_masked_and_readonly_paths() -> None:
    linux = generate(config())["linux"]
    assert "/proc/kcore" in linux["maskedPaths"]
    assert "/proc/sys" in linux["readonlyPaths"]


def test_pod_files_and_shm_are_bind_mounted_and_user_mounts_sorted() -> None:
    mounts = [
        cri.Mount(container_path="/data/sub", host_path="/h/sub", readonly=True),
        cri.Mount(container_path="/data", host_path="/h", propagation="rslave"),
    ]
    generated = generate(config(mounts=mounts))
    by_dest = {m["destination"]: m for m in generated["mounts"]}
    assert by_dest["/etc/hosts"]["source"] == "/data/x/hosts"
    assert by_dest["/dev/shm"]["source"] == "/run/x/shm"
    assert by_dest["/etc/hostname"]["source"] == "/data/x/hostname"
    destinations = [m["destination"] for m in generated["mounts"]]
    assert destinations.index("/data") < destinations.index("/data/sub")
    assert by_dest["/data/sub"]["options"] == ["rbind", "rprivate", "ro"]
    assert by_dest["/data"]["options"] == ["rbind", "rslave"]
    assert generated["linux"]["rootfsPropagation"] == "rslave"


def test_a_user_mount_replaces_a_pod_file() -> None:
    mounts = [cri.Mount(container_path="/etc/hosts", host_path="/mine")]
    hosts = [
        m for m in generate(config(mounts=mounts))["mounts"] if m["destination"] == "/etc/hosts"
    ]
    assert [m["source"] for m in hosts] == ["/mine"]


def test_resources_rlimits_and_oom_score() -> None:
    res = cri.LinuxContainerResources(
        cpu_period=100000, cpu_quota=50000, cpu_shares=512, memory_limit_in_bytes=1 << 24,
        oom_score_adj=-998,
    )  # fmt: skip
    generated = generate(config(resources=res))
    resources = generated["linux"]["resources"]
    assert resources["cpu"] == {"shares": 512, "quota": 50000, "period": 100000}
    assert resources["memory"] == {"limit": 1 << 24, "swap": 1 << 24}
    assert generated["process"]["oomScoreAdj"] == 0
    (nofile,) = generated["process"]["rlimits"]
    assert nofile["type"] == "RLIMIT_NOFILE"
    assert nofile["hard"] == spec.nofile_limit() <= spec.RLIMIT_NOFILE


def test_readonly_rootfs_and_no_new_privs() -> None:
    sc = cri.LinuxContainerSecurityContext(readonly_rootfs=True, no_new_privs=True)
    generated = generate(config(security_context=sc))
    assert generated["root"] == {"path": "rootfs", "readonly": True}
    assert generated["process"]["noNewPrivileges"] is True


def test_host_network_pod_joins_no_network_namespace() -> None:
    sandbox = dataclasses.replace(SANDBOX, netns="", uts_ns="")
    generated = spec.generate_spec(
        config=config(), image=IMAGE, user=User(0, 0), sandbox=sandbox, container_id="c"
    )
    types = {n["type"] for n in generated["linux"]["namespaces"]}
    assert types == {"pid", "mount", "ipc"}


@pytest.mark.parametrize(
    ("name", "number"), [("SIGTERM", 15), ("TERM", 15), ("sigquit", 3), ("9", 9)]
)
def test_stop_signal_names(name: str, number: int) -> None:
    assert spec.parse_signal(name) == number


def test_unknown_stop_signal_is_an_error() -> None:
    with pytest.raises(ContainerError, match="unknown stop signal"):
        spec.parse_signal("SIGNOPE")
