"""Validation of apiregistration.k8s.io/v1 APIServices
(`kube-aggregator/pkg/apis/apiregistration/validation/validation.go`).

An APIService names the group version it serves: its name must be `<version>.<group>`, on
update as on create. A local one (no `spec.service`: served by the API server itself) may carry
no CA bundle and may not skip TLS verification; one backed by a Service must name it.
"""

from __future__ import annotations

import base64
import binascii

from kubelite.api import meta
from kubelite.api.errors import FieldError, invalid, not_supported, required
from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.objectmeta import NameRule

# The bounds ValidateAPIService puts on the two priorities (both exclusive of 0).
MAX_GROUP_PRIORITY_MINIMUM = 20000
MAX_VERSION_PRIORITY = 1000
CONDITION_STATUSES = ("True", "False", "Unknown")


def name_rule(obj: Obj) -> NameRule:
    """The name an APIService must have: a path segment that reads `spec.version.spec.group`.

    A generateName is held to the same rule, so it can only be the whole required name, as in
    Kubernetes.
    """
    spec = meta.dict_field(obj, "spec")
    wanted = f"{spec.get('version') or ''}.{spec.get('group') or ''}"

    def rule(name: str, prefix: bool) -> list[str]:
        problems = names.is_valid_path_segment_name(name)
        if problems:
            return problems
        if name != wanted:
            return [f'must be `spec.version+"."+spec.group`: {go_quote(wanted)}']
        return []

    return rule


def _decoded_length(value: str) -> int:
    try:
        return len(base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError):
        return len(value)


def validate_api_service_spec(obj: Obj) -> list[FieldError]:
    """ValidateAPIService past the metadata: group, version, priorities, service and TLS."""
    spec = meta.dict_field(obj, "spec")
    errs: list[FieldError] = []
    group = spec.get("group") or ""
    version = spec.get("version") or ""
    if not group and version != "v1":
        errs.append(
            required("spec.group", "only v1 may have an empty group and it better be legacy kube")
        )
    if group:
        errs += [invalid("spec.group", group, msg) for msg in names.is_dns1123_subdomain(group)]
    errs += [invalid("spec.version", version, msg) for msg in names.is_dns1035_label(version)]
    group_priority = spec.get("groupPriorityMinimum") or 0
    if not 0 < group_priority <= MAX_GROUP_PRIORITY_MINIMUM:
        errs.append(
            invalid(
                "spec.groupPriorityMinimum",
                group_priority,
                f"must be positive and less than {MAX_GROUP_PRIORITY_MINIMUM}",
            )
        )
    version_priority = spec.get("versionPriority") or 0
    if not 0 < version_priority <= MAX_VERSION_PRIORITY:
        errs.append(
            invalid(
                "spec.versionPriority",
                version_priority,
                f"must be positive and less than {MAX_VERSION_PRIORITY}",
            )
        )
    ca_bundle = spec.get("caBundle") or ""
    skip_verify = bool(spec.get("insecureSkipTLSVerify"))
    service = spec.get("service")
    if not isinstance(service, dict):
        if ca_bundle:
            errs.append(
                invalid(
                    "spec.caBundle",
                    f"{_decoded_length(ca_bundle)} bytes",
                    "local APIServices may not have a caBundle",
                )
            )
        if skip_verify:
            errs.append(
                invalid(
                    "spec.insecureSkipTLSVerify",
                    True,
                    "local APIServices may not have insecureSkipTLSVerify",
                )
            )
        return errs
    if not service.get("namespace"):
        errs.append(required("spec.service.namespace"))
    if not service.get("name"):
        errs.append(required("spec.service.name"))
    if skip_verify and ca_bundle:
        errs.append(
            invalid("spec.insecureSkipTLSVerify", True, "may not be true if caBundle is present")
        )
    return errs


def validate_api_service_status(obj: Obj) -> list[FieldError]:
    """ValidateAPIServiceStatus: each condition's status is True, False or Unknown."""
    errs: list[FieldError] = []
    conditions = meta.get_path(obj, "status", "conditions", default=None) or []
    for i, condition in enumerate(conditions):
        status = condition.get("status") if isinstance(condition, dict) else None
        if status not in CONDITION_STATUSES:
            errs.append(
                not_supported(f"status.conditions[{i}].status", status or "", CONDITION_STATUSES)
            )
    return errs
