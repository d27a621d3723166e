"""Resource names and quantities (validateResourceRequirements, ValidateResourceName) and the
in-place resize policy of a container.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubelite.api import errors
from kubelite.api.errors import FieldError, child, forbidden_field, invalid, not_supported, required
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.fields import (
    IS_NEGATIVE_ERROR_MSG,
    _index,
    _key,
    _qualified_name,
    _quantity,
    _stringer,
)

IS_NOT_INTEGER_ERROR_MSG = "must be an integer"

_RESIZE_RESOURCES = ("cpu", "memory")
_RESIZE_POLICIES = ("NotRequired", "RestartContainer")

# Resource names (pkg/apis/core/helper).
_STANDARD_CONTAINER_RESOURCES = ("cpu", "memory", "ephemeral-storage")
_STANDARD_RESOURCES = (
    "cpu",
    "memory",
    "ephemeral-storage",
    "requests.cpu",
    "requests.memory",
    "requests.ephemeral-storage",
    "limits.cpu",
    "limits.memory",
    "limits.ephemeral-storage",
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "storage",
    "requests.storage",
    "services.nodeports",
    "services.loadbalancers",
)
_INTEGER_RESOURCES = (
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "configmaps",
    "persistentvolumeclaims",
    "services.nodeports",
    "services.loadbalancers",
)
_HUGEPAGES_PREFIX = "hugepages-"


def _is_native_resource(name: str) -> bool:
    return "/" not in name or "kubernetes.io/" in name


def _is_hugepages(name: str) -> bool:
    return name.startswith(_HUGEPAGES_PREFIX)


def _is_extended_resource(name: str) -> bool:
    """helper.IsExtendedResourceName: a prefixed name outside kubernetes.io."""
    if _is_native_resource(name) or name.startswith("requests."):
        return False
    return not names.is_qualified_name("requests." + name)


def _overcommit_allowed(name: str) -> bool:
    return _is_native_resource(name) and not _is_hugepages(name)


def _validate_container_resource_name(name: str, path: str) -> list[FieldError]:
    """validateContainerResourceName (the name is printed bare, being a Go Stringer)."""
    errs = _qualified_name(path, name)
    if errs:
        return errs
    if "/" not in name:
        standard = name in _STANDARD_RESOURCES or _is_hugepages(name)
        standard = standard or name.startswith("requests.hugepages-")
        if not standard:
            errs.append(
                _stringer(path, name, "must be a standard resource type or fully qualified")
            )
        if name not in _STANDARD_CONTAINER_RESOURCES and not _is_hugepages(name):
            errs.append(_stringer(path, name, "must be a standard resource for containers"))
    elif not _is_native_resource(name) and not _is_extended_resource(name):
        errs.append(_stringer(path, name, "doesn't follow extended resource name standard"))
    return errs


def _validate_quantity_value(name: str, value: Any, path: str) -> list[FieldError]:
    """ValidateResourceQuantityValue."""
    quantity = _quantity(value)
    if quantity is None:
        return []
    errs: list[FieldError] = []
    if quantity.sign() < 0:
        errs.append(invalid(path, str(quantity), IS_NEGATIVE_ERROR_MSG))
    integer = name in _INTEGER_RESOURCES or _is_extended_resource(name)
    if integer and quantity.milli_value() % 1000:
        errs.append(_stringer(path, str(quantity), IS_NOT_INTEGER_ERROR_MSG))
    return errs


# How a resource name is checked: for containers, or for a pod's own resources.
NameCheck = Callable[[str, str], list[FieldError]]


def _validate_resource_requirements(
    resources: Obj, path: str, name_check: NameCheck = _validate_container_resource_name
) -> list[FieldError]:
    """validateResourceRequirements for a container (and for a pod's overhead), or with
    `name_check` for a pod's own resources (validatePodResourceRequirements)."""
    errs: list[FieldError] = []
    limits_path, requests_path = child(path, "limits"), child(path, "requests")
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    cpu_or_memory = hugepages = False
    for name, value in limits.items():
        name_path = _key(limits_path, name)
        errs.extend(name_check(name, name_path))
        errs.extend(_validate_quantity_value(name, value, name_path))
        hugepages = hugepages or _is_hugepages(name)
        cpu_or_memory = cpu_or_memory or name in ("cpu", "memory")
    for name, value in requests.items():
        name_path = _key(requests_path, name)
        errs.extend(name_check(name, name_path))
        errs.extend(_validate_quantity_value(name, value, name_path))
        request = _quantity(value)
        if name in limits:
            limit = _quantity(limits[name])
            if request is not None and limit is not None:
                if request != limit and not _overcommit_allowed(name):
                    errs.append(
                        invalid(
                            requests_path, str(request), f"must be equal to {name} limit of {limit}"
                        )
                    )
                elif request > limit:
                    errs.append(
                        invalid(
                            requests_path,
                            str(request),
                            f"must be less than or equal to {name} limit of {limit}",
                        )
                    )
        elif not _overcommit_allowed(name):
            errs.append(required(limits_path, "Limit must be set for non overcommitable resources"))
        hugepages = hugepages or _is_hugepages(name)
        cpu_or_memory = cpu_or_memory or name in ("cpu", "memory")
    if hugepages and not cpu_or_memory:
        errs.append(forbidden_field(path, "HugePages require cpu or memory"))
    return errs


def _validate_resize_policy(
    policies: list[Obj], path: str, restart_policy: str
) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, policy in enumerate(policies):
        resource = policy.get("resourceName") or ""
        if resource in seen:
            errs.append(_stringer(_index(path, i), resource, kind=errors.DUPLICATE))
        seen.add(resource)
        if not resource:
            errs.append(required(path))
        elif resource not in _RESIZE_RESOURCES:
            errs.append(
                _stringer(
                    path, resource, 'supported values: "cpu", "memory"', kind=errors.NOT_SUPPORTED
                )
            )
        restart = policy.get("restartPolicy") or ""
        if not restart:
            errs.append(required(path))
        elif restart not in _RESIZE_POLICIES:
            errs.append(not_supported(path, restart, _RESIZE_POLICIES))
        if restart_policy == "Never" and restart != "NotRequired":
            errs.append(
                invalid(path, restart, "must be 'NotRequired' when `restartPolicy` is 'Never'")
            )
    return errs
