"""Security contexts: the pod's (ValidatePodSecurityContext, with its sysctls) and each
container's (ValidateSecurityContext), including the seccomp and AppArmor profiles.
"""

from __future__ import annotations

import re
from typing import Any

from kubelite.api.errors import FieldError, child, duplicate, invalid, not_supported, required
from kubelite.api.types import Obj
from kubelite.api.validation.pods.fields import (
    MAX_INT32,
    _inclusive_range_error,
    _index,
    _is_int,
    _local_descending_path,
)

SYSCTL_MAX_LENGTH = 253

_FS_GROUP_CHANGE_POLICIES = ("Always", "OnRootMismatch")
_SUPPLEMENTAL_GROUPS_POLICIES = ("Merge", "Strict")
_SECCOMP_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
_APPARMOR_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
_PROC_MOUNT_TYPES = ("Default", "Unmasked")

_SYSCTL_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_SYSCTL_RE = re.compile(rf"^({_SYSCTL_SEGMENT}[\./])*{_SYSCTL_SEGMENT}$")


def _validate_ids(context: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in ("runAsUser", "runAsGroup", "fsGroup"):
        value = context.get(key)
        if _is_int(value) and not 0 <= value <= MAX_INT32:
            errs.append(invalid(child(path, key), value, _inclusive_range_error(0, MAX_INT32)))
    return errs


def _validate_seccomp(profile: Any, path: str) -> list[FieldError]:
    if not isinstance(profile, dict):
        return []
    errs: list[FieldError] = []
    kind = profile.get("type") or ""
    if not kind:
        errs.append(required(child(path, "type"), "type is required when seccompProfile is set"))
    elif kind not in _SECCOMP_TYPES:
        errs.append(not_supported(child(path, "type"), kind, _SECCOMP_TYPES))
    if kind == "Localhost":
        local = profile.get("localhostProfile")
        if local is None:
            errs.append(
                required(
                    child(path, "localhostProfile"), "must be set when seccomp type is Localhost"
                )
            )
        else:
            errs.extend(_local_descending_path(path, "localhostProfile", local))
    return errs


def _validate_apparmor(profile: Any, path: str) -> list[FieldError]:
    if not isinstance(profile, dict):
        return []
    kind = profile.get("type") or ""
    local = profile.get("localhostProfile")
    if kind == "Localhost":
        if local is None or not local.strip():
            return [
                required(
                    child(path, "localhostProfile"), "must be set when AppArmor type is Localhost"
                )
            ]
        if local != local.strip():
            return [
                invalid(
                    child(path, "localhostProfile"), local, "must not be padded with whitespace"
                )
            ]
        return []
    if not kind:
        return [required(child(path, "type"), "type is required when appArmorProfile is set")]
    if kind not in _APPARMOR_TYPES:
        return [not_supported(child(path, "type"), kind, _APPARMOR_TYPES)]
    if local is not None:
        return [
            invalid(
                child(path, "localhostProfile"),
                local,
                "can only be set when AppArmor type is Localhost",
            )
        ]
    return []


def _validate_pod_security_context(spec: Obj, spec_path: str) -> list[FieldError]:
    """validatePodSpecSecurityContext (of the spec at `spec_path`)."""
    # Kubernetes' internal PodSecurityContext also holds the pod's host namespace settings,
    # which v1 keeps on the spec; errors about them are named under securityContext.
    context = spec.get("securityContext") or {}
    if not context and not spec.get("shareProcessNamespace"):
        # Nothing set, nothing wrong: the usual `securityContext: {}`.
        return []
    path = child(spec_path, "securityContext")
    errs = _validate_ids(context, path)
    for g, gid in enumerate(context.get("supplementalGroups") or []):
        if _is_int(gid) and not 0 <= gid <= MAX_INT32:
            errs.append(
                invalid(
                    _index(child(path, "supplementalGroups"), g),
                    gid,
                    _inclusive_range_error(0, MAX_INT32),
                )
            )
    if spec.get("shareProcessNamespace") is True and spec.get("hostPID"):
        errs.append(
            invalid(
                child(path, "shareProcessNamespace"),
                True,
                "ShareProcessNamespace and HostPID cannot both be enabled",
            )
        )
    errs.extend(_validate_sysctls(context.get("sysctls") or [], spec, child(path, "sysctls")))
    policy = context.get("fsGroupChangePolicy")
    if policy is not None and policy not in _FS_GROUP_CHANGE_POLICIES:
        errs.append(
            not_supported(child(path, "fsGroupChangePolicy"), policy, _FS_GROUP_CHANGE_POLICIES)
        )
    errs.extend(_validate_seccomp(context.get("seccompProfile"), child(path, "seccompProfile")))
    errs.extend(_validate_apparmor(context.get("appArmorProfile"), child(path, "appArmorProfile")))
    groups_policy = context.get("supplementalGroupsPolicy")
    if groups_policy is not None and groups_policy not in _SUPPLEMENTAL_GROUPS_POLICIES:
        errs.append(
            not_supported(
                child(path, "supplementalGroupsPolicy"),
                groups_policy,
                _SUPPLEMENTAL_GROUPS_POLICIES,
            )
        )
    return errs


def _validate_sysctls(sysctls: list[Obj], spec: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, sysctl in enumerate(sysctls):
        name_path = child(_index(path, i), "name")
        name = sysctl.get("name") or ""
        if not name:
            errs.append(required(name_path))
        elif len(name) > SYSCTL_MAX_LENGTH or not _SYSCTL_RE.match(name):
            errs.append(
                invalid(
                    name_path,
                    name,
                    f"must have at most {SYSCTL_MAX_LENGTH} characters and match regex "
                    f"{_SYSCTL_RE.pattern}",
                )
            )
        elif name in seen:
            errs.append(duplicate(name_path, name))
        normalized = name.replace("/", ".")
        if spec.get("hostNetwork") and normalized.startswith("net."):
            errs.append(invalid(name_path, name, "may not be specified when 'hostNetwork' is true"))
        elif spec.get("hostIPC") and (
            normalized.startswith(("kernel.shm", "kernel.msg", "fs.mqueue."))
            or normalized == "kernel.sem"
        ):
            errs.append(invalid(name_path, name, "may not be specified when 'hostIPC' is true"))
        seen.add(name)
    return errs


def _validate_security_context(context: Any, path: str, host_users: bool) -> list[FieldError]:
    """ValidateSecurityContext of a container (privileged containers are allowed, as with
    kube-apiserver --allow-privileged=true, which every common distribution sets)."""
    if not isinstance(context, dict):
        return []
    errs = _validate_ids(context, path)
    proc_mount = context.get("procMount")
    if proc_mount is not None:
        if proc_mount not in _PROC_MOUNT_TYPES:
            errs.append(not_supported(child(path, "procMount"), proc_mount, _PROC_MOUNT_TYPES))
        if host_users and proc_mount == "Unmasked":
            errs.append(
                invalid(
                    child(path, "procMount"),
                    proc_mount,
                    "`hostUsers` must be false to use `Unmasked`",
                )
            )
    errs.extend(_validate_seccomp(context.get("seccompProfile"), child(path, "seccompProfile")))
    errs.extend(_validate_apparmor(context.get("appArmorProfile"), child(path, "appArmorProfile")))
    return errs
