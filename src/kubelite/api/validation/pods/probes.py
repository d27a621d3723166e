"""Probes and lifecycle handlers (validateProbe, validateHandler): exactly one action each, and
the HTTP, TCP and gRPC actions' own rules.
"""

from __future__ import annotations

import re
from typing import Any

from kubelite.api.errors import FieldError, child, forbidden_field, invalid, not_supported, required
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.fields import (
    _is_int,
    _names_errors,
    _nonnegative,
    _regex_error,
)

_HTTP_SCHEMES = ("HTTP", "HTTPS")

_HTTP_HEADER_NAME_FMT = "[-A-Za-z0-9]+"


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
