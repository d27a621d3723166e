"""The LimitRanger admission plugin (`plugin/pkg/admission/limitranger`, Kubernetes 1.33).

A namespace's LimitRanges (core/v1) bound what its pods and claims may ask for:

- mutating, on pod CREATE (`LimitRanger.admit`): each container and init container gets the
  requests and limits it leaves out from the LimitRanges' Container items (`defaultRequest`,
  `default`), and the pod is annotated with what was set, in Kubernetes' words:
  `kubernetes.io/limit-ranger: LimitRanger plugin set: cpu, memory request for container app`;
- validating, on pod CREATE and claim CREATE and UPDATE (`LimitRanger.validate`): every
  container (Container items) and the pod as a whole (Pod items: the containers' sum, or the
  largest init container where that is more, sidecars counted as Kubernetes counts them) must
  lie within `min` and `max` and not exceed `maxLimitRequestRatio`; a claim's storage request
  within its PersistentVolumeClaim item's bounds. The first LimitRange a pod violates refuses it
  with a 403 listing every violation: `pods "web" is forbidden: [maximum cpu usage per Container
  is 1, but limit is 2, ...]`.

A pod's resources change after creation only through `pods/resize` (in-place resize, 1.33+):
SupportsAttributes takes a resize UPDATE like a CREATE, both phases, and leaves every other pod
UPDATE and every other subresource alone; objects already being deleted are let through. A
resize is checked whole, values it left as they were included (1.37 does not ratchet them yet,
kubernetes#142171 is open). The defaults a resize may get are not noted in the annotation:
Kubernetes' resize strategy resets the annotations after mutating admission, where kubelite's
runs before it. Kubernetes reads LimitRanges from an informer
(with a 30 s live-lookup cache when it has none for a namespace); kubelite reads them from the
store on each request, so a new LimitRange applies to the very next pod.

kubelite prepares a pod (its QoS class) before mutating admission, where Kubernetes prepares it
after; the QoS class is computed again here when the defaults changed a container, so that it
is what Kubernetes stores.
"""

from __future__ import annotations

import orjson

from kubelite.api import errors, meta
from kubelite.api.defaulting.limitrange import (
    LIMIT_TYPE_CLAIM,
    LIMIT_TYPE_CONTAINER,
    LIMIT_TYPE_POD,
)
from kubelite.api.kinds import ResourceType
from kubelite.api.qos import compute_qos_class
from kubelite.api.quantity import Quantity, QuantityError
from kubelite.api.types import Obj
from kubelite.api.validation.limitrange import MAX_MILLI_VALUE
from kubelite.apiserver import live_lookup
from kubelite.apiserver.auth import current_request
from kubelite.storage.interface import Store

LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"

ResourceList = dict[str, Quantity]

# The resources LimitRanger lets a pod's own resources override (its supportedPodLevelResources).
_POD_LEVEL_RESOURCES = ("cpu", "memory")


def _quantities(values: object) -> ResourceList:
    """A stored resource list as quantities; values that do not parse are left out (the
    registry refuses them before they are stored)."""
    result: ResourceList = {}
    for name, raw in (values if isinstance(values, dict) else {}).items():
        try:
            result[name] = Quantity.from_json(raw)
        except QuantityError:
            continue
    return result


def _items(limit_range: Obj, limit_type: str) -> list[Obj]:
    limits = meta.get_path(limit_range, "spec", "limits") or []
    return [i for i in limits if isinstance(i, dict) and i.get("type") == limit_type]


# --- defaults ---------------------------------------------------------------------------------


def _default_requirements(limit_range: Obj) -> tuple[Obj, Obj]:
    """defaultContainerResourceRequirements: (requests, limits) from the Container items."""
    requests: Obj = {}
    limits: Obj = {}
    for item in _items(limit_range, LIMIT_TYPE_CONTAINER):
        requests.update(item.get("defaultRequest") or {})
        limits.update(item.get("default") or {})
    return requests, limits


def _merge_container(
    container: Obj, requests: Obj, limits: Obj, kind: str, notes: list[str]
) -> bool:
    """mergeContainerResources: fill what the container leaves out; note what was set."""
    resources = container.get("resources")
    if not isinstance(resources, dict):
        resources = container["resources"] = {}
    set_names: dict[str, list[str]] = {"limit": [], "request": []}
    for field, defaults, noun in (("limits", limits, "limit"), ("requests", requests, "request")):
        if not defaults:
            continue
        own = resources.get(field)
        if not isinstance(own, dict):
            own = {}
        for name, value in defaults.items():
            if name not in own:
                own[name] = value
                set_names[noun].append(name)
        if own:
            resources[field] = own
    name = container.get("name", "")
    for noun in ("request", "limit"):
        if set_names[noun]:
            notes.append(f"{', '.join(sorted(set_names[noun]))} {noun} for {kind} {name}")
    return bool(set_names["limit"] or set_names["request"])


def mutate_pod(limit_range: Obj, pod: Obj, *, annotate: bool = True) -> bool:
    """PodMutateLimitFunc: one LimitRange's defaults, and (`annotate`) the annotation saying
    what they set. Returns whether any container changed."""
    requests, limits = _default_requirements(limit_range)
    spec = pod.get("spec") or {}
    notes: list[str] = []
    changed = False
    for key, kind in (("containers", "container"), ("initContainers", "init container")):
        for container in spec.get(key) or []:
            changed = _merge_container(container, requests, limits, kind, notes) or changed
    if notes and annotate:
        md = meta.metadata(pod)
        annotations = md["annotations"] = md.get("annotations") or {}
        annotations[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
    return changed


# --- constraints ------------------------------------------------------------------------------


def _common_precision(
    request: Quantity, limit: Quantity, enforced: Quantity
) -> tuple[int, int, int]:
    """requestLimitEnforcedValues: the three in millis when they all fit, else in units."""
    values = (request.value(), limit.value(), enforced.value())
    if all(v <= MAX_MILLI_VALUE for v in values):
        return request.milli_value(), limit.milli_value(), enforced.milli_value()
    return values


def min_constraint(
    limit_type: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList
) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, bound = _common_precision(
        request or Quantity(), limit or Quantity(), enforced
    )
    usage = f"minimum {name} usage per {limit_type} is {enforced}"
    if request is None:
        return f"{usage}.  No request is specified"
    if observed_request < bound:
        return f"{usage}, but request is {request}"
    if limit is not None and observed_limit < bound:
        return f"{usage}, but limit is {limit}"
    return None


def max_constraint(
    limit_type: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList
) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, bound = _common_precision(
        request or Quantity(), limit or Quantity(), enforced
    )
    usage = f"maximum {name} usage per {limit_type} is {enforced}"
    if limit is None:
        return f"{usage}.  No limit is specified"
    if observed_limit > bound:
        return f"{usage}, but limit is {limit}"
    if request is not None and observed_request > bound:
        return f"{usage}, but request is {request}"
    return None


def max_request_constraint(
    limit_type: str, name: str, enforced: Quantity, requests: ResourceList
) -> str | None:
    """maxRequestConstraint: a bound on the request alone (claims have no limits)."""
    request = requests.get(name)
    observed_request, _, bound = _common_precision(request or Quantity(), Quantity(), enforced)
    usage = f"maximum {name} usage per {limit_type} is {enforced}"
    if request is None:
        return f"{usage}.  No request is specified"
    if observed_request > bound:
        return f"{usage}, but request is {request}"
    return None


def ratio_constraint(
    limit_type: str, name: str, enforced: Quantity, requests: ResourceList, limits: ResourceList
) -> str | None:
    """limitRequestRatioConstraint: limit / request no more than the ratio."""
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, _ = _common_precision(
        request or Quantity(), limit or Quantity(), enforced
    )
    ratio = f"{name} max limit to request ratio per {limit_type} is {enforced}"
    if request is None or observed_request == 0:
        return f"{ratio}, but no request is specified or request is 0"
    if limit is None or observed_limit == 0:
        return f"{ratio}, but no limit is specified or limit is 0"
    observed = float(observed_limit) / float(observed_request)
    shown = observed
    allowed = float(enforced.value())
    if enforced.value() <= MAX_MILLI_VALUE:
        observed *= 1000
        allowed = float(enforced.milli_value())
    if observed > allowed:
        return f"{ratio}, but provided ratio is {shown:.6f}"
    return None


def _check(limit_type: str, item: Obj, requests: ResourceList, limits: ResourceList) -> list[str]:
    """Min, max and ratio of one item against one set of requests and limits, each list in
    resource name order (Go's map order is random)."""
    problems: list[str | None] = []
    for name, bound in sorted(_quantities(item.get("min")).items()):
        problems.append(min_constraint(limit_type, name, bound, requests, limits))
    for name, bound in sorted(_quantities(item.get("max")).items()):
        problems.append(max_constraint(limit_type, name, bound, requests, limits))
    for name, bound in sorted(_quantities(item.get("maxLimitRequestRatio")).items()):
        problems.append(ratio_constraint(limit_type, name, bound, requests, limits))
    return [p for p in problems if p is not None]


def _add(total: ResourceList, values: ResourceList) -> None:
    """addResourceList: the first value is taken as it is (its string too), later ones added."""
    for name, quantity in values.items():
        total[name] = total[name] + quantity if name in total else quantity


def _raise_to(total: ResourceList, values: ResourceList) -> None:
    """maxResourceList: each value where it is more than the total's."""
    for name, quantity in values.items():
        if name not in total or quantity > total[name]:
            total[name] = quantity


def _pod_total(pod: Obj, field: str) -> ResourceList:
    """podRequests / podLimits: the containers' sum, raised to what any init container needs
    while it runs (itself and the sidecars started before it), sidecars adding to the sum; the
    pod's own cpu and memory where it sets them."""
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for container in spec.get("containers") or []:
        _add(total, _quantities(meta.get_path(container, "resources", field)))
    sidecars: ResourceList = {}
    init_peak: ResourceList = {}
    for container in spec.get("initContainers") or []:
        own = _quantities(meta.get_path(container, "resources", field))
        if container.get("restartPolicy") == "Always":
            _add(total, own)
            _add(sidecars, own)
            running = dict(sidecars)
        else:
            running = {}
            _add(running, own)
            _add(running, sidecars)
        _raise_to(init_peak, running)
    _raise_to(total, init_peak)
    # The pod's own cpu and memory (spec.resources) replace its containers' sum. LimitRanger
    # keeps a list of its own of what a pod may set for itself, without huge pages
    # (kubernetes#141247).
    pod_level = spec.get("resources")
    if isinstance(pod_level, dict):
        for name, quantity in _quantities(pod_level.get(field)).items():
            if name in _POD_LEVEL_RESOURCES:
                total[name] = quantity
    return total


def validate_pod(limit_range: Obj, pod: Obj) -> list[str]:
    """PodValidateLimitFunc: every violation of one LimitRange, item by item."""
    spec = pod.get("spec") or {}
    problems: list[str] = []
    for item in meta.get_path(limit_range, "spec", "limits") or []:
        limit_type = item.get("type") if isinstance(item, dict) else None
        if limit_type == LIMIT_TYPE_CONTAINER:
            for key in ("containers", "initContainers"):
                for container in spec.get(key) or []:
                    resources = container.get("resources") or {}
                    requests = _quantities(resources.get("requests"))
                    limits = _quantities(resources.get("limits"))
                    problems += _check(limit_type, item, requests, limits)
        elif limit_type == LIMIT_TYPE_POD:
            requests, limits = _pod_total(pod, "requests"), _pod_total(pod, "limits")
            problems += _check(limit_type, item, requests, limits)
    return problems


def validate_claim(limit_range: Obj, claim: Obj) -> list[str]:
    """PersistentVolumeClaimValidateLimitFunc: the storage request within min and max (a
    claim's limits are not the user's to set, so only its requests are checked)."""
    requests = _quantities(meta.get_path(claim, "spec", "resources", "requests"))
    problems: list[str | None] = []
    for item in _items(limit_range, LIMIT_TYPE_CLAIM):
        for name, bound in sorted(_quantities(item.get("min")).items()):
            problems.append(min_constraint(LIMIT_TYPE_CLAIM, name, bound, requests, {}))
        for name, bound in sorted(_quantities(item.get("max")).items()):
            problems.append(max_request_constraint(LIMIT_TYPE_CLAIM, name, bound, requests))
    return [p for p in problems if p is not None]


# --- the plugin -------------------------------------------------------------------------------


class LimitRanger:
    """Both phases of the plugin; `admit` is mutating (pods), `validate` validating (pods and
    claims)."""

    def __init__(
        self, store: Store, limit_ranges: ResourceType, pods: ResourceType, claims: ResourceType
    ) -> None:
        self.store = store
        self.limit_ranges = limit_ranges
        self.pods = pods
        self.claims = claims
        # A namespace's LimitRanges from the watch cache; live only when it has none (liveTTL).
        self._listings = live_lookup.EmptyListings()

    def _applies(self, operation: str, resource: ResourceType, old: Obj | None) -> bool:
        """SupportsAttributes, and the plugin's skip of objects already being deleted."""
        if operation not in ("CREATE", "UPDATE"):
            return False
        if self._is_resize(operation, resource):
            return old is None or not meta.get_path(old, "metadata", "deletionTimestamp")
        info = current_request.get()
        if info is not None and info.subresource:
            return False
        if resource is self.pods:
            if operation == "UPDATE":
                return False
        elif resource is not self.claims:
            return False
        return old is None or not meta.get_path(old, "metadata", "deletionTimestamp")

    def _is_resize(self, operation: str, resource: ResourceType) -> bool:
        """An in-place resize: an UPDATE of pods through `pods/resize`."""
        info = current_request.get()
        return (
            resource is self.pods
            and operation == "UPDATE"
            and info is not None
            and info.subresource == "resize"
        )

    async def _limit_ranges(self, namespace: str) -> list[Obj]:
        listing = await self._listings.keys(self.store, self.limit_ranges.key_prefix(namespace))
        return [orjson.loads(kv.value) for kv in listing]

    @staticmethod
    def _refusal(resource: ResourceType, obj: Obj, problems: list[str]) -> errors.StatusError:
        name = meta.name_of(obj) or meta.get_path(obj, "metadata", "generateName") or "Unknown"
        return errors.forbidden(resource.plural, name, errors.aggregate(problems))

    async def admit(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        """The defaults of every LimitRange of the namespace, in name order."""
        if resource is not self.pods or not self._applies(operation, resource, old):
            return
        changed = False
        annotate = not self._is_resize(operation, resource)
        for limit_range in await self._limit_ranges(meta.namespace_of(obj)):
            changed = mutate_pod(limit_range, obj, annotate=annotate) or changed
        status = obj.get("status")
        if changed and isinstance(status, dict) and "qosClass" in status:
            status["qosClass"] = compute_qos_class(obj)

    async def validate(
        self, operation: str, resource: ResourceType, obj: Obj, old: Obj | None
    ) -> None:
        """Refuse at the first LimitRange the object violates, with all its violations."""
        if not self._applies(operation, resource, old):
            return
        check = validate_pod if resource is self.pods else validate_claim
        for limit_range in await self._limit_ranges(meta.namespace_of(obj)):
            problems = check(limit_range, obj)
            if problems:
                raise self._refusal(resource, obj, problems)
