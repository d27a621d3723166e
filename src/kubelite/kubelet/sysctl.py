"""Which sysctls a pod may set on this node (`pkg/kubelet/sysctl`).

A pod's `securityContext.sysctls` are written into its own namespaces, so only sysctls the
kernel namespaces per network or IPC namespace can be set at all, and only those that cannot
hurt other pods are allowed by default: the safe set, each from the kernel version that made it
namespaced. The node's `--allowed-unsafe-sysctls` (names, or prefixes ending in `*`) adds more,
each of them namespaced too. A pod asking for anything else is rejected by the kubelet's admission
with reason SysctlForbidden, as is a net.* sysctl in a host-network pod or an IPC one in a
host-IPC pod.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from dataclasses import dataclass

from kubelite.api.types import Obj
from kubelite.kubelet.admission import PodAdmitResult

FORBIDDEN_REASON = "SysctlForbidden"

IPC_NAMESPACE = "ipc"
NET_NAMESPACE = "net"

# The safe sysctls of Kubernetes 1.37 (safe_sysctls.go), with the kernel that namespaced each;
# 1.37 added tcp_slow_start_after_idle and tcp_notsent_lowat (kubernetes/kubernetes#138389).
SAFE_SYSCTLS: tuple[tuple[str, tuple[int, int]], ...] = (
    ("kernel.shm_rmid_forced", (0, 0)),
    ("net.ipv4.ip_local_port_range", (0, 0)),
    ("net.ipv4.tcp_syncookies", (0, 0)),
    ("net.ipv4.ping_group_range", (0, 0)),
    ("net.ipv4.ip_unprivileged_port_start", (0, 0)),
    ("net.ipv4.ip_local_reserved_ports", (3, 16)),
    ("net.ipv4.tcp_keepalive_time", (4, 5)),
    ("net.ipv4.tcp_fin_timeout", (4, 6)),
    ("net.ipv4.tcp_keepalive_intvl", (4, 5)),
    ("net.ipv4.tcp_keepalive_probes", (4, 5)),
    ("net.ipv4.tcp_rmem", (0, 0)),
    ("net.ipv4.tcp_wmem", (0, 0)),
    ("net.ipv4.tcp_slow_start_after_idle", (4, 15)),
    ("net.ipv4.tcp_notsent_lowat", (4, 6)),
)

# namespace.go: which sysctls a namespace holds, by name and by prefix.
_NAMESPACED = {"kernel.sem": IPC_NAMESPACE}
_NAMESPACED_PREFIXES = {
    "kernel.shm": IPC_NAMESPACE,
    "kernel.msg": IPC_NAMESPACE,
    "fs.mqueue.": IPC_NAMESPACE,
    "net.": NET_NAMESPACE,
}

# policy validation's SysctlContainSlashPatternFmt: a sysctl name, or a prefix ending in `*`.
_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_PATTERN_SEGMENT = "([a-z0-9][-_a-z0-9]*)?[a-z0-9*]"
_PATTERN = re.compile(rf"^({_SEGMENT}[\./])*{_PATTERN_SEGMENT}$")
SYSCTL_MAX_LENGTH = 253


def dotted(name: str) -> str:
    """ConvertSysctlVariableToDotsSeparator: `net/ipv4/conf/eth0.100/forwarding` is
    `net.ipv4.conf.eth0/100.forwarding`; a name whose first separator is a dot is kept."""
    for char in name:
        if char in "./":
            if char == ".":
                return name
            return name.translate(str.maketrans("./", "/."))
    return name


def namespaced_by(name: str) -> str:
    """The namespace that holds sysctl `name`, or "" if it is not known to be namespaced."""
    if name in _NAMESPACED:
        return _NAMESPACED[name]
    for prefix, namespace in _NAMESPACED_PREFIXES.items():
        if name.startswith(prefix):
            return namespace
    return ""


def kernel_version() -> tuple[int, int]:
    """(major, minor) of the running kernel; (0, 0) if its release does not parse."""
    match = re.match(r"(\d+)\.(\d+)", platform.release())
    return (int(match[1]), int(match[2])) if match else (0, 0)


def safe_sysctls(kernel: tuple[int, int] | None = None) -> list[str]:
    """SafeSysctlAllowlist: the safe sysctls this kernel namespaces."""
    kernel = kernel or kernel_version()
    return [name for name, since in SAFE_SYSCTLS if kernel >= since]


class AllowlistError(ValueError):
    """A pattern of --allowed-unsafe-sysctls is malformed or not namespaced."""


@dataclass(frozen=True)
class Allowlist:
    """patternAllowlist: the sysctls (and prefixes) a pod may set, with their namespaces."""

    sysctls: dict[str, str]
    prefixes: dict[str, str]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> Allowlist:
        """NewAllowlist; AllowlistError for a pattern Kubernetes refuses at kubelet start."""
        sysctls: dict[str, str] = {}
        prefixes: dict[str, str] = {}
        for pattern in patterns:
            if len(pattern) > SYSCTL_MAX_LENGTH or not _PATTERN.match(pattern):
                raise AllowlistError(
                    f'sysctl "{pattern}" must have at most {SYSCTL_MAX_LENGTH} characters and '
                    f"match regex {_PATTERN.pattern}"
                )
            name = dotted(pattern)
            if name.endswith("*"):
                namespace = namespaced_by(name[:-1])
                if not namespace:
                    raise AllowlistError(f'the sysctls "{name}" are not known to be namespaced')
                prefixes[name[:-1]] = namespace
            else:
                namespace = namespaced_by(name)
                if not namespace:
                    raise AllowlistError(f'the sysctl "{name}" are not known to be namespaced')
                sysctls[name] = namespace
        return cls(sysctls, prefixes)

    def validate(self, name: str, *, host_network: bool, host_ipc: bool) -> str:
        """validateSysctl: "" if the pod may set `name`, else why not."""
        name = dotted(name)
        namespace = self.sysctls.get(name)
        if namespace is None:
            namespace = next((ns for p, ns in self.prefixes.items() if name.startswith(p)), None)
        if namespace is None:
            return f'"{name}" not allowlisted'
        if (namespace == IPC_NAMESPACE and host_ipc) or (
            namespace == NET_NAMESPACE and host_network
        ):
            return f'"{name}" not allowed with host {namespace} enabled'
        return ""

    def admit(self, pod: Obj) -> PodAdmitResult:
        """The sysctl admission handler (patternAllowlist.Admit)."""
        spec = pod.get("spec") or {}
        for sysctl in (spec.get("securityContext") or {}).get("sysctls") or ():
            problem = self.validate(
                sysctl.get("name", ""),
                host_network=bool(spec.get("hostNetwork")),
                host_ipc=bool(spec.get("hostIPC")),
            )
            if problem:
                return PodAdmitResult.reject(FORBIDDEN_REASON, f"forbidden sysctl: {problem}")
        return PodAdmitResult.admitted()


def allowlist(allowed_unsafe: Iterable[str] = ()) -> Allowlist:
    """The kubelet's allowlist: the safe sysctls and the node's allowed unsafe ones."""
    return Allowlist.of([*safe_sysctls(), *allowed_unsafe])
