"""The Pod strategy (Kubernetes' `pkg/registry/core/pod/strategy.go`).

What the API server does to pods beyond generic REST:

- on every write, the defaults of `kubelite.api.defaulting.pods` (decoding defaults and the
  ServiceAccount, DefaultTolerationSeconds and Priority admission defaults);
- on create, a fresh status (`phase: Pending` and the QoS class, plus the PodScheduled=False
  condition of a pod held by scheduling gates), `metadata.generation: 1` (1.33 tracks pod
  generations), the service account token volume, and the fields of features that are off in
  1.33 dropped;
- on update, the status kept from the stored pod and the generation bumped when the spec changed;
  the /status subresource changes the status (and labels and annotations, as Kubernetes allows)
  but never the spec;
- on delete, the grace period of CheckGracefulDelete;
- the pod field selectors Kubernetes supports.
"""

from __future__ import annotations

from typing import Any

from kubelite.api import errors, meta
from kubelite.api.defaulting.pods import default_pod
from kubelite.api.errors import FieldError
from kubelite.api.qos import compute_qos_class
from kubelite.api.quantity import QuantityError
from kubelite.api.strategies import pod_gates
from kubelite.api.strategy import Strategy
from kubelite.api.types import Obj
from kubelite.api.validation.pods import (
    init_resize_policy,
    validate_pod,
    validate_pod_create,
    validate_pod_status_update,
    validate_pod_update,
)

# Pod phases and the scheduling-gated condition (k8s.io/api/core/v1).
PENDING = "Pending"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
SCHEDULING_GATED_REASON = "SchedulingGated"  # v1.PodReasonSchedulingGated
SCHEDULING_GATED_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"

# What the pods/status subresource may change besides the status (the rest is kept).
_STATUS_WRITABLE_METADATA = ("labels", "annotations", "finalizers")


class PodStrategy(Strategy):
    """Pods: defaults, validation, update rules, graceful deletion and field selectors."""

    has_status_subresource = True
    returns_deleted_object = True
    # /status may not set the deletion timestamp or the owners either (podStatusStrategy).
    status_reset_fields = ("spec", "metadata.deletionTimestamp", "metadata.ownerReferences")
    # Kubernetes 1.33 sets metadata.generation on pods and bumps it on spec changes (KEP-5067).
    tracks_generation = True
    field_labels = frozenset(
        {
            "metadata.name",
            "metadata.namespace",
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "spec.host",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        }
    )

    # --- create and update ----------------------------------------------------------------------

    def default(self, obj: Obj) -> None:
        try:
            default_pod(obj)
        except QuantityError as exc:
            # The decoder normally refuses bad quantities first; this is the same refusal.
            raise errors.bad_request(
                f'Pod in version "v1" cannot be handled as a Pod: {exc}'
            ) from exc

    def prepare_for_create(self, obj: Obj) -> None:
        super().prepare_for_create(obj)
        _drop_disabled_fields(obj, None)
        status: Obj = {"phase": PENDING, "qosClass": compute_qos_class(obj)}
        if (obj.get("spec") or {}).get("schedulingGates"):
            status["conditions"] = [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "lastProbeTime": None,
                    "lastTransitionTime": None,
                    "reason": SCHEDULING_GATED_REASON,
                    "message": SCHEDULING_GATED_MESSAGE,
                }
            ]
        obj["status"] = status
        _merge_match_label_keys(obj)

    def validate(self, obj: Obj) -> list[FieldError]:
        return super().validate(obj) + validate_pod_create(obj)

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        _drop_disabled_fields(new, old)
        super().prepare_for_update(new, old)

    def validate_update(self, new: Obj, old: Obj) -> list[FieldError]:
        # A RestartContainer resize policy on a plain init container is refused from 1.36 on,
        # but a pod stored with one may still be updated (ratcheting, kubernetes#137458).
        spec_errors = init_resize_policy.ratchet(validate_pod(new), old.get("spec"))
        return super().validate_update(new, old) + spec_errors + validate_pod_update(new, old)

    # --- the status subresource -------------------------------------------------------------------

    def prepare_for_status_update(self, new: Obj, old: Obj) -> None:
        """podStatusStrategy.PrepareForUpdate: the spec and owner references stay as stored."""
        # meta.clone, not copy.deepcopy: this runs for every status write of every pod.
        status = meta.clone(new.get("status") or {})
        new_metadata = new.get("metadata") or {}
        writable = {k: new_metadata[k] for k in _STATUS_WRITABLE_METADATA if k in new_metadata}
        new.clear()
        new.update(meta.clone({k: v for k, v in old.items() if k != "status"}))
        metadata = meta.metadata(new)
        for key in _STATUS_WRITABLE_METADATA:
            metadata.pop(key, None)
        metadata.update(writable)
        old_status = old.get("status") or {}
        # The QoS class is set at creation; old kubelets dropped it when rejecting a pod.
        if not status.get("qosClass") and old_status.get("qosClass"):
            status["qosClass"] = old_status["qosClass"]
        # A status write that clears observedGeneration keeps the stored one (KEP-5067); any
        # other value, a lower one included, is taken.
        if not status.get("observedGeneration") and old_status.get("observedGeneration"):
            status["observedGeneration"] = old_status["observedGeneration"]
        pod_gates.drop_disabled_status_fields(status, old_status)
        new["status"] = status

    def validate_status_update(self, new: Obj, old: Obj) -> list[FieldError]:
        return super().validate_status_update(new, old) + validate_pod_status_update(new, old)

    # --- delete -----------------------------------------------------------------------------------

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """CheckGracefulDelete: the request's period, else the pod's; 0 for a pod that never
        ran on a node or has finished; a negative period means 1."""
        spec = obj.get("spec") or {}
        if requested is not None:
            period = requested
        else:
            period = spec.get("terminationGracePeriodSeconds") or 0
        if not spec.get("nodeName"):
            period = 0
        if (obj.get("status") or {}).get("phase") in (FAILED, SUCCEEDED):
            period = 0
        return 1 if period < 0 else period

    # --- reading ----------------------------------------------------------------------------------

    def selectable_fields(self, obj: Obj) -> dict[str, str]:
        """ToSelectableFields: status.podIP is the first of status.podIPs."""
        spec = obj.get("spec") or {}
        status = obj.get("status") or {}
        pod_ips = status.get("podIPs") or []
        return {
            "spec.nodeName": spec.get("nodeName") or "",
            "spec.restartPolicy": spec.get("restartPolicy") or "",
            "spec.schedulerName": spec.get("schedulerName") or "",
            "spec.serviceAccountName": spec.get("serviceAccountName") or "",
            "spec.hostNetwork": "true" if spec.get("hostNetwork") else "false",
            "status.phase": status.get("phase") or "",
            "status.podIP": (pod_ips[0].get("ip") or "") if pod_ips else "",
            "status.nominatedNodeName": status.get("nominatedNodeName") or "",
            # The pre-1.0 name of spec.nodeName, still accepted in selectors.
            "spec.host": spec.get("nodeName") or "",
        }


def _drop_disabled_fields(new: Obj, old: Obj | None) -> None:
    """DropDisabledPodFields for the feature gates that are off in Kubernetes 1.33.

    A field of a disabled feature is silently dropped, unless the stored pod already uses it
    (then an update may keep it): resource claims (DynamicResourceAllocation),
    ClusterTrustBundle projections and container stop signals (ContainerStopSignals).
    Pod-level resources (`spec.resources`) stay: PodLevelResources is beta and on since 1.34;
    so do image volumes (`volumes[].image`): ImageVolume is GA and on since 1.36.
    """
    spec = new.get("spec")
    if not isinstance(spec, dict):
        return
    old_spec = (old or {}).get("spec") or {}
    pod_gates.drop_disabled_spec_fields(spec, old_spec)
    if not _uses_cluster_trust_bundles(old_spec):
        for volume in spec.get("volumes") or []:
            for source in (volume.get("projected") or {}).get("sources") or []:
                source.pop("clusterTrustBundle", None)
    # A create has no stored pod whose containers would let a field stay.
    old_containers = (
        [*(old_spec.get("containers") or []), *(old_spec.get("initContainers") or [])]
        if old_spec
        else []
    )
    containers = [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]
    uses_claims = bool(old_spec.get("resourceClaims")) or (
        bool(old_containers)
        and any((c.get("resources") or {}).get("claims") for c in old_containers)
    )
    if not uses_claims:
        spec.pop("resourceClaims", None)
        for container in containers:
            (container.get("resources") or {}).pop("claims", None)
    if not old_containers or not any(
        (c.get("lifecycle") or {}).get("stopSignal") for c in old_containers
    ):
        for container in containers:
            lifecycle = container.get("lifecycle")
            if isinstance(lifecycle, dict):
                lifecycle.pop("stopSignal", None)


def drop_disabled_template_fields(template: object, old_template: object) -> None:
    """DropDisabledTemplateFields: a workload's pod template loses the same fields a pod
    would; `old_template` is the stored object's, None on create."""
    if isinstance(template, dict):
        _drop_disabled_fields(template, old_template if isinstance(old_template, dict) else None)


def _uses_cluster_trust_bundles(spec: Obj) -> bool:
    if not spec:
        return False
    sources: list[Any] = []
    for volume in spec.get("volumes") or []:
        sources.extend((volume.get("projected") or {}).get("sources") or [])
    return any(s.get("clusterTrustBundle") is not None for s in sources)


def _merge_match_label_keys(pod: Obj) -> None:
    """Pod (anti-)affinity's matchLabelKeys and mismatchLabelKeys, and topology spread
    constraints' matchLabelKeys, made part of the selector.

    At creation the API server looks each key up in the new pod's labels and adds `key In
    (value)` (`NotIn` for mismatchLabelKeys) to the term's or constraint's labelSelector, so
    that the scheduler and everything else read one selector (mutatePodAffinity, KEP-3633;
    mutateTopologySpreadConstraints, KEP-3243 with MatchLabelKeysInPodTopologySpreadSelectorMerge,
    beta and on since 1.34). Keys the pod lacks are left out; a term or constraint without a
    labelSelector matches nothing and stays as it is.
    """
    spec = pod.get("spec") or {}
    labels = (pod.get("metadata") or {}).get("labels") or {}
    for constraint in spec.get("topologySpreadConstraints") or []:
        if isinstance(constraint, dict):
            _merge_into_selector(constraint, labels)
    affinity = spec.get("affinity")
    if not isinstance(affinity, dict):
        return
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind)
        if not isinstance(rules, dict):
            continue
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        for weighted in rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []:
            if isinstance(weighted, dict):
                terms.append(weighted.get("podAffinityTerm"))
        for term in terms:
            if isinstance(term, dict):
                _merge_into_selector(term, labels)


def _merge_into_selector(term: Obj, labels: dict[str, str]) -> None:
    selector = term.get("labelSelector")
    if not isinstance(selector, dict):
        return
    for field, operator in (("matchLabelKeys", "In"), ("mismatchLabelKeys", "NotIn")):
        for key in term.get(field) or []:
            if key in labels:
                expressions = selector.setdefault("matchExpressions", [])
                expressions.append({"key": key, "operator": operator, "values": [labels[key]]})
