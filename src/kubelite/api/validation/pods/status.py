"""ValidatePodStatusUpdate: the rules of the pod's status subresource (conditions, node names,
QoS class, container state transitions, pod and host IPs).
"""

from __future__ import annotations

import ipaddress
import json

from kubelite.api import errors
from kubelite.api.errors import FieldError, child, forbidden_field, invalid
from kubelite.api.restart_rules import all_containers_could_restart, container_should_restart
from kubelite.api.types import Obj
from kubelite.api.validation.pods.annotations import _validate_annotation_updates
from kubelite.api.validation.pods.fields import (
    _dns1123_subdomain,
    _index,
    _qualified_name,
    _stringer,
    _valid_ip,
)

FIELD_IMMUTABLE_ERROR_MSG = "field is immutable"

_SYSTEM_CONDITIONS = ("PodScheduled", "Ready", "Initialized")


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
    # With ContainerRestartRules each container's own policy and rules decide whether it may
    # leave terminated (ValidateContainerStateTransition / ValidateInitContainerStateTransition).
    if not all_containers_could_restart(old_spec):
        errs.extend(
            _restart_rule_transitions(
                new_status.get("containerStatuses") or [],
                old_status.get("containerStatuses") or [],
                "status.containerStatuses",
                old_spec,
                old_spec.get("containers") or [],
            )
        )
        errs.extend(
            _restart_rule_transitions(
                new_status.get("initContainerStatuses") or [],
                old_status.get("initContainerStatuses") or [],
                "status.initContainerStatuses",
                old_spec,
                old_spec.get("initContainers") or [],
            )
        )
    errs.extend(
        _ephemeral_state_transitions(
            new_status.get("ephemeralContainerStatuses") or [],
            old_status.get("ephemeralContainerStatuses") or [],
            "status.ephemeralContainerStatuses",
        )
    )
    errs.extend(
        _validate_ips(
            new_status.get("podIPs") or [],
            "status.podIPs",
            "PodIP",
            [e.get("ip") or "" for e in old_status.get("podIPs") or []],
        )
    )
    host_ips = new_status.get("hostIPs") or []
    if host_ips and (new_status.get("hostIP") or "") != (host_ips[0].get("ip") or ""):
        errs.append(
            invalid(
                "status.hostIPs[0].ip", host_ips[0].get("ip") or "", "must be equal to `hostIP`"
            )
        )
    errs.extend(
        _validate_ips(
            host_ips,
            "status.hostIPs",
            "HostIP",
            [e.get("ip") or "" for e in old_status.get("hostIPs") or []],
        )
    )
    return errs


def _ephemeral_state_transitions(new: list[Obj], old: list[Obj], path: str) -> list[FieldError]:
    """An ephemeral container never restarts: once terminated, it may not come back to life in
    the status."""
    errs: list[FieldError] = []
    for i, previous in enumerate(old):
        if (previous.get("state") or {}).get("terminated") is None:
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


def _restart_rule_transitions(
    new: list[Obj], old: list[Obj], path: str, spec: Obj, containers: list[Obj]
) -> list[FieldError]:
    """A terminated container may come back only if its policy and rules restart it on the exit
    code it ended with (ContainerShouldRestart); a status of no container in the spec may not.

    A pod with a RestartAllContainers rule anywhere is not checked at all: any of its containers
    may be restarted with the others.
    """
    errs: list[FieldError] = []
    specs = {c.get("name"): c for c in containers}
    for i, previous in enumerate(old):
        terminated = (previous.get("state") or {}).get("terminated")
        if terminated is None:
            continue
        name = previous.get("name")
        for status in new:
            if status.get("name") != name:
                continue
            if (status.get("state") or {}).get("terminated") is None:
                container = specs.get(name)
                exit_code = terminated.get("exitCode") or 0
                if container is None or not container_should_restart(container, spec, exit_code):
                    errs.append(
                        forbidden_field(
                            child(_index(path, i), "state"),
                            "may not be transitioned to non-terminated state",
                        )
                    )
            break
    return errs


def _validate_ips(
    entries: list[Obj], path: str, go_type: str, old_ips: list[str]
) -> list[FieldError]:
    """validatePodIPs / validateHostIPs: valid, at most one per family, no duplicates. IPs the
    old status held stay acceptable whatever today's strict rules say (validOldIPs)."""
    errs: list[FieldError] = []
    ips = [e.get("ip") or "" for e in entries]
    for i, ip in enumerate(ips):
        errs.extend(_valid_ip(_index(path, i), ip, old_ips))
    if len(ips) > 1:
        families: set[int] = set()
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
