"""A container's environment, as the kubelet makes it before asking the runtime for the container.

This mirrors `makeEnvironmentVariables` in Kubernetes' `pkg/kubelet/kubelet_pods.go`:

1. `envFrom` sources, in order: every key of the ConfigMap or Secret (with `prefix`), keys that
   are not environment variable names skipped and reported (the `InvalidEnvironmentVariableNames`
   event, as up to Kubernetes 1.33; later releases relax the name rules and pass such keys on),
   a missing source skipped when `optional`;
2. then `env`, in order: `value` with `$(VAR)` references expanded against what is defined so far
   (and the service variables), or `valueFrom` (fieldRef, resourceFieldRef, configMapKeyRef,
   secretKeyRef, and fileKeyRef: a key of an env file in one of the pod's volumes, see
   `envfile`);
3. a later definition replaces an earlier one; service variables not defined by the pod last.

Kubernetes hands the result over in Go map order (random); here a variable keeps the position of
its first definition, so that a container's environment is the same on every start.

The Downward API parts (`pod_field_value`, `container_resource_value`) are shared with the
downwardAPI and projected volumes, as Kubernetes shares `pkg/fieldpath` and
`pkg/api/v1/resource`. ConfigMaps and Secrets are read through an injected `ObjectLookup`, which
the kubelet backs with its API client.
"""

from __future__ import annotations

import base64
import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from kubelite.api.goformat import go_quote
from kubelite.api.quantity import NANO, Quantity, QuantityError
from kubelite.api.types import Obj
from kubelite.api.validation.pods import DOWNWARD_API_LABELS
from kubelite.kubelet import envfile

log = logging.getLogger(__name__)

# The event the kubelet records for skipped envFrom keys (kubelet_pods.go).
INVALID_ENV_VAR_NAMES = "InvalidEnvironmentVariableNames"

# apimachinery validation.IsEnvVarName: a C-like name, dots and dashes allowed.
_ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")

# The largest value a Downward API resource file or variable shows (Go's math.MaxInt64).
_MAX_INT64 = (1 << 63) - 1

# The fieldPaths ConvertDownwardAPIFieldLabel accepts (pkg/apis/core/pods/helpers.go): the
# same list the API's validation checks them against.
_DOWNWARD_API_FIELDS = frozenset(DOWNWARD_API_LABELS)
# Resources a container's limits default to from node allocatable (MergeContainerResourceLimits).
_DEFAULTED_LIMITS = ("cpu", "memory", "ephemeral-storage")

# A ConfigMap's values (str) or a Secret's decoded ones (bytes).
_V = TypeVar("_V", str, bytes)


class ConfigError(Exception):
    """The container's configuration cannot be made; the kubelet reports the message as the
    container's `CreateContainerConfigError`."""


class ObjectLookup(Protocol):
    """Reads the ConfigMaps and Secrets a pod refers to. Either method may be async.

    Returns the object as the API serves it (a dict), or None when it does not exist; any other
    failure is raised and surfaces as the pod's error.
    """

    def config_map(self, namespace: str, name: str) -> Obj | Awaitable[Obj | None] | None: ...

    def secret(self, namespace: str, name: str) -> Obj | Awaitable[Obj | None] | None: ...


async def resolve(value: Any) -> Any:
    """The value itself, or what it resolves to when it is awaitable (sync or async seams)."""
    if inspect.isawaitable(value):
        return await value
    return value


async def get_config_map(lookup: ObjectLookup, namespace: str, name: str) -> Obj | None:
    return await resolve(lookup.config_map(namespace, name))


async def get_secret(lookup: ObjectLookup, namespace: str, name: str) -> Obj | None:
    return await resolve(lookup.secret(namespace, name))


def config_map_not_found(name: str) -> str:
    """The NotFound the kubelet's ConfigMap manager gives (its group resource is `configmap`)."""
    return f'configmap "{name}" not found'


def secret_not_found(name: str) -> str:
    """The NotFound the kubelet's Secret manager gives (its group resource is `secret`)."""
    return f'secret "{name}" not found'


def secret_data(secret: Obj) -> dict[str, bytes]:
    """A Secret's `data`, base64-decoded as the API's JSON carries it."""
    return {k: base64.b64decode(v or "") for k, v in (secret.get("data") or {}).items()}


def config_map_binary_data(config_map: Obj) -> dict[str, bytes]:
    """A ConfigMap's `binaryData`, base64-decoded."""
    return {k: base64.b64decode(v or "") for k, v in (config_map.get("binaryData") or {}).items()}


def is_env_var_name(name: str) -> bool:
    """apimachinery validation.IsEnvVarName, including its refusal of `.`, `..` and `..x`."""
    return _ENV_VAR_NAME.fullmatch(name) is not None and not name.startswith("..") and name != "."


# --- $(VAR) expansion (third_party/forked/golang/expansion/expand.go) ---------------------------


def expand(text: str, *contexts: Mapping[str, str]) -> str:
    """Expand `$(VAR)` references from the first context that defines VAR.

    `$$` is an escaped `$`; a reference nobody defines stays as written; `$(` without `)` and
    `$` before any other character are kept. For example, with A=x: `$(A)-$$(A)-$(B)` becomes
    `x-$(A)-$(B)`.
    """

    def mapping(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return f"$({name})"

    return expand_with(text, mapping)


def expand_with(text: str, mapping: Callable[[str], str]) -> str:
    """expansion.Expand with any mapping function `name -> value`."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    length = len(text)
    while cursor < length:
        if text[cursor] == "$" and cursor + 1 < length:
            out.append(text[checkpoint:cursor])
            following = text[cursor + 1]
            if following == "$":
                out.append("$")  # an escaped operator
                cursor += 1
            elif following == "(":
                closer = text.find(")", cursor + 2)
                if closer == -1:
                    out.append("$(")  # an unterminated reference is kept as it is
                    cursor += 1
                else:
                    out.append(mapping(text[cursor + 2 : closer]))
                    cursor = closer
            else:
                out.append("$" + following)  # an operator that starts nothing
                cursor += 1
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def expand_command(words: Sequence[str], env: Iterable[tuple[str, str]]) -> list[str]:
    """A container's command or args with `$(VAR)` expanded from its environment
    (kubecontainer.ExpandContainerCommandAndArgs)."""
    mapping = dict(env)
    return [expand(word, mapping) for word in words]


# --- Downward API: pod fields (pkg/fieldpath, kubelet podFieldSelectorRuntimeValue) ------------


def split_subscript(field_path: str) -> tuple[str, str] | None:
    """fieldpath.SplitMaybeSubscriptedPath: `metadata.labels['k']` -> ("metadata.labels", "k")."""
    if not field_path.endswith("']"):
        return None
    head, sep, key = field_path[: -len("']")].partition("['")
    if not sep or not head:
        return None
    return head, key


def format_map(values: Mapping[str, str]) -> str:
    """fieldpath.FormatMap: `key="value"` lines in key order, no newline after the last."""
    return "\n".join(f"{key}={go_quote(values[key])}" for key in sorted(values))


def object_field_value(obj: Obj, field_path: str) -> str:
    """fieldpath.ExtractFieldPathAsString: the metadata fields every object has."""
    meta = obj.get("metadata") or {}
    subscripted = split_subscript(field_path)
    if subscripted is not None:
        path, key = subscripted
        if path == "metadata.annotations":
            return (meta.get("annotations") or {}).get(key, "")
        if path == "metadata.labels":
            return (meta.get("labels") or {}).get(key, "")
        raise ConfigError(f'fieldPath "{field_path}" does not support subscript')
    if field_path == "metadata.annotations":
        return format_map(meta.get("annotations") or {})
    if field_path == "metadata.labels":
        return format_map(meta.get("labels") or {})
    if field_path in ("metadata.name", "metadata.namespace", "metadata.uid"):
        return meta.get(field_path.removeprefix("metadata."), "")
    raise ConfigError(f"unsupported fieldPath: {field_path}")


def convert_field_label(api_version: str, field_path: str) -> str:
    """ConvertDownwardAPIFieldLabel: check a fieldRef against what pods v1 offers."""
    if api_version != "v1":
        raise ConfigError(f"unsupported pod version: {api_version}")
    subscripted = split_subscript(field_path)
    if subscripted is not None:
        if subscripted[0] in ("metadata.annotations", "metadata.labels"):
            return field_path
        raise ConfigError(f"field label does not support subscript: {field_path}")
    if field_path == "spec.host":  # old v1 clients' name for spec.nodeName
        return "spec.nodeName"
    if field_path not in _DOWNWARD_API_FIELDS:
        raise ConfigError(f"field label not supported: {field_path}")
    return field_path


def pod_field_value(
    pod: Obj, field_ref: Obj, *, pod_ips: Sequence[str] = (), host_ips: Sequence[str] = ()
) -> str:
    """The value of an env var's `fieldRef` (kubelet podFieldSelectorRuntimeValue)."""
    path = convert_field_label(field_ref.get("apiVersion") or "v1", field_ref.get("fieldPath", ""))
    spec = pod.get("spec") or {}
    if path == "spec.nodeName":
        return spec.get("nodeName", "")
    if path == "spec.serviceAccountName":
        return spec.get("serviceAccountName", "")
    if path == "status.hostIP":
        return host_ips[0] if host_ips else ""
    if path == "status.hostIPs":
        return ",".join(host_ips)
    if path == "status.podIP":
        return pod_ips[0] if pod_ips else ""
    if path == "status.podIPs":
        return ",".join(pod_ips)
    return object_field_value(pod, path)


# --- Downward API: container resources (pkg/api/v1/resource/helpers.go) ------------------------


def _quantity(value: Any) -> Quantity:
    try:
        return Quantity.from_json(value)
    except QuantityError as e:
        raise ConfigError(str(e)) from e


def with_default_limits(container: Obj, allocatable: Mapping[str, Any] | None) -> Obj:
    """MergeContainerResourceLimits on a copy: unset or zero cpu, memory and ephemeral-storage
    limits become the node's allocatable (kubelet defaultPodLimitsForDownwardAPI)."""
    resources = dict(container.get("resources") or {})
    limits = dict(resources.get("limits") or {})
    for name in _DEFAULTED_LIMITS:
        unset = name not in limits or _quantity(limits[name]).is_zero()
        if unset and allocatable and name in allocatable:
            limits[name] = allocatable[name]
    resources["limits"] = limits
    return {**container, "resources": resources}


def find_container(pod: Obj, name: str) -> Obj:
    """findContainerInPod: regular containers first, then init containers."""
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        if container.get("name") == name:
            return container
    raise ConfigError(f"container {name} not found")


def _ceil_ratio(value: Quantity, divisor: Quantity) -> str:
    """convertQuantityToString: ceil(value / divisor) in whole units, 0 for non-positive input,
    saturated at the int64 maximum. Quantities carry at most nano precision, so nanos divide
    exactly where Kubernetes uses big decimals."""
    if value.sign() <= 0 or divisor.sign() <= 0:
        return "0"
    numerator, denominator = value.scaled_value(NANO), divisor.scaled_value(NANO)
    return str(min(-(-numerator // denominator), _MAX_INT64))


def container_resource_value(resource_field_ref: Obj, container: Obj) -> str:
    """ExtractContainerResourceValue: `limits.cpu`, `requests.memory`, ... divided by the
    divisor (1 when unset or zero) and rounded up: 250m CPU is 1 with divisor 1, 250 with 1m."""
    divisor = _quantity(resource_field_ref.get("divisor") or "0")
    if divisor.is_zero():
        divisor = _quantity("1")
    resource = resource_field_ref.get("resource", "")
    kind, _, name = resource.partition(".")
    standard = name in ("cpu", "memory", "ephemeral-storage") or name.startswith("hugepages-")
    if kind not in ("limits", "requests") or not standard:
        raise ConfigError(f"unsupported container resource : {resource}")
    amounts = (container.get("resources") or {}).get(kind) or {}
    return _ceil_ratio(_quantity(amounts.get(name) or "0"), divisor)


def resource_field_value(
    resource_field_ref: Obj,
    pod: Obj,
    container: Obj | None,
    allocatable: Mapping[str, Any] | None,
) -> str:
    """A resourceFieldRef's value with limits defaulted from node allocatable: the named
    container, or `container` when the reference names none (env vars of that container)."""
    name = resource_field_ref.get("containerName") or ""
    if name or container is None:
        container = find_container(pod, name)
    return container_resource_value(resource_field_ref, with_default_limits(container, allocatable))


def node_allocatable(node: Obj | None) -> dict[str, Any]:
    """The allocatable resources of a Node object (empty when there is no Node)."""
    return dict(((node or {}).get("status") or {}).get("allocatable") or {})


# --- the environment ---------------------------------------------------------------------------


@dataclass
class ContainerEnv:
    """A container's environment, and the warnings the kubelet records as events."""

    env: list[tuple[str, str]] = field(default_factory=list)
    # Messages of InvalidEnvironmentVariableNames events (Warning), one per envFrom source.
    invalid_names: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, str]:
        return dict(self.env)


class _Sources:
    """The ConfigMaps and Secrets of one container's environment, each read once."""

    def __init__(self, lookup: ObjectLookup, namespace: str) -> None:
        self._lookup = lookup
        self._namespace = namespace
        self._config_maps: dict[str, Obj | None] = {}
        self._secrets: dict[str, dict[str, bytes] | None] = {}

    async def config_map(self, name: str, optional: bool) -> Obj | None:
        """The ConfigMap, None when it is missing and optional; ConfigError when required."""
        if name not in self._config_maps:
            self._config_maps[name] = await get_config_map(self._lookup, self._namespace, name)
        found = self._config_maps[name]
        if found is None and not optional:
            raise ConfigError(config_map_not_found(name))
        return found

    async def secret(self, name: str, optional: bool) -> dict[str, bytes] | None:
        if name not in self._secrets:
            found = await get_secret(self._lookup, self._namespace, name)
            self._secrets[name] = None if found is None else secret_data(found)
        data = self._secrets[name]
        if data is None and not optional:
            raise ConfigError(secret_not_found(name))
        return data


def _invalid_names_message(keys: list[str], kind: str, namespace: str, name: str) -> str:
    return (
        f"Keys [{', '.join(sorted(keys))}] from the EnvFrom {kind} {namespace}/{name} were "
        "skipped since they are considered invalid environment variable names."
    )


async def container_env(
    pod: Obj,
    container: Obj,
    *,
    lookup: ObjectLookup,
    node: Obj | None = None,
    pod_ips: Sequence[str] = (),
    host_ips: Sequence[str] = (),
    service_env: Mapping[str, str] | None = None,
    volume_paths: Mapping[str, Path] | None = None,
) -> ContainerEnv:
    """The environment of `container` of `pod` (kubelet makeEnvironmentVariables).

    `node` is the kubelet's Node object: its allocatable resources stand in for unset limits.
    `service_env` holds the Services' variables (`KUBERNETES_SERVICE_HOST`, ...; see
    `service_env.py`): `$(VAR)` references see them, and those the container does not define
    itself come last. `volume_paths` are the host directories of the pod's set-up volumes, by
    name: a fileKeyRef reads its env file there. Raises ConfigError with the kubelet's message
    when a required ConfigMap, Secret, key or env file entry is missing.
    """
    namespace = (pod.get("metadata") or {}).get("namespace") or "default"
    services = dict(service_env or {})
    sources = _Sources(lookup, namespace)
    env: dict[str, str] = {}
    result = ContainerEnv()

    for env_from in container.get("envFrom") or []:
        prefix = env_from.get("prefix") or ""
        values: Mapping[str, str | bytes]
        if env_from.get("configMapRef") is not None:
            ref, kind = env_from["configMapRef"], "configMap"
            found = await sources.config_map(ref.get("name", ""), bool(ref.get("optional")))
            if found is None:
                continue
            values = found.get("data") or {}
        elif env_from.get("secretRef") is not None:
            ref, kind = env_from["secretRef"], "secret"
            data = await sources.secret(ref.get("name", ""), bool(ref.get("optional")))
            if data is None:
                continue
            values = data
        else:
            continue
        invalid = []
        for key in sorted(values):
            name = prefix + key
            if not is_env_var_name(name):
                invalid.append(name)
                continue
            value = values[key]
            env[name] = value.decode(errors="replace") if isinstance(value, bytes) else value
        if invalid:
            message = _invalid_names_message(invalid, kind, namespace, ref.get("name", ""))
            result.invalid_names.append(message)

    allocatable = node_allocatable(node)
    for var in container.get("env") or []:
        name = var.get("name", "")
        value = var.get("value") or ""
        source = var.get("valueFrom")
        if value:
            value = expand(value, env, services)
        elif source is not None:
            resolved = await _value_from(
                source,
                pod,
                container,
                sources,
                allocatable,
                pod_ips,
                host_ips,
                namespace,
                volume_paths or {},
            )
            if resolved is None:
                continue  # an optional reference to something missing defines nothing
            value = resolved
        env[name] = value

    result.env = list(env.items())
    result.env.extend((k, v) for k, v in services.items() if k not in env)
    return result


async def _value_from(
    source: Obj,
    pod: Obj,
    container: Obj,
    sources: _Sources,
    allocatable: Mapping[str, Any],
    pod_ips: Sequence[str],
    host_ips: Sequence[str],
    namespace: str,
    volume_paths: Mapping[str, Path],
) -> str | None:
    """One `valueFrom`; None when an optional source or key is missing."""
    if source.get("fieldRef") is not None:
        return pod_field_value(pod, source["fieldRef"], pod_ips=pod_ips, host_ips=host_ips)
    if source.get("resourceFieldRef") is not None:
        return resource_field_value(source["resourceFieldRef"], pod, container, allocatable)
    if source.get("configMapKeyRef") is not None:
        ref = source["configMapKeyRef"]
        config_map = await sources.config_map(ref.get("name", ""), bool(ref.get("optional")))
        data = None if config_map is None else config_map.get("data") or {}
        return _key_value(data, ref, "ConfigMap", namespace)
    if source.get("secretKeyRef") is not None:
        ref = source["secretKeyRef"]
        secret = await sources.secret(ref.get("name", ""), bool(ref.get("optional")))
        value = _key_value(secret, ref, "Secret", namespace)
        return None if value is None else value.decode(errors="replace")
    if source.get("fileKeyRef") is not None:
        return file_key_value(source["fileKeyRef"], volume_paths)
    return ""


def file_key_value(ref: Obj, volume_paths: Mapping[str, Path]) -> str | None:
    """The value a `fileKeyRef` selects from its env file; None when the key is missing (or
    empty: the kubelet cannot tell the two apart) and the reference is optional. Raises
    ConfigError with the kubelet's message otherwise."""
    volume = ref.get("volumeName", "")
    key = ref.get("key", "")
    root = volume_paths.get(volume)
    if root is None:
        raise ConfigError(f"cannot find the volume {go_quote(volume)} referenced by FileKeyRef")
    try:
        env_file = envfile.secure_join(root, ref.get("path", ""))
    except OSError as e:
        raise ConfigError(str(e)) from e
    try:
        value = envfile.read_env_key(env_file, key)
    except envfile.EnvFileError as e:
        # The details stay in the kubelet's log: the file may hold secrets.
        log.error("Failed to parse env file %s: %s", env_file, e)
        raise ConfigError("couldn't parse env file") from e
    if value == "":
        if ref.get("optional"):
            return None
        raise ConfigError(
            f"environment variable key {go_quote(key)} not found in file {go_quote(str(env_file))}"
        )
    return value


def _key_value(data: Mapping[str, _V] | None, ref: Obj, kind: str, namespace: str) -> _V | None:
    """The value of the key a configMapKeyRef or secretKeyRef names, from its object's `data`:
    None when the object is missing (it was optional) or the key is and the ref is optional."""
    if data is None:
        return None
    key = ref.get("key", "")
    if key not in data:
        if ref.get("optional"):
            return None
        raise ConfigError(f"couldn't find key {key} in {kind} {namespace}/{ref.get('name', '')}")
    return data[key]
