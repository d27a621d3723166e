"""The checks of the restricted level, one function per revision of each, as
`pod-security-admission/policy/check_*.go` of Kubernetes 1.37 defines them.

The restricted level runs these and the baseline checks, except the baseline checks a restricted
check overrides: restrictedVolumes stands in for hostPathVolumes, capabilities_restricted (from
v1.22) for capabilities_baseline, seccompProfile_restricted (from v1.19) for
seccompProfile_baseline, procMount_restricted (from v1.35) for procMount.

From policy v1.35 (kubernetes/kubernetes#132157) a pod in a user namespace (`hostUsers: false`)
passes runAsNonRoot and runAsUser whatever it sets, and baseline lets it set any procMount; the
restricted level still asks for the Default procMount, which is what procMount_restricted is
for. Before v1.35 these relaxations were behind an alpha feature gate, since dropped, so older
versions never relax.
"""

from __future__ import annotations

from kubelite.api.types import Obj
from kubelite.apiserver.podsecurity.baseline import SECCOMP_TYPES, proc_mount_1_0
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
    is_windows,
    is_zero,
    join_quote,
    name_of,
    pluralize,
)
from kubelite.apiserver.podsecurity.levels import RESTRICTED, v1

# --- allowPrivilegeEscalation (check_allowPrivilegeEscalation.go) ----------------------------


def allow_privilege_escalation_1_8(meta: Obj, spec: Obj) -> CheckResult:
    """Every container sets securityContext.allowPrivilegeEscalation=false."""
    bad = [
        name_of(c)
        for c in containers(spec)
        if child(c, "securityContext", "allowPrivilegeEscalation") is not False
    ]
    if not bad:
        return ALLOWED
    return forbidden(
        "allowPrivilegeEscalation != false",
        f"{containers_phrase(bad)} must set securityContext.allowPrivilegeEscalation=false",
    )


def allow_privilege_escalation_1_25(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.25, Windows pods are exempt (the field is Linux-only)."""
    return ALLOWED if is_windows(spec) else allow_privilege_escalation_1_8(meta, spec)


# --- capabilities_restricted (check_capabilities_restricted.go) ------------------------------

CAPABILITY_ALL = "ALL"
CAPABILITY_NET_BIND_SERVICE = "NET_BIND_SERVICE"


def capabilities_restricted_1_22(meta: Obj, spec: Obj) -> CheckResult:
    """Every container drops ALL, and adds nothing but NET_BIND_SERVICE."""
    missing_drop_all: list[str] = []
    adding_forbidden: list[str] = []
    forbidden_capabilities: set[str] = set()
    for container in containers(spec):
        capabilities = child(container, "securityContext", "capabilities")
        if capabilities is None:
            missing_drop_all.append(name_of(container))
            continue
        if CAPABILITY_ALL not in (capabilities.get("drop") or ()):
            missing_drop_all.append(name_of(container))
        added = {str(c) for c in capabilities.get("add") or ()} - {CAPABILITY_NET_BIND_SERVICE}
        if added:
            adding_forbidden.append(name_of(container))
            forbidden_capabilities |= added
    details = []
    if missing_drop_all:
        details.append(
            f"{containers_phrase(missing_drop_all)} must set "
            'securityContext.capabilities.drop=["ALL"]'
        )
    if adding_forbidden:
        details.append(
            f"{containers_phrase(adding_forbidden)} must not include "
            f"{join_quote(sorted(forbidden_capabilities))} in securityContext.capabilities.add"
        )
    if not details:
        return ALLOWED
    return forbidden("unrestricted capabilities", "; ".join(details))


def capabilities_restricted_1_25(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.25, Windows pods are exempt (capabilities are Linux-only)."""
    return ALLOWED if is_windows(spec) else capabilities_restricted_1_22(meta, spec)


# --- procMount_restricted (check_procMount_restricted.go) ------------------------------------


def proc_mount_restricted_1_35(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.35, in place of baseline's procMount: the Default procMount (or none) even in a
    user namespace, as before v1.35, while baseline's relaxes there."""
    return proc_mount_1_0(meta, spec)


# --- restrictedVolumes (check_restrictedVolumes.go) ------------------------------------------

# The volume types the restricted level allows: the core ones, and what PersistentVolumes
# define (image volumes since Kubernetes 1.33, at every policy version).
ALLOWED_VOLUME_TYPES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
# The restricted types Kubernetes names, in the order it looks for them; a volume of none of
# these (nor of an allowed type) is "unknown".
RESTRICTED_VOLUME_TYPES = (
    "hostPath",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "nfs",
    "iscsi",
    "glusterfs",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "fc",
    "azureFile",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "portworxVolume",
    "scaleIO",
    "storageos",
)


def restricted_volumes_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """Only the allowed volume types."""
    bad_volumes: list[str] = []
    bad_types: set[str] = set()
    for volume in spec.get("volumes") or ():
        if not isinstance(volume, dict):
            continue
        if any(volume.get(type_) is not None for type_ in ALLOWED_VOLUME_TYPES):
            continue
        bad_volumes.append(str(volume.get("name") or ""))
        bad_types.add(
            next((t for t in RESTRICTED_VOLUME_TYPES if volume.get(t) is not None), "unknown")
        )
    if not bad_volumes:
        return ALLOWED
    return forbidden(
        "restricted volume types",
        f"{pluralize('volume', 'volumes', len(bad_volumes))} {join_quote(bad_volumes)} "
        f"{pluralize('uses', 'use', len(bad_volumes))} "
        f"{pluralize('restricted volume type', 'restricted volume types', len(bad_types))} "
        f"{join_quote(sorted(bad_types))}",
    )


# --- runAsNonRoot (check_runAsNonRoot.go) ----------------------------------------------------


def run_as_non_root_1_0(meta: Obj, spec: Obj) -> CheckResult:
    """runAsNonRoot=true at pod level, or on every container; false nowhere."""
    bad_setters: list[str] = []
    pod_value = child(spec, "securityContext", "runAsNonRoot")
    if pod_value is False:
        bad_setters.append("pod")
    explicitly_bad: list[str] = []
    implicitly_bad: list[str] = []
    for container in containers(spec):
        value = child(container, "securityContext", "runAsNonRoot")
        if value is False:
            explicitly_bad.append(name_of(container))
        elif value is None and pod_value is not True:
            implicitly_bad.append(name_of(container))
    if explicitly_bad:
        bad_setters.append(containers_phrase(explicitly_bad))
    if bad_setters:
        return forbidden(
            "runAsNonRoot != true",
            f"{' and '.join(bad_setters)} must not set securityContext.runAsNonRoot=false",
        )
    if implicitly_bad:
        return forbidden(
            "runAsNonRoot != true",
            f"pod or {containers_phrase(implicitly_bad)} must set "
            "securityContext.runAsNonRoot=true",
        )
    return ALLOWED


def run_as_non_root_1_35(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.35, a pod in a user namespace passes: its root is not the node's root."""
    return ALLOWED if in_user_namespace(spec) else run_as_non_root_1_0(meta, spec)


# --- runAsUser (check_runAsUser.go) ----------------------------------------------------------


def run_as_user_1_23(meta: Obj, spec: Obj) -> CheckResult:
    """No runAsUser=0, at pod or container level (unset is allowed)."""
    bad_setters: list[str] = []
    if is_zero(child(spec, "securityContext", "runAsUser")):
        bad_setters.append("pod")
    bad_containers = [
        name_of(c) for c in containers(spec) if is_zero(child(c, "securityContext", "runAsUser"))
    ]
    if bad_containers:
        bad_setters.append(containers_phrase(bad_containers))
    if not bad_setters:
        return ALLOWED
    return forbidden("runAsUser=0", f"{' and '.join(bad_setters)} must not set runAsUser=0")


def run_as_user_1_35(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.35, a pod in a user namespace may run as 0: that user is mapped to an
    unprivileged one on the node."""
    return ALLOWED if in_user_namespace(spec) else run_as_user_1_23(meta, spec)


# --- seccompProfile_restricted (check_seccompProfile_restricted.go) --------------------------


def seccomp_profile_restricted_1_19(meta: Obj, spec: Obj) -> CheckResult:
    """securityContext.seccompProfile.type RuntimeDefault or Localhost, at pod level or on
    every container."""
    bad_setters: list[str] = []
    bad_values: set[str] = set()
    pod_set = False
    profile = child(spec, "securityContext", "seccompProfile")
    if profile is not None:
        if profile.get("type") in SECCOMP_TYPES:
            pod_set = True
        else:
            bad_setters.append("pod")
            bad_values.add(str(profile.get("type") or ""))
    explicitly_bad: list[str] = []
    implicitly_bad: list[str] = []
    for container in containers(spec):
        profile = child(container, "securityContext", "seccompProfile")
        if profile is not None:
            if profile.get("type") not in SECCOMP_TYPES:
                explicitly_bad.append(name_of(container))
                bad_values.add(str(profile.get("type") or ""))
        elif not pod_set:
            implicitly_bad.append(name_of(container))
    if explicitly_bad:
        bad_setters.append(containers_phrase(explicitly_bad))
    if bad_setters:
        return forbidden(
            "seccompProfile",
            f"{' and '.join(bad_setters)} must not set securityContext.seccompProfile.type to "
            f"{join_quote(sorted(bad_values))}",
        )
    if implicitly_bad:
        return forbidden(
            "seccompProfile",
            f"pod or {containers_phrase(implicitly_bad)} must set "
            'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost"',
        )
    return ALLOWED


def seccomp_profile_restricted_1_25(meta: Obj, spec: Obj) -> CheckResult:
    """From v1.25, Windows pods are exempt (seccomp is Linux-only)."""
    return ALLOWED if is_windows(spec) else seccomp_profile_restricted_1_19(meta, spec)


# --- the restricted checks and their revisions ----------------------------------------------

CHECKS = (
    Check(
        "allowPrivilegeEscalation",
        RESTRICTED,
        (
            VersionedCheck(v1(8), allow_privilege_escalation_1_8),
            VersionedCheck(v1(25), allow_privilege_escalation_1_25),
        ),
    ),
    Check(
        "capabilities_restricted",
        RESTRICTED,
        (
            VersionedCheck(v1(22), capabilities_restricted_1_22, ("capabilities_baseline",)),
            VersionedCheck(v1(25), capabilities_restricted_1_25, ("capabilities_baseline",)),
        ),
    ),
    Check(
        "procMount_restricted",
        RESTRICTED,
        (VersionedCheck(v1(35), proc_mount_restricted_1_35, ("procMount",)),),
    ),
    Check(
        "restrictedVolumes",
        RESTRICTED,
        (VersionedCheck(v1(0), restricted_volumes_1_0, ("hostPathVolumes",)),),
    ),
    Check(
        "runAsNonRoot",
        RESTRICTED,
        (
            VersionedCheck(v1(0), run_as_non_root_1_0),
            VersionedCheck(v1(35), run_as_non_root_1_35),
        ),
    ),
    Check(
        "runAsUser",
        RESTRICTED,
        (VersionedCheck(v1(23), run_as_user_1_23), VersionedCheck(v1(35), run_as_user_1_35)),
    ),
    Check(
        "seccompProfile_restricted",
        RESTRICTED,
        (
            VersionedCheck(v1(19), seccomp_profile_restricted_1_19, ("seccompProfile_baseline",)),
            VersionedCheck(v1(25), seccomp_profile_restricted_1_25, ("seccompProfile_baseline",)),
        ),
    ),
)
