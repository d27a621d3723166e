"""The semantic rules of pods (Kubernetes' `pkg/apis/core/validation`, the Pod part).

Every rule here is one Kubernetes 1.33 applies, with its field path and its message, so that
kubectl prints the same `The Pod "web" is invalid: ...` lines against kubelite. The entry points:

- `validate_pod_spec`: a PodSpec wherever it appears (pods and the templates of workloads);
- `validate_pod`: a pod's spec plus the rules only pods have (ValidatePodCreate minus metadata,
  which the generic code validates), `validate_pod_create` adds the create-only rules;
- `validate_pod_update`: what may change in a running pod's spec (images, a shorter
  activeDeadlineSeconds, added tolerations, removed scheduling gates); anything else is refused
  with Kubernetes' message and the go-cmp diff it appends (see `_render_spec_diff`);
- `validate_pod_status_update`: the rules of the status subresource.

Objects are defaulted before they are validated, as in Kubernetes, so "Required" errors for
defaulted fields only appear for values a client explicitly emptied.

Where Kubernetes prints a value through Go's `fmt.Stringer` (resource names, quantities) the value
appears unquoted, and where it prints a Go struct with `%#v` the Go syntax is reproduced; both
are built with `_stringer` so that `FieldError` renders them verbatim.
"""

from __future__ import annotations

import copy
import difflib
import ipaddress
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubelite.api import errors
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
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.validation import names
from kubelite.api.validation.affinity import validate_affinity

Obj = dict[str, Any]

# Messages and limits of apimachinery and pkg/apis/core/validation.
IS_NEGATIVE_ERROR_MSG = "must be greater than or equal to 0"  # IsNegativeErrorMsg
IS_NOT_INTEGER_ERROR_MSG = "must be an integer"
FIELD_IMMUTABLE_ERROR_MSG = "field is immutable"
FILE_MODE_ERROR_MSG = "must be a number between 0 and 0777 (octal), both inclusive"
MAX_INT32 = 2**31 - 1
MAX_FILE_MODE = 0o777
MAX_DNS_NAMESERVERS = 3  # validation.MaxDNSNameservers
MAX_DNS_SEARCH_PATHS = 32  # validation.MaxDNSSearchPaths
MAX_DNS_SEARCH_LIST_CHARS = 2048  # validation.MaxDNSSearchListChars
MIN_TOKEN_EXPIRATION_SECONDS = 10 * 60
MAX_TOKEN_EXPIRATION_SECONDS = 1 << 32
SYSCTL_MAX_LENGTH = 253

# The fields ValidatePodUpdate lets change, in the words of its error (updatablePodSpecFields).
UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)

MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
APPARMOR_ANNOTATION_PREFIX = "container.apparmor.security.beta.kubernetes.io/"

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_TERMINATION_MESSAGE_POLICIES = ("File", "FallbackToLogsOnError")
_PORT_PROTOCOLS = ("SCTP", "TCP", "UDP")
_PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
_HTTP_SCHEMES = ("HTTP", "HTTPS")
_HOST_PATH_TYPES = (
    "",
    "BlockDevice",
    "CharDevice",
    "Directory",
    "DirectoryOrCreate",
    "File",
    "FileOrCreate",
    "Socket",
)
_MOUNT_PROPAGATIONS = ("Bidirectional", "HostToContainer", "None")
_RECURSIVE_READ_ONLY = ("Disabled", "Enabled", "IfPossible")
_TOLERATION_OPERATORS = ("Equal", "Exists")
_TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
_FS_GROUP_CHANGE_POLICIES = ("Always", "OnRootMismatch")
_SUPPLEMENTAL_GROUPS_POLICIES = ("Merge", "Strict")
_SECCOMP_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
_APPARMOR_TYPES = ("Localhost", "RuntimeDefault", "Unconfined")
_PROC_MOUNT_TYPES = ("Default", "Unmasked")
_RESIZE_RESOURCES = ("cpu", "memory")
_RESIZE_POLICIES = ("NotRequired", "RestartContainer")
_SYSTEM_CONDITIONS = ("PodScheduled", "Ready", "Initialized")

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
_BINARY_DIVISORS = ("1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi")
_BINARY_DIVISORS += ("1Ei",)

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

# The volume sources in the order validateVolumeSource checks them, with the path segment its
# "may not specify more than 1 volume type" error names (Kubernetes misspells two of them).
_VOLUME_SOURCE_CHECKS = (
    ("emptyDir", "emptyDir"),
    ("hostPath", "hostPath"),
    ("gitRepo", "gitRepo"),
    ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"),
    ("secret", "secret"),
    ("nfs", "nfs"),
    ("iscsi", "iscsi"),
    ("glusterfs", "glusterfs"),
    ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"),
    ("rbd", "rbd"),
    ("cinder", "cinder"),
    ("cephfs", "cephFS"),
    ("quobyte", "quobyte"),
    ("downwardAPI", "downwarAPI"),
    ("fc", "fc"),
    ("flexVolume", "flexVolume"),
    ("configMap", "configMap"),
    ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"),
    ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"),
    ("azureDisk", "azureDisk"),
    ("storageos", "storageos"),
    ("projected", "projected"),
    ("scaleIO", "scaleIO"),
    ("csi", "csi"),
    ("ephemeral", "ephemeral"),
    ("image", "image"),
)

# The volume sources validateVolumeSource looks into (the others only count as a source).
_CHECKED_VOLUME_SOURCES = frozenset(
    {
        "emptyDir",
        "hostPath",
        "secret",
        "configMap",
        "persistentVolumeClaim",
        "downwardAPI",
        "projected",
        "nfs",
        "gitRepo",
    }
)
# Each volume source's position in that order, and its name in the error.
_VOLUME_SOURCE_ORDER = {key: (i, shown) for i, (key, shown) in enumerate(_VOLUME_SOURCE_CHECKS)}

_SYSCTL_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_SYSCTL_RE = re.compile(rf"^({_SYSCTL_SEGMENT}[\./])*{_SYSCTL_SEGMENT}$")
_HTTP_HEADER_NAME_FMT = "[-A-Za-z0-9]+"
_CONFIG_MAP_KEY_FMT = "[-._a-zA-Z0-9]+"
_DNS1123_LABEL_UNDERSCORE_FMT = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_UNDERSCORE_FMT = (
    _DNS1123_LABEL_UNDERSCORE_FMT + r"(\." + _DNS1123_LABEL_UNDERSCORE_FMT + ")*"
)
_INVALID_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"


# --- small helpers ------------------------------------------------------------------------------


def _index(path: str, i: int) -> str:
    return f"{path}[{i}]"


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _stringer(
    path: str, text: str, detail: str = "", kind: tuple[str, str] = errors.INVALID
) -> FieldError:
    """An error whose value Go prints bare (through a Stringer or `%#v`), not quoted."""
    return FieldError(kind, path, detail=f"{text}: {detail}" if detail else text)


def _regex_error(message: str, fmt: str, *examples: str) -> str:
    """validation.RegexError."""
    if not examples:
        return f"{message} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{fmt}')"


def _inclusive_range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


def _enum(parent: str, name: str, value: Any, allowed: tuple[str, ...]) -> list[FieldError]:
    """The usual switch of Kubernetes: "" is Required, anything unknown is NotSupported.

    The field is `parent`.`name`, a path only written out for an error.
    """
    if value in allowed:
        return []
    if value in (None, ""):
        return [required(child(parent, name))]
    return [not_supported(child(parent, name), value, allowed)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _nonnegative(path: str, value: Any) -> list[FieldError]:
    """ValidateNonnegativeField."""
    if _is_int(value) and value < 0:
        return [invalid(path, value, IS_NEGATIVE_ERROR_MSG)]
    return []


def _names_errors(path: str, value: str, problems: list[str]) -> list[FieldError]:
    return [invalid(path, value, p) for p in problems]


def _name_at(
    parent: str, name: str, value: str, check: Callable[[str], list[str]]
) -> list[FieldError]:
    """`check`'s problems with the name `value` at `parent`.`name`, a path only written out for
    an error."""
    problems = check(value)
    return _names_errors(child(parent, name), value, problems) if problems else []


def _dns1123_subdomain(path: str, value: str) -> list[FieldError]:
    return _names_errors(path, value, names.is_dns1123_subdomain(value))


def _qualified_name(path: str, value: str) -> list[FieldError]:
    return _names_errors(path, value, names.is_qualified_name(value))


def _valid_ip(path: str, value: Any) -> list[FieldError]:
    """validation.IsValidIP (ParseIPSloppy accepts IPv4 octets with leading zeros)."""
    text = value if isinstance(value, str) else ""
    if "." in text and ":" not in text:
        text = ".".join(part.lstrip("0") or "0" for part in text.split("."))
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return [invalid(path, value, _INVALID_IP)]
    return []


def _labels(path: str, labels: Any) -> list[FieldError]:
    """ValidateLabels: keys are qualified names, values label values; both at `path`."""
    errs: list[FieldError] = []
    for key, value in (labels or {}).items():
        errs.extend(_qualified_name(path, key))
        errs.extend(_names_errors(path, value, names.is_valid_label_value(str(value))))
    return errs


def _file_mode(parent: str, name: str, mode: Any) -> list[FieldError]:
    """The file mode at `parent`.`name`, a path only written out for an error."""
    if _is_int(mode) and not 0 <= mode <= MAX_FILE_MODE:
        return [invalid(child(parent, name), mode, FILE_MODE_ERROR_MSG)]
    return []


def _local_descending_path(parent: str, name: str, target: str) -> list[FieldError]:
    """validateLocalDescendingPath: relative, and no `..` element (at `parent`.`name`)."""
    if _plainly_relative(target):
        return []
    errs: list[FieldError] = []
    if target.startswith("/"):
        errs.append(invalid(child(parent, name), target, "must be a relative path"))
    errs.extend(_no_backsteps(parent, name, target))
    return errs


def _plainly_relative(target: Any) -> bool:
    """A relative path without `..` anywhere: the usual one, with nothing to report."""
    return type(target) is str and ".." not in target and not target.startswith("/")


def _no_backsteps(parent: str, name: str, target: str) -> list[FieldError]:
    if type(target) is str and ".." not in target:
        return []
    if ".." in target.replace("\\", "/").split("/"):
        return [invalid(child(parent, name), target, "must not contain '..'")]
    return []


def _local_non_reserved_path(parent: str, name: str, target: str) -> list[FieldError]:
    if _plainly_relative(target):
        return []
    errs = _local_descending_path(parent, name, target)
    if target.startswith("..") and not target.startswith("../"):
        errs.append(invalid(child(parent, name), target, "must not start with '..'"))
    return errs


def _config_map_key(value: str) -> list[str]:
    """validation.IsConfigMapKey."""
    problems: list[str] = []
    if len(value) > names.DNS1123_SUBDOMAIN_MAX:
        problems.append(names.max_len_error(names.DNS1123_SUBDOMAIN_MAX))
    if not re.fullmatch(_CONFIG_MAP_KEY_FMT, value):
        problems.append(
            _regex_error(
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                _CONFIG_MAP_KEY_FMT,
                "key.name",
                "KEY_NAME",
                "key-name",
            )
        )
    if value == ".":
        problems.append("must not be '.'")
    elif value == "..":
        problems.append("must not be '..'")
    elif value.startswith(".."):
        problems.append("must not start with '..'")
    return problems


def _quantity(value: Any) -> Quantity | None:
    try:
        return Quantity.from_json(value)
    except QuantityError:
        return None


# --- the PodSpec ----------------------------------------------------------------------------------


def validate_pod_spec(spec: Obj, path: str, *, is_pod: bool = False) -> list[FieldError]:
    """ValidatePodSpec: every rule of a PodSpec, wherever it is (`path` is where it sits).

    `is_pod` is true for a pod's own spec (PodValidationOptions.ResourceIsPod): then host ports
    must equal container ports under host networking; templates may leave them 0.

    Rules of fields the spec leaves out are not run (they would find nothing), and field paths
    are written out only for errors: this runs for every pod written.
    """
    errs: list[FieldError] = []
    if spec.get("terminationGracePeriodSeconds") is None:
        errs.append(required(child(path, "terminationGracePeriodSeconds")))
    grace = spec.get("terminationGracePeriodSeconds")
    host_users = spec.get("hostUsers") is not False
    volumes: dict[str, Obj] = {}
    if spec.get("volumes"):
        volumes, volume_errs = _validate_volumes(spec["volumes"], child(path, "volumes"))
        errs.extend(volume_errs)
    restart_policy = spec.get("restartPolicy") or ""
    containers = spec.get("containers") or []
    init_containers = spec.get("initContainers") or []
    errs.extend(
        _validate_containers(
            containers, volumes, grace, child(path, "containers"), restart_policy, host_users
        )
    )
    if init_containers:
        errs.extend(
            _validate_init_containers(
                init_containers,
                containers,
                volumes,
                grace,
                child(path, "initContainers"),
                restart_policy,
                host_users,
            )
        )
    if spec.get("hostNetwork"):
        errs.extend(_validate_host_network(spec, path, is_pod))
    errs.extend(_enum(path, "restartPolicy", restart_policy, _RESTART_POLICIES))
    dns_policy = spec.get("dnsPolicy") or ""
    errs.extend(_enum(path, "dnsPolicy", dns_policy, _DNS_POLICIES))
    if spec.get("nodeSelector"):
        errs.extend(_labels(child(path, "nodeSelector"), spec["nodeSelector"]))
    errs.extend(_validate_pod_security_context(spec, path))
    if spec.get("affinity") is not None:
        errs.extend(validate_affinity(spec["affinity"], child(path, "affinity")))
    if spec.get("dnsConfig") is not None or dns_policy == "None":
        errs.extend(
            _validate_dns_config(spec.get("dnsConfig"), dns_policy, child(path, "dnsConfig"))
        )
    for i, gate in enumerate(spec.get("readinessGates") or []):
        gate_path = child(_index(child(path, "readinessGates"), i), "conditionType")
        errs.extend(_qualified_name(gate_path, gate.get("conditionType") or ""))
    if spec.get("schedulingGates"):
        errs.extend(_validate_scheduling_gates(spec["schedulingGates"], path))
    if spec.get("hostUsers") is False:
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if spec.get(key):
                # Kubernetes names the last two with capitals here.
                name = key if key == "hostNetwork" else key[0].upper() + key[1:]
                errs.append(
                    forbidden_field(child(path, name), "when `pod.Spec.HostUsers` is false")
                )
    service_account = spec.get("serviceAccountName") or ""
    if service_account:
        errs.extend(
            _name_at(path, "serviceAccountName", service_account, names.is_dns1123_subdomain)
        )
    node_name = spec.get("nodeName") or ""
    if node_name:
        errs.extend(_name_at(path, "nodeName", node_name, names.is_dns1123_subdomain))
    deadline = spec.get("activeDeadlineSeconds")
    if _is_int(deadline) and not 1 <= deadline <= MAX_INT32:
        errs.append(
            invalid(
                child(path, "activeDeadlineSeconds"), deadline, _inclusive_range_error(1, MAX_INT32)
            )
        )
    for key in ("hostname", "subdomain"):
        if spec.get(key):
            errs.extend(_name_at(path, key, spec[key], names.is_dns1123_label))
    if spec.get("tolerations"):
        errs.extend(validate_tolerations(spec["tolerations"], child(path, "tolerations")))
    if spec.get("hostAliases"):
        errs.extend(_validate_host_aliases(spec["hostAliases"], child(path, "hostAliases")))
    if spec.get("priorityClassName"):
        errs.extend(
            _name_at(
                path, "priorityClassName", spec["priorityClassName"], names.is_dns1123_subdomain
            )
        )
    if spec.get("runtimeClassName") is not None:
        errs.extend(
            _name_at(
                path, "runtimeClassName", spec["runtimeClassName"] or "", names.is_dns1123_subdomain
            )
        )
    if spec.get("preemptionPolicy") is not None:
        errs.extend(_enum(path, "preemptionPolicy", spec["preemptionPolicy"], _PREEMPTION_POLICIES))
    if spec.get("overhead") is not None:
        errs.extend(
            _validate_resource_requirements({"limits": spec["overhead"]}, child(path, "overhead"))
        )
    return errs


def _validate_host_network(spec: Obj, path: str, is_pod: bool) -> list[FieldError]:
    """validatePodHostNetworkDeps: with host networking a host port is the container port."""
    if not spec.get("hostNetwork"):
        return []
    errs: list[FieldError] = []
    for i, container in enumerate(spec.get("containers") or []):
        for j, port in enumerate(container.get("ports") or []):
            host, target = port.get("hostPort") or 0, port.get("containerPort") or 0
            if (is_pod or host != 0) and host != target:
                port_path = _index(child(_index(child(path, "containers"), i), "ports"), j)
                errs.append(
                    invalid(
                        child(port_path, "hostPort"),
                        host,
                        "must match `containerPort` when `hostNetwork` is true",
                    )
                )
    return errs


def _validate_scheduling_gates(gates: list[Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, gate in enumerate(gates):
        gate_path = _index(child(path, "schedulingGates"), i)
        name = gate.get("name") or ""
        errs.extend(_qualified_name(gate_path, name))
        if name in seen:
            errs.append(duplicate(gate_path, name))
        seen.add(name)
    return errs


def _validate_host_aliases(aliases: list[Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, alias in enumerate(aliases):
        alias_path = _index(path, i)
        errs.extend(_valid_ip(child(alias_path, "ip"), alias.get("ip") or ""))
        for j, hostname in enumerate(alias.get("hostnames") or []):
            errs.extend(_dns1123_subdomain(_index(child(alias_path, "hostnames"), j), hostname))
    return errs


def _validate_dns_config(config: Any, dns_policy: str, path: str) -> list[FieldError]:
    """validatePodDNSConfig, with the relaxed search validation of 1.33."""
    if dns_policy == "None":
        if config is None:
            return [required(path, "must provide `dnsConfig` when `dnsPolicy` is None")]
        if not config.get("nameservers"):
            return [
                required(
                    child(path, "nameservers"),
                    "must provide at least one DNS nameserver when `dnsPolicy` is None",
                )
            ]
    if not isinstance(config, dict):
        return []
    errs: list[FieldError] = []
    nameservers = config.get("nameservers") or []
    if len(nameservers) > MAX_DNS_NAMESERVERS:
        errs.append(
            _stringer(
                child(path, "nameservers"),
                _go_string_slice(nameservers),
                f"must not have more than {MAX_DNS_NAMESERVERS} nameservers",
            )
        )
    for i, nameserver in enumerate(nameservers):
        errs.extend(_valid_ip(_index(child(path, "nameservers"), i), nameserver))
    searches = config.get("searches") or []
    if len(searches) > MAX_DNS_SEARCH_PATHS:
        errs.append(
            _stringer(
                child(path, "searches"),
                _go_string_slice(searches),
                f"must not have more than {MAX_DNS_SEARCH_PATHS} search paths",
            )
        )
    if len(" ".join(searches)) > MAX_DNS_SEARCH_LIST_CHARS:
        errs.append(
            _stringer(
                child(path, "searches"),
                _go_string_slice(searches),
                f"must not have more than {MAX_DNS_SEARCH_LIST_CHARS} characters "
                "(including spaces) in the search list",
            )
        )
    for i, search in enumerate(searches):
        if search == ".":
            continue
        search = search.removesuffix(".")
        problems = []
        if len(search) > names.DNS1123_SUBDOMAIN_MAX:
            problems.append(names.max_len_error(names.DNS1123_SUBDOMAIN_MAX))
        if not re.fullmatch(_DNS1123_SUBDOMAIN_UNDERSCORE_FMT, search):
            problems.append(
                _regex_error(
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                    "characters, '_', '-' or '.', and must start and end with an alphanumeric "
                    "character",
                    _DNS1123_SUBDOMAIN_UNDERSCORE_FMT,
                    "example.com",
                )
            )
        errs.extend(_names_errors(_index(child(path, "searches"), i), search, problems))
    for i, option in enumerate(config.get("options") or []):
        if not option.get("name"):
            errs.append(required(_index(child(path, "options"), i), "must not be empty"))
    return errs


def _go_string_slice(values: list[str]) -> str:
    """A []string as `%#v` prints it."""
    return "[]string{" + ", ".join(json.dumps(v) for v in values) + "}"


# --- volumes --------------------------------------------------------------------------------------


def _validate_volumes(volumes: list[Obj], path: str) -> tuple[dict[str, Obj], list[FieldError]]:
    """ValidateVolumes; returns the volumes that are valid, which mounts may name."""
    errs: list[FieldError] = []
    valid: dict[str, Obj] = {}
    for i, volume in enumerate(volumes):
        volume_path = f"{path}[{i}]"
        name = volume.get("name") or ""
        volume_errs = _validate_volume_source(volume, volume_path)
        if not name:
            volume_errs.append(required(child(volume_path, "name")))
        else:
            volume_errs.extend(_name_at(volume_path, "name", name, names.is_dns1123_label))
        if name in valid:
            volume_errs.append(duplicate(child(volume_path, "name"), name))
        if volume_errs:
            errs.extend(volume_errs)
        else:
            valid[name] = volume
    return valid, errs


def _validate_volume_source(volume: Obj, path: str) -> list[FieldError]:
    sources = _volume_sources_of(volume)
    if not sources:
        return [required(path, "must specify a volume type")]
    first = sources[0]
    errs: list[FieldError] = []
    if isinstance(volume[first], dict):
        errs.extend(_validate_one_volume_source(first, volume[first], path))
    for key in sources[1:]:
        shown = _VOLUME_SOURCE_ORDER[key][1]
        errs.append(forbidden_field(child(path, shown), "may not specify more than 1 volume type"))
    return errs


def _volume_sources_of(volume: Obj) -> list[str]:
    """The sources a volume sets, in the order validateVolumeSource checks them.

    A volume names one source among thirty: finding it from the volume's own few keys spares
    looking up all thirty.
    """
    present = []
    for key in volume:
        if key in _VOLUME_SOURCE_ORDER and volume[key] is not None:
            present.append(key)
    if len(present) > 1:
        present.sort(key=_VOLUME_SOURCE_ORDER.__getitem__)
    return present


def _validate_one_volume_source(key: str, source: Obj, volume_path: str) -> list[FieldError]:
    if key not in _CHECKED_VOLUME_SOURCES or (key == "emptyDir" and "sizeLimit" not in source):
        return []
    path = child(volume_path, key)
    errs: list[FieldError] = []
    if key == "emptyDir" and source.get("sizeLimit") is not None:
        size = _quantity(source["sizeLimit"])
        if size is not None and size.sign() < 0:
            errs.append(
                forbidden_field(
                    child(path, "sizeLimit"), "SizeLimit field must be a valid resource quantity"
                )
            )
    elif key == "hostPath":
        host_path = source.get("path") or ""
        if not host_path:
            return [required(child(path, "path"))]
        errs.extend(_no_backsteps(path, "path", host_path))
        kind = source.get("type")
        if kind is not None and kind not in _HOST_PATH_TYPES:
            errs.append(not_supported(child(path, "type"), kind, _HOST_PATH_TYPES))
    elif key in ("secret", "configMap"):
        name_key = "secretName" if key == "secret" else "name"
        if not source.get(name_key):
            errs.append(required(child(path, name_key)))
        errs.extend(_file_mode(path, "defaultMode", source.get("defaultMode")))
        for i, item in enumerate(source.get("items") or []):
            errs.extend(_validate_key_to_path(item, _index(child(path, "items"), i)))
    elif key == "persistentVolumeClaim":
        if not source.get("claimName"):
            errs.append(required(child(path, "claimName")))
    elif key == "downwardAPI":
        errs.extend(_file_mode(path, "defaultMode", source.get("defaultMode")))
        for item in source.get("items") or []:
            # Kubernetes reports an item's problems at the source, not at the item.
            errs.extend(_validate_downward_api_file(item, path))
    elif key == "projected":
        errs.extend(_file_mode(path, "defaultMode", source.get("defaultMode")))
        errs.extend(_validate_projection_sources(source.get("sources") or [], path))
    elif key == "nfs":
        if not source.get("server"):
            errs.append(required(child(path, "server")))
        nfs_path = source.get("path") or ""
        if not nfs_path:
            errs.append(required(child(path, "path")))
        if not nfs_path.startswith("/"):
            errs.append(invalid(child(path, "path"), nfs_path, "must be an absolute path"))
    elif key == "gitRepo":
        if not source.get("repository"):
            errs.append(required(child(path, "repository")))
        errs.extend(_local_descending_path(path, "directory", source.get("directory") or ""))
    return errs


def _validate_key_to_path(item: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not item.get("key"):
        errs.append(required(child(path, "key")))
    target = item.get("path") or ""
    if not target:
        errs.append(required(child(path, "path")))
    errs.extend(_local_non_reserved_path(path, "path", target))
    errs.extend(_file_mode(path, "mode", item.get("mode")))
    return errs


def _validate_downward_api_file(item: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    target = item.get("path") or ""
    if not target:
        errs.append(required(child(path, "path")))
    errs.extend(_local_non_reserved_path(path, "path", target))
    field_ref = item.get("fieldRef")
    resource_ref = item.get("resourceFieldRef")
    if field_ref is not None:
        errs.extend(_validate_object_field_selector(field_ref, _VOLUME_FIELD_PATHS, path))
        if resource_ref is not None:
            errs.append(
                invalid(
                    path,
                    "resource",
                    "fieldRef and resourceFieldRef can not be specified simultaneously",
                )
            )
    elif resource_ref is not None:
        errs.extend(
            _validate_resource_field_selector(
                resource_ref, child(path, "resourceFieldRef"), volume=True
            )
        )
    else:
        errs.append(required(path, "one of fieldRef and resourceFieldRef is required"))
    errs.extend(_file_mode(path, "mode", item.get("mode")))
    return errs


def _validate_projection_sources(sources: list[Obj], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    # The files the sources project, which must not collide.
    seen_paths: set[str] = set()
    sources_path = child(path, "sources")
    for i, source in enumerate(sources):
        source_path = f"{sources_path}[{i}]"
        count = 0
        for kind in ("secret", "configMap"):
            projection = source.get(kind)
            if projection is None:
                continue
            count += 1
            if not projection.get("name"):
                errs.append(required(child(child(source_path, kind), "name")))
            items = projection.get("items") or []
            items_path = child(child(source_path, kind), "items") if items else ""
            for j, item in enumerate(items):
                errs.extend(_validate_key_to_path(item, f"{items_path}[{j}]"))
                target = item.get("path")
                if target:
                    if target in seen_paths:
                        errs.append(_duplicate_path(path, projection.get("name") or ""))
                    seen_paths.add(target)
        downward = source.get("downwardAPI")
        if downward is not None:
            count += 1
            items = downward.get("items") or []
            downward_path = child(source_path, "downwardAPI") if items else ""
            for item in items:
                errs.extend(_validate_downward_api_file(item, downward_path))
                target = item.get("path")
                if target:
                    if target in seen_paths:
                        errs.append(_duplicate_path(path, target))
                    seen_paths.add(target)
        token = source.get("serviceAccountToken")
        if token is not None:
            count += 1
            expiration = token.get("expirationSeconds") or 0
            if expiration < MIN_TOKEN_EXPIRATION_SECONDS:
                errs.append(
                    invalid(
                        _token_expiration_path(source_path),
                        expiration,
                        "may not specify a duration less than 10 minutes",
                    )
                )
            if expiration > MAX_TOKEN_EXPIRATION_SECONDS:
                errs.append(
                    invalid(
                        _token_expiration_path(source_path),
                        expiration,
                        "may not specify a duration larger than 2^32 seconds",
                    )
                )
            # Kubernetes names the projected volume's path here, not the token's.
            if not token.get("path"):
                errs.append(required(child(path, "path")))
            else:
                errs.extend(_local_non_reserved_path(path, "path", token["path"]))
        if source.get("clusterTrustBundle") is not None:
            count += 1
        if count > 1:
            errs.append(
                forbidden_field(source_path, "may not specify more than 1 volume type per source")
            )
    return errs


def _duplicate_path(path: str, value: str) -> FieldError:
    return invalid(path, value, "conflicting duplicate paths")


def _token_expiration_path(source_path: str) -> str:
    return child(child(source_path, "serviceAccountToken"), "expirationSeconds")


# --- containers -----------------------------------------------------------------------------------


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
        if container.get("restartPolicy") is not None:
            errs.append(
                forbidden_field(
                    child(container_path, "restartPolicy"), "may not be set for non-init containers"
                )
            )
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
        if policy is not None and policy != "Always":
            errs.append(not_supported(child(container_path, "restartPolicy"), policy, ("Always",)))
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


# --- resources ------------------------------------------------------------------------------------


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


def _validate_resource_requirements(resources: Obj, path: str) -> list[FieldError]:
    """validateResourceRequirements for a container (and for a pod's overhead)."""
    errs: list[FieldError] = []
    limits_path, requests_path = child(path, "limits"), child(path, "requests")
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    cpu_or_memory = hugepages = False
    for name, value in limits.items():
        name_path = _key(limits_path, name)
        errs.extend(_validate_container_resource_name(name, name_path))
        errs.extend(_validate_quantity_value(name, value, name_path))
        hugepages = hugepages or _is_hugepages(name)
        cpu_or_memory = cpu_or_memory or name in ("cpu", "memory")
    for name, value in requests.items():
        name_path = _key(requests_path, name)
        errs.extend(_validate_container_resource_name(name, name_path))
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


# --- probes and lifecycle handlers ----------------------------------------------------------------

# The fields of a container _validate_lifecycle_and_probes looks at.
_HOOKS_AND_PROBES = frozenset({"lifecycle", "livenessProbe", "readinessProbe", "startupProbe"})


def _validate_lifecycle_and_probes(container: Obj, grace: Any, path: str) -> list[FieldError]:
    """Lifecycle and probes: for regular containers and sidecars (restartable init ones)."""
    errs: list[FieldError] = []
    lifecycle = container.get("lifecycle")
    if isinstance(lifecycle, dict):
        for hook in ("postStart", "preStop"):
            if lifecycle.get(hook) is not None:
                errs.extend(
                    _validate_handler(
                        lifecycle[hook],
                        grace,
                        child(child(path, "lifecycle"), hook),
                        lifecycle=True,
                    )
                )
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        probe = container.get(key)
        if not isinstance(probe, dict):
            continue
        probe_path = child(path, key)
        errs.extend(_validate_probe(probe, grace, probe_path))
        if key == "readinessProbe":
            if probe.get("terminationGracePeriodSeconds") is not None:
                errs.append(
                    invalid(
                        child(probe_path, "terminationGracePeriodSeconds"),
                        probe["terminationGracePeriodSeconds"],
                        "must not be set for readinessProbes",
                    )
                )
        elif probe.get("successThreshold", 0) != 1:
            errs.append(
                invalid(
                    child(probe_path, "successThreshold"),
                    probe.get("successThreshold", 0),
                    "must be 1",
                )
            )
    return errs


def _validate_probe(probe: Obj, grace: Any, path: str) -> list[FieldError]:
    errs = _validate_handler(probe, grace, path, lifecycle=False)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        errs.extend(_nonnegative(child(path, key), probe.get(key)))
    grace_override = probe.get("terminationGracePeriodSeconds")
    if _is_int(grace_override) and grace_override <= 0:
        errs.append(
            invalid(
                child(path, "terminationGracePeriodSeconds"),
                grace_override,
                "must be greater than 0",
            )
        )
    return errs


def _validate_handler(handler: Obj, grace: Any, path: str, *, lifecycle: bool) -> list[FieldError]:
    """validateHandler: exactly one action (probes may gRPC, lifecycle hooks may sleep)."""
    kinds = (
        ("exec", "httpGet", "tcpSocket", "sleep")
        if lifecycle
        else ("exec", "httpGet", "tcpSocket", "grpc")
    )
    errs: list[FieldError] = []
    count = 0
    for kind in kinds:
        action = handler.get(kind)
        if action is None:
            continue
        if count:
            errs.append(
                forbidden_field(child(path, kind), "may not specify more than 1 handler type")
            )
            continue
        count += 1
        action_path = child(path, kind)
        if kind == "exec":
            if not action.get("command"):
                errs.append(required(child(action_path, "command")))
        elif kind == "httpGet":
            errs.extend(_validate_http_get(action, action_path))
        elif kind == "tcpSocket":
            errs.extend(_validate_port_num_or_name(action.get("port"), child(action_path, "port")))
        elif kind == "grpc":
            errs.extend(
                _validate_port_num_or_name(action.get("port") or 0, child(action_path, "port"))
            )
        else:
            seconds = action.get("seconds") or 0
            if _is_int(grace) and not 0 <= seconds <= grace:
                errs.append(
                    invalid(
                        action_path,
                        seconds,
                        "must be non-negative and less than terminationGracePeriodSeconds "
                        f"({grace})",
                    )
                )
    if not count:
        errs.append(required(path, "must specify a handler type"))
    return errs


def _validate_http_get(action: Obj, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if not action.get("path"):
        errs.append(required(child(path, "path")))
    errs.extend(_validate_port_num_or_name(action.get("port"), child(path, "port")))
    scheme = action.get("scheme") or ""
    if scheme not in _HTTP_SCHEMES:
        errs.append(not_supported(child(path, "scheme"), scheme, _HTTP_SCHEMES))
    for header in action.get("httpHeaders") or []:
        name = header.get("name") or ""
        if not re.fullmatch(_HTTP_HEADER_NAME_FMT, name):
            problem = _regex_error(
                "a valid HTTP header must consist of alphanumeric characters or '-'",
                _HTTP_HEADER_NAME_FMT,
                "X-Header-Name",
            )
            errs.append(invalid(child(path, "httpHeaders"), name, problem))
    return errs


def _validate_port_num_or_name(port: Any, path: str) -> list[FieldError]:
    """ValidatePortNumOrName for an IntOrString port."""
    if isinstance(port, str):
        return _names_errors(path, port, names.is_valid_port_name(port))
    number = port if _is_int(port) else 0
    return [invalid(path, number, p) for p in names.is_valid_port_num(number)]


# --- security contexts ----------------------------------------------------------------------------


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


# --- tolerations ---------------------------------------------------------------------------------


def validate_tolerations(tolerations: list[Obj], path: str) -> list[FieldError]:
    """ValidateTolerations."""
    errs: list[FieldError] = []
    for i, toleration in enumerate(tolerations):
        item_path = f"{path}[{i}]"
        key = toleration.get("key") or ""
        operator = toleration.get("operator") or ""
        value = toleration.get("value") or ""
        effect = toleration.get("effect") or ""
        if key:
            errs.extend(_name_at(item_path, "key", key, names.is_qualified_name))
        if not key and operator != "Exists":
            errs.append(
                invalid(
                    child(item_path, "operator"),
                    operator,
                    'operator must be Exists when `key` is empty, which means "match all values '
                    'and all keys"',
                )
            )
        if toleration.get("tolerationSeconds") is not None and effect != "NoExecute":
            errs.append(
                invalid(
                    child(item_path, "effect"),
                    effect,
                    "effect must be 'NoExecute' when `tolerationSeconds` is set",
                )
            )
        if operator in ("Equal", ""):
            problems = names.is_valid_label_value(value)
            if problems:
                errs.append(invalid(child(item_path, "operator"), value, ";".join(problems)))
        elif operator == "Exists":
            if value:
                errs.append(
                    invalid(
                        child(item_path, "operator"),
                        value,
                        "value must be empty when `operator` is 'Exists'",
                    )
                )
        else:
            errs.append(
                not_supported(child(item_path, "operator"), operator, _TOLERATION_OPERATORS)
            )
        if effect and effect not in _TAINT_EFFECTS:
            errs.append(not_supported(child(item_path, "effect"), effect, _TAINT_EFFECTS))
    return errs


# --- pods -----------------------------------------------------------------------------------------


def validate_pod(pod: Obj) -> list[FieldError]:
    """validatePodMetadataAndSpec without ObjectMeta: the spec and the pod-only rules."""
    spec = pod.get("spec") or {}
    errs = _validate_pod_annotations(pod)
    errs.extend(validate_pod_spec(spec, "spec", is_pod=True))
    if not spec.get("serviceAccountName"):
        for i, volume in enumerate(spec.get("volumes") or []):
            projected = volume.get("projected")
            if not isinstance(projected, dict):
                continue
            for j, source in enumerate(projected.get("sources") or []):
                if source.get("serviceAccountToken") is not None:
                    source_path = _index(f"spec.volumes[{i}].projected.sources", j)
                    errs.append(
                        forbidden_field(
                            child(source_path, "serviceAccountToken"),
                            "must not be specified when serviceAccountName is not set",
                        )
                    )
    for key in ("containers", "initContainers"):
        for i, container in enumerate(spec.get(key) or []):
            image = container.get("image") or ""
            if image != image.strip():
                errs.append(
                    invalid(
                        f"spec.{key}[{i}].image",
                        image,
                        "must not have leading or trailing whitespace",
                    )
                )
    return errs


def validate_pod_create(pod: Obj) -> list[FieldError]:
    """ValidatePodCreate without ObjectMeta."""
    spec = pod.get("spec") or {}
    errs = validate_pod(pod)
    if spec.get("ephemeralContainers"):
        errs.append(forbidden_field("spec.ephemeralContainers", "cannot be set on create"))
    if spec.get("nodeName") and spec.get("schedulingGates"):
        errs.append(
            forbidden_field(
                "spec.nodeName", "cannot be set until all schedulingGates have been cleared"
            )
        )
    return errs


def _validate_pod_annotations(pod: Obj) -> list[FieldError]:
    """ValidatePodSpecificAnnotations: the mirror pod and pod deletion cost annotations."""
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    path = "metadata.annotations"
    errs: list[FieldError] = []
    if MIRROR_POD_ANNOTATION in annotations and not (pod.get("spec") or {}).get("nodeName"):
        errs.append(
            invalid(
                _key(path, MIRROR_POD_ANNOTATION),
                annotations[MIRROR_POD_ANNOTATION],
                "must set spec.nodeName if mirror pod annotation is set",
            )
        )
    cost = annotations.get(POD_DELETION_COST_ANNOTATION)
    if cost is not None and not _is_int32_text(cost):
        errs.append(
            invalid(_key(path, POD_DELETION_COST_ANNOTATION), cost, "must be a 32bit integer")
        )
    return errs


def _is_int32_text(text: str) -> bool:
    """strconv.ParseInt(text, 10, 32) succeeds."""
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return False
    return -(2**31) <= int(text) <= MAX_INT32


def _validate_annotation_updates(new: Obj, old: Obj) -> list[FieldError]:
    """ValidatePodSpecificAnnotationUpdates: AppArmor and mirror annotations are fixed."""
    new_annotations = (new.get("metadata") or {}).get("annotations") or {}
    old_annotations = (old.get("metadata") or {}).get("annotations") or {}
    path = "metadata.annotations"
    errs: list[FieldError] = []
    for key, value in old_annotations.items():
        if new_annotations.get(key) == value and key in new_annotations:
            continue
        if key.startswith(APPARMOR_ANNOTATION_PREFIX):
            errs.append(
                forbidden_field(_key(path, key), "may not remove or update AppArmor annotations")
            )
        if key == MIRROR_POD_ANNOTATION:
            errs.append(
                forbidden_field(_key(path, key), "may not remove or update mirror pod annotation")
            )
    for key in new_annotations:
        if key in old_annotations:
            continue
        if key.startswith(APPARMOR_ANNOTATION_PREFIX):
            errs.append(forbidden_field(_key(path, key), "may not add AppArmor annotations"))
        if key == MIRROR_POD_ANNOTATION:
            errs.append(forbidden_field(_key(path, key), "may not add mirror pod annotation"))
    errs.extend(_validate_pod_annotations(new))
    return errs


# --- updates --------------------------------------------------------------------------------------


def validate_pod_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidatePodUpdate without ObjectMeta and without re-validating the new pod's spec.

    Only images, a tighter activeDeadlineSeconds, more tolerations (or shorter
    tolerationSeconds), fewer scheduling gates, and a grace period of 1 replacing a negative
    one may change; nodeSelector may only grow while the pod is still gated. Anything else is
    one Forbidden error on `spec`, followed by the diff Kubernetes prints.
    """
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = _validate_annotation_updates(new, old)
    for key in ("containers", "initContainers"):
        container_errs, stop = _validate_container_updates(
            new_spec.get(key) or [], old_spec.get(key) or [], f"spec.{key}"
        )
        errs.extend(container_errs)
        if stop:
            return errs
    new_deadline = new_spec.get("activeDeadlineSeconds")
    old_deadline = old_spec.get("activeDeadlineSeconds")
    if new_deadline is not None:
        if not 0 <= new_deadline <= MAX_INT32:
            errs.append(
                invalid(
                    "spec.activeDeadlineSeconds", new_deadline, _inclusive_range_error(0, MAX_INT32)
                )
            )
            return errs
        if old_deadline is not None and old_deadline < new_deadline:
            errs.append(
                invalid(
                    "spec.activeDeadlineSeconds",
                    new_deadline,
                    "must be less than or equal to previous value",
                )
            )
            return errs
    elif old_deadline is not None:
        errs.append(
            invalid(
                "spec.activeDeadlineSeconds",
                None,
                "must not update from a positive integer to nil value",
            )
        )
    errs.extend(
        _validate_only_added_tolerations(
            new_spec.get("tolerations") or [], old_spec.get("tolerations") or [], "spec.tolerations"
        )
    )
    errs.extend(
        _validate_only_deleted_scheduling_gates(
            new_spec.get("schedulingGates") or [], old_spec.get("schedulingGates") or []
        )
    )
    old_tree, new_tree = _go_pod_spec(old_spec), _go_pod_spec(new_spec)
    if _semantic_equal(new_tree, old_tree):
        return errs
    munged = _munge_updatable_fields(new_spec, old_spec)
    munged_tree = _go_pod_spec(munged)
    if not _semantic_equal(munged_tree, old_tree):
        errs.append(
            forbidden_field(
                "spec",
                "pod updates may not change fields other than "
                + ",".join(UPDATABLE_POD_SPEC_FIELDS)
                + "\n"
                + _render_spec_diff(old_tree, munged_tree),
            )
        )
    return errs


def _validate_container_updates(
    new: list[Obj], old: list[Obj], path: str
) -> tuple[list[FieldError], bool]:
    """ValidateContainerUpdates: same number of containers, each with an image."""
    if len(new) != len(old):
        return [forbidden_field(path, "pod updates may not add or remove containers")], True
    errs: list[FieldError] = []
    for i, container in enumerate(new):
        image = container.get("image") or ""
        if not image:
            errs.append(required(child(_index(path, i), "image")))
        if image != image.strip():
            errs.append(
                invalid(
                    child(_index(path, i), "image"),
                    image,
                    "must not have leading or trailing whitespace",
                )
            )
    return errs, False


def _validate_only_added_tolerations(new: list[Obj], old: list[Obj], path: str) -> list[FieldError]:
    """Every old toleration must still be there; only its tolerationSeconds may change."""

    def identity(toleration: Obj) -> tuple[str, ...]:
        return tuple(toleration.get(k) or "" for k in ("key", "operator", "value", "effect"))

    for previous in old:
        if not any(identity(t) == identity(previous) for t in new):
            return [
                forbidden_field(
                    path, "existing toleration can not be modified except its tolerationSeconds"
                )
            ]
    return validate_tolerations(new, path)


def _validate_only_deleted_scheduling_gates(new: list[Obj], old: list[Obj]) -> list[FieldError]:
    old_names = {g.get("name") for g in old}
    return [
        forbidden_field(
            f"spec.schedulingGates[{i}].name",
            f"only deletion is allowed, but found new scheduling gate '{gate.get('name') or ''}'",
        )
        for i, gate in enumerate(new)
        if gate.get("name") not in old_names
    ]


def _munge_updatable_fields(new_spec: Obj, old_spec: Obj) -> Obj:
    """A copy of the new spec with the fields that may change set back to their old values."""
    munged = copy.deepcopy(new_spec)
    for key in ("containers", "initContainers"):
        for container, previous in zip(munged.get(key) or [], old_spec.get(key) or [], strict=True):
            _copy_key(container, previous, "image")
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        _copy_key(munged, old_spec, key)
    old_grace = old_spec.get("terminationGracePeriodSeconds")
    if old_grace is not None and old_grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if old_spec.get("schedulingGates"):
        # A gated pod may gain node selector entries; changing or removing one is refused.
        old_selector = old_spec.get("nodeSelector") or {}
        new_selector = munged.get("nodeSelector") or {}
        if all(new_selector.get(k) == v for k, v in old_selector.items()):
            _copy_key(munged, old_spec, "nodeSelector")
    return munged


def _copy_key(target: Obj, source: Obj, key: str) -> None:
    if key in source:
        target[key] = copy.deepcopy(source[key])
    else:
        target.pop(key, None)


# --- status updates -------------------------------------------------------------------------------


def validate_pod_status_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidatePodStatusUpdate without ObjectMeta."""
    new_status, old_status = new.get("status") or {}, old.get("status") or {}
    new_spec, old_spec = new.get("spec") or {}, old.get("spec") or {}
    errs = _validate_annotation_updates(new, old)
    for i, condition in enumerate(new_status.get("conditions") or []):
        kind = condition.get("type") or ""
        if kind not in _SYSTEM_CONDITIONS:
            # Kubernetes reports these under metadata, with a capital T.
            errs.extend(_qualified_name(f"metadata.conditions[{i}].Type", kind))
    if (new_spec.get("nodeName") or "") != (old_spec.get("nodeName") or ""):
        errs.append(forbidden_field("status.nodeName", "may not be changed directly"))
    nominated = new_status.get("nominatedNodeName") or ""
    if nominated and nominated != (old_status.get("nominatedNodeName") or ""):
        errs.extend(_dns1123_subdomain("status.nominatedNodeName", nominated))
    if (new_status.get("qosClass") or "") != (old_status.get("qosClass") or ""):
        errs.append(
            invalid("status.qosClass", new_status.get("qosClass") or "", FIELD_IMMUTABLE_ERROR_MSG)
        )
    restart_policy = old_spec.get("restartPolicy") or ""
    errs.extend(
        _container_state_transitions(
            new_status.get("containerStatuses") or [],
            old_status.get("containerStatuses") or [],
            "status.containerStatuses",
            restart_policy,
            restartable=set(),
        )
    )
    sidecars = {
        c.get("name")
        for c in old_spec.get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    }
    errs.extend(
        _container_state_transitions(
            new_status.get("initContainerStatuses") or [],
            old_status.get("initContainerStatuses") or [],
            "status.initContainerStatuses",
            restart_policy,
            restartable=sidecars,
        )
    )
    errs.extend(
        _container_state_transitions(
            new_status.get("ephemeralContainerStatuses") or [],
            old_status.get("ephemeralContainerStatuses") or [],
            "status.ephemeralContainerStatuses",
            "Never",
            restartable=set(),
        )
    )
    errs.extend(_validate_ips(new_status.get("podIPs") or [], "status.podIPs", "PodIP"))
    host_ips = new_status.get("hostIPs") or []
    if host_ips and (new_status.get("hostIP") or "") != (host_ips[0].get("ip") or ""):
        errs.append(
            invalid(
                "status.hostIPs[0].ip", host_ips[0].get("ip") or "", "must be equal to `hostIP`"
            )
        )
    errs.extend(_validate_ips(host_ips, "status.hostIPs", "HostIP"))
    return errs


def _container_state_transitions(
    new: list[Obj], old: list[Obj], path: str, restart_policy: str, *, restartable: set[Any]
) -> list[FieldError]:
    """A terminated container that will not restart may not come back to life in the status."""
    if restart_policy == "Always":
        return []
    errs: list[FieldError] = []
    for i, previous in enumerate(old):
        terminated = (previous.get("state") or {}).get("terminated")
        if terminated is None:
            continue
        if (terminated.get("exitCode") or 0) != 0 and restart_policy == "OnFailure":
            continue
        if previous.get("name") in restartable:
            continue
        for status in new:
            if (
                status.get("name") == previous.get("name")
                and (status.get("state") or {}).get("terminated") is None
            ):
                errs.append(
                    forbidden_field(
                        child(_index(path, i), "state"),
                        "may not be transitioned to non-terminated state",
                    )
                )
    return errs


def _validate_ips(entries: list[Obj], path: str, go_type: str) -> list[FieldError]:
    """validatePodIPs / validateHostIPs: valid, at most one per family, no duplicates."""
    errs: list[FieldError] = []
    ips = [e.get("ip") or "" for e in entries]
    for i, ip in enumerate(ips):
        errs.extend(_valid_ip(_index(path, i), ip))
    if len(ips) > 1:
        families = set()
        for ip in ips:
            try:
                families.add(ipaddress.ip_address(ip).version)
            except ValueError:
                families.add(0)
        dual_stack = families == {4, 6} and len(ips) == 2
        shown = ", ".join(f"core.{go_type}{{IP:{json.dumps(ip)}}}" for ip in ips)
        if not dual_stack:
            errs.append(
                _stringer(
                    path,
                    f"[]core.{go_type}{{{shown}}}",
                    "may specify no more than one IP for each IP family",
                )
            )
        seen: set[str] = set()
        for i, ip in enumerate(ips):
            if ip in seen:
                shown_ip = f"core.{go_type}{{IP:{json.dumps(ip)}}}"
                errs.append(_stringer(_index(path, i), shown_ip, kind=errors.DUPLICATE))
            seen.add(ip)
    return errs


# --- the diff of a refused update -----------------------------------------------------------------
#
# When a pod update changes a field it may not, Kubernetes appends `cmp.Diff(oldSpec, newSpec)`
# (github.com/google/go-cmp) of its internal `core.PodSpec` to the error. The specs are turned
# into a model of those Go values (field order, Go field names, types, the host namespace flags
# moved into the security context as Kubernetes' internal version has them) and printed as
# go-cmp's reporter prints them: two records of context around each change, runs of equal
# fields folded into `... // N identical fields`, types only on changed lines. go-cmp documents
# its output as unstable (it even switches between ordinary and non-breaking spaces at random),
# so this is faithful in shape, not promised byte for byte.


@dataclass(frozen=True)
class _GoStruct:
    type: str
    fields: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class _GoSlice:
    type: str
    items: tuple[Any, ...] | None  # None is a nil slice


@dataclass(frozen=True)
class _GoMap:
    type: str
    entries: tuple[tuple[str, Any], ...] | None  # keys already printed as go-cmp prints them


@dataclass(frozen=True)
class _GoPtr:
    target: Any  # None is a nil pointer


@dataclass(frozen=True)
class _GoLeaf:
    text: str
    zero: bool


@dataclass(frozen=True)
class _GoQuantity:
    quantity: Quantity


# Field order of Kubernetes 1.33's internal types (pkg/apis/core/types.go): (JSON name, Go name,
# type). `embed:` marks an embedded struct whose fields are inline in JSON.
_S, _I, _B = "string", "int", "bool"
_LOCAL_REF = ("", "LocalObjectReference", "embed:core.LocalObjectReference")
_GO_TYPES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "core.PodSpec": (
        ("volumes", "Volumes", "[]core.Volume"),
        ("initContainers", "InitContainers", "[]core.Container"),
        ("containers", "Containers", "[]core.Container"),
        ("ephemeralContainers", "EphemeralContainers", "[]core.EphemeralContainer"),
        ("restartPolicy", "RestartPolicy", _S),
        ("terminationGracePeriodSeconds", "TerminationGracePeriodSeconds", "*int"),
        ("activeDeadlineSeconds", "ActiveDeadlineSeconds", "*int"),
        ("dnsPolicy", "DNSPolicy", _S),
        ("nodeSelector", "NodeSelector", "map[string]string"),
        ("serviceAccountName", "ServiceAccountName", _S),
        ("automountServiceAccountToken", "AutomountServiceAccountToken", "*bool"),
        ("nodeName", "NodeName", _S),
        ("securityContext", "SecurityContext", "*core.PodSecurityContext"),
        ("imagePullSecrets", "ImagePullSecrets", "[]core.LocalObjectReference"),
        ("hostname", "Hostname", _S),
        ("subdomain", "Subdomain", _S),
        ("setHostnameAsFQDN", "SetHostnameAsFQDN", "*bool"),
        ("affinity", "Affinity", "*core.Affinity"),
        ("schedulerName", "SchedulerName", _S),
        ("tolerations", "Tolerations", "[]core.Toleration"),
        ("hostAliases", "HostAliases", "[]core.HostAlias"),
        ("priorityClassName", "PriorityClassName", _S),
        ("priority", "Priority", "*int"),
        ("preemptionPolicy", "PreemptionPolicy", "*string"),
        ("dnsConfig", "DNSConfig", "*core.PodDNSConfig"),
        ("readinessGates", "ReadinessGates", "[]core.PodReadinessGate"),
        ("runtimeClassName", "RuntimeClassName", "*string"),
        ("overhead", "Overhead", "core.ResourceList"),
        ("enableServiceLinks", "EnableServiceLinks", "*bool"),
        (
            "topologySpreadConstraints",
            "TopologySpreadConstraints",
            "[]core.TopologySpreadConstraint",
        ),
        ("os", "OS", "*core.PodOS"),
        ("schedulingGates", "SchedulingGates", "[]core.PodSchedulingGate"),
        ("resourceClaims", "ResourceClaims", "[]core.PodResourceClaim"),
        ("resources", "Resources", "*core.ResourceRequirements"),
    ),
    "core.PodSecurityContext": (
        ("hostNetwork", "HostNetwork", _B),
        ("hostPID", "HostPID", _B),
        ("hostIPC", "HostIPC", _B),
        ("shareProcessNamespace", "ShareProcessNamespace", "*bool"),
        ("hostUsers", "HostUsers", "*bool"),
        ("seLinuxOptions", "SELinuxOptions", "*core.SELinuxOptions"),
        ("windowsOptions", "WindowsOptions", "*core.WindowsSecurityContextOptions"),
        ("runAsUser", "RunAsUser", "*int"),
        ("runAsGroup", "RunAsGroup", "*int"),
        ("runAsNonRoot", "RunAsNonRoot", "*bool"),
        ("supplementalGroups", "SupplementalGroups", "[]int"),
        ("supplementalGroupsPolicy", "SupplementalGroupsPolicy", "*string"),
        ("fsGroup", "FSGroup", "*int"),
        ("fsGroupChangePolicy", "FSGroupChangePolicy", "*string"),
        ("sysctls", "Sysctls", "[]core.Sysctl"),
        ("seccompProfile", "SeccompProfile", "*core.SeccompProfile"),
        ("appArmorProfile", "AppArmorProfile", "*core.AppArmorProfile"),
        ("seLinuxChangePolicy", "SELinuxChangePolicy", "*string"),
    ),
    "core.Container": (
        ("name", "Name", _S),
        ("image", "Image", _S),
        ("command", "Command", "[]string"),
        ("args", "Args", "[]string"),
        ("workingDir", "WorkingDir", _S),
        ("ports", "Ports", "[]core.ContainerPort"),
        ("envFrom", "EnvFrom", "[]core.EnvFromSource"),
        ("env", "Env", "[]core.EnvVar"),
        ("resources", "Resources", "core.ResourceRequirements"),
        ("resizePolicy", "ResizePolicy", "[]core.ContainerResizePolicy"),
        ("restartPolicy", "RestartPolicy", "*string"),
        ("volumeMounts", "VolumeMounts", "[]core.VolumeMount"),
        ("volumeDevices", "VolumeDevices", "[]core.VolumeDevice"),
        ("livenessProbe", "LivenessProbe", "*core.Probe"),
        ("readinessProbe", "ReadinessProbe", "*core.Probe"),
        ("startupProbe", "StartupProbe", "*core.Probe"),
        ("lifecycle", "Lifecycle", "*core.Lifecycle"),
        ("terminationMessagePath", "TerminationMessagePath", _S),
        ("terminationMessagePolicy", "TerminationMessagePolicy", _S),
        ("imagePullPolicy", "ImagePullPolicy", _S),
        ("securityContext", "SecurityContext", "*core.SecurityContext"),
        ("stdin", "Stdin", _B),
        ("stdinOnce", "StdinOnce", _B),
        ("tty", "TTY", _B),
    ),
    "core.SecurityContext": (
        ("capabilities", "Capabilities", "*core.Capabilities"),
        ("privileged", "Privileged", "*bool"),
        ("seLinuxOptions", "SELinuxOptions", "*core.SELinuxOptions"),
        ("windowsOptions", "WindowsOptions", "*core.WindowsSecurityContextOptions"),
        ("runAsUser", "RunAsUser", "*int"),
        ("runAsGroup", "RunAsGroup", "*int"),
        ("runAsNonRoot", "RunAsNonRoot", "*bool"),
        ("readOnlyRootFilesystem", "ReadOnlyRootFilesystem", "*bool"),
        ("allowPrivilegeEscalation", "AllowPrivilegeEscalation", "*bool"),
        ("procMount", "ProcMount", "*string"),
        ("seccompProfile", "SeccompProfile", "*core.SeccompProfile"),
        ("appArmorProfile", "AppArmorProfile", "*core.AppArmorProfile"),
    ),
    "core.Capabilities": (("add", "Add", "[]string"), ("drop", "Drop", "[]string")),
    "core.SeccompProfile": (
        ("type", "Type", _S),
        ("localhostProfile", "LocalhostProfile", "*string"),
    ),
    "core.Sysctl": (("name", "Name", _S), ("value", "Value", _S)),
    "core.ContainerPort": (
        ("name", "Name", _S),
        ("hostPort", "HostPort", _I),
        ("containerPort", "ContainerPort", _I),
        ("protocol", "Protocol", _S),
        ("hostIP", "HostIP", _S),
    ),
    "core.EnvVar": (
        ("name", "Name", _S),
        ("value", "Value", _S),
        ("valueFrom", "ValueFrom", "*core.EnvVarSource"),
    ),
    "core.EnvVarSource": (
        ("fieldRef", "FieldRef", "*core.ObjectFieldSelector"),
        ("resourceFieldRef", "ResourceFieldRef", "*core.ResourceFieldSelector"),
        ("configMapKeyRef", "ConfigMapKeyRef", "*core.ConfigMapKeySelector"),
        ("secretKeyRef", "SecretKeyRef", "*core.SecretKeySelector"),
    ),
    "core.ObjectFieldSelector": (("apiVersion", "APIVersion", _S), ("fieldPath", "FieldPath", _S)),
    "core.ResourceFieldSelector": (
        ("containerName", "ContainerName", _S),
        ("resource", "Resource", _S),
        ("divisor", "Divisor", "resource.Quantity"),
    ),
    "core.ConfigMapKeySelector": (
        _LOCAL_REF,
        ("key", "Key", _S),
        ("optional", "Optional", "*bool"),
    ),
    "core.SecretKeySelector": (_LOCAL_REF, ("key", "Key", _S), ("optional", "Optional", "*bool")),
    "core.EnvFromSource": (
        ("prefix", "Prefix", _S),
        ("configMapRef", "ConfigMapRef", "*core.ConfigMapEnvSource"),
        ("secretRef", "SecretRef", "*core.SecretEnvSource"),
    ),
    "core.ConfigMapEnvSource": (_LOCAL_REF, ("optional", "Optional", "*bool")),
    "core.SecretEnvSource": (_LOCAL_REF, ("optional", "Optional", "*bool")),
    "core.LocalObjectReference": (("name", "Name", _S),),
    "core.ResourceRequirements": (
        ("limits", "Limits", "core.ResourceList"),
        ("requests", "Requests", "core.ResourceList"),
        ("claims", "Claims", "[]core.ResourceClaim"),
    ),
    "core.VolumeMount": (
        ("name", "Name", _S),
        ("readOnly", "ReadOnly", _B),
        ("recursiveReadOnly", "RecursiveReadOnly", "*string"),
        ("mountPath", "MountPath", _S),
        ("subPath", "SubPath", _S),
        ("mountPropagation", "MountPropagation", "*string"),
        ("subPathExpr", "SubPathExpr", _S),
    ),
    "core.Probe": (
        ("", "ProbeHandler", "embed:core.ProbeHandler"),
        ("initialDelaySeconds", "InitialDelaySeconds", _I),
        ("timeoutSeconds", "TimeoutSeconds", _I),
        ("periodSeconds", "PeriodSeconds", _I),
        ("successThreshold", "SuccessThreshold", _I),
        ("failureThreshold", "FailureThreshold", _I),
        ("terminationGracePeriodSeconds", "TerminationGracePeriodSeconds", "*int"),
    ),
    "core.ProbeHandler": (
        ("exec", "Exec", "*core.ExecAction"),
        ("httpGet", "HTTPGet", "*core.HTTPGetAction"),
        ("tcpSocket", "TCPSocket", "*core.TCPSocketAction"),
        ("grpc", "GRPC", "*core.GRPCAction"),
    ),
    "core.Lifecycle": (
        ("postStart", "PostStart", "*core.LifecycleHandler"),
        ("preStop", "PreStop", "*core.LifecycleHandler"),
        ("stopSignal", "StopSignal", "*string"),
    ),
    "core.LifecycleHandler": (
        ("exec", "Exec", "*core.ExecAction"),
        ("httpGet", "HTTPGet", "*core.HTTPGetAction"),
        ("tcpSocket", "TCPSocket", "*core.TCPSocketAction"),
        ("sleep", "Sleep", "*core.SleepAction"),
    ),
    "core.ExecAction": (("command", "Command", "[]string"),),
    "core.HTTPGetAction": (
        ("path", "Path", _S),
        ("port", "Port", "intstr.IntOrString"),
        ("host", "Host", _S),
        ("scheme", "Scheme", _S),
        ("httpHeaders", "HTTPHeaders", "[]core.HTTPHeader"),
    ),
    "core.HTTPHeader": (("name", "Name", _S), ("value", "Value", _S)),
    "core.TCPSocketAction": (("port", "Port", "intstr.IntOrString"), ("host", "Host", _S)),
    "core.GRPCAction": (("port", "Port", _I), ("service", "Service", "*string")),
    "core.SleepAction": (("seconds", "Seconds", _I),),
    "core.Toleration": (
        ("key", "Key", _S),
        ("operator", "Operator", _S),
        ("value", "Value", _S),
        ("effect", "Effect", _S),
        ("tolerationSeconds", "TolerationSeconds", "*int"),
    ),
    "core.HostAlias": (("ip", "IP", _S), ("hostnames", "Hostnames", "[]string")),
    "core.PodDNSConfig": (
        ("nameservers", "Nameservers", "[]string"),
        ("searches", "Searches", "[]string"),
        ("options", "Options", "[]core.PodDNSConfigOption"),
    ),
    "core.PodDNSConfigOption": (("name", "Name", _S), ("value", "Value", "*string")),
    "core.PodReadinessGate": (("conditionType", "ConditionType", _S),),
    "core.PodSchedulingGate": (("name", "Name", _S),),
    "core.PodOS": (("name", "Name", _S),),
    "core.Volume": (("name", "Name", _S), ("", "VolumeSource", "embed:core.VolumeSource")),
    "core.VolumeSource": tuple(
        (key, go_name, f"*core.{go_type}")
        for key, go_name, go_type in (
            ("hostPath", "HostPath", "HostPathVolumeSource"),
            ("emptyDir", "EmptyDir", "EmptyDirVolumeSource"),
            ("gcePersistentDisk", "GCEPersistentDisk", "GCEPersistentDiskVolumeSource"),
            ("awsElasticBlockStore", "AWSElasticBlockStore", "AWSElasticBlockStoreVolumeSource"),
            ("gitRepo", "GitRepo", "GitRepoVolumeSource"),
            ("secret", "Secret", "SecretVolumeSource"),
            ("nfs", "NFS", "NFSVolumeSource"),
            ("iscsi", "ISCSI", "ISCSIVolumeSource"),
            ("glusterfs", "Glusterfs", "GlusterfsVolumeSource"),
            ("persistentVolumeClaim", "PersistentVolumeClaim", "PersistentVolumeClaimVolumeSource"),
            ("rbd", "RBD", "RBDVolumeSource"),
            ("quobyte", "Quobyte", "QuobyteVolumeSource"),
            ("flexVolume", "FlexVolume", "FlexVolumeSource"),
            ("cinder", "Cinder", "CinderVolumeSource"),
            ("cephfs", "CephFS", "CephFSVolumeSource"),
            ("flocker", "Flocker", "FlockerVolumeSource"),
            ("downwardAPI", "DownwardAPI", "DownwardAPIVolumeSource"),
            ("fc", "FC", "FCVolumeSource"),
            ("azureFile", "AzureFile", "AzureFileVolumeSource"),
            ("configMap", "ConfigMap", "ConfigMapVolumeSource"),
            ("vsphereVolume", "VsphereVolume", "VsphereVirtualDiskVolumeSource"),
            ("azureDisk", "AzureDisk", "AzureDiskVolumeSource"),
            ("photonPersistentDisk", "PhotonPersistentDisk", "PhotonPersistentDiskVolumeSource"),
            ("projected", "Projected", "ProjectedVolumeSource"),
            ("portworxVolume", "PortworxVolume", "PortworxVolumeSource"),
            ("scaleIO", "ScaleIO", "ScaleIOVolumeSource"),
            ("storageos", "StorageOS", "StorageOSVolumeSource"),
            ("csi", "CSI", "CSIVolumeSource"),
            ("ephemeral", "Ephemeral", "EphemeralVolumeSource"),
            ("image", "Image", "ImageVolumeSource"),
        )
    ),
    "core.HostPathVolumeSource": (("path", "Path", _S), ("type", "Type", "*string")),
    "core.EmptyDirVolumeSource": (
        ("medium", "Medium", _S),
        ("sizeLimit", "SizeLimit", "*resource.Quantity"),
    ),
    "core.SecretVolumeSource": (
        ("secretName", "SecretName", _S),
        ("items", "Items", "[]core.KeyToPath"),
        ("defaultMode", "DefaultMode", "*int"),
        ("optional", "Optional", "*bool"),
    ),
    "core.ConfigMapVolumeSource": (
        _LOCAL_REF,
        ("items", "Items", "[]core.KeyToPath"),
        ("defaultMode", "DefaultMode", "*int"),
        ("optional", "Optional", "*bool"),
    ),
    "core.KeyToPath": (("key", "Key", _S), ("path", "Path", _S), ("mode", "Mode", "*int")),
    "core.PersistentVolumeClaimVolumeSource": (
        ("claimName", "ClaimName", _S),
        ("readOnly", "ReadOnly", _B),
    ),
    "core.DownwardAPIVolumeSource": (
        ("items", "Items", "[]core.DownwardAPIVolumeFile"),
        ("defaultMode", "DefaultMode", "*int"),
    ),
    "core.DownwardAPIVolumeFile": (
        ("path", "Path", _S),
        ("fieldRef", "FieldRef", "*core.ObjectFieldSelector"),
        ("resourceFieldRef", "ResourceFieldRef", "*core.ResourceFieldSelector"),
        ("mode", "Mode", "*int"),
    ),
    "core.ProjectedVolumeSource": (
        ("sources", "Sources", "[]core.VolumeProjection"),
        ("defaultMode", "DefaultMode", "*int"),
    ),
    "core.VolumeProjection": (
        ("secret", "Secret", "*core.SecretProjection"),
        ("downwardAPI", "DownwardAPI", "*core.DownwardAPIProjection"),
        ("configMap", "ConfigMap", "*core.ConfigMapProjection"),
        ("serviceAccountToken", "ServiceAccountToken", "*core.ServiceAccountTokenProjection"),
        ("clusterTrustBundle", "ClusterTrustBundle", "*core.ClusterTrustBundleProjection"),
    ),
    "core.SecretProjection": (
        _LOCAL_REF,
        ("items", "Items", "[]core.KeyToPath"),
        ("optional", "Optional", "*bool"),
    ),
    "core.ConfigMapProjection": (
        _LOCAL_REF,
        ("items", "Items", "[]core.KeyToPath"),
        ("optional", "Optional", "*bool"),
    ),
    "core.DownwardAPIProjection": (("items", "Items", "[]core.DownwardAPIVolumeFile"),),
    "core.ServiceAccountTokenProjection": (
        ("audience", "Audience", _S),
        ("expirationSeconds", "ExpirationSeconds", _I),
        ("path", "Path", _S),
    ),
}

# Initialisms Go spells in capitals, for field names of types not listed above.
_INITIALISMS = {"api", "dns", "fc", "fqdn", "fs", "grpc", "http", "id", "ip", "ipc", "os"}
_INITIALISMS |= {"pid", "se", "tcp", "tty", "uid", "url", "uri", "csi", "nfs", "rbd", "iscsi"}


def _go_pod_spec(spec: Obj) -> _GoStruct:
    """The internal core.PodSpec of a v1 spec, as conversion builds it."""
    internal = dict(spec)
    security = dict(spec.get("securityContext") or {})
    for key in ("hostNetwork", "hostPID", "hostIPC", "shareProcessNamespace", "hostUsers"):
        if key in spec:
            security[key] = spec[key]
    internal["securityContext"] = security
    node = _to_go(internal, "core.PodSpec")
    assert isinstance(node, _GoStruct)
    return node


def _to_go(value: Any, go_type: str) -> Any:
    if go_type.startswith("*"):
        return _GoPtr(None if value is None else _to_go(value, go_type[1:]))
    if go_type.startswith("[]"):
        if not isinstance(value, list):
            return _GoSlice(go_type, None)
        return _GoSlice(go_type, tuple(_to_go(v, go_type[2:]) for v in value))
    if go_type in ("map[string]string", "core.ResourceList"):
        if not isinstance(value, dict):
            return _GoMap(go_type, None)
        if go_type == "map[string]string":
            return _GoMap(
                go_type, tuple((json.dumps(k), _leaf(v)) for k, v in sorted(value.items()))
            )
        # ResourceName is a Stringer, so go-cmp prints the keys as s"cpu".
        entries = tuple((f"s{json.dumps(k)}", _go_quantity(v)) for k, v in sorted(value.items()))
        return _GoMap(go_type, entries)
    if go_type == "resource.Quantity":
        return _go_quantity(value)
    if go_type == "intstr.IntOrString":
        if isinstance(value, str):
            fields = (("Type", _leaf(1)), ("IntVal", _leaf(0)), ("StrVal", _leaf(value)))
        else:
            fields = (("Type", _leaf(0)), ("IntVal", _leaf(value or 0)), ("StrVal", _leaf("")))
        return _GoStruct(go_type, fields)
    if go_type in (_S, _I, _B):
        return _leaf(value if value is not None else {_S: "", _I: 0, _B: False}[go_type])
    return _go_struct(value if isinstance(value, dict) else {}, go_type)


def _go_struct(obj: Obj, go_type: str) -> _GoStruct:
    layout = _GO_TYPES.get(go_type)
    if layout is None:
        return _GoStruct(
            go_type, tuple((_go_name(k), _generic(v, k)) for k, v in obj.items() if v is not None)
        )
    fields = []
    for key, go_name, field_type in layout:
        if field_type.startswith("embed:"):
            fields.append((go_name, _go_struct(obj, field_type[len("embed:") :])))
        else:
            fields.append((go_name, _to_go(obj.get(key), field_type)))
    return _GoStruct(go_type, tuple(fields))


def _generic(value: Any, key: str) -> Any:
    """A field of a type not modelled above, from its JSON alone."""
    if isinstance(value, dict):
        return _GoStruct(
            f"core.{_go_name(key)}",
            tuple((_go_name(k), _generic(v, k)) for k, v in value.items() if v is not None),
        )
    if isinstance(value, list):
        singular = key[:-1] if key.endswith("s") else key
        items = tuple(_generic(v, singular) for v in value)
        element = f"core.{_go_name(singular)}" if any(isinstance(v, dict) for v in value) else _S
        return _GoSlice(f"[]{element}", items)
    return _leaf(value)


def _go_name(json_name: str) -> str:
    """The Go name of a JSON field: `hostIPC` -> `HostIPC`, `fsGroup` -> `FSGroup`."""
    words = re.findall(r"[a-z0-9]+|[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", json_name)
    return "".join(w.upper() if w.lower() in _INITIALISMS else w[:1].upper() + w[1:] for w in words)


def _leaf(value: Any) -> _GoLeaf:
    if isinstance(value, bool):
        return _GoLeaf("true" if value else "false", not value)
    if isinstance(value, int | float):
        return _GoLeaf(str(value), value == 0)
    text = "" if value is None else str(value)
    return _GoLeaf(json.dumps(text, ensure_ascii=False), text == "")


def _go_quantity(value: Any) -> Any:
    if value is None:
        return _GoLeaf("{}", True)
    quantity = _quantity(value)
    return _GoQuantity(quantity) if quantity is not None else _leaf(value)


def _is_zero(node: Any) -> bool:
    if isinstance(node, _GoStruct):
        return all(_is_zero(v) for _, v in node.fields)
    if isinstance(node, _GoSlice):
        return node.items is None
    if isinstance(node, _GoMap):
        return node.entries is None
    if isinstance(node, _GoPtr):
        return node.target is None
    if isinstance(node, _GoLeaf):
        return node.zero
    return False


def _semantic_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual: like ==, but nil and empty slices and maps are equal."""
    if isinstance(a, _GoSlice) and isinstance(b, _GoSlice):
        x, y = a.items or (), b.items or ()
        return len(x) == len(y) and all(_semantic_equal(p, q) for p, q in zip(x, y, strict=True))
    if isinstance(a, _GoMap) and isinstance(b, _GoMap):
        x, y = dict(a.entries or ()), dict(b.entries or ())
        return x.keys() == y.keys() and all(_semantic_equal(x[k], y[k]) for k in x)
    if isinstance(a, _GoStruct) and isinstance(b, _GoStruct):
        return a.type == b.type and all(
            _semantic_equal(p, q) for (_, p), (_, q) in zip(a.fields, b.fields, strict=True)
        )
    if isinstance(a, _GoPtr) and isinstance(b, _GoPtr):
        if a.target is None or b.target is None:
            return a.target is b.target
        return _semantic_equal(a.target, b.target)
    return bool(a == b)


# Text nodes, as go-cmp's report_text.go builds them.

_MAX_COLUMN = 80
_ELLIPSIS = "..."


@dataclass
class _Line:
    text: str


@dataclass
class _Wrap:
    prefix: str
    value: Any
    suffix: str


@dataclass
class _Record:
    diff: str  # "", "-" or "+"
    key: str
    value: Any
    elide_comma: bool = False
    comment: str = ""


@dataclass
class _List:
    records: list[_Record]


def _compact(node: Any, mode: str) -> tuple[str, Any]:
    """formatCompactTo: the one-line text, and the node (a _Line if it may stay on one line)."""
    if isinstance(node, _Line):
        return node.text, node
    if isinstance(node, _Wrap):
        inner, value = _compact(node.value, mode)
        text = node.prefix + inner + node.suffix
        if isinstance(value, _Line):
            return text, _Line(text)
        return text, _Wrap(node.prefix, value, node.suffix)
    multiline = False
    parts = []
    records = []
    for record in node.records:
        if record.diff:
            multiline = True
        inner, value = _compact(record.value, record.diff or mode)
        if not isinstance(value, _Line) or record.comment:
            multiline = True
        parts.append(f"{record.key}: {inner}" if record.key else inner)
        records.append(_Record(record.diff, record.key, value, record.elide_comma, record.comment))
    text = ", ".join(parts)
    if mode in ("-", "+") and len(text) > _MAX_COLUMN:
        multiline = True
    if not multiline:
        return text, _Line(text)
    return text, _List(records)


def _indent(depth: int, mode: str) -> str:
    return {"-": "- ", "+": "+ "}.get(mode, "  ") + "\t" * depth


def _expanded(node: Any, mode: str, depth: int) -> str:
    """formatExpandedTo: multi-line text with go-cmp's indentation and key alignment."""
    if isinstance(node, _Line):
        return node.text
    if isinstance(node, _Wrap):
        return node.prefix + _expanded(node.value, mode, depth) + node.suffix
    records = node.records
    simple = all(
        not r.diff and not r.key and isinstance(r.value, _Line) and not r.comment for r in records
    )
    out = []
    if simple:
        batch = ""
        for record in records:
            if len(batch) + len(record.value.text) + 2 > _MAX_COLUMN and batch:
                out.append("\n" + _indent(depth + 1, mode) + batch.rstrip(" "))
                batch = ""
            batch += record.value.text + ", "
        if batch:
            out.append("\n" + _indent(depth + 1, mode) + batch.rstrip(" "))
        return "".join(out) + "\n" + _indent(depth, mode)
    pads = _key_alignment(records)
    for record, pad in zip(records, pads, strict=True):
        record_mode = record.diff or mode
        line = "\n" + _indent(depth + 1, record_mode)
        if record.key:
            line += record.key + ": "
        line += " " * pad + _expanded(record.value, record_mode, depth + 1)
        if not record.elide_comma:
            line += ","
        if record.comment:
            line += " // " + record.comment
        out.append(line)
    return "".join(out) + "\n" + _indent(depth, mode)


def _key_alignment(records: list[_Record]) -> list[int]:
    """alignLens: consecutive one-line keyed records have their values aligned."""
    pads = [0] * len(records)
    start = 0
    widest = 0
    for i, record in enumerate([*records, _Record("", "", None)]):
        if i == len(records) or not record.key or not isinstance(record.value, _Line):
            for j in range(start, i):
                pads[j] = widest - len(records[j].key)
            start, widest = i + 1, 0
        else:
            widest = max(widest, len(record.key))
    return pads


# Formatting values (report_reflect.go FormatValue) and differences (report_compare.go).

_AUTO, _ELIDE, _EMIT = "auto", "elide", "emit"


def _typed(go_type: str, body: Any, mode: str, type_mode: str) -> Any:
    """FormatType: composite types are named except on identical lines or when elided."""
    if type_mode == _ELIDE or (type_mode == _AUTO and mode == " "):
        return body
    return _Wrap(go_type, body, "")


def _format_value(node: Any, mode: str, type_mode: str) -> Any:
    if isinstance(node, _GoLeaf):
        return _Line(node.text)
    if isinstance(node, _GoQuantity):
        named = type_mode == _EMIT or (type_mode == _AUTO and mode != " ")
        return _Line(node.quantity.go_repr(typed=named, nested_typed=mode != " "))
    if isinstance(node, _GoPtr):
        if node.target is None:
            return _Line("nil")
        return _Wrap("&", _format_value(node.target, mode, type_mode), "")
    if isinstance(node, _GoSlice | _GoMap):
        items = node.items if isinstance(node, _GoSlice) else node.entries
        if items is None:
            return _Line("nil")
        if isinstance(node, _GoSlice):
            records = [_Record("", "", _format_value(v, mode, _ELIDE)) for v in node.items]
        else:
            records = [_Record("", k, _format_value(v, mode, _ELIDE)) for k, v in node.entries]
        return _typed(node.type, _Wrap("{", _List(records), "}"), mode, type_mode)
    records = [
        _Record("", name, _format_value(value, mode, _AUTO))
        for name, value in node.fields
        if not _is_zero(value)
    ]
    return _typed(node.type, _Wrap("{", _List(records), "}"), mode, type_mode)


_MISSING = object()


def _children(x: Any, y: Any) -> list[tuple[str, Any, Any]] | None:
    """The compared children of two values (None for values go-cmp treats as leaves)."""
    if x is _MISSING or y is _MISSING:
        return None
    if isinstance(x, _GoStruct) and isinstance(y, _GoStruct):
        return [(name, a, b) for (name, a), (_, b) in zip(x.fields, y.fields, strict=True)]
    if isinstance(x, _GoPtr) and isinstance(y, _GoPtr):
        if x.target is None or y.target is None:
            return None
        return [("", x.target, y.target)]
    if isinstance(x, _GoSlice) and isinstance(y, _GoSlice):
        if x.items is None or y.items is None:
            return None
        return [("", a, b) for a, b in _align_elements(x.items, y.items)]
    if isinstance(x, _GoMap) and isinstance(y, _GoMap):
        if x.entries is None or y.entries is None:
            return None
        a, b = dict(x.entries), dict(y.entries)
        return [(k, a.get(k, _MISSING), b.get(k, _MISSING)) for k in sorted(a.keys() | b.keys())]
    return None


def _stats(x: Any, y: Any) -> tuple[int, int, int, int]:
    """(descendants, depth, equal leaves, different leaves) of the comparison of x and y."""
    children = _children(x, y)
    if children is None:
        same = x is not _MISSING and y is not _MISSING and x == y
        return 0, 0, int(same), int(not same) * 2
    count = depth = same = diff = 0
    for _, a, b in children:
        c, d, s, f = _stats(a, b)
        count += c + 1
        depth = max(depth, d + 1)
        same += s
        diff += f
    return count, depth, same, diff


def _align_elements(xs: tuple[Any, ...], ys: tuple[Any, ...]) -> list[tuple[Any, Any]]:
    """An edit script between two slices: equal and similar elements paired, the rest alone."""
    pairs: list[tuple[Any, Any]] = []
    matcher = difflib.SequenceMatcher(
        None, list(map(repr, xs)), list(map(repr, ys)), autojunk=False
    )
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pairs.extend(zip(xs[i1:i2], ys[j1:j2], strict=True))
            continue
        left, right = list(xs[i1:i2]), list(ys[j1:j2])
        while left and right:
            _, _, same, diff = _stats(left[0], right[0])
            if same + 1 < diff:
                break
            pairs.append((left.pop(0), right.pop(0)))
        pairs.extend((x, _MISSING) for x in left)
        pairs.extend((_MISSING, y) for y in right)
    return pairs


def _format_diff(x: Any, y: Any, type_mode: str) -> Any:
    """FormatDiff of two different values that go-cmp descends into."""
    if isinstance(x, _GoPtr):
        return _Wrap("&", _format_diff(x.target, y.target, type_mode), "")
    children = _children(x, y) or []
    if isinstance(x, _GoStruct):
        name, child_type_mode = "field", _AUTO
    elif isinstance(x, _GoSlice):
        name, child_type_mode = "element", _ELIDE
    else:
        name, child_type_mode = "entry", _ELIDE
    body = _Wrap("{", _List(_diff_records(children, name, child_type_mode)), "}")
    return _typed(x.type, body, "", type_mode)


def _diff_records(children: list[tuple[str, Any, Any]], name: str, type_mode: str) -> list[_Record]:
    """formatDiffList: changes with two records of context, equal runs folded."""
    groups: list[tuple[bool, list[tuple[str, Any, Any]]]] = []
    for child_record in children:
        equal = child_record[1] == child_record[2]
        if groups and groups[-1][0] == equal:
            groups[-1][1].append(child_record)
        else:
            groups.append((equal, [child_record]))
    records: list[_Record] = []
    for index, (equal, members) in enumerate(groups):
        if not equal:
            for key, a, b in members:
                count, depth, _, _ = _stats(a, b)
                if count == depth:
                    if a is not _MISSING:
                        records.append(_Record("-", key, _format_value(a, "-", type_mode)))
                    if b is not _MISSING:
                        records.append(_Record("+", key, _format_value(b, "+", type_mode)))
                else:
                    records.append(_Record("", key, _format_diff(a, b, type_mode)))
            continue
        total = len(members)
        low = min(2, total) if index != 0 else 0
        high = min(2, total - low) if index != len(groups) - 1 else 0
        if total - (low + high) == 1:
            high += 1
        for key, a, _ in members[:low]:
            records.append(_Record("", key, _format_value(a, " ", type_mode)))
        folded = total - low - high
        if folded > 0:
            noun = name if folded == 1 else ("entries" if name == "entry" else name + "s")
            records.append(
                _Record(
                    "", "", _Line(_ELLIPSIS), elide_comma=True, comment=f"{folded} identical {noun}"
                )
            )
        for key, a, _ in members[total - high :]:
            records.append(_Record("", key, _format_value(a, " ", type_mode)))
    return records


def _render_spec_diff(old: _GoStruct, new: _GoStruct) -> str:
    """cmp.Diff(old, new) of two core.PodSpecs, as Kubernetes appends it to its error."""
    root = _format_diff(old, new, _EMIT)
    _, compacted = _compact(root, "")
    return _indent(0, "") + _expanded(compacted, "", 0) + "\n"
