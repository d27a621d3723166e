"""The defaults of a pod's own resources (`spec.resources`, KEP-2837): SetDefaults_Pod's
defaultHugePagePodLimits, defaultPodRequests and defaultPodLimits, in that order, after the
containers' requests were copied from their limits.

A pod that states only part of its budget gets the rest from its containers, so that its
requests never fall below what they ask together and its limits stay what it would be held to:

- huge pages its containers limit, and that the pod neither requests nor limits itself, are
  limited at the pod level to the containers' total (huge pages are never overcommitted);
- with pod-level limits, each cpu or memory the containers request but the pod does not gets
  the containers' total as its pod-level request; then each pod-level limit still without a
  request gets itself as the request (like a container's);
- with pod-level requests and no pod-level limits, a cpu or memory limit that *every* container
  (init containers too) sets becomes a pod-level limit of their total.

Only Pods get these, not the templates of workloads. Everything works on plain JSON dicts;
amounts added up are written in canonical form.
"""

from __future__ import annotations

from kubelite.api.podlevel import (
    HUGEPAGES_PREFIX,
    is_pod_level_limits_set,
    is_pod_level_requests_set,
    is_supported_pod_level_resource,
)
from kubelite.api.podresources import aggregate_container_limits, aggregate_container_requests
from kubelite.api.types import Obj


def default_pod_level_resources(spec: Obj) -> None:
    """SetDefaults_Pod's pod-level part; does nothing for a pod without `spec.resources`."""
    resources = spec.get("resources")
    if not isinstance(resources, dict):
        return
    _default_huge_page_limits(spec, resources)
    _default_requests(spec, resources)
    _default_limits(spec, resources)


def _is_huge_pages(name: str) -> bool:
    return name.startswith(HUGEPAGES_PREFIX)


def _overcommit_allowed(name: str) -> bool:
    """helper.IsOvercommitAllowed, for the names a pod may set itself (cpu, memory, huge
    pages): everything but huge pages."""
    return not _is_huge_pages(name)


def _default_huge_page_limits(spec: Obj, resources: Obj) -> None:
    """defaultHugePagePodLimits."""
    requests = resources.get("requests") or {}
    limits = dict(resources.get("limits") or {})
    if not limits and not requests:
        return
    for name, together in aggregate_container_limits(spec).items():
        if not (is_supported_pod_level_resource(name) and _is_huge_pages(name)):
            continue
        if name not in requests and name not in limits:
            limits[name] = str(together)
    if limits:
        resources["limits"] = limits


def _default_requests(spec: Obj, resources: Obj) -> None:
    """defaultPodRequests: only when the pod has limits of its own."""
    limits = resources.get("limits") or {}
    if not limits:
        return
    requests = dict(resources.get("requests") or {})
    for name, together in aggregate_container_requests(spec).items():
        supported = is_supported_pod_level_resource(name) and _overcommit_allowed(name)
        if name not in requests and supported:
            requests[name] = str(together)
    for name, limit in limits.items():
        if name not in requests and is_supported_pod_level_resource(name):
            requests[name] = limit
    if requests:
        resources["requests"] = requests


def _default_limits(spec: Obj, resources: Obj) -> None:
    """defaultPodLimits: only for a pod that requests but does not limit for itself."""
    pod = {"spec": spec}
    if is_pod_level_limits_set(pod) or not is_pod_level_requests_set(pod):
        return
    limits = dict(resources.get("limits") or {})
    for name, together in aggregate_container_limits(spec).items():
        if name in limits or not is_supported_pod_level_resource(name):
            continue
        if _overcommit_allowed(name) and _all_containers_limit(spec, name):
            limits[name] = str(together)
    if limits:
        resources["limits"] = limits


def _all_containers_limit(spec: Obj, name: str) -> bool:
    """AllContainersHaveLimitForResource: every container, init containers included, limits
    `name`."""
    containers = [*(spec.get("initContainers") or ()), *(spec.get("containers") or ())]
    return all(name in ((c.get("resources") or {}).get("limits") or {}) for c in containers)
