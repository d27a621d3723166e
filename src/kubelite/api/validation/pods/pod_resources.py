"""validatePodResources: a pod's own requests and limits (`spec.resources`, KEP-2837).

The pod's resources are a budget its containers share, so beyond the usual rules of a
ResourceRequirements (names, quantities, requests <= limits, huge pages only with cpu or memory)
they must agree with the containers':

- only cpu, memory and `hugepages-*` may be set for a whole pod (other names are NotSupported);
- a pod-level request covers what the containers request together (for each resource the pod
  requests; sidecars and init containers counted as the scheduler counts them);
- a pod-level huge pages limit covers the containers' huge pages limits together, huge pages
  being never overcommitted;
- no single (regular) container may be limited above the pod;
- resource claims belong to containers, never to the pod;
- Windows pods cannot have pod-level resources (1.34, kubernetes#133046).

The paths and messages are Kubernetes', including the odd path of the container-limit error,
which Kubernetes builds below `spec.resources`: `spec.resources.containers[0][cpu].limits`.
"""

from __future__ import annotations

import contextlib

from kubelite.api import errors
from kubelite.api.errors import FieldError, child, duplicate, forbidden_field, invalid, required
from kubelite.api.podlevel import (
    HUGEPAGES_PREFIX,
    SUPPORTED_POD_LEVEL_RESOURCES,
    is_supported_pod_level_resource,
)
from kubelite.api.podresources import (
    ResourceList,
    aggregate_container_limits,
    aggregate_container_requests,
)
from kubelite.api.quantity import QuantityError
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.pods.fields import (
    _index,
    _key,
    _names_errors,
    _qualified_name,
    _quantity,
    _stringer,
)
from kubelite.api.validation.pods.resources import (
    _STANDARD_RESOURCES,
    _is_hugepages,
    _validate_resource_requirements,
)

# The Forbidden error for a Windows pod with pod-level resources (#133046). Its wording was not
# found in a stored copy of 1.37's validation.go; this is the wording a reimplementation of
# 1.36's validation gives, in the style of validateWindows' other errors.
WINDOWS_DETAIL = "may not be set for a windows pod"
CLAIMS_DETAIL = "claims cannot be set for Resources at pod-level"


def validate_pod_resources(spec: Obj, path: str) -> list[FieldError]:
    """validatePodResources for the PodSpec at `path` (a pod's or a template's)."""
    resources = spec.get("resources")
    if not isinstance(resources, dict):
        return []
    resources_path = child(path, "resources")
    if (spec.get("os") or {}).get("name") == "windows":
        return [forbidden_field(resources_path, WINDOWS_DETAIL)]
    errs: list[FieldError] = []
    claims = resources.get("claims")
    if claims is not None:
        errs.append(forbidden_field(child(resources_path, "claims"), CLAIMS_DETAIL))
    errs.extend(
        _validate_resource_requirements(resources, resources_path, _validate_pod_resource_name)
    )
    if isinstance(claims, list):
        errs.extend(_validate_claim_names(claims, spec, child(resources_path, "claims")))
    # A bad quantity was reported above (or refused when the pod was decoded).
    with contextlib.suppress(QuantityError):
        errs.extend(_validate_consistency(spec, resources, resources_path))
    return errs


def _validate_pod_resource_name(name: str, path: str) -> list[FieldError]:
    """validatePodResourceName: a valid resource name (validateResourceName), and one a pod
    may set for itself."""
    errs = _qualified_name(path, name)
    if errs:
        return errs
    if "/" not in name and not (
        name in _STANDARD_RESOURCES
        or _is_hugepages(name)
        or name.startswith("requests." + HUGEPAGES_PREFIX)
    ):
        return [_stringer(path, name, "must be a standard resource type or fully qualified")]
    if not is_supported_pod_level_resource(name):
        supported = ", ".join(f'"{n}"' for n in SUPPORTED_POD_LEVEL_RESOURCES)
        return [_stringer(path, name, f"supported values: {supported}", kind=errors.NOT_SUPPORTED)]
    return []


def _validate_claim_names(claims: list[Obj], spec: Obj, path: str) -> list[FieldError]:
    """validateResourceClaimNames, which validateResourceRequirements runs for the pod's claims
    too: each names a claim of `spec.resourceClaims`, at most once."""
    pod_claims = sorted(
        c.get("name") or "" for c in spec.get("resourceClaims") or () if isinstance(c, dict)
    )
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, claim in enumerate(claims):
        claim_path = _index(path, i)
        name = (claim.get("name") or "") if isinstance(claim, dict) else ""
        if not name:
            errs.append(required(claim_path))
            continue
        request = claim.get("request") or ""
        if name in seen:
            errs.append(duplicate(claim_path, name))
        else:
            key = name
            if request:
                request_path = child(claim_path, "request")
                errs.extend(_names_errors(request_path, request, names.is_dns1123_label(request)))
                key += "/" + request
            if key in seen:
                errs.append(duplicate(claim_path, key))
            elif not request:
                # Naming a whole claim overlaps any request of it named before.
                for earlier in seen:
                    if earlier.partition("/")[0] == name and "/" in earlier:
                        errs.append(duplicate(claim_path, name))
            seen.add(key)
        if name not in pod_claims:
            detail = "must be one of the names in pod.spec.resourceClaims"
            detail += ": " + ", ".join(pod_claims) if pod_claims else " which is empty"
            errs.append(FieldError(errors.NOT_FOUND, claim_path, name, detail))
    return errs


def _validate_consistency(spec: Obj, resources: Obj, path: str) -> list[FieldError]:
    """validatePodResourceConsistency: the pod's requests and limits against its containers'."""
    errs: list[FieldError] = []
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    # Pod-level requests must cover the containers' requests together.
    for name, together in sorted(aggregate_container_requests(spec).items()):
        own = _quantity(requests[name]) if name in requests else None
        if own is not None and is_supported_pod_level_resource(name) and together > own:
            errs.append(
                invalid(
                    _key(child(path, "requests"), name),
                    str(own),
                    f"must be greater than or equal to aggregate container requests of {together}",
                )
            )
    # Huge pages are never overcommitted: the pod's limit covers its containers' limits.
    for name, together in sorted(aggregate_container_limits(spec).items()):
        own = _quantity(limits[name]) if name in limits else None
        if own is not None and _is_hugepages(name) and together > own:
            errs.append(
                invalid(
                    _key(child(path, "limits"), name),
                    str(own),
                    f"must be greater than or equal to aggregate container limits of {together}",
                )
            )
    # No container may be limited above the pod.
    for i, container in enumerate(spec.get("containers") or ()):
        own_limits = ResourceList.from_json((container.get("resources") or {}).get("limits"))
        for name, limit in own_limits.items():
            pod_limit = _quantity(limits[name]) if name in limits else None
            if pod_limit is not None and limit > pod_limit:
                errs.append(
                    invalid(
                        child(_key(_index(child(path, "containers"), i), name), "limits"),
                        str(limit),
                        f"must be less than or equal to pod limits of {pod_limit}",
                    )
                )
    return errs
