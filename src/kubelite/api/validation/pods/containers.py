"""The containers of a pod: regular, init (sidecars are init containers that restart always)
and their ports, volume mounts and host ports; the container's env, resources, probes, security
context and own restart policy and rules are checked by the modules named after them.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import (
    FieldError,
    child,
    duplicate,
    field_not_found,
    forbidden_field,
    invalid,
    not_supported,
    required,
)
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.env import _validate_env, _validate_env_from
from kubelite.api.validation.pods.fields import (
    _enum,
    _index,
    _local_descending_path,
    _name_at,
    _names_errors,
)
from kubelite.api.validation.pods.init_resize_policy import (
    validate_init_container_resize_policy,
)
from kubelite.api.validation.pods.probes import _validate_lifecycle_and_probes
from kubelite.api.validation.pods.resources import (
    _validate_resize_policy,
    _validate_resource_requirements,
)
from kubelite.api.validation.pods.restart_rules import (
    validate_container_restart_policy,
    validate_init_container_restart_policy,
)
from kubelite.api.validation.pods.security import _validate_security_context

_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")

_MOUNT_PROPAGATIONS = ("Bidirectional", "HostToContainer", "None")
_RECURSIVE_READ_ONLY = ("Disabled", "Enabled", "IfPossible")


def _validate_containers(
    containers: list[Obj],
    volumes: dict[str, Obj],
    grace: Any,
    path: str,
    restart_policy: str,
    host_users: bool,
) -> list[FieldError]:
    if not containers:
        return [required(path)]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        container_path = f"{path}[{i}]"
        errs.extend(
            _validate_container_common(
                container, volumes, container_path, restart_policy, host_users
            )
        )
        name = container.get("name") or ""
        if name in seen:
            errs.append(duplicate(child(container_path, "name"), name))
        seen.add(name)
        if not _HOOKS_AND_PROBES.isdisjoint(container):
            errs.extend(_validate_lifecycle_and_probes(container, grace, container_path))
        if not _RESTART_FIELDS.isdisjoint(container):
            errs.extend(validate_container_restart_policy(container, container_path))
    errs.extend(_host_port_conflicts(containers, path))
    return errs


def _validate_init_containers(
    containers: list[Obj],
    regular: list[Obj],
    volumes: dict[str, Obj],
    grace: Any,
    path: str,
    restart_policy: str,
    host_users: bool,
) -> list[FieldError]:
    errs: list[FieldError] = []
    seen = {c.get("name") or "" for c in regular}
    for i, container in enumerate(containers):
        container_path = f"{path}[{i}]"
        errs.extend(
            _validate_container_common(
                container, volumes, container_path, restart_policy, host_users
            )
        )
        policy = container.get("restartPolicy")
        if not _RESTART_FIELDS.isdisjoint(container):
            errs.extend(validate_init_container_restart_policy(container, container_path))
        if container.get("resizePolicy"):
            errs.extend(validate_init_container_resize_policy(container, container_path))
        name = container.get("name") or ""
        if name in seen:
            errs.append(duplicate(child(container_path, "name"), name))
        elif name:
            seen.add(name)
        # Init containers run one at a time, so each is checked alone (and, as in Kubernetes,
        # reported at index 0).
        errs.extend(_host_port_conflicts([container], path))
        if policy == "Always":
            errs.extend(_validate_lifecycle_and_probes(container, grace, container_path))
        else:
            for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe"):
                if container.get(key) is not None:
                    errs.append(
                        forbidden_field(
                            child(container_path, key),
                            "may not be set for init containers without restartPolicy=Always",
                        )
                    )
    return errs


def _validate_container_common(
    container: Obj, volumes: dict[str, Obj], path: str, restart_policy: str, host_users: bool
) -> list[FieldError]:
    """validateContainerCommon: what every kind of container must satisfy."""
    errs: list[FieldError] = []
    name = container.get("name") or ""
    if not name:
        errs.append(required(child(path, "name")))
    else:
        errs.extend(_name_at(path, "name", name, names.is_dns1123_label))
    if not container.get("image"):
        errs.append(required(child(path, "image")))
    errs.extend(
        _enum(
            path,
            "terminationMessagePolicy",
            container.get("terminationMessagePolicy"),
            _TERMINATION_MESSAGE_POLICIES,
        )
    )
    # The rules of lists and structs the container leaves out would find nothing.
    if container.get("ports"):
        errs.extend(_validate_ports(container["ports"], child(path, "ports")))
    if container.get("env"):
        errs.extend(_validate_env(container["env"], child(path, "env")))
    if container.get("envFrom"):
        errs.extend(_validate_env_from(container["envFrom"], child(path, "envFrom")))
    errs.extend(_validate_volume_mounts(container, volumes, path))
    errs.extend(_enum(path, "imagePullPolicy", container.get("imagePullPolicy"), _PULL_POLICIES))
    resources = container.get("resources") or {}
    if resources.get("limits") or resources.get("requests"):
        errs.extend(_validate_resource_requirements(resources, child(path, "resources")))
    if container.get("resizePolicy"):
        errs.extend(
            _validate_resize_policy(
                container["resizePolicy"], child(path, "resizePolicy"), restart_policy
            )
        )
    if isinstance(container.get("securityContext"), dict):
        errs.extend(
            _validate_security_context(
                container["securityContext"], child(path, "securityContext"), host_users
            )
        )
    return errs


def _validate_ports(ports: list[Obj], path: str) -> list[FieldError]:
    """validateContainerPorts."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, port in enumerate(ports):
        port_path = f"{path}[{i}]"
        name = port.get("name") or ""
        if name:
            problems = names.is_valid_port_name(name)
            if problems:
                errs.extend(_names_errors(child(port_path, "name"), name, problems))
            elif name in seen:
                errs.append(duplicate(child(port_path, "name"), name))
            else:
                seen.add(name)
        container_port = port.get("containerPort") or 0
        if container_port == 0:
            errs.append(required(child(port_path, "containerPort")))
        else:
            for problem in names.is_valid_port_num(container_port):
                errs.append(invalid(child(port_path, "containerPort"), container_port, problem))
        host_port = port.get("hostPort") or 0
        if host_port != 0:
            for problem in names.is_valid_port_num(host_port):
                errs.append(invalid(child(port_path, "hostPort"), host_port, problem))
        errs.extend(_enum(port_path, "protocol", port.get("protocol"), _PORT_PROTOCOLS))
    return errs


def _host_port_conflicts(containers: list[Obj], path: str) -> list[FieldError]:
    """AccumulateUniqueHostPorts: one host port per protocol and host IP."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, container in enumerate(containers):
        for j, port in enumerate(container.get("ports") or []):
            host_port = port.get("hostPort") or 0
            if host_port == 0:
                continue
            key = f"{port.get('protocol') or ''}/{port.get('hostIP') or ''}/{host_port}"
            if key in seen:
                port_path = _index(child(_index(path, i), "ports"), j)
                errs.append(duplicate(child(port_path, "hostPort"), key))
            seen.add(key)
    return errs


def _validate_volume_mounts(
    container: Obj, volumes: dict[str, Obj], container_path: str
) -> list[FieldError]:
    """ValidateVolumeMounts. Kubernetes names some problems at the list, not the item."""
    privileged = (container.get("securityContext") or {}).get("privileged") is True
    mounts = container.get("volumeMounts") or []
    if not mounts:
        return []
    errs: list[FieldError] = []
    mount_paths: set[str] = set()
    path = child(container_path, "volumeMounts")
    for i, mount in enumerate(mounts):
        name = mount.get("name") or ""
        mount_path = mount.get("mountPath") or ""
        if not name or name not in volumes or not mount_path or mount_path in mount_paths:
            errs.extend(_mount_target_errors(name, mount_path, volumes, mount_paths, path, i))
        mount_paths.add(mount_path)
        if not _MOUNT_OPTIONS.isdisjoint(mount):
            errs.extend(_validate_mount_options(mount, privileged, path, i))
    return errs


# The fields of a volume mount beyond its volume, path and readOnly, which have rules of their own.
_MOUNT_OPTIONS = frozenset({"subPath", "subPathExpr", "mountPropagation", "recursiveReadOnly"})


def _mount_target_errors(
    name: str,
    mount_path: str,
    volumes: dict[str, Obj],
    mount_paths: set[str],
    path: str,
    i: int,
) -> list[FieldError]:
    """What is wrong with the volume and the path of the `i`th mount."""
    errs: list[FieldError] = []
    mount_field = _index(path, i)
    if not name:
        errs.append(required(child(mount_field, "name")))
    if name not in volumes:
        errs.append(field_not_found(child(mount_field, "name"), name))
    if not mount_path:
        errs.append(required(child(mount_field, "mountPath")))
    if mount_path in mount_paths:
        errs.append(invalid(child(mount_field, "mountPath"), mount_path, "must be unique"))
    return errs


def _validate_mount_options(mount: Obj, privileged: bool, path: str, i: int) -> list[FieldError]:
    """The rules of the `i`th mount's subPath, subPathExpr, propagation and recursiveReadOnly."""
    errs: list[FieldError] = []
    sub_path = mount.get("subPath") or ""
    sub_path_expr = mount.get("subPathExpr") or ""
    if sub_path:
        errs.extend(_local_descending_path(path, "subPath", sub_path))
    if sub_path_expr:
        if sub_path:
            errs.append(
                invalid(
                    child(_index(path, i), "subPathExpr"),
                    sub_path_expr,
                    "subPathExpr and subPath are mutually exclusive",
                )
            )
        errs.extend(_local_descending_path(path, "subPathExpr", sub_path_expr))
    propagation = mount.get("mountPropagation")
    if propagation is not None:
        if propagation not in _MOUNT_PROPAGATIONS:
            errs.append(
                not_supported(child(path, "mountPropagation"), propagation, _MOUNT_PROPAGATIONS)
            )
        if propagation == "Bidirectional" and not privileged:
            errs.append(
                forbidden_field(
                    child(path, "mountPropagation"),
                    "Bidirectional mount propagation is available only to privileged containers",
                )
            )
    if mount.get("recursiveReadOnly") not in (None, "Disabled"):
        errs.extend(_validate_recursive_read_only(mount, child(path, "recursiveReadOnly")))
    return errs


def _validate_recursive_read_only(mount: Obj, path: str) -> list[FieldError]:
    value = mount.get("recursiveReadOnly")
    if value is None or value == "Disabled":
        return []
    if value not in _RECURSIVE_READ_ONLY:
        return [not_supported(path, value, _RECURSIVE_READ_ONLY)]
    errs: list[FieldError] = []
    if not mount.get("readOnly"):
        errs.append(forbidden_field(path, "may only be specified when readOnly is true"))
    if mount.get("mountPropagation") not in (None, "None"):
        errs.append(
            forbidden_field(
                path, "may only be specified when mountPropagation is None or not specified"
            )
        )
    return errs


# The fields of a container the restart policy rules look at.
_RESTART_FIELDS = frozenset({"restartPolicy", "restartPolicyRules"})

# The fields of a container _validate_lifecycle_and_probes looks at.
_HOOKS_AND_PROBES = frozenset({"lifecycle", "livenessProbe", "readinessProbe", "startupProbe"})
