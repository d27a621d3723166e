"""The OCI runtime spec (config.json) of a container, from its CRI config and its image's config.

The rules are Kubernetes' and containerd's: the command is `command` else the image's
entrypoint, followed by `args` else the image's cmd, except that a `command` drops the image's
cmd ("Define a Command and Arguments for a Container"); env is the image's overlaid by the pod's;
capabilities, masked and read-only paths, mounts and rlimits are containerd's defaults
(`oci/spec.go`, `pkg/cri/opts/spec_linux.go`). The container joins its pod's pinned network, IPC
and UTS namespaces by path and gets a PID and mount namespace of its own, unless the pod shares
the node's (hostNetwork, hostIPC, hostPID).

The security context is applied as containerd's CRI plugin applies it (`containerSpec`,
`WithCapabilities`, `WithPrivileged`, `GenerateSeccompSpecOpts`, `GenerateApparmorSpecOpts`):
capabilities are the default set with ALL and single adds and drops; a privileged container has
every capability, every host device, writable /sys and cgroups, no masked or read-only paths
and no seccomp or AppArmor profile; others get the masked and read-only paths the kubelet sent
(none with procMount Unmasked), their seccomp profile (`oci.seccomp`) and their AppArmor
profile.
"""

from __future__ import annotations

import resource
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubelite.runtime import cri
from kubelite.runtime.errors import ContainerError
from kubelite.runtime.oci import apparmor, seccomp
from kubelite.runtime.oci.devices import host_devices
from kubelite.runtime.oci.users import User

OCI_VERSION = "1.0.2"  # runc 1.1's spec version

# containerd's and CRI-O's default capability set (RUNTIME_NOTES.md: runc spec's is too small).
DEFAULT_CAPABILITIES = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]

# Every capability of <linux/capability.h>, in number order (CAP_CHOWN is 0).
ALL_CAPABILITIES = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
    "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
]  # fmt: skip

# containerd's defaults (oci/spec.go populateDefaultUnixSpec), for a config that names none (the
# kubelet always sends its own list, or an empty one).
DEFAULT_MASKED_PATHS = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
    "/proc/scsi",
]
DEFAULT_READONLY_PATHS = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # Docker's
RLIMIT_NOFILE = 1048576  # what containerd gives every container (oci/spec.go)


def host_capabilities() -> list[str]:
    """The capabilities the runtime itself holds (containerd's cap.Current: the effective set
    of its own process), which privileged containers and an add of ALL get: a capability the
    runtime lacks cannot be given (these machines lack CAP_SYS_RESOURCE, RUNTIME_NOTES.md)."""
    try:
        status = Path("/proc/self/status").read_text()
        effective = int(status.split("CapEff:", 1)[1].split()[0], 16)
    except (OSError, IndexError, ValueError):
        return list(ALL_CAPABILITIES)
    return [name for bit, name in enumerate(ALL_CAPABILITIES) if effective >> bit & 1]


def _cap_name(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else f"CAP_{name}"


def capabilities(caps: cri.Capability | None, privileged: bool) -> list[str]:
    """containerd's WithCapabilities: the default set; every capability for an add of ALL, none
    for a drop of ALL; then each other add, then each other drop (so a capability both added and
    dropped is dropped). A privileged container has them all."""
    every = host_capabilities()
    if privileged:
        return every
    result = list(DEFAULT_CAPABILITIES)
    if caps is None:
        return result
    adds = [_cap_name(c) for c in caps.add_capabilities]
    drops = [_cap_name(c) for c in caps.drop_capabilities]
    if "CAP_ALL" in adds:
        result = list(every)
    if "CAP_ALL" in drops:
        result = []
    result.extend(c for c in dict.fromkeys(adds) if c != "CAP_ALL" and c not in result)
    return [c for c in result if c not in drops]


def process_args(config: cri.ContainerConfig, image: cri.ImageConfig) -> list[str]:
    """Kubernetes' command rule: a `command` replaces the entrypoint and drops the image cmd."""
    if config.command:
        args = [*config.command, *config.args]
    else:
        args = [*image.entrypoint, *(config.args or image.cmd)]
    if not args:
        raise ContainerError(
            f'container "{config.metadata.name}": no command specified',
            reason="CreateContainerError",
        )
    return args


def process_env(config: cri.ContainerConfig, image: cri.ImageConfig, hostname: str) -> list[str]:
    """The image's env overlaid by the container's; PATH and HOSTNAME as containerd sets them."""
    env: dict[str, str] = {"PATH": DEFAULT_PATH, "HOSTNAME": hostname}
    for item in image.env:
        key, _, value = item.partition("=")
        env[key] = value
    for key, value in config.envs:
        env[key] = value
    return [f"{k}={v}" for k, v in env.items()]


def parse_signal(name: str) -> signal.Signals:
    """A stop signal as images and pods write it: "SIGTERM", "TERM", "15"."""
    if name.isdigit():
        return signal.Signals(int(name))
    name = name.upper()
    try:
        return signal.Signals[name if name.startswith("SIG") else f"SIG{name}"]
    except KeyError:
        raise ContainerError(f"unknown stop signal {name!r}") from None


def nofile_limit() -> int:
    """RLIMIT_NOFILE for containers: containerd's value, clamped to our own hard limit, since
    without CAP_SYS_RESOURCE runc cannot raise it further (RUNTIME_NOTES.md)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return RLIMIT_NOFILE if hard == resource.RLIM_INFINITY else min(RLIMIT_NOFILE, hard)


@dataclass(frozen=True, slots=True)
class SandboxPaths:
    """What a container takes from its sandbox."""

    netns: str  # empty: the host's network namespace
    ipc_ns: str
    uts_ns: str  # empty: the host's UTS namespace
    shm: str
    hosts: str
    resolv_conf: str
    hostname_file: str
    hostname: str
    cgroup_parent: str
    sysctls: dict[str, str]
    host_pid: bool = False  # the node's PID namespace (hostPID); ipc_ns "" is the node's IPC


_PROPAGATION = {"private": "rprivate", "rslave": "rslave", "rshared": "rshared"}


def _mounts(config: cri.ContainerConfig, sandbox: SandboxPaths, privileged: bool) -> list[dict]:
    ro_sys = [] if privileged else ["ro"]
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", *ro_sys]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["nosuid", "noexec", "nodev", "relatime", *ro_sys]},
    ]  # fmt: skip
    taken = {m.container_path for m in config.mounts}
    pod_files = [
        ("/dev/shm", sandbox.shm, ["rbind", "nosuid", "nodev", "noexec"]),
        ("/etc/hosts", sandbox.hosts, ["rbind", "rprivate"]),
        ("/etc/resolv.conf", sandbox.resolv_conf, ["rbind", "rprivate"]),
        ("/etc/hostname", sandbox.hostname_file, ["rbind", "rprivate"]),
    ]
    for destination, source, options in pod_files:
        if destination not in taken and source:
            ro = (
                ["ro"]
                if config.security_context.readonly_rootfs and destination != "/dev/shm"
                else []
            )
            mounts.append(
                {"destination": destination, "type": "bind", "source": source,
                 "options": [*options, *ro]}
            )  # fmt: skip
    # Parents before children, as containerd sorts them, so a mount is not hidden by a later
    # mount of its parent directory.
    for m in sorted(config.mounts, key=lambda m: len(Path(m.container_path).parts)):
        options = ["rbind", _PROPAGATION.get(m.propagation, "rprivate")]
        if m.readonly:
            options.append("ro")
        mounts.append(
            {"destination": m.container_path, "type": "bind", "source": m.host_path,
             "options": options}
        )  # fmt: skip
    return mounts


def _seccomp(
    sc: cri.LinuxContainerSecurityContext, bounding: list[str], container_id: str
) -> dict[str, Any] | None:
    """GenerateSeccompSpecOpts: nothing for a privileged or unconfined container, containerd's
    default profile for RuntimeDefault (which depends on the capabilities), the node's file for
    Localhost."""
    profile = sc.seccomp
    if sc.privileged or profile is None:
        return None
    if profile.profile_type == cri.SecurityProfileType.RUNTIME_DEFAULT:
        return seccomp.default_profile(bounding)
    if profile.profile_type == cri.SecurityProfileType.LOCALHOST:
        try:
            return seccomp.localhost_profile(profile.localhost_ref)
        except ContainerError as e:
            # containerd's CreateContainer wraps a spec option's error so.
            raise ContainerError(
                f'failed to generate container "{container_id}" spec: failed to generate spec: {e}',
                reason=e.reason,
            ) from e
    return None


def _apparmor(sc: cri.LinuxContainerSecurityContext) -> str:
    """GenerateApparmorSpecOpts: the AppArmor profile to run under ("" for none). kubelite loads
    no default profile of its own: RuntimeDefault is refused where AppArmor is enabled, as both
    kinds are where it is not (the kubelet refuses such pods before they get here)."""
    profile = sc.apparmor
    if profile is None or profile.profile_type == cri.SecurityProfileType.UNCONFINED:
        return ""
    default = profile.profile_type == cri.SecurityProfileType.RUNTIME_DEFAULT
    if default and sc.privileged:
        return ""
    if not apparmor.is_enabled():
        raise ContainerError("apparmor is not supported", reason="CreateContainerError")
    if default:
        raise ContainerError(
            "apparmor RuntimeDefault: kubelite has no default AppArmor profile to load",
            reason="CreateContainerError",
        )
    return profile.localhost_ref.removeprefix("localhost/")


def _resources(res: cri.LinuxContainerResources, privileged: bool) -> dict[str, Any]:
    devices = (
        [{"allow": True, "access": "rwm"}] if privileged else [{"allow": False, "access": "rwm"}]
    )
    return {"devices": devices, **cgroup_resources(res)}


def cgroup_resources(res: cri.LinuxContainerResources) -> dict[str, Any]:
    """The cpu and memory parts of the OCI `linux.resources` (0 leaves a setting out); what
    `runc update` takes too."""
    out: dict[str, Any] = {}
    cpu = {}
    if res.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if res.cpu_quota:
        cpu["quota"] = res.cpu_quota
    if res.cpu_period:
        cpu["period"] = res.cpu_period
    if cpu:
        out["cpu"] = cpu
    if res.memory_limit_in_bytes:
        # swap = limit: no swap on top of the limit, as the kubelet asks on cgroup v1.
        out["memory"] = {
            "limit": res.memory_limit_in_bytes,
            "swap": res.memory_limit_in_bytes,
        }
    return out


def generate_spec(
    *,
    config: cri.ContainerConfig,
    image: cri.ImageConfig,
    user: User,
    sandbox: SandboxPaths,
    container_id: str,
) -> dict[str, Any]:
    """The config.json of a container whose root is the bundle's `rootfs` dir."""
    sc = config.security_context
    caps = capabilities(sc.capabilities, sc.privileged)
    nofile = nofile_limit()
    namespaces: list[dict[str, str]] = [{"type": "mount"}]
    if not sandbox.host_pid:
        namespaces.append({"type": "pid"})
    if sandbox.ipc_ns:
        namespaces.append({"type": "ipc", "path": sandbox.ipc_ns})
    if sandbox.uts_ns:
        namespaces.append({"type": "uts", "path": sandbox.uts_ns})
    if sandbox.netns:
        namespaces.append({"type": "network", "path": sandbox.netns})
    linux: dict[str, Any] = {
        "namespaces": namespaces,
        "cgroupsPath": f"{sandbox.cgroup_parent.rstrip('/')}/{container_id}",
        "resources": _resources(config.resources, sc.privileged),
        "sysctl": dict(sandbox.sysctls),
    }
    if sc.privileged:
        # WithPrivilegedDevices: the node's devices, as the device cgroup allows them all.
        linux["devices"] = host_devices()
    else:
        masked = DEFAULT_MASKED_PATHS if sc.masked_paths is None else sc.masked_paths
        readonly = DEFAULT_READONLY_PATHS if sc.readonly_paths is None else sc.readonly_paths
        if masked:
            linux["maskedPaths"] = list(masked)
        if readonly:
            linux["readonlyPaths"] = list(readonly)
    profile = _seccomp(sc, caps, container_id)
    if profile is not None:
        linux["seccomp"] = profile
    propagations = {m.propagation for m in config.mounts}
    if "rshared" in propagations:
        linux["rootfsPropagation"] = "rshared"
    elif "rslave" in propagations:
        linux["rootfsPropagation"] = "rslave"
    process: dict[str, Any] = {
        "terminal": config.tty,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "args": process_args(config, image),
        "env": process_env(config, image, sandbox.hostname),
        "cwd": config.working_dir or image.working_dir or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": [{"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile}],
        "noNewPrivileges": sc.no_new_privs,
        # A negative score needs CAP_SYS_RESOURCE, which these machines lack (RUNTIME_NOTES.md).
        "oomScoreAdj": max(0, config.resources.oom_score_adj),
    }
    apparmor_profile = _apparmor(sc)
    if apparmor_profile:
        process["apparmorProfile"] = apparmor_profile
    return {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": "rootfs", "readonly": sc.readonly_rootfs},
        "mounts": _mounts(config, sandbox, sc.privileged),
        "annotations": dict(config.annotations),
        "linux": linux,
    }
