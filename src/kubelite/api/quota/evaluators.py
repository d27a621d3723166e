"""What each resource costs in quota (`pkg/quota/v1/evaluator/core` and the generic
object-count evaluator of `k8s.io/apiserver/pkg/quota/v1/generic`).

An evaluator answers, for one resource: which quota names it is counted under
(`matching_resources`), which scopes an object of it falls in (`matches_scope`), what one
object uses (`usage`), which requests admission must look at (`handles`), and what an object
must state before a quota on it can admit it (`constraints`).

- Pods count `pods` and their compute requests and limits (`requests.cpu`, `cpu` being its
  older name, `limits.memory`, `requests.ephemeral-storage`, hugepages, and extended resources
  as `requests.<name>`), summed as the scheduler sums them (init containers raise the total to
  what the heaviest one needs). A pod that has finished, or whose deletion grace period is
  over, uses nothing but its `count/pods`. Pods alone have scopes: Terminating (an active
  deadline), BestEffort (no requests or limits), PriorityClass, CrossNamespacePodAffinity.
- Services count `services`, and `services.loadbalancers` and `services.nodeports` by type.
- PersistentVolumeClaims count `persistentvolumeclaims` and `requests.storage`, overall and per
  storage class (`gold.storageclass.storage.k8s.io/requests.storage`).
- Everything else counts as `count/<resource>[.<group>]`; configmaps, secrets,
  replicationcontrollers and resourcequotas also under their old bare names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from kubelite.api import labels, meta
from kubelite.api.podlevel import is_pod_level_resources_set
from kubelite.api.podresources import pod_limits, pod_requests
from kubelite.api.pods import spec_of, status_of
from kubelite.api.qos import BEST_EFFORT, qos_class
from kubelite.api.quantity import Quantity
from kubelite.api.quota import resources
from kubelite.api.quota.resources import ResourceList
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.resourcequota import (
    BEST_EFFORT as SCOPE_BEST_EFFORT,
)
from kubelite.api.validation.resourcequota import (
    CROSS_NAMESPACE_POD_AFFINITY,
    NOT_BEST_EFFORT,
    NOT_TERMINATING,
    OP_DOES_NOT_EXIST,
    OP_EXISTS,
    OP_IN,
    OP_NOT_IN,
    PRIORITY_CLASS,
    TERMINATING,
)

CREATE = "CREATE"
UPDATE = "UPDATE"

# Resources quota admission leaves alone (install.DefaultIgnoredResources).
IGNORED_RESOURCES = frozenset({"events"})

# Older names of some object counts (legacyObjectCountAliases in evaluator/core/registry.go).
LEGACY_ALIASES = {
    "configmaps": "configmaps",
    "resourcequotas": "resourcequotas",
    "replicationcontrollers": "replicationcontrollers",
    "secrets": "secrets",
}

_REQUESTS_PREFIX = "requests."
_HUGEPAGES_PREFIX = "hugepages-"
_STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
_BETA_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"

# If a quota limits any of these, every container must state it: a mistake Kubernetes keeps
# for compatibility and warns never to repeat for other resources (validationSet in pods.go).
_VALIDATION_SET = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)


def object_count_name(group_resource: str) -> str:
    """ObjectCountQuotaResourceNameFor: `count/pods`, `count/deployments.apps`."""
    return f"count/{group_resource}"


def scope_selectors(quota: Obj) -> list[Obj]:
    """getScopeSelectorsFromQuota: each of spec.scopes as an Exists requirement, then the
    scope selector's expressions."""
    spec = quota.get("spec") or {}
    selectors = [{"scopeName": s, "operator": OP_EXISTS} for s in spec.get("scopes") or ()]
    selectors += list((spec.get("scopeSelector") or {}).get("matchExpressions") or ())
    return selectors


class Evaluator:
    """The object-count evaluator (generic.objectCountEvaluator); the special ones extend it."""

    def __init__(self, group_resource: str, alias: str = "") -> None:
        self.group_resource = group_resource
        self.resource_names = [object_count_name(group_resource)] + ([alias] if alias else [])

    def handles(self, operation: str, subresource: str, obj: Obj, old: Obj | None) -> bool:
        """Whether admission must charge this request: object counts change only on create."""
        return operation == CREATE and not subresource

    def matching_resources(self, names_: Iterable[str]) -> list[str]:
        """The quota names among `names_` this resource is counted under."""
        return [n for n in names_ if n in self.resource_names]

    def matches_scope(self, selector: Obj, obj: Obj) -> bool:
        """Whether `obj` falls in the scope of `selector` (generic.MatchesNoScopeFunc: never)."""
        return False

    def constraints(self, required: Iterable[str], obj: Obj) -> str | None:
        """What `obj` lacks that a quota limiting `required` insists on; None: nothing."""
        return None

    def usage(self, obj: Obj) -> ResourceList:
        return {name: Quantity(1) for name in self.resource_names}

    def matches(self, quota: Obj, obj: Obj) -> bool:
        """generic.Matches: the quota limits something of this resource (by its status.hard)
        and every scope it has takes the object in."""
        hard = (quota.get("status") or {}).get("hard") or {}
        if not self.matching_resources(hard):
            return False
        return all(self.matches_scope(s, obj) for s in scope_selectors(quota))


# --- pods ---------------------------------------------------------------------------------------


_POD_RESOURCES = frozenset(
    {
        object_count_name("pods"),
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
    }
)


def _is_native(name: str) -> bool:
    """helper.IsNativeResource: unprefixed, or in a kubernetes.io domain."""
    return "/" not in name or "kubernetes.io/" in name


def is_extended_resource(name: str) -> bool:
    """v1 helper.IsExtendedResourceName: a prefixed name outside kubernetes.io that is a valid
    quota name once `requests.` is put before it."""
    if _is_native(name) or name.startswith(_REQUESTS_PREFIX):
        return False
    return not names.is_qualified_name(_REQUESTS_PREFIX + name)


def _is_extended_quota_name(name: str) -> bool:
    """isExtendedResourceNameForQuota: `requests.example.com/gpu`."""
    return not _is_native(name) and name.startswith(_REQUESTS_PREFIX)


def compute_usage(requests: Mapping[str, Quantity], limits: Mapping[str, Quantity]) -> ResourceList:
    """podComputeUsageHelper: the quota names a set of requests and limits counts under."""
    result: ResourceList = {"pods": Quantity(1)}
    for resource in ("cpu", "memory", "ephemeral-storage"):
        if resource in requests:
            result[resource] = requests[resource]
            result[_REQUESTS_PREFIX + resource] = requests[resource]
        if resource in limits:
            result["limits." + resource] = limits[resource]
    for name, request in requests.items():
        if name.startswith(_HUGEPAGES_PREFIX):
            result[name] = request
            result[_REQUESTS_PREFIX + name] = request
        if is_extended_resource(name):
            result[_REQUESTS_PREFIX + name] = request
    return result


def is_terminating(pod: Obj) -> bool:
    """A pod with an active deadline runs for a limited time."""
    deadline = spec_of(pod).get("activeDeadlineSeconds")
    return isinstance(deadline, int) and deadline >= 0


def is_best_effort(pod: Obj) -> bool:
    return qos_class(pod) == BEST_EFFORT


def _cross_namespace(term: Any) -> bool:
    return isinstance(term, dict) and (
        bool(term.get("namespaces")) or term.get("namespaceSelector") is not None
    )


def uses_cross_namespace_pod_affinity(pod: Obj) -> bool:
    """usesCrossNamespacePodAffinity: an (anti-)affinity term that looks at other
    namespaces, by name or by selector."""
    affinity = spec_of(pod).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        terms = affinity.get(kind) or {}
        required = terms.get("requiredDuringSchedulingIgnoredDuringExecution") or ()
        preferred = terms.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
        if any(_cross_namespace(t) for t in required) or any(
            _cross_namespace((w or {}).get("podAffinityTerm")) for w in preferred
        ):
            return True
    return False


_SELECTOR_OPERATORS = {
    OP_IN: labels.IN,
    OP_NOT_IN: labels.NOT_IN,
    OP_EXISTS: labels.EXISTS,
    OP_DOES_NOT_EXIST: labels.DOES_NOT_EXIST,
}


def _priority_class_matches(pod: Obj, selector: Obj) -> bool:
    """podMatchesSelector: the requirement as a label selector over {PriorityClass: name}.

    Raises ValueError for an operator ScopedResourceSelectorRequirementsAsSelector refuses."""
    operator = _SELECTOR_OPERATORS.get(selector.get("operator") or "")
    if operator is None:
        raise ValueError(
            f'"{selector.get("operator") or ""}" is not a valid scope selector operator'
        )
    requirement = labels.Requirement(
        PRIORITY_CLASS, operator, tuple(str(v) for v in selector.get("values") or ())
    )
    name = spec_of(pod).get("priorityClassName") or ""
    return requirement.matches({PRIORITY_CLASS: name} if name else {})


class PodEvaluator(Evaluator):
    """Pods: their count, compute resources and scopes (podEvaluator)."""

    def __init__(self, clock: Callable[[], dt.datetime] = meta.now) -> None:
        super().__init__("pods")
        self.clock = clock

    def handles(self, operation: str, subresource: str, obj: Obj, old: Obj | None) -> bool:
        """podEvaluator.Handles (1.37): a create; a resize (`pods/resize` UPDATE), whose growth
        is charged; and an update that moves the pod between the Terminating and
        NotTerminating scopes (activeDeadlineSeconds set)."""
        if subresource == "resize":
            return operation == UPDATE
        if subresource:
            return False
        if operation == UPDATE and old is not None:
            return is_terminating(old) != is_terminating(obj)
        return operation == CREATE

    def matching_resources(self, names_: Iterable[str]) -> list[str]:
        given = list(names_)
        result = [n for n in given if n in _POD_RESOURCES]
        for name in given:
            if name.startswith((_HUGEPAGES_PREFIX, _REQUESTS_PREFIX + _HUGEPAGES_PREFIX)):
                result.append(name)
            if _is_extended_quota_name(name):
                result.append(name)
        return result

    def matches_scope(self, selector: Obj, obj: Obj) -> bool:
        """podMatchesScopeFunc."""
        scope = selector.get("scopeName")
        if scope == TERMINATING:
            return is_terminating(obj)
        if scope == NOT_TERMINATING:
            return not is_terminating(obj)
        if scope == SCOPE_BEST_EFFORT:
            return is_best_effort(obj)
        if scope == NOT_BEST_EFFORT:
            return not is_best_effort(obj)
        if scope == PRIORITY_CLASS:
            if selector.get("operator") == OP_EXISTS:
                return bool(spec_of(obj).get("priorityClassName"))
            return _priority_class_matches(obj, selector)
        if scope == CROSS_NAMESPACE_POD_AFFINITY:
            return uses_cross_namespace_pod_affinity(obj)
        return False

    def constraints(self, required: Iterable[str], obj: Obj) -> str | None:
        """Every container (init ones too) must state each compute resource in
        `_VALIDATION_SET` that a quota limits: `must specify limits.cpu for: app; ...`. A pod
        that sets resources of its own (`spec.resources`) need not: its containers' may be
        left out (1.32+, KEP-2837)."""
        if is_pod_level_resources_set(obj):
            return None
        wanted = set(required) & _VALIDATION_SET
        missing: dict[str, set[str]] = {}
        spec = spec_of(obj)
        for container in [*(spec.get("containers") or ()), *(spec.get("initContainers") or ())]:
            stated = container.get("resources") or {}
            usage = compute_usage(
                resources.parse(stated.get("requests")), resources.parse(stated.get("limits"))
            )
            for name in wanted - usage.keys():
                missing.setdefault(name, set()).add(container.get("name") or "")
        if not missing:
            return None
        parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
        return "must specify " + "; ".join(parts)

    def counts_compute(self, pod: Obj) -> bool:
        """QuotaV1Pod: a pod that has finished, or is past its deletion grace period (a lost
        node's pods, say), no longer holds compute resources."""
        if status_of(pod).get("phase") in ("Failed", "Succeeded"):
            return False
        md = pod.get("metadata") or {}
        deleted = meta.parse_time(md.get("deletionTimestamp") or "")
        grace = md.get("deletionGracePeriodSeconds")
        if deleted is not None and isinstance(grace, int):
            return not self.clock() > deleted + dt.timedelta(seconds=grace)
        return True

    def usage(self, obj: Obj) -> ResourceList:
        """PodUsageFunc: `count/pods` always; the rest while the pod counts."""
        result: ResourceList = {object_count_name("pods"): Quantity(1)}
        if not self.counts_compute(obj):
            return result
        return resources.add(result, compute_usage(pod_requests(obj), pod_limits(obj)))


# --- services -----------------------------------------------------------------------------------


class ServiceEvaluator(Evaluator):
    """Services: their count, load balancers and node ports (serviceEvaluator)."""

    def __init__(self) -> None:
        super().__init__("services")
        self.resource_names = [
            object_count_name("services"),
            "services",
            "services.nodeports",
            "services.loadbalancers",
        ]

    def handles(self, operation: str, subresource: str, obj: Obj, old: Obj | None) -> bool:
        # An update may change the service's type, and with it what it uses.
        return operation in (CREATE, UPDATE)

    def usage(self, obj: Obj) -> ResourceList:
        spec = obj.get("spec") or {}
        ports = spec.get("ports") or []
        result: ResourceList = {
            object_count_name("services"): Quantity(1),
            "services": Quantity(1),
            "services.loadbalancers": Quantity(),
            "services.nodeports": Quantity(),
        }
        kind = spec.get("type")
        if kind == "NodePort":
            result["services.nodeports"] = Quantity(len(ports))
        elif kind == "LoadBalancer":
            if spec.get("allocateLoadBalancerNodePorts") is False:
                # Only the ports that asked for a node port have one.
                result["services.nodeports"] = Quantity(sum(1 for p in ports if p.get("nodePort")))
            else:
                result["services.nodeports"] = Quantity(len(ports))
            result["services.loadbalancers"] = Quantity(1)
        return result


# --- persistent volume claims -------------------------------------------------------------------


def claim_class(claim: Obj) -> str:
    """GetPersistentVolumeClaimClass: the beta annotation first, then spec.storageClassName."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if _BETA_STORAGE_CLASS_ANNOTATION in annotations:
        return str(annotations[_BETA_STORAGE_CLASS_ANNOTATION])
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def _storage(claim: Obj) -> Quantity | None:
    """getStorageUsage: the request in whole bytes, or what was allocated if that is more."""
    requested = resources.parse(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    allocated = resources.parse((claim.get("status") or {}).get("allocatedResources"))
    result = requested["storage"].round_up(0) if "storage" in requested else None
    if result is not None and "storage" in allocated and result < allocated["storage"]:
        result = allocated["storage"].round_up(0)
    return result


class PersistentVolumeClaimEvaluator(Evaluator):
    """PersistentVolumeClaims: their count and storage, overall and per class (pvcEvaluator)."""

    _OWN = ("persistentvolumeclaims", "requests.storage")

    def __init__(self) -> None:
        super().__init__("persistentvolumeclaims")

    def handles(self, operation: str, subresource: str, obj: Obj, old: Obj | None) -> bool:
        if not subresource:
            return operation in (CREATE, UPDATE)
        if subresource == "status" and old is not None:
            # RequiresQuotaReplenish: the storage allocated changed.
            return _allocated(obj) != _allocated(old)
        return False

    def matching_resources(self, names_: Iterable[str]) -> list[str]:
        counted = (object_count_name("persistentvolumeclaims"), *self._OWN)
        by_class = tuple(_STORAGE_CLASS_SUFFIX + own for own in self._OWN)
        return [n for n in names_ if n in counted or n.endswith(by_class)]

    def usage(self, obj: Obj) -> ResourceList:
        result: ResourceList = {
            "persistentvolumeclaims": Quantity(1),
            object_count_name("persistentvolumeclaims"): Quantity(1),
        }
        storage_class = claim_class(obj)
        if storage_class:
            result[storage_class + _STORAGE_CLASS_SUFFIX + "persistentvolumeclaims"] = Quantity(1)
        storage = _storage(obj)
        if storage is not None:
            result["requests.storage"] = storage
            if storage_class:
                result[storage_class + _STORAGE_CLASS_SUFFIX + "requests.storage"] = storage
        return result


def _allocated(claim: Obj) -> Any:
    return ((claim.get("status") or {}).get("allocatedResources") or {}).get("storage")


# --- the registry -------------------------------------------------------------------------------


def evaluator_for(group_resource: str, clock: Callable[[], dt.datetime] = meta.now) -> Evaluator:
    """The evaluator of a resource (`pods`, `deployments.apps`): a special one, or an object
    count (with its legacy alias), as quota admission makes one for any resource."""
    if group_resource == "pods":
        return PodEvaluator(clock)
    if group_resource == "services":
        return ServiceEvaluator()
    if group_resource == "persistentvolumeclaims":
        return PersistentVolumeClaimEvaluator()
    return Evaluator(group_resource, LEGACY_ALIASES.get(group_resource, ""))


# The resources whose evaluators the controller always has (NewEvaluators).
BUILT_IN = ("pods", "services", "persistentvolumeclaims", *LEGACY_ALIASES)


def evaluators_for_quota(
    hard: Iterable[str], clock: Callable[[], dt.datetime] = meta.now
) -> list[Evaluator]:
    """The controller's evaluators for a quota: the built-in ones, and an object count for
    every other `count/<resource>` it limits (Kubernetes has one for every resource discovery
    lists; one the quota does not name would count nothing)."""
    evaluators = [evaluator_for(gr, clock) for gr in BUILT_IN]
    for name in hard:
        counted = name.removeprefix("count/")
        if name.startswith("count/") and counted not in BUILT_IN and counted:
            evaluators.append(Evaluator(counted))
    return evaluators


def usage_stats(
    evaluator: Evaluator,
    objects: Iterable[Obj],
    names_: Sequence[str],
    scopes: Sequence[str],
    scope_selector: Obj | None,
) -> ResourceList:
    """CalculateUsageStats: the summed usage of the objects in the quota's scopes, each named
    resource starting at zero.

    Kubernetes hands the spec's scopes to the scope function without an operator; a
    PriorityClass scope so given is not a selector it can build, and the count stops there,
    with what it summed so far, as Kubernetes' does.
    """
    used: ResourceList = {name: Quantity() for name in names_}
    expressions = list((scope_selector or {}).get("matchExpressions") or ())
    for obj in objects:
        try:
            matched = all([evaluator.matches_scope({"scopeName": s}, obj) for s in scopes])
            matched = all([evaluator.matches_scope(e, obj) for e in expressions]) and matched
        except ValueError:
            return used
        if matched:
            used = resources.add(used, evaluator.usage(obj))
    return used


def calculate_usage(
    hard: Iterable[str],
    evaluators: Sequence[Evaluator],
    objects_of: Callable[[str], list[Obj] | None],
    scopes: Sequence[str],
    scope_selector: Obj | None,
) -> ResourceList:
    """quota.CalculateUsage: what the objects of the namespace (`objects_of(group_resource)`,
    None for a resource that cannot be listed) use of what the quota limits."""
    hard_names = list(hard)
    potential = {n for e in evaluators for n in e.matching_resources(hard_names)}
    matched = [n for n in hard_names if n in potential]
    usage: ResourceList = {}
    for evaluator in evaluators:
        names_ = evaluator.matching_resources(matched)
        if not names_:
            continue
        objects = objects_of(evaluator.group_resource)
        if objects is None:
            matched = [n for n in matched if n not in names_]
            continue
        stats = usage_stats(evaluator, objects, names_, scopes, scope_selector)
        usage = resources.add(usage, stats)
    return resources.mask(usage, matched)
