"""The container runtime's interface, shaped like Kubernetes' CRI (image service, runtime service).

The kubelet talks to the runtime only through these two Protocols, as Kubernetes' kubelet talks
to containerd or CRI-O only through CRI (`k8s.io/cri-api/pkg/apis/runtime/v1/api.proto`). The
names and fields follow that file so that a reader who knows CRI finds their way; what CRI says
with gRPC messages is said here with dataclasses, and times are Unix nanoseconds as in CRI.

One implementation sits behind them (`runtime.service`): images pulled over the OCI distribution
protocol and stacked with overlayfs (`runtime.images`), sandboxes made of pinned namespaces and a
CNI network (`runtime.sandbox`), containers run by runc under conmon (`runtime.oci`).
"""

from __future__ import annotations

import enum
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

# --- images ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What an image's config says about how to run it (the OCI image config's `config`)."""

    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)  # "KEY=value", as the image config has them
    working_dir: str = ""
    user: str = ""
    exposed_ports: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    stop_signal: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    """An image in the store (CRI `Image`)."""

    id: str  # the config's digest, "sha256:..."
    repo_tags: list[str]  # normalized references, "docker.io/library/nginx:latest"
    repo_digests: list[str]  # "docker.io/library/nginx@sha256:..."
    size: int  # bytes of the compressed layers
    config: ImageConfig


@dataclass(frozen=True, slots=True)
class AuthConfig:
    """Credentials for one pull, as the kubelet hands them from imagePullSecrets (CRI)."""

    username: str = ""
    password: str = ""
    auth: str = ""  # base64 "user:password", as in a docker config
    identity_token: str = ""
    registry_token: str = ""


@dataclass(frozen=True, slots=True)
class PullProgress:
    """One report of a pull's progress, for progress bars (not part of CRI)."""

    digest: str
    total: int
    done: int
    finished: bool = False


class ImageService(Protocol):
    """CRI's ImageService, plus what the runtime itself needs to build a container's root."""

    async def pull_image(
        self,
        image: str,
        *,
        auth: AuthConfig | None = None,
        progress: Callable[[PullProgress], None] | None = None,
    ) -> str:
        """Pull `image` (any reference a pod may name) and return its image id.

        Concurrent pulls of one image share a single download. Raises the errors of
        `runtime.errors`: ImageNotFound, RegistryUnauthorized, RegistryUnavailable, ...
        """
        ...

    async def image_status(self, image: str) -> Image | None:
        """The image a reference or id names, or None when it is not in the store."""
        ...

    async def list_images(self) -> list[Image]: ...

    async def remove_image(self, image: str) -> None:
        """Remove a reference; the image's blobs go when no reference is left. Missing is fine."""
        ...

    async def layer_dirs(self, image_id: str) -> list[Path]:
        """The unpacked layers of an image, topmost first: overlayfs' `lowerdir` order."""
        ...


# --- sandboxes and containers -----------------------------------------------------------------


class PodSandboxState(enum.Enum):
    """CRI's sandbox states: whether the pod's namespaces and network are up."""

    SANDBOX_READY = "SANDBOX_READY"
    SANDBOX_NOTREADY = "SANDBOX_NOTREADY"


class ContainerState(enum.Enum):
    """CRI's container states, which the kubelet turns into waiting, running and terminated."""

    CONTAINER_CREATED = "CONTAINER_CREATED"
    CONTAINER_RUNNING = "CONTAINER_RUNNING"
    CONTAINER_EXITED = "CONTAINER_EXITED"
    CONTAINER_UNKNOWN = "CONTAINER_UNKNOWN"


@dataclass(frozen=True, slots=True)
class PortMapping:
    """A hostPort of the pod (CRI `PortMapping`); carried out by the CNI portmap plugin."""

    container_port: int
    host_port: int
    protocol: str = "TCP"  # TCP, UDP or SCTP
    host_ip: str = ""


@dataclass(frozen=True, slots=True)
class DNSConfig:
    """What goes into the pod's /etc/resolv.conf (CRI `DNSConfig`)."""

    servers: list[str] = field(default_factory=list)
    searches: list[str] = field(default_factory=list)
    options: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class HostAlias:
    """One extra /etc/hosts entry of a pod (`spec.hostAliases`)."""

    ip: str
    hostnames: list[str]


@dataclass(frozen=True, slots=True)
class PodSandboxMetadata:
    """What identifies a sandbox: the pod's name, uid and namespace, and which attempt at a sandbox
    for it this is."""

    name: str
    uid: str
    namespace: str
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class PodSandboxConfig:
    """Everything a sandbox is made from (CRI `PodSandboxConfig`, Linux parts folded in)."""

    metadata: PodSandboxMetadata
    hostname: str = ""
    # The pod's domain (`<subdomain>.<ns>.svc.<cluster domain>`, "" without a subdomain):
    # /etc/hosts maps `<hostname>.<domain>` to the pod's IP, and with `hostname_as_fqdn`
    # (setHostnameAsFQDN) the UTS namespace's name is that FQDN rather than the short name.
    domain: str = ""
    hostname_as_fqdn: bool = False
    log_directory: str = ""  # where the containers' log files go
    dns_config: DNSConfig | None = None  # None: the host's resolv.conf
    port_mappings: list[PortMapping] = field(default_factory=list)
    host_aliases: list[HostAlias] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    cgroup_parent: str = ""  # absolute cgroup path for the pod, e.g. "/kubelite/pod<uid>"
    sysctls: dict[str, str] = field(default_factory=dict)
    # CRI's NamespaceOption: NODE for the node's namespace, else the pod's own.
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False


@dataclass(frozen=True, slots=True)
class PodSandboxStatus:
    """What the runtime reports of a sandbox: its state, creation time, pod IPs, labels and
    annotations."""

    id: str
    metadata: PodSandboxMetadata
    state: PodSandboxState
    created_at: int  # ns
    ip: str = ""
    additional_ips: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    netns_path: str = ""


@dataclass(frozen=True, slots=True)
class Mount:
    """A bind mount into a container (CRI `Mount`)."""

    container_path: str
    host_path: str
    readonly: bool = False
    propagation: str = "private"  # private, rslave, rshared


@dataclass(frozen=True, slots=True)
class LinuxContainerResources:
    """cgroup settings (CRI `LinuxContainerResources`); 0 means unset."""

    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_shares: int = 0
    memory_limit_in_bytes: int = 0
    oom_score_adj: int = 0


@dataclass(frozen=True, slots=True)
class Capability:
    """The Linux capabilities a container adds and drops, from its security context."""

    add_capabilities: list[str] = field(default_factory=list)  # "NET_ADMIN" or "ALL"
    drop_capabilities: list[str] = field(default_factory=list)


class SecurityProfileType(enum.StrEnum):
    """CRI's SecurityProfile.ProfileType, for seccomp and AppArmor alike."""

    RUNTIME_DEFAULT = "RuntimeDefault"
    UNCONFINED = "Unconfined"
    LOCALHOST = "Localhost"


@dataclass(frozen=True, slots=True)
class SecurityProfile:
    """A seccomp or AppArmor profile (CRI `SecurityProfile`): the runtime's default, none, or one
    of the node's (`localhost_ref`: a seccomp profile's absolute path, an AppArmor profile's
    name)."""

    profile_type: SecurityProfileType = SecurityProfileType.UNCONFINED
    localhost_ref: str = ""


@dataclass(frozen=True, slots=True)
class LinuxContainerSecurityContext:
    """A container's security settings as the runtime applies them: capabilities, privilege, user
    and groups, read-only root, the /proc paths hidden from it, its seccomp and AppArmor
    profiles."""

    capabilities: Capability | None = None
    privileged: bool = False
    run_as_user: int | None = None
    run_as_group: int | None = None
    run_as_username: str = ""
    supplemental_groups: list[int] = field(default_factory=list)
    readonly_rootfs: bool = False
    no_new_privs: bool = False
    masked_paths: list[str] | None = None  # None: the runtime's defaults; []: none at all
    readonly_paths: list[str] | None = None
    seccomp: SecurityProfile | None = None  # None: unconfined
    apparmor: SecurityProfile | None = None


@dataclass(frozen=True, slots=True)
class ContainerMetadata:
    """What identifies a container within its sandbox: its name and restart attempt."""

    name: str
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """Everything a container is made from (CRI `ContainerConfig`)."""

    metadata: ContainerMetadata
    image: str  # an image id or a reference already in the store
    command: list[str] = field(default_factory=list)  # replaces the image's entrypoint
    args: list[str] = field(default_factory=list)  # replaces the image's cmd
    working_dir: str = ""
    envs: list[tuple[str, str]] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    log_path: str = ""  # relative to the sandbox's log_directory
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    resources: LinuxContainerResources = field(default_factory=LinuxContainerResources)
    security_context: LinuxContainerSecurityContext = field(
        default_factory=LinuxContainerSecurityContext
    )
    stop_signal: str = ""  # empty: the image's, else SIGTERM


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    """A container as the runtime sees it (CRI `ContainerStatus`)."""

    id: str
    metadata: ContainerMetadata
    state: ContainerState
    created_at: int  # ns
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    image: str = ""  # the reference the container was made from
    image_ref: str = ""  # the image id
    reason: str = ""  # "Completed", "Error", "OOMKilled" once exited
    message: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    log_path: str = ""  # absolute
    pid: int = 0
    sandbox_id: str = ""
    # The cgroup settings the container runs with (CRI `ContainerResources`): what it was made
    # with, or was last updated to; None when the runtime cannot say.
    resources: LinuxContainerResources | None = None


@dataclass(frozen=True, slots=True)
class RuntimeHandlerFeatures:
    """What one runtime handler can do (CRI `RuntimeHandlerFeatures`); the kubelet refuses pods
    that need a feature their handler lacks."""

    recursive_read_only_mounts: bool = False
    user_namespaces: bool = False


@dataclass(frozen=True, slots=True)
class RuntimeHandler:
    """A runtime handler (CRI `RuntimeHandler`); "" is the default one, which pods without a
    RuntimeClass use."""

    name: str = ""
    features: RuntimeHandlerFeatures = field(default_factory=RuntimeHandlerFeatures)


@dataclass(frozen=True, slots=True)
class RuntimeStatus:
    """The runtime's answer to CRI's Status: its handlers and their features."""

    handlers: list[RuntimeHandler] = field(default_factory=list)

    def handler(self, name: str = "") -> RuntimeHandler | None:
        return next((h for h in self.handlers if h.name == name), None)


@dataclass(frozen=True, slots=True)
class ExecSyncResult:
    """The output and exit code of a command run to completion in a container (exec probes,
    lifecycle hooks)."""

    stdout: bytes
    stderr: bytes
    exit_code: int


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    """A change the runtime noticed by itself: today, a container that exited."""

    container_id: str
    sandbox_id: str
    state: ContainerState
    created_at: int  # ns, when the runtime noticed


@dataclass(frozen=True, slots=True)
class TerminalSize:
    """A terminal's size in characters (remotecommand's TerminalSize; CRI's Resize)."""

    width: int
    height: int


class ExecSession(Protocol):
    """A running exec: the kubelet pumps the streams of `kubectl exec` through it."""

    async def write_stdin(self, data: bytes) -> None: ...

    async def close_stdin(self) -> None: ...

    def stdout(self) -> AsyncIterator[bytes]: ...

    def stderr(self) -> AsyncIterator[bytes]:
        """Empty with a tty: the terminal merges both streams into stdout."""
        ...

    async def resize(self, width: int, height: int) -> None: ...

    async def wait(self) -> int:
        """The command's exit code."""
        ...


class AttachSession(ExecSession, Protocol):
    """A container's own stdio, attached to (CRI's Attach); `wait()` answers 0 once the
    container's output has ended."""

    def detach(self) -> None:
        """Let go of the container, which keeps running (the client has gone)."""
        ...


class RuntimeService(Protocol):
    """CRI's RuntimeService."""

    async def status(self) -> RuntimeStatus:
        """CRI's Status: the runtime handlers and what each supports."""
        ...

    async def update_runtime_config(self, pod_cidr: str) -> None:
        """CRI's UpdateRuntimeConfig: the pod CIDR the node's pods get addresses from."""
        ...

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> str:
        """Make the sandbox (namespaces, network, cgroup, per-pod files); return its id.

        On failure nothing of it is left behind and a SandboxError says why.
        """
        ...

    async def stop_pod_sandbox(self, sandbox_id: str) -> None:
        """Stop its containers and release its network (CNI DEL). Idempotent."""
        ...

    async def remove_pod_sandbox(self, sandbox_id: str) -> None:
        """Remove its containers, namespaces, mounts, cgroup and files. Missing is fine."""
        ...

    async def pod_sandbox_status(self, sandbox_id: str) -> PodSandboxStatus: ...

    async def list_pod_sandboxes(self) -> list[PodSandboxStatus]: ...

    async def create_container(
        self, sandbox_id: str, config: ContainerConfig, sandbox_config: PodSandboxConfig
    ) -> str:
        """Make the container (root filesystem, OCI bundle) without starting it; return its id."""
        ...

    async def start_container(self, container_id: str) -> None: ...

    async def stop_container(self, container_id: str, timeout: float) -> None:
        """The stop signal, then SIGKILL after `timeout` seconds. Already stopped is fine."""
        ...

    async def remove_container(self, container_id: str) -> None: ...

    async def container_status(self, container_id: str) -> ContainerStatus: ...

    async def update_container_resources(
        self, container_id: str, resources: LinuxContainerResources
    ) -> None:
        """CRI's UpdateContainerResources: the running container's cgroup limits changed in
        place, without a restart (in-place pod resize). Raises ContainerError when the kernel
        or the OCI runtime refuses them (a memory limit below what the container uses)."""
        ...

    async def list_containers(self, sandbox_id: str | None = None) -> list[ContainerStatus]: ...

    async def exec_sync(
        self, container_id: str, cmd: list[str], timeout: float | None = None
    ) -> ExecSyncResult: ...

    async def exec(
        self,
        container_id: str,
        cmd: list[str],
        *,
        stdin: bool,
        tty: bool,
        size: TerminalSize | None = None,
    ) -> ExecSession:
        """A streaming exec; with `tty`, `size` is the terminal's size the command starts with."""
        ...

    async def attach(self, container_id: str, *, tty: bool) -> AttachSession:
        """The running container's own stdin, stdout and stderr (or its terminal)."""
        ...

    async def port_forward(self, sandbox_id: str, port: int) -> socket.socket:
        """A connection to `port` on localhost inside the sandbox's network namespace."""
        ...

    def events(self) -> AsyncIterator[ContainerEvent]:
        """Container exits as they happen (CRI's GetContainerEvents), without polling."""
        ...
