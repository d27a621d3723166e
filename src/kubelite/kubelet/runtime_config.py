"""From a pod's spec to the runtime's sandbox and container configs (pure).

Kubernetes' kubelet does this in `generatePodSandboxConfig` (kuberuntime_sandbox.go) and
`generateContainerConfig` / `generateLinuxContainerConfig` (kuberuntime_container.go,
kuberuntime_container_linux.go). The pod's resolver configuration (`kubelet.dns`), the environment
and the mounts come from the kubelet's DNS, env and volume code and are handed in.

Where this machine differs from a stock Linux node it says so: without CAP_SYS_RESOURCE the
runtime cannot lower a process's OOM score, so Guaranteed and Burstable scores are kept at or
above 0 (RUNTIME_NOTES.md).
"""

from __future__ import annotations

import hashlib

import orjson

from kubelite.api import wellknown
from kubelite.api.podlevel import is_pod_level_resources_set, pod_level
from kubelite.api.qos import qos_class
from kubelite.api.quantity import Quantity
from kubelite.api.servicenetwork import CLUSTER_DOMAIN
from kubelite.api.types import Obj
from kubelite.api.validation.names import is_dns1123_label, is_dns1123_subdomain
from kubelite.kubelet import security_context as scx
from kubelite.kubelet.cpu_units import (  # noqa: F401 (the kubelet's cgroup units, used here)
    MAX_SHARES,
    MIN_QUOTA,
    MIN_SHARES,
    QUOTA_PERIOD,
    SHARES_PER_CPU,
    milli_cpu_to_quota,
    milli_cpu_to_shares,
)
from kubelite.kubelet.envvars import ConfigError
from kubelite.kubelet.pod_actions import HASH_ANNOTATION
from kubelite.kubelet.sysctl import dotted
from kubelite.runtime.cri import (
    Capability,
    ContainerConfig,
    ContainerMetadata,
    DNSConfig,
    HostAlias,
    LinuxContainerResources,
    LinuxContainerSecurityContext,
    Mount,
    PodSandboxConfig,
    PodSandboxMetadata,
    PortMapping,
)

# Where the kubelet keeps container logs: /var/log/pods/<namespace>_<name>_<uid>/<container>/N.log
POD_LOGS_ROOT = str(wellknown.POD_LOGS_ROOT)
# Where Localhost seccomp profiles live: `<kubelet root dir>/seccomp` (the kubelet's
# seccompProfileRoot), for the default data directory.
SECCOMP_ROOT = str(wellknown.DEFAULT_DATA_DIR / "kubelet" / "seccomp")

# pkg/kubelet/qos/policy.go: OOM score adjustments by QoS class.
GUARANTEED_OOM_SCORE_ADJ = -997
BESTEFFORT_OOM_SCORE_ADJ = 1000

# The longest hostname and FQDN the kernel's nodename holds (kubelet_pods.go
# truncatePodHostnameIfNeeded, pkg/kubelet/util GetNodenameForKernel).
HOSTNAME_MAX_LENGTH = 63
FQDN_MAX_LENGTH = 64

# Annotations and labels the kubelet puts on containers (pkg/kubelet/kuberuntime/labels.go).
POD_NAME_LABEL = "io.kubernetes.pod.name"
POD_NAMESPACE_LABEL = "io.kubernetes.pod.namespace"
POD_UID_LABEL = "io.kubernetes.pod.uid"
CONTAINER_NAME_LABEL = "io.kubernetes.container.name"
RESTART_COUNT_ANNOTATION = "io.kubernetes.container.restartCount"
TERMINATION_MESSAGE_PATH_ANNOTATION = "io.kubernetes.container.terminationMessagePath"
TERMINATION_MESSAGE_POLICY_ANNOTATION = "io.kubernetes.container.terminationMessagePolicy"
GRACE_PERIOD_ANNOTATION = "io.kubernetes.pod.terminationGracePeriod"


def _quantity(resources: Obj, kind: str, name: str) -> Quantity | None:
    value = (resources.get(kind) or {}).get(name)
    return Quantity.from_json(value) if value is not None else None


def container_resources(pod: Obj, container: Obj, memory_capacity: int) -> LinuxContainerResources:
    """cgroup settings: shares from the cpu request, quota from the cpu limit, the memory
    limit, and the OOM score of the pod's QoS class."""
    resources = container.get("resources") or {}
    cpu_request = _quantity(resources, "requests", "cpu")
    cpu_limit = _quantity(resources, "limits", "cpu")
    memory_limit = _quantity(resources, "limits", "memory")
    if is_pod_level_resources_set(pod):
        # getCPULimit / getMemoryLimit: a container without a limit of its own is held to the
        # pod's (spec.resources, KEP-2837), in its own cgroup too.
        pod_limits = pod_level(pod, "limits")
        if cpu_limit is None or cpu_limit.is_zero():
            cpu_limit = _quantity({"limits": pod_limits}, "limits", "cpu")
        if memory_limit is None or memory_limit.is_zero():
            memory_limit = _quantity({"limits": pod_limits}, "limits", "memory")
    # Without a request, a limit stands in for it (API defaulting does so; kubelet too).
    requested = cpu_request or cpu_limit
    request_milli = requested.milli_value() if requested else 0
    quota = milli_cpu_to_quota(cpu_limit.milli_value()) if cpu_limit else 0
    return LinuxContainerResources(
        cpu_period=QUOTA_PERIOD if quota else 0,
        cpu_quota=quota,
        cpu_shares=milli_cpu_to_shares(request_milli),
        memory_limit_in_bytes=memory_limit.value() if memory_limit else 0,
        oom_score_adj=oom_score_adj(pod, container, memory_capacity),
    )


def oom_score_adj(pod: Obj, container: Obj, memory_capacity: int) -> int:
    """GetContainerOOMScoreAdjust, floored at 0: this machine cannot lower OOM scores."""
    qos = qos_class(pod)
    if qos == "Guaranteed":
        score = GUARANTEED_OOM_SCORE_ADJ
    elif qos == "BestEffort":
        score = BESTEFFORT_OOM_SCORE_ADJ
    else:
        request = _quantity(container.get("resources") or {}, "requests", "memory")
        memory = request.value() if request else 0
        score = 1000 - (1000 * memory) // memory_capacity if memory_capacity else 1000
        # Burstable stays above a Guaranteed pod using all memory (1000 - 997) and below
        # BestEffort.
        score = min(max(score, 1000 + GUARANTEED_OOM_SCORE_ADJ), BESTEFFORT_OOM_SCORE_ADJ - 1)
    return max(score, 0)


def spec_hash(container: Obj) -> str:
    """A stable hash of a container's spec: a running container made from another hash is
    restarted (the kubelet's HashContainer). Its resources are left out: they change in place
    (in-place resize), and a container restarts for them only as its resizePolicy says."""
    hashed = {k: v for k, v in container.items() if k != "resources"}
    return hashlib.sha256(orjson.dumps(hashed, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def pod_log_directory(pod: Obj, logs_root: str = POD_LOGS_ROOT) -> str:
    md = pod["metadata"]
    return f"{logs_root}/{md['namespace']}_{md['name']}_{md['uid']}"


def container_log_path(container_name: str, restart_count: int) -> str:
    """Relative to the pod's log directory (BuildContainerLogsDirectory)."""
    return f"{container_name}/{restart_count}.log"


class SandboxConfigError(Exception):
    """The pod's sandbox config cannot be made (generatePodSandboxConfig failed): the kubelet
    reports `FailedCreatePodSandBox` and tries again on the next sync."""


def _truncate_hostname(name: str, pod_name: str) -> str:
    """truncatePodHostnameIfNeeded: at most 63 characters (the kernel's 64 bytes with the
    terminating NUL), not ending in `-` or `.`."""
    if len(name) <= HOSTNAME_MAX_LENGTH:
        return name
    truncated = name[:HOSTNAME_MAX_LENGTH].rstrip("-.")
    if not truncated:
        raise SandboxConfigError(f'hostname for pod "{pod_name}" was invalid: "{name}"')
    return truncated


def hostname(pod: Obj, cluster_domain: str = CLUSTER_DOMAIN) -> tuple[str, str]:
    """(hostname, domain) of the pod (GeneratePodHostNameAndDomain): spec.hostname or the pod
    name cut to 63 characters, and `<subdomain>.<ns>.svc.<cluster domain>` with a subdomain.

    `spec.hostnameOverride` (KEP-4762, GA in 1.37) wins over both and has no domain: the pod's
    kernel hostname is the override, /etc/hosts maps the pod IP to it alone, and its DNS records
    (made from hostname and subdomain by the endpoint controllers) do not change."""
    spec = pod.get("spec") or {}
    md = pod["metadata"]
    override = spec.get("hostnameOverride")
    if override is not None:
        problems = is_dns1123_subdomain(override)
        if problems:
            raise SandboxConfigError(
                f'pod HostnameOverride "{override}" is not a valid DNS subdomain: '
                f"{';'.join(problems)}"
            )
        # Validation allows 64 characters; the kubelet still cuts at 63, as for any hostname.
        return _truncate_hostname(override, md["name"]), ""
    name = md["name"]
    if spec.get("hostname"):
        problems = is_dns1123_label(spec["hostname"])
        if problems:
            raise SandboxConfigError(
                f'pod Hostname "{spec["hostname"]}" is not a valid DNS label: {";".join(problems)}'
            )
        name = spec["hostname"]
    name = _truncate_hostname(name, md["name"])
    subdomain = spec.get("subdomain") or ""
    if not subdomain:
        return name, ""
    problems = is_dns1123_label(subdomain)
    if problems:
        raise SandboxConfigError(
            f'pod Subdomain "{subdomain}" is not a valid DNS label: {";".join(problems)}'
        )
    return name, f"{subdomain}.{md['namespace']}.svc.{cluster_domain}"


def kernel_hostname(name: str, domain: str, set_hostname_as_fqdn: bool) -> str:
    """GetNodenameForKernel: the name in the pod's UTS namespace, the FQDN when the pod asks
    for it and has a domain; an FQDN must fit the kernel's 64-character nodename."""
    if not (domain and set_hostname_as_fqdn):
        return name
    fqdn = f"{name}.{domain}"
    if len(fqdn) > FQDN_MAX_LENGTH:
        raise SandboxConfigError(
            f"failed to construct FQDN from pod hostname and cluster domain, FQDN {fqdn} is too "
            f"long ({FQDN_MAX_LENGTH} characters is the max, {len(fqdn)} characters requested)"
        )
    return fqdn


def port_mappings(pod: Obj) -> list[PortMapping]:
    mappings = []
    for container in (pod.get("spec") or {}).get("containers") or ():
        for port in container.get("ports") or ():
            if port.get("hostPort"):
                mappings.append(
                    PortMapping(
                        container_port=port["containerPort"],
                        host_port=port["hostPort"],
                        protocol=port.get("protocol") or "TCP",
                        host_ip=port.get("hostIP") or "",
                    )
                )
    return mappings


def pod_cgroup_parent(pod: Obj, root: str = "/kubelite") -> str:
    """The pod's cgroup, under its QoS class as the kubelet nests them (cgroupfs driver):
    /kubepods/pod<uid>, /kubepods/burstable/pod<uid>, /kubepods/besteffort/pod<uid>."""
    qos = qos_class(pod)
    uid = pod["metadata"]["uid"]
    if qos == "Guaranteed":
        return f"{root}/kubepods/pod{uid}"
    return f"{root}/kubepods/{qos.lower()}/pod{uid}"


def sandbox_config(
    pod: Obj,
    *,
    attempt: int,
    dns_config: DNSConfig,
    cgroup_root: str,
    cluster_domain: str = CLUSTER_DOMAIN,
    logs_root: str = POD_LOGS_ROOT,
) -> PodSandboxConfig:
    """generatePodSandboxConfig, with the pod's resolver configuration formed by the caller
    (`kubelet.dns`). Raises SandboxConfigError for a hostname the kernel cannot take."""
    md = pod["metadata"]
    spec = pod.get("spec") or {}
    name, domain = hostname(pod, cluster_domain)
    # A host-network pod has the node's name; its FQDN setting means nothing.
    if not spec.get("hostNetwork"):
        kernel_hostname(name, domain, bool(spec.get("setHostnameAsFQDN")))
    sysctls = {
        dotted(s["name"]): s.get("value", "")
        for s in (spec.get("securityContext") or {}).get("sysctls") or ()
    }
    return PodSandboxConfig(
        metadata=PodSandboxMetadata(md["name"], md["uid"], md["namespace"], attempt),
        hostname=name,
        domain=domain,
        hostname_as_fqdn=bool(spec.get("setHostnameAsFQDN")),
        log_directory=pod_log_directory(pod, logs_root),
        dns_config=dns_config,
        port_mappings=port_mappings(pod),
        host_aliases=[
            HostAlias(a.get("ip", ""), list(a.get("hostnames") or ()))
            for a in spec.get("hostAliases") or ()
        ],
        labels={
            POD_NAME_LABEL: md["name"],
            POD_NAMESPACE_LABEL: md["namespace"],
            POD_UID_LABEL: md["uid"],
            **(md.get("labels") or {}),
        },
        annotations=dict(md.get("annotations") or {}),
        cgroup_parent=pod_cgroup_parent(pod, cgroup_root),
        sysctls=sysctls,
        host_network=bool(spec.get("hostNetwork")),
        host_pid=bool(spec.get("hostPID")),
        host_ipc=bool(spec.get("hostIPC")),
    )


def security_context(
    pod: Obj,
    container: Obj,
    *,
    image_user: str = "",
    seccomp_root: str = SECCOMP_ROOT,
    seccomp_default: bool = False,
) -> LinuxContainerSecurityContext:
    """determineEffectiveSecurityContext, after verifyRunAsNonRoot (a refusal is a ConfigError:
    CreateContainerConfigError). `image_user` is the image config's User; `seccomp_default` is
    the kubelet's SeccompDefault."""
    sc = scx.effective(pod, container)
    run_as_user, username = sc.get("runAsUser"), ""
    if run_as_user is None:
        run_as_user, username = scx.image_user(image_user)
    refusal = scx.verify_run_as_non_root(pod, container, run_as_user, username)
    if refusal:
        raise ConfigError(refusal)
    capabilities = sc.get("capabilities")
    return LinuxContainerSecurityContext(
        capabilities=Capability(
            add_capabilities=list(capabilities.get("add") or ()),
            drop_capabilities=list(capabilities.get("drop") or ()),
        )
        if capabilities is not None
        else None,
        privileged=bool(sc.get("privileged")),
        run_as_user=run_as_user,
        run_as_group=sc.get("runAsGroup"),
        run_as_username=username,
        supplemental_groups=scx.supplemental_groups(pod),
        readonly_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        no_new_privs=scx.no_new_privs(sc),
        masked_paths=scx.masked_paths(sc),
        readonly_paths=scx.readonly_paths(sc),
        seccomp=scx.seccomp_profile(
            pod, container, root=seccomp_root, runtime_default=seccomp_default
        ),
        apparmor=scx.apparmor_profile(pod, container),
    )


def container_config(
    pod: Obj,
    container: Obj,
    *,
    image: str,
    restart_count: int,
    envs: list[tuple[str, str]],
    mounts: list[Mount],
    command: list[str],
    args: list[str],
    memory_capacity: int,
    attempt: int | None = None,
    image_user: str = "",
    seccomp_root: str = SECCOMP_ROOT,
    seccomp_default: bool = False,
) -> ContainerConfig:
    """generateContainerConfig, with the environment, mounts and the expanded command and args
    made by the caller, and the image's User. Raises ConfigError when runAsNonRoot refuses the
    container."""
    md = pod["metadata"]
    spec = pod.get("spec") or {}
    name = container["name"]
    grace = spec.get("terminationGracePeriodSeconds")
    annotations = {
        HASH_ANNOTATION: spec_hash(container),
        RESTART_COUNT_ANNOTATION: str(restart_count),
        TERMINATION_MESSAGE_PATH_ANNOTATION: container.get("terminationMessagePath")
        or "/dev/termination-log",
        TERMINATION_MESSAGE_POLICY_ANNOTATION: container.get("terminationMessagePolicy") or "File",
    }
    if grace is not None:
        annotations[GRACE_PERIOD_ANNOTATION] = str(grace)
    return ContainerConfig(
        metadata=ContainerMetadata(name, restart_count if attempt is None else attempt),
        image=image,
        command=command,
        args=args,
        working_dir=container.get("workingDir") or "",
        envs=envs,
        mounts=mounts,
        log_path=container_log_path(name, restart_count),
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
        labels={
            POD_NAME_LABEL: md["name"],
            POD_NAMESPACE_LABEL: md["namespace"],
            POD_UID_LABEL: md["uid"],
            CONTAINER_NAME_LABEL: name,
        },
        annotations=annotations,
        resources=container_resources(pod, container, memory_capacity),
        security_context=security_context(
            pod,
            container,
            image_user=image_user,
            seccomp_root=seccomp_root,
            seccomp_default=seccomp_default,
        ),
    )
