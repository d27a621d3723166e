"""A container's security context as the kubelet works it out before asking for the container.

Kubernetes spreads this over `pkg/securitycontext/util.go` (DetermineEffectiveSecurityContext,
the masked /proc paths), `pkg/kubelet/kuberuntime/security_context.go` and
`security_context_others.go` (the CRI security context, verifyRunAsNonRoot), `helpers.go`
(getSeccompProfile) and `pkg/security/apparmor` (GetProfile). The rules:

- the pod's securityContext gives runAsUser, runAsGroup, runAsNonRoot and seLinuxOptions to
  every container, and a container's own securityContext wins field by field; capabilities,
  privileged, readOnlyRootFilesystem, allowPrivilegeEscalation and procMount are the
  container's alone;
- without a runAsUser the image's user counts: a number is the uid, a name is passed on for the
  runtime to look up, no user at all is root (getImageUser);
- runAsNonRoot refuses root, and a user name it cannot check, before the container is made;
- the seccomp profile is the container's, else the pod's, else Unconfined (RuntimeDefault with
  the kubelet's SeccompDefault, off by default in 1.33); Localhost names a file under the
  kubelet's seccomp root;
- the AppArmor profile is the container's, else its deprecated annotation, else the pod's;
- fsGroup joins the supplemental groups, first.
"""

from __future__ import annotations

import os

from kubelite.api import pods as podutil
from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.kubelet.podref import format_pod
from kubelite.runtime.cri import SecurityProfile, SecurityProfileType

# The fields a container takes from its pod's securityContext (securityContextFromPodSecurity-
# Context), and those its own securityContext overrides (DetermineEffectiveSecurityContext).
FROM_POD = ("seLinuxOptions", "windowsOptions", "runAsUser", "runAsGroup", "runAsNonRoot")
FROM_CONTAINER = (
    "seLinuxOptions",
    "windowsOptions",
    "capabilities",
    "privileged",
    "runAsUser",
    "runAsGroup",
    "runAsNonRoot",
    "readOnlyRootFilesystem",
    "allowPrivilegeEscalation",
    "procMount",
)

# The /proc paths a container cannot see or write unless its procMount is Unmasked
# (pkg/securitycontext/util.go, kept in step with moby's).
DEFAULT_MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
DEFAULT_READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")
UNMASKED_PROC_MOUNT = "Unmasked"

# The deprecated AppArmor annotations, still read for a container without a field.
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"
APPARMOR_RUNTIME_DEFAULT = "runtime/default"
APPARMOR_UNCONFINED = "unconfined"
APPARMOR_LOCALHOST_PREFIX = "localhost/"


def pod_security_context(pod: Obj) -> Obj:
    return (pod.get("spec") or {}).get("securityContext") or {}


def effective(pod: Obj, container: Obj) -> Obj:
    """DetermineEffectiveSecurityContext: the pod's fields a container inherits, overridden
    by the container's own (unset fields are absent)."""
    pod_context = pod_security_context(pod)
    own = container.get("securityContext") or {}
    result = {key: pod_context[key] for key in FROM_POD if pod_context.get(key) is not None}
    result.update({key: own[key] for key in FROM_CONTAINER if own.get(key) is not None})
    return result


def image_user(user: str) -> tuple[int | None, str]:
    """(uid, username) of an image's `User` as the kubelet learns it from the runtime
    (getImageUser over containerd's getUserFromImage): the part before any `:` is a uid if it
    is a number, else a name; an image without a user runs as root."""
    if not user:
        return 0, ""
    name = user.split(":", 1)[0]
    try:
        return int(name), ""
    except ValueError:
        return None, name


def verify_run_as_non_root(pod: Obj, container: Obj, uid: int | None, username: str) -> str:
    """verifyRunAsNonRoot: "" when the container may run, else why not, in Kubernetes' words."""
    sc = effective(pod, container)
    if not sc.get("runAsNonRoot"):
        return ""
    where = f"(pod: {go_quote(format_pod(pod))}, container: {container['name']})"
    if sc.get("runAsUser") is not None:
        if sc["runAsUser"] == 0:
            return f"container's runAsUser breaks non-root policy {where}"
        return ""
    if uid is None and username:
        return (
            f"container has runAsNonRoot and image has non-numeric user ({username}), "
            f"cannot verify user is non-root {where}"
        )
    if uid == 0:
        return f"container has runAsNonRoot and image will run as root {where}"
    return ""


def masked_paths(sc: Obj) -> list[str]:
    """ConvertToRuntimeMaskedPaths: none for procMount Unmasked, else the defaults."""
    return [] if sc.get("procMount") == UNMASKED_PROC_MOUNT else list(DEFAULT_MASKED_PATHS)


def readonly_paths(sc: Obj) -> list[str]:
    """ConvertToRuntimeReadonlyPaths."""
    return [] if sc.get("procMount") == UNMASKED_PROC_MOUNT else list(DEFAULT_READONLY_PATHS)


def no_new_privs(sc: Obj) -> bool:
    """AddNoNewPrivileges: only an explicit allowPrivilegeEscalation: false sets it."""
    return sc.get("allowPrivilegeEscalation") is False


def _seccomp_field(profile: Obj, root: str) -> SecurityProfile:
    """fieldSeccompProfile (API validation has made sure a Localhost profile names a file)."""
    kind = profile.get("type")
    if kind == SecurityProfileType.RUNTIME_DEFAULT:
        return SecurityProfile(SecurityProfileType.RUNTIME_DEFAULT)
    if kind == SecurityProfileType.LOCALHOST and profile.get("localhostProfile"):
        return SecurityProfile(
            SecurityProfileType.LOCALHOST, os.path.join(root, profile["localhostProfile"])
        )
    return SecurityProfile(SecurityProfileType.UNCONFINED)


def seccomp_profile(
    pod: Obj, container: Obj, *, root: str, runtime_default: bool = False
) -> SecurityProfile:
    """getSeccompProfile: the container's field, else the pod's, else the kubelet's default
    (`runtime_default`: the SeccompDefault setting)."""
    own = (container.get("securityContext") or {}).get("seccompProfile")
    if own is not None:
        return _seccomp_field(own, root)
    pods = pod_security_context(pod).get("seccompProfile")
    if pods is not None:
        return _seccomp_field(pods, root)
    if runtime_default:
        return SecurityProfile(SecurityProfileType.RUNTIME_DEFAULT)
    return SecurityProfile(SecurityProfileType.UNCONFINED)


def _apparmor_annotation(value: str) -> Obj:
    """An AppArmor annotation value as the field it stands for."""
    if value == APPARMOR_RUNTIME_DEFAULT:
        return {"type": SecurityProfileType.RUNTIME_DEFAULT.value}
    if value.startswith(APPARMOR_LOCALHOST_PREFIX):
        return {
            "type": SecurityProfileType.LOCALHOST.value,
            "localhostProfile": value.removeprefix(APPARMOR_LOCALHOST_PREFIX),
        }
    return {"type": SecurityProfileType.UNCONFINED.value}


def apparmor_field(pod: Obj, container: Obj) -> Obj | None:
    """apparmor.GetProfile: the container's field, its annotation, or the pod's field."""
    own = (container.get("securityContext") or {}).get("appArmorProfile")
    if own is not None:
        return dict(own)
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(APPARMOR_ANNOTATION_PREFIX + container["name"])
    if value is not None:
        return _apparmor_annotation(value)
    pods = pod_security_context(pod).get("appArmorProfile")
    return dict(pods) if pods is not None else None


def apparmor_profile(pod: Obj, container: Obj) -> SecurityProfile | None:
    """getAppArmorProfile: the CRI profile of the container, None when nothing is asked."""
    field = apparmor_field(pod, container)
    if field is None:
        return None
    kind = SecurityProfileType(field.get("type") or SecurityProfileType.UNCONFINED)
    return SecurityProfile(kind, field.get("localhostProfile") or "")


def apparmor_required(pod: Obj) -> bool:
    """isRequired: some profile other than Unconfined is asked for, by a field or by a
    container's annotation."""
    spec = pod.get("spec") or {}
    contexts = [pod_security_context(pod)]
    contexts += [c.get("securityContext") or {} for c in podutil.all_containers(spec)]
    for context in contexts:
        profile = context.get("appArmorProfile")
        if profile is not None and profile.get("type") != SecurityProfileType.UNCONFINED:
            return True
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    return any(
        key.startswith(APPARMOR_ANNOTATION_PREFIX) and value != APPARMOR_UNCONFINED
        for key, value in annotations.items()
    )


def fs_group(pod: Obj) -> int | None:
    value = pod_security_context(pod).get("fsGroup")
    return int(value) if value is not None else None


def fs_user(pod: Obj) -> int | None:
    """FsUserFrom: the runAsUser every container of the pod shares, if they all set the same."""
    found: int | None = None
    for container in podutil.all_containers(pod.get("spec") or {}):
        uid = effective(pod, container).get("runAsUser")
        if uid is None or (found is not None and found != uid):
            return None
        found = int(uid)
    return found


def supplemental_groups(pod: Obj) -> list[int]:
    """The pod's groups for every container: fsGroup first, then supplementalGroups."""
    group = fs_group(pod)
    listed = [int(g) for g in pod_security_context(pod).get("supplementalGroups") or ()]
    return ([group] if group is not None else []) + listed
