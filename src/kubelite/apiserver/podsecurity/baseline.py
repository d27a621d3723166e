"""The checks of the baseline level, one function per revision of each, as
`pod-security-admission/policy/check_*.go` of Kubernetes 1.37 defines them.

Each function takes the pod's metadata and spec as JSON and returns Kubernetes' reason and
detail word for word. The baseline checks also run at the restricted level, except those a
restricted check overrides (`restricted.py`).

What came after policy v1.33: hostProbesAndHostLifecycle (v1.34, kubernetes/kubernetes#125271),
procMount relaxed for pods in a user namespace (v1.35, #132157; before that only behind an alpha
gate, which was dropped, so older versions never relax) and two more safe sysctls (v1.37,
#138389).
"""

from __future__ import annotations

from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.apiserver.podsecurity.checks import (
    ALLOWED,
    Check,
    CheckResult,
    VersionedCheck,
    child,
    containers,
    containers_phrase,
    forbidden,
    in_user_namespace,
    join_quote,
    name_of,
    pluralize,
)
from kubelite.apiserver.podsecurity.levels import BASELINE, v1


def _annotations(meta: Obj) -> dict[str, str]:
    found = meta.get("annotations")
    return found if isinstance(found, dict) else {}


# --- appArmorProfile (check_appArmorProfile.go) ----------------------------------------------

APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
_APPARMOR_TYPES = ("RuntimeDefault", "Localhost")


def _allowed_apparmor_annotation(value: str) -> bool:
    return not value or value == "runtime/default" or value.startswith("localhost/")


def app_armor_profile_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """Only the RuntimeDefault and Localhost AppArmor profiles, in the fields or in the
    deprecated annotations (runtime/default, localhost/*, empty)."""
    bad_setters: list[str] = []
    bad_values: set[str] = set()
    profile = child(spec, "securityContext", "appArmorProfile")
    if profile is not None and profile.get("type") not in _APPARMOR_TYPES:
        bad_setters.append("pod")
        bad_values.add(str(profile.get("type") or ""))
    bad_containers: list[str] = []
    for container in containers(spec):
        profile = child(container, "securityContext", "appArmorProfile")
        if profile is not None and profile.get("type") not in _APPARMOR_TYPES:
            bad_containers.append(name_of(container))
            bad_values.add(str(profile.get("type") or ""))
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))
    bad_annotations = sorted(
        f"{key}={go_quote(value)}"
        for key, value in _annotations(meta).items()
        if key.startswith(APPARMOR_ANNOTATION_PREFIX) and not _allowed_apparmor_annotation(value)
    )
    values = sorted(bad_values) + bad_annotations
    if bad_annotations:
        bad_setters.append(pluralize("annotation", "annotations", len(bad_annotations)))
    if not bad_setters:
        return ALLOWED
    return forbidden(
        pluralize("forbidden AppArmor profile", "forbidden AppArmor profiles", len(values)),
        f"{' and '.join(bad_setters)} must not set AppArmor profile type to {join_quote(values)}",
    )


# --- capabilities_baseline (check_capabilities_baseline.go) ----------------------------------

# The capabilities container runtimes grant by default: the only ones a container may add.
CAPABILITIES_ALLOWED_1_0 = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)


def capabilities_baseline_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """No capability beyond the default set in securityContext.capabilities.add."""
    bad_containers: list[str] = []
    non_default: set[str] = set()
    for container in containers(spec):
        capabilities = child(container, "securityContext", "capabilities")
        if capabilities is None:
            continue
        added = {str(c) for c in capabilities.get("add") or ()} - CAPABILITIES_ALLOWED_1_0
        if added:
            bad_containers.append(name_of(container))
            non_default |= added
    if not bad_containers:
        return ALLOWED
    return forbidden(
        "non-default capabilities",
        f"{containers_phrase(bad_containers)} must not include "
        f"{join_quote(sorted(non_default))} in securityContext.capabilities.add",
    )


# --- hostNamespaces (check_hostNamespaces.go) ------------------------------------------------


def host_namespaces_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """No hostNetwork, hostPID or hostIPC."""
    shared = [f"{field}=true" for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    if not shared:
        return ALLOWED
    return forbidden("host namespaces", ", ".join(shared))


# --- hostPathVolumes (check_hostPathVolumes.go) ----------------------------------------------


def host_path_volumes_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """No hostPath volumes."""
    names = [
        str(volume.get("name") or "")
        for volume in spec.get("volumes") or ()
        if isinstance(volume, dict) and volume.get("hostPath") is not None
    ]
    if not names:
        return ALLOWED
    return forbidden(
        "hostPath volumes", f"{pluralize('volume', 'volumes', len(names))} {join_quote(names)}"
    )


# --- hostPorts (check_hostPorts.go) ----------------------------------------------------------


def host_ports_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """No hostPort (0 is none)."""
    bad_containers: list[str] = []
    ports: set[str] = set()
    for container in containers(spec):
        used = {
            str(port["hostPort"])
            for port in container.get("ports") or ()
            if isinstance(port, dict) and port.get("hostPort")
        }
        if used:
            bad_containers.append(name_of(container))
            ports |= used
    if not bad_containers:
        return ALLOWED
    # The ports sort as strings, as Kubernetes' string set sorts them.
    return forbidden(
        "hostPort",
        f"{containers_phrase(bad_containers)} "
        f"{pluralize('uses', 'use', len(bad_containers))} "
        f"{pluralize('hostPort', 'hostPorts', len(ports))} {', '.join(sorted(ports))}",
    )


# --- hostProbesAndHostLifecycle (check_hostProbesAndhostLifecycle.go) -----------------------

# Where a container names a host for the kubelet to reach: its probes, then its lifecycle hooks.
_PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
_LIFECYCLE_HANDLERS = ("postStart", "preStop")


def _handler_hosts(handler: object) -> list[str]:
    """The hosts a probe or lifecycle handler sets on its httpGet and tcpSocket actions."""
    return [
        str(host) for action in ("httpGet", "tcpSocket") if (host := child(handler, action, "host"))
    ]


def host_probes_and_host_lifecycle_1_34(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.34, no `host` on a probe's or lifecycle hook's httpGet or tcpSocket.

    The kubelet makes those requests from the node, so a host there reaches whatever the node
    can reach (a blind SSRF, kubernetes/kubernetes#99425); without it they go to the pod's IP.
    Every host is refused, localhost and 127.0.0.1 too. Containers and hosts are each named
    once, in sorted order, as Kubernetes collects them in sets.
    """
    bad_containers: set[str] = set()
    hosts: set[str] = set()
    for container in containers(spec):
        handlers = [container.get(probe) for probe in _PROBES]
        lifecycle = container.get("lifecycle")
        if isinstance(lifecycle, dict):
            handlers += [lifecycle.get(hook) for hook in _LIFECYCLE_HANDLERS]
        found = [host for handler in handlers for host in _handler_hosts(handler)]
        if found:
            bad_containers.add(name_of(container))
            hosts.update(found)
    if not bad_containers:
        return ALLOWED
    return forbidden(
        "probe or lifecycle host",
        f"{containers_phrase(sorted(bad_containers))} "
        f"{pluralize('uses', 'use', len(bad_containers))} "
        f"{pluralize('probe or lifecycle host', 'probe or lifecycle hosts', len(hosts))} "
        f"{join_quote(sorted(hosts))}",
    )


# --- privileged (check_privileged.go) --------------------------------------------------------


def privileged_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """No privileged containers."""
    bad = [
        name_of(c) for c in containers(spec) if child(c, "securityContext", "privileged") is True
    ]
    if not bad:
        return ALLOWED
    return forbidden(
        "privileged", f"{containers_phrase(bad)} must not set securityContext.privileged=true"
    )


# --- procMount (check_procMount.go) ----------------------------------------------------------


def proc_mount_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """securityContext.procMount unset or Default (the restricted level's procMount_restricted
    keeps this from v1.35 on)."""
    bad_containers: list[str] = []
    types: set[str] = set()
    for container in containers(spec):
        proc_mount = child(container, "securityContext", "procMount")
        if proc_mount is not None and proc_mount != "Default":
            bad_containers.append(name_of(container))
            types.add(str(proc_mount))
    if not bad_containers:
        return ALLOWED
    return forbidden(
        "procMount",
        f"{containers_phrase(bad_containers)} must not set securityContext.procMount to "
        f"{join_quote(sorted(types))}",
    )


def proc_mount_1_35(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.35, any procMount for a pod in a user namespace (`hostUsers: false`): an unmasked
    /proc there shows the pod's own namespaces, not the node's."""
    return ALLOWED if in_user_namespace(spec) else proc_mount_1_0(meta, spec)


# --- seLinuxOptions (check_seLinuxOptions.go) ------------------------------------------------

SELINUX_TYPES_1_0 = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
SELINUX_TYPES_1_31 = SELINUX_TYPES_1_0 | {"container_engine_t"}


def _selinux_options(spec: Obj, allowed_types: frozenset[str]) -> CheckResult:
    """Only the container SELinux types, and no user or role, at pod or container level."""
    bad_setters: list[str] = []
    bad_types: set[str] = set()
    set_user = set_role = False

    def valid(options: Obj) -> bool:
        nonlocal set_user, set_role
        type_ = str(options.get("type") or "")
        user, role = bool(options.get("user")), bool(options.get("role"))
        if type_ not in allowed_types:
            bad_types.add(type_)
        set_user, set_role = set_user or user, set_role or role
        return type_ in allowed_types and not user and not role

    options = child(spec, "securityContext", "seLinuxOptions")
    if options is not None and not valid(options):
        bad_setters.append("pod")
    bad_containers: list[str] = []
    for container in containers(spec):
        options = child(container, "securityContext", "seLinuxOptions")
        if options is not None and not valid(options):
            bad_containers.append(name_of(container))
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))
    if not bad_setters:
        return ALLOWED
    problems = []
    if bad_types:
        types = sorted(bad_types)
        problems.append(f"{pluralize('type', 'types', len(types))} {join_quote(types)}")
    if set_user:
        problems.append("user may not be set")
    if set_role:
        problems.append("role may not be set")
    return forbidden(
        "seLinuxOptions",
        f"{' and '.join(bad_setters)} set forbidden securityContext.seLinuxOptions: "
        f"{'; '.join(problems)}",
    )


def se_linux_options_1_0(meta: Obj, spec: Obj) -> CheckResult:
    return _selinux_options(spec, SELINUX_TYPES_1_0)


def se_linux_options_1_31(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.31, container_engine_t too."""
    return _selinux_options(spec, SELINUX_TYPES_1_31)


# --- seccompProfile_baseline (check_seccompProfile_baseline.go) -------------------------------

SECCOMP_POD_ANNOTATION = "seccomp.security.alpha.kubernetes.io/pod"
SECCOMP_CONTAINER_ANNOTATION_PREFIX = "container.seccomp.security.alpha.kubernetes.io/"
SECCOMP_TYPES = ("RuntimeDefault", "Localhost")


def _valid_seccomp_annotation(value: str) -> bool:
    return value in ("runtime/default", "docker/default") or value.startswith("localhost/")


def seccomp_profile_baseline_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """Before v1.19, from the alpha annotations: runtime/default, docker/default or
    localhost/*."""
    annotations = _annotations(meta)
    keys = [SECCOMP_POD_ANNOTATION] + [
        SECCOMP_CONTAINER_ANNOTATION_PREFIX + name_of(c) for c in containers(spec)
    ]
    bad = sorted(
        {
            f"{key}={go_quote(annotations[key])}"
            for key in keys
            if key in annotations and not _valid_seccomp_annotation(annotations[key])
        }
    )
    if not bad:
        return ALLOWED
    return forbidden(
        "seccompProfile",
        f"forbidden {pluralize('annotation', 'annotations', len(bad))} {', '.join(bad)}",
    )


def seccomp_profile_baseline_1_19(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.19, securityContext.seccompProfile.type: RuntimeDefault, Localhost or unset."""
    bad_setters: list[str] = []
    bad_values: set[str] = set()
    profile = child(spec, "securityContext", "seccompProfile")
    if profile is not None and profile.get("type") not in SECCOMP_TYPES:
        bad_setters.append("pod")
        bad_values.add(str(profile.get("type") or ""))
    bad_containers: list[str] = []
    for container in containers(spec):
        profile = child(container, "securityContext", "seccompProfile")
        if profile is not None and profile.get("type") not in SECCOMP_TYPES:
            bad_containers.append(name_of(container))
            bad_values.add(str(profile.get("type") or ""))
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))
    if not bad_setters:
        return ALLOWED
    return forbidden(
        "seccompProfile",
        f"{' and '.join(bad_setters)} must not set securityContext.seccompProfile.type to "
        f"{join_quote(sorted(bad_values))}",
    )


# --- sysctls (check_sysctls.go) --------------------------------------------------------------

# The sysctls namespaced per pod and isolated from other pods, as each policy version lists them.
SYSCTLS_ALLOWED_1_0 = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_unprivileged_port_start",
    }
)
SYSCTLS_ALLOWED_1_27 = SYSCTLS_ALLOWED_1_0 | {"net.ipv4.ip_local_reserved_ports"}
SYSCTLS_ALLOWED_1_29 = SYSCTLS_ALLOWED_1_27 | {
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}
SYSCTLS_ALLOWED_1_32 = SYSCTLS_ALLOWED_1_29 | {"net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"}
# kubernetes/kubernetes#138389, as the kubelet's safe set (`kubelet/sysctl.py`).
SYSCTLS_ALLOWED_1_37 = SYSCTLS_ALLOWED_1_32 | {
    "net.ipv4.tcp_slow_start_after_idle",
    "net.ipv4.tcp_notsent_lowat",
}


def _sysctls(spec: Obj, allowed: frozenset[str]) -> CheckResult:
    names = [
        str(sysctl.get("name") or "")
        for sysctl in child(spec, "securityContext", "sysctls") or ()
        if isinstance(sysctl, dict)
    ]
    bad = [name for name in names if name not in allowed]
    if not bad:
        return ALLOWED
    return forbidden("forbidden sysctls", ", ".join(bad))


def sysctls_1_0(meta: Obj, spec: Obj) -> CheckResult:
    return _sysctls(spec, SYSCTLS_ALLOWED_1_0)


def sysctls_1_27(meta: Obj, spec: Obj) -> CheckResult:
    return _sysctls(spec, SYSCTLS_ALLOWED_1_27)


def sysctls_1_29(meta: Obj, spec: Obj) -> CheckResult:
    return _sysctls(spec, SYSCTLS_ALLOWED_1_29)


def sysctls_1_32(meta: Obj, spec: Obj) -> CheckResult:
    return _sysctls(spec, SYSCTLS_ALLOWED_1_32)


def sysctls_1_37(meta: Obj, spec: Obj) -> CheckResult:
    return _sysctls(spec, SYSCTLS_ALLOWED_1_37)


# --- windowsHostProcess (check_windowsHostProcess.go) ----------------------------------------


def windows_host_process_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """No Windows HostProcess, at pod or container level."""
    bad_setters: list[str] = []
    if child(spec, "securityContext", "windowsOptions", "hostProcess") is True:
        bad_setters.append("pod")
    bad_containers = [
        name_of(c)
        for c in containers(spec)
        if child(c, "securityContext", "windowsOptions", "hostProcess") is True
    ]
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))
    if not bad_setters:
        return ALLOWED
    return forbidden(
        "hostProcess",
        f"{' and '.join(bad_setters)} must not set securityContext.windowsOptions.hostProcess=true",
    )


# --- the baseline checks and their revisions ------------------------------------------------

CHECKS = (
    Check("appArmorProfile", BASELINE, (VersionedCheck(v1(0), app_armor_profile_1_0),)),
    Check("capabilities_baseline", BASELINE, (VersionedCheck(v1(0), capabilities_baseline_1_0),)),
    Check("hostNamespaces", BASELINE, (VersionedCheck(v1(0), host_namespaces_1_0),)),
    Check("hostPathVolumes", BASELINE, (VersionedCheck(v1(0), host_path_volumes_1_0),)),
    Check("hostPorts", BASELINE, (VersionedCheck(v1(0), host_ports_1_0),)),
    Check(
        "hostProbesAndHostLifecycle",
        BASELINE,
        (VersionedCheck(v1(34), host_probes_and_host_lifecycle_1_34),),
    ),
    Check("privileged", BASELINE, (VersionedCheck(v1(0), privileged_1_0),)),
    Check(
        "procMount",
        BASELINE,
        (VersionedCheck(v1(0), proc_mount_1_0), VersionedCheck(v1(35), proc_mount_1_35)),
    ),
    Check(
        "seLinuxOptions",
        BASELINE,
        (
            VersionedCheck(v1(0), se_linux_options_1_0),
            VersionedCheck(v1(31), se_linux_options_1_31),
        ),
    ),
    Check(
        "seccompProfile_baseline",
        BASELINE,
        (
            VersionedCheck(v1(0), seccomp_profile_baseline_1_0),
            VersionedCheck(v1(19), seccomp_profile_baseline_1_19),
        ),
    ),
    Check(
        "sysctls",
        BASELINE,
        (
            VersionedCheck(v1(0), sysctls_1_0),
            VersionedCheck(v1(27), sysctls_1_27),
            VersionedCheck(v1(29), sysctls_1_29),
            VersionedCheck(v1(32), sysctls_1_32),
            VersionedCheck(v1(37), sysctls_1_37),
        ),
    ),
    Check("windowsHostProcess", BASELINE, (VersionedCheck(v1(0), windows_host_process_1_0),)),
)
