"""A container's environment (ValidateEnv, validateEnvFrom) and the downward API selectors that
both env vars and downwardAPI volumes use (validateObjectFieldSelector,
validateContainerResourceFieldSelector), with the field paths each accepts.
"""

from __future__ import annotations

from kubelite.api.errors import FieldError, child, invalid, not_supported, required
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.env_files import validate_file_key_selector
from kubelite.api.validation.pods.fields import (
    _config_map_key,
    _dns1123_subdomain,
    _index,
    _names_errors,
    _qualified_name,
    _quantity,
)

# Downward API field paths (validEnvDownwardAPIFieldPathExpressions and the volume ones).
_ENV_FIELD_PATHS = (
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_VOLUME_FIELD_PATHS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
)
# What pods.ConvertDownwardAPIFieldLabel accepts in v1.
DOWNWARD_API_LABELS = (
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.serviceAccountName",
    "spec.schedulerName",
    "status.phase",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
)
_CONTAINER_RESOURCE_FIELD_PATHS = (
    "limits.cpu",
    "limits.ephemeral-storage",
    "limits.memory",
    "requests.cpu",
    "requests.ephemeral-storage",
    "requests.memory",
)
_HUGEPAGES_FIELD_PREFIXES = ("limits.hugepages-", "requests.hugepages-")
# Declared wide: the line below extends it.
_BINARY_DIVISORS: tuple[str, ...]
_BINARY_DIVISORS = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi")
_BINARY_DIVISORS += ("1Ei",)


def _validate_env(env: list[Obj], path: str) -> list[FieldError]:
    """ValidateEnv, with 1.33's relaxed names (any printable ASCII but '=')."""
    errs: list[FieldError] = []
    for i, var in enumerate(env):
        var_path = _index(path, i)
        name = var.get("name") or ""
        if not name:
            errs.append(required(child(var_path, "name")))
        else:
            errs.extend(_names_errors(child(var_path, "name"), name, names.is_env_var_name(name)))
        errs.extend(_validate_env_source(var, child(var_path, "valueFrom")))
    return errs


def _validate_env_source(var: Obj, path: str) -> list[FieldError]:
    source = var.get("valueFrom")
    if source is None:
        return []
    errs: list[FieldError] = []
    count = 0
    if source.get("fieldRef") is not None:
        count += 1
        errs.extend(_validate_object_field_selector(source["fieldRef"], _ENV_FIELD_PATHS, path))
    if source.get("resourceFieldRef") is not None:
        count += 1
        errs.extend(
            _validate_resource_field_selector(
                source["resourceFieldRef"], child(path, "resourceFieldRef"), volume=False
            )
        )
    for key in ("configMapKeyRef", "secretKeyRef"):
        if source.get(key) is not None:
            count += 1
            errs.extend(_validate_key_selector(source[key], child(path, key)))
    if source.get("fileKeyRef") is not None:
        count += 1
        errs.extend(validate_file_key_selector(source["fileKeyRef"], child(path, "fileKeyRef")))
    if count == 0:
        errs.append(
            invalid(
                path,
                "",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
                "`secretKeyRef`",
            )
        )
    elif var.get("value"):
        errs.append(invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs


def _validate_object_field_selector(
    selector: Obj, allowed: tuple[str, ...], parent: str
) -> list[FieldError]:
    """validateObjectFieldSelector, with ConvertDownwardAPIFieldLabel's checks for v1, of the
    `fieldRef` of `parent`."""
    api_version = selector.get("apiVersion") or ""
    field_path = selector.get("fieldPath") or ""
    if api_version == "v1" and field_path in allowed:
        # The usual selector (`metadata.namespace`): a v1 field that both the conversion and
        # the rule accept. Nothing to report.
        return []
    path = child(parent, "fieldRef")
    if not api_version:
        return [required(child(path, "apiVersion"))]
    if not field_path:
        return [required(child(path, "fieldPath"))]
    subscripted = _split_subscript(field_path)
    conversion_error = ""
    if api_version != "v1":
        conversion_error = f"unsupported pod version: {api_version}"
    elif subscripted is not None:
        if subscripted[0] not in ("metadata.annotations", "metadata.labels"):
            conversion_error = f"field label does not support subscript: {field_path}"
    elif field_path == "spec.host":
        # Old v1 clients send spec.host for spec.nodeName.
        field_path = "spec.nodeName"
    elif field_path not in DOWNWARD_API_LABELS:
        conversion_error = f"field label not supported: {field_path}"
    if conversion_error:
        return [
            invalid(
                child(path, "fieldPath"),
                selector["fieldPath"],
                f"error converting fieldPath: {conversion_error}",
            )
        ]
    if subscripted is not None:
        base, subscript = subscripted
        if base == "metadata.annotations":
            return _qualified_name(path, subscript.lower())
        return _qualified_name(path, subscript)
    if field_path not in allowed:
        return [not_supported(child(path, "fieldPath"), field_path, allowed)]
    return []


def _split_subscript(field_path: str) -> tuple[str, str] | None:
    """fieldpath.SplitMaybeSubscriptedPath: `metadata.labels['app']` -> (path, key)."""
    if not field_path.endswith("']"):
        return None
    base, sep, subscript = field_path[:-2].partition("['")
    if not sep or not base:
        return None
    return base, subscript


def _validate_resource_field_selector(
    selector: Obj, path: str, *, volume: bool
) -> list[FieldError]:
    """validateContainerResourceFieldSelector and validateContainerResourceDivisor."""
    errs: list[FieldError] = []
    resource = selector.get("resource") or ""
    if volume and not selector.get("containerName"):
        errs.append(required(child(path, "containerName")))
    elif not resource:
        errs.append(required(child(path, "resource")))
    elif resource not in _CONTAINER_RESOURCE_FIELD_PATHS and not resource.startswith(
        _HUGEPAGES_FIELD_PREFIXES
    ):
        errs.append(
            not_supported(child(path, "resource"), resource, _CONTAINER_RESOURCE_FIELD_PATHS)
        )
    divisor = _quantity(selector.get("divisor"))
    if divisor is None or divisor.is_zero():
        return errs
    shown = str(divisor)
    if resource in ("limits.cpu", "requests.cpu") and shown not in ("1m", "1"):
        errs.append(
            invalid(
                child(path, "divisor"),
                resource,
                "only divisor's values 1m and 1 are supported with the cpu resource",
            )
        )
    targets = {
        "limits.memory": "the memory resource",
        "requests.memory": "the memory resource",
        "limits.ephemeral-storage": "the local ephemeral storage resource",
        "requests.ephemeral-storage": "the local ephemeral storage resource",
    }
    if resource.startswith(_HUGEPAGES_FIELD_PREFIXES):
        targets[resource] = "the hugepages resource"
    if resource in targets and shown not in _BINARY_DIVISORS:
        errs.append(
            invalid(
                child(path, "divisor"),
                resource,
                "only divisor's values 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi, 1Ei "
                f"are supported with {targets[resource]}",
            )
        )
    return errs


def _validate_key_selector(selector: Obj, path: str) -> list[FieldError]:
    """validateConfigMapKeySelector / validateSecretKeySelector (both use secret names)."""
    errs = _dns1123_subdomain(child(path, "name"), selector.get("name") or "")
    key = selector.get("key") or ""
    if not key:
        errs.append(required(child(path, "key")))
    else:
        errs.extend(_names_errors(child(path, "key"), key, _config_map_key(key)))
    return errs


def _validate_env_from(sources: list[Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, source in enumerate(sources):
        source_path = _index(path, i)
        prefix = source.get("prefix") or ""
        if prefix:
            errs.extend(
                _names_errors(child(source_path, "prefix"), prefix, names.is_env_var_name(prefix))
            )
        count = 0
        for key in ("configMapRef", "secretRef"):
            ref = source.get(key)
            if ref is None:
                continue
            count += 1
            name = ref.get("name") or ""
            if not name:
                errs.append(required(child(child(source_path, key), "name")))
            else:
                problems = names.name_is_dns_subdomain(name, prefix=True)
                errs.extend(_names_errors(child(child(source_path, key), "name"), name, problems))
        if count == 0:
            errs.append(invalid(path, "", "must specify one of: `configMapRef` or `secretRef`"))
        elif count > 1:
            errs.append(invalid(path, "", "may not have more than one field specified at a time"))
    return errs
