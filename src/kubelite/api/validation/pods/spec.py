"""ValidatePodSpec: the entry point for a PodSpec wherever it sits (a pod, or the template of a
workload), and the spec-level rules (restart and DNS policy, host network, host aliases,
scheduling gates, priority); each field group is checked by its own module of this package.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kubelite.api.errors import (
    FieldError,
    child,
    duplicate,
    forbidden_field,
    invalid,
    not_supported,
    required,
)
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.affinity import validate_affinity
from kubelite.api.validation.pods.containers import _validate_containers, _validate_init_containers
from kubelite.api.validation.pods.env_files import validate_file_key_ref_volumes
from kubelite.api.validation.pods.fields import (
    MAX_INT32,
    _dns1123_subdomain,
    _enum,
    _inclusive_range_error,
    _index,
    _is_int,
    _labels,
    _name_at,
    _names_errors,
    _qualified_name,
    _regex_error,
    _stringer,
    _valid_ip,
)
from kubelite.api.validation.pods.hostname_override import validate_hostname_override
from kubelite.api.validation.pods.pod_resources import validate_pod_resources
from kubelite.api.validation.pods.resources import _validate_resource_requirements
from kubelite.api.validation.pods.security import _validate_pod_security_context
from kubelite.api.validation.pods.tolerations import validate_tolerations
from kubelite.api.validation.pods.volumes import _validate_volumes

MAX_DNS_NAMESERVERS = 3  # validation.MaxDNSNameservers
MAX_DNS_SEARCH_PATHS = 32  # validation.MaxDNSSearchPaths
MAX_DNS_SEARCH_LIST_CHARS = 2048  # validation.MaxDNSSearchListChars

_RESTART_POLICIES = ("Always", "OnFailure", "Never")
_DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")

_PREEMPTION_POLICIES = ("PreemptLowerPriority", "Never")
# The operating systems a pod may name (validation.go validOS), sorted as Kubernetes lists them.
_VALID_OS = ("linux", "windows")

_DNS1123_LABEL_UNDERSCORE_FMT = "_?[a-z0-9]([-_a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_UNDERSCORE_FMT = (
    _DNS1123_LABEL_UNDERSCORE_FMT + r"(\." + _DNS1123_LABEL_UNDERSCORE_FMT + ")*"
)


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
    if spec.get("resources") is not None:
        errs.extend(validate_pod_resources(spec, path))
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
    if spec.get("hostnameOverride") is not None:
        errs.extend(validate_hostname_override(spec, path))
    errs.extend(validate_file_key_ref_volumes(spec, path))
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
    if spec.get("os") is not None:
        errs.extend(_validate_os(spec["os"], child(path, "os")))
    return errs


def _validate_os(pod_os: Obj, path: str) -> list[FieldError]:
    """validateOS: an empty name is Required (on `os.name`), an unknown one NotSupported (on
    `os` itself, as Kubernetes words it)."""
    name = pod_os.get("name") or ""
    if not name:
        return [required(child(path, "name"), "cannot be empty")]
    if name not in _VALID_OS:
        return [not_supported(path, name, _VALID_OS)]
    return []


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
