"""Validation of the apps/v1 workloads (Kubernetes' `pkg/apis/apps/validation`).

Deployments, ReplicaSets, StatefulSets and DaemonSets share the heart of it: a selector that is
required, valid, not empty, and that matches the labels of the pod template, which is itself
validated as a pod spec whose restartPolicy is Always. The selector cannot change once set
(apps/v1 makes it immutable). Messages are Kubernetes' own, Go-printed values included:
`spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does
not match template `labels``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from kubelite.api import labels, meta
from kubelite.api.errors import NOT_SUPPORTED, FieldError, child, forbidden_field, invalid, required
from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.api.validation.objectmeta import (
    FIELD_IMMUTABLE,
    go_string_map,
    go_strings,
    go_struct,
    invalid_rendered,
    validate_annotations,
    validate_labels,
    validate_nonnegative,
)
from kubelite.api.validation.pods import validate_pod_spec

_SELECTOR_MISMATCH = "`selector` does not match template `labels`"
# IsValidPercent's rule (apimachinery util/validation).
_PERCENT = re.compile(r"^[0-9]+%$")
_PERCENT_ERROR = (
    "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or "
    "'93%', regex used for validation is '[0-9]+%')"
)


# --- the parts every workload shares ------------------------------------------------------------


def _validate_selector(spec: Obj, kind: str) -> tuple[list[FieldError], labels.Selector | None]:
    """Selector required, valid and not empty; returns the errors and the selector it makes."""
    errs: list[FieldError] = []
    selector = spec.get("selector")
    if selector is None:
        errs.append(required("spec.selector"))
    else:
        errs += labels.validate_label_selector(selector, "spec.selector")
        if not selector.get("matchLabels") and not selector.get("matchExpressions"):
            errs.append(
                invalid_rendered(
                    "spec.selector",
                    go_label_selector(selector),
                    f"empty selector is invalid for {kind}",
                )
            )
    try:
        return errs, labels.from_label_selector(selector)
    except labels.SelectorError:
        return errs, None


def _template_labels(spec: Obj) -> dict[str, str] | None:
    value = meta.get_path(spec, "template", "metadata", "labels")
    return value if isinstance(value, dict) else None


def _validate_template(spec: Obj, owner: str, *, pod_spec: bool = True) -> list[FieldError]:
    """ValidatePodTemplateSpec and the workload rules on the template (restartPolicy Always).

    `owner` names the kind in Kubernetes' activeDeadlineSeconds message; StatefulSets check only
    the template's labels and annotations (`pod_spec` False), as Kubernetes does.
    """
    path = "spec.template"
    template = meta.dict_field(spec, "template")
    template_meta = meta.dict_field(template, "metadata")
    pod = meta.dict_field(template, "spec")
    errs = validate_labels(template_meta.get("labels"), child(path, "labels"))
    errs += validate_annotations(template_meta.get("annotations"), child(path, "annotations"))
    if pod_spec:
        errs += validate_pod_spec(pod, child(path, "spec"))
        if pod.get("ephemeralContainers"):
            errs.append(
                forbidden_field(
                    "spec.template.spec.ephemeralContainers",
                    "ephemeral containers not allowed in pod template",
                )
            )
    restart = pod.get("restartPolicy") or ""
    if restart != "Always":
        errs.append(
            _not_supported_rendered(
                "spec.template.spec.restartPolicy", go_quote(restart), ["Always"]
            )
        )
    if pod.get("activeDeadlineSeconds") is not None:
        errs.append(
            forbidden_field(
                "spec.template.spec.activeDeadlineSeconds",
                f"activeDeadlineSeconds in {owner} is not Supported",
            )
        )
    return errs


def _mismatch(spec: Obj) -> FieldError:
    return invalid_rendered(
        "spec.template.metadata.labels", go_string_map(_template_labels(spec)), _SELECTOR_MISMATCH
    )


def _validate_replica_set_like(spec: Obj, kind: str) -> list[FieldError]:
    """ValidateReplicaSetSpec's selector and template rules, which Deployments share."""
    errs, selector = _validate_selector(spec, kind)
    if selector is None:
        errs.append(
            invalid_rendered(
                "spec.selector", go_label_selector(spec.get("selector")), "invalid label selector"
            )
        )
        return errs
    if not selector.empty() and not selector.matches(_template_labels(spec)):
        errs.append(_mismatch(spec))
    return errs + _validate_template(spec, "ReplicaSet")


def validate_selector_unchanged(new: Obj, old: Obj) -> list[FieldError]:
    """apps/v1 forbids changing spec.selector (the strategies' ValidateImmutableField)."""
    selector = meta.get_path(new, "spec", "selector")
    if semantic_equal(selector, meta.get_path(old, "spec", "selector")):
        return []
    rendered = "null" if selector is None else go_label_selector(selector)
    return [invalid_rendered("spec.selector", rendered, FIELD_IMMUTABLE)]


# --- Deployment ---------------------------------------------------------------------------------


def validate_deployment(obj: Obj) -> list[FieldError]:
    """ValidateDeploymentSpec."""
    spec = _spec(obj)
    errs = validate_nonnegative(_int(spec.get("replicas")), "spec.replicas")
    errs += _validate_replica_set_like(spec, "deployment")
    errs += _validate_deployment_strategy(spec.get("strategy"))
    min_ready = _int(spec.get("minReadySeconds"))
    errs += validate_nonnegative(min_ready, "spec.minReadySeconds")
    if spec.get("revisionHistoryLimit") is not None:
        errs += validate_nonnegative(
            _int(spec["revisionHistoryLimit"]), "spec.revisionHistoryLimit"
        )
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errs += validate_nonnegative(_int(deadline), "spec.progressDeadlineSeconds")
        if _int(deadline) <= min_ready:
            errs.append(
                invalid(
                    "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
                )
            )
    return errs


def _validate_deployment_strategy(strategy: Any) -> list[FieldError]:
    path = "spec.strategy"
    strategy = strategy if isinstance(strategy, dict) else {}
    kind = strategy.get("type") or ""
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            return [
                forbidden_field(
                    child(path, "rollingUpdate"),
                    "may not be specified when strategy `type` is 'Recreate'",
                )
            ]
        return []
    if kind == "RollingUpdate":
        if not isinstance(rolling, dict):
            return [
                required(child(path, "rollingUpdate"), "this should be defaulted and never be nil")
            ]
        rolling_path = child(path, "rollingUpdate")
        unavailable, surge = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
        errs = validate_int_or_percent(unavailable, child(rolling_path, "maxUnavailable"))
        errs += validate_int_or_percent(surge, child(rolling_path, "maxSurge"))
        if _int_or_percent_value(unavailable) == 0 and _int_or_percent_value(surge) == 0:
            errs.append(
                invalid_rendered(
                    child(rolling_path, "maxUnavailable"),
                    _go_int_or_string(unavailable),
                    "may not be 0 when `maxSurge` is 0",
                )
            )
        return errs + not_more_than_100_percent(unavailable, child(rolling_path, "maxUnavailable"))
    return [
        _unsupported_strategy(
            path,
            "apps.DeploymentStrategy",
            "apps.RollingUpdateDeployment",
            kind,
            rolling,
            ["Recreate", "RollingUpdate"],
        )
    ]


def _unsupported_strategy(
    path: str, struct: str, rolling_struct: str, kind: Any, rolling: Any, supported: list[str]
) -> FieldError:
    """An update strategy of a type the kind does not have, printed as the Go struct that
    Kubernetes' NotSupported error shows (Deployments and DaemonSets)."""
    rendered = go_struct(
        struct,
        [("Type", go_quote(kind)), ("RollingUpdate", _go_pointer(rolling_struct, rolling))],
    )
    return _not_supported_rendered(path, rendered, supported)


# --- ReplicaSet ---------------------------------------------------------------------------------


def validate_replica_set(obj: Obj) -> list[FieldError]:
    """ValidateReplicaSetSpec (its empty-selector message says deployment, as Kubernetes' does)."""
    spec = _spec(obj)
    errs = validate_nonnegative(_int(spec.get("replicas")), "spec.replicas")
    errs += validate_nonnegative(_int(spec.get("minReadySeconds")), "spec.minReadySeconds")
    return errs + _validate_replica_set_like(spec, "deployment")


# --- ReplicationController ----------------------------------------------------------------------


def validate_replication_controller(obj: Obj) -> list[FieldError]:
    """ValidateReplicationControllerSpec: a v1 ReplicationController's selector is a plain map,
    required (the defaults copy the template's labels into it), and may change."""
    spec = _spec(obj)
    errs = validate_nonnegative(_int(spec.get("minReadySeconds")), "spec.minReadySeconds")
    selector = meta.dict_field(spec, "selector")
    if not selector:
        errs.append(required("spec.selector"))
    errs += validate_nonnegative(_int(spec.get("replicas")), "spec.replicas")
    if not isinstance(spec.get("template"), dict):
        return [*errs, required("spec.template")]
    template_labels = _template_labels(spec) or {}
    if selector and any(template_labels.get(k) != v for k, v in selector.items()):
        errs.append(_mismatch(spec))
    return errs + _validate_template(spec, "ReplicationController")


def validate_replication_controller_status(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateReplicationControllerStatusUpdate beyond metadata."""
    counters = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    return _validate_workload_status(
        new, old, counters, bounded=counters[1:], ready_name="readyReplicas"
    )


# --- StatefulSet --------------------------------------------------------------------------------


def validate_stateful_set(obj: Obj) -> list[FieldError]:
    """ValidateStatefulSetSpec."""
    spec = _spec(obj)
    errs: list[FieldError] = []
    policy = spec.get("podManagementPolicy") or ""
    if not policy:
        errs.append(required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(
            invalid("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
        )
    errs += _validate_stateful_set_strategy(spec.get("updateStrategy"))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if isinstance(retention, dict):
        for when in ("whenDeleted", "whenScaled"):
            value = retention.get(when) or ""
            if value not in ("Retain", "Delete"):
                errs.append(
                    _not_supported_rendered(
                        f"spec.persistentVolumeClaimRetentionPolicy.{when}",
                        go_quote(value),
                        ["Retain", "Delete"],
                    )
                )
    errs += validate_nonnegative(_int(spec.get("replicas")), "spec.replicas")
    errs += validate_nonnegative(_int(spec.get("minReadySeconds")), "spec.minReadySeconds")
    ordinals = spec.get("ordinals")
    if isinstance(ordinals, dict):
        errs += validate_nonnegative(_int(ordinals.get("start")), "spec.ordinals.start")
    selector_errs, selector = _validate_selector(spec, "statefulset")
    errs += selector_errs
    if selector is None:
        errs.append(invalid_rendered("spec.selector", go_label_selector(spec.get("selector")), ""))
    elif not selector.empty() and not selector.matches(_template_labels(spec)):
        errs.append(_mismatch(spec))
    return errs + _validate_template(spec, "StatefulSet", pod_spec=False)


def _validate_stateful_set_strategy(strategy: Any) -> list[FieldError]:
    path = "spec.updateStrategy"
    strategy = strategy if isinstance(strategy, dict) else {}
    kind = strategy.get("type") or ""
    rolling = strategy.get("rollingUpdate")
    if not kind:
        return [required(path)]
    if kind == "OnDelete":
        if rolling is not None:
            return [
                invalid_rendered(
                    child(path, "rollingUpdate"),
                    _go_stateful_set_rolling(rolling),
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            ]
        return []
    if kind == "RollingUpdate":
        if not isinstance(rolling, dict):
            return []
        rolling_path = child(path, "rollingUpdate")
        errs = validate_nonnegative(
            _int(rolling.get("partition")), child(rolling_path, "partition")
        )
        unavailable = rolling.get("maxUnavailable")
        if unavailable is not None:
            unavailable_path = child(rolling_path, "maxUnavailable")
            errs += validate_int_or_percent(unavailable, unavailable_path)
            if _int_or_percent_value(unavailable) == 0:
                errs.append(
                    invalid_rendered(
                        unavailable_path, _go_int_or_string(unavailable), "cannot be 0"
                    )
                )
            errs += not_more_than_100_percent(unavailable, unavailable_path)
        return errs
    rendered = go_struct(
        "apps.StatefulSetUpdateStrategy",
        [
            ("Type", go_quote(kind)),
            ("RollingUpdate", _go_pointer("apps.RollingUpdateStatefulSetStrategy", rolling)),
        ],
    )
    return [invalid_rendered(path, rendered, "must be 'RollingUpdate' or 'OnDelete'")]


def validate_stateful_set_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateStatefulSetUpdate: only some fields of the spec may change."""
    mutable = (
        "replicas",
        "ordinals",
        "template",
        "updateStrategy",
        "persistentVolumeClaimRetentionPolicy",
        "minReadySeconds",
    )
    new_spec = {k: v for k, v in _spec(new).items() if k not in mutable}
    old_spec = {k: v for k, v in _spec(old).items() if k not in mutable}
    if not semantic_equal(new_spec, old_spec):
        return [
            forbidden_field(
                "spec",
                "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
                "'minReadySeconds' are forbidden",
            )
        ]
    return []


# --- DaemonSet ----------------------------------------------------------------------------------


def validate_daemon_set(obj: Obj) -> list[FieldError]:
    """ValidateDaemonSetSpec."""
    spec = _spec(obj)
    selector = spec.get("selector")
    errs = labels.validate_label_selector(selector, "spec.selector")
    try:
        made = labels.from_label_selector(selector)
    except labels.SelectorError:
        made = None
    # No Empty() check here: a DaemonSet without a selector matches no template at all.
    if made is not None and not made.matches(_template_labels(spec)):
        errs.append(_mismatch(spec))
    if (
        isinstance(selector, dict)
        and not selector.get("matchLabels")
        and not selector.get("matchExpressions")
    ):
        errs.append(
            invalid_rendered(
                "spec.selector",
                go_label_selector(selector),
                "empty selector is invalid for daemonset",
            )
        )
    errs += _validate_template(spec, "DaemonSet")
    errs += validate_nonnegative(_int(spec.get("minReadySeconds")), "spec.minReadySeconds")
    errs += _validate_daemon_set_strategy(spec.get("updateStrategy"))
    if spec.get("revisionHistoryLimit") is not None:
        errs += validate_nonnegative(
            _int(spec["revisionHistoryLimit"]), "spec.revisionHistoryLimit"
        )
    return errs


def _validate_daemon_set_strategy(strategy: Any) -> list[FieldError]:
    path = "spec.updateStrategy"
    strategy = strategy if isinstance(strategy, dict) else {}
    kind = strategy.get("type") or ""
    rolling = strategy.get("rollingUpdate")
    if kind == "OnDelete":
        return []
    if kind == "RollingUpdate":
        if not isinstance(rolling, dict):
            return [required(child(path, "rollingUpdate"))]
        rolling_path = child(path, "rollingUpdate")
        unavailable, surge = rolling.get("maxUnavailable", 0), rolling.get("maxSurge", 0)
        errs = validate_int_or_percent(unavailable, child(rolling_path, "maxUnavailable"))
        errs += validate_int_or_percent(surge, child(rolling_path, "maxSurge"))
        errs += not_more_than_100_percent(unavailable, child(rolling_path, "maxUnavailable"))
        errs += not_more_than_100_percent(surge, child(rolling_path, "maxSurge"))
        has_unavailable = _int_or_percent_value(unavailable) != 0
        has_surge = _int_or_percent_value(surge) != 0
        if has_unavailable and has_surge:
            errs.append(
                invalid_rendered(
                    child(rolling_path, "maxSurge"),
                    _go_int_or_string(surge),
                    "may not be set when maxUnavailable is non-zero",
                )
            )
        elif not has_unavailable and not has_surge:
            errs.append(
                required(child(rolling_path, "maxUnavailable"), "cannot be 0 when maxSurge is 0")
            )
        return errs
    return [
        _unsupported_strategy(
            path,
            "apps.DaemonSetUpdateStrategy",
            "apps.RollingUpdateDaemonSet",
            kind,
            rolling,
            ["RollingUpdate", "OnDelete"],
        )
    ]


# --- ControllerRevision -------------------------------------------------------------------------


def validate_controller_revision(obj: Obj) -> list[FieldError]:
    """ValidateControllerRevision beyond metadata: data is mandatory, revision not negative."""
    errs: list[FieldError] = []
    if obj.get("data") is None:
        errs.append(required("data", "data is mandatory"))
    revision = obj.get("revision")
    return errs + validate_nonnegative(_int(revision), "revision")


def validate_controller_revision_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateControllerRevisionUpdate: the revision's number may change (a StatefulSet rolling
    back renumbers the old revision), its data never."""
    errs = validate_controller_revision(new)
    if not semantic_equal(new.get("data"), old.get("data")):
        errs.append(invalid_rendered("data", _go_raw_extension(new.get("data")), FIELD_IMMUTABLE))
    return errs


def _go_raw_extension(data: Any) -> str:
    """The data as the error shows it: Kubernetes prints the decoded runtime.Unknown; kubelite
    shows the JSON it holds."""
    if data is None:
        return "null"
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


# --- status -------------------------------------------------------------------------------------


def _validate_workload_status(
    new: Obj,
    old: Obj,
    counters: tuple[str, ...],
    *,
    bounded: tuple[str, ...] = (),
    ready_name: str = "",
) -> list[FieldError]:
    """The shared status rules: counters not negative, the `bounded` ones not above
    status.replicas, availableReplicas not above readyReplicas (named `ready_name` in the
    message, which differs between kinds), and collisionCount never decremented."""
    status = _mapping(new.get("status"))
    errs: list[FieldError] = []
    for name in ("observedGeneration", *counters, "collisionCount"):
        if status.get(name) is not None:
            errs += validate_nonnegative(_int(status[name]), f"status.{name}")
    replicas = _int(status.get("replicas"))
    for name in bounded:
        if _int(status.get(name)) > replicas:
            errs.append(
                invalid(
                    f"status.{name}",
                    _int(status.get(name)),
                    "cannot be greater than status.replicas",
                )
            )
    available = _int(status.get("availableReplicas"))
    if ready_name and available > _int(status.get("readyReplicas")):
        errs.append(
            invalid("status.availableReplicas", available, f"cannot be greater than {ready_name}")
        )
    old_count = meta.get_path(old, "status", "collisionCount")
    new_count = status.get("collisionCount")
    if old_count is not None and (new_count is None or new_count < old_count):
        errs.append(invalid("status.collisionCount", _int(new_count), "cannot be decremented"))
    return errs


def validate_deployment_status(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateDeploymentStatusUpdate beyond metadata."""
    counters = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")
    return _validate_workload_status(
        new,
        old,
        # terminatingReplicas (DeploymentReplicaSetTerminatingReplicas) only when set.
        (*counters, "unavailableReplicas", "terminatingReplicas"),
        bounded=counters[1:],
        ready_name="readyReplicas",
    )


def validate_replica_set_status(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateReplicaSetStatusUpdate beyond metadata."""
    counters = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas")
    return _validate_workload_status(
        new,
        old,
        (*counters, "terminatingReplicas"),
        bounded=counters[1:],
        ready_name="readyReplicas",
    )


def validate_stateful_set_status(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateStatefulSetStatusUpdate beyond metadata."""
    counters = (
        "replicas",
        "readyReplicas",
        "currentReplicas",
        "updatedReplicas",
        "availableReplicas",
    )
    return _validate_workload_status(
        new, old, counters, bounded=counters[1:], ready_name="status.readyReplicas"
    )


def validate_daemon_set_status(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateDaemonSetStatusUpdate beyond metadata: its counters are never negative."""
    counters = (
        "currentNumberScheduled",
        "numberMisscheduled",
        "desiredNumberScheduled",
        "numberReady",
        "updatedNumberScheduled",
        "numberAvailable",
        "numberUnavailable",
    )
    return _validate_workload_status(new, old, counters)


# --- int-or-percent fields ----------------------------------------------------------------------


def validate_int_or_percent(value: Any, path: str) -> list[FieldError]:
    """ValidatePositiveIntOrPercent."""
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [invalid_rendered(path, value, _PERCENT_ERROR)]
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return validate_nonnegative(value, path)
    return [
        invalid_rendered(
            path, _go_int_or_string(value), "must be an integer or percentage (e.g '5%%')"
        )
    ]


def _int_or_percent_value(value: Any) -> int:
    """getIntOrPercentValue: the number of a percentage, the int itself, 0 for anything else."""
    if isinstance(value, str):
        return int(value[:-1]) if _PERCENT.match(value) else 0
    return value if isinstance(value, int) else 0


def not_more_than_100_percent(value: Any, path: str) -> list[FieldError]:
    if isinstance(value, str) and _PERCENT.match(value) and int(value[:-1]) > 100:
        return [invalid_rendered(path, value, "must not be greater than 100%")]
    return []


# --- how Kubernetes prints these values ---------------------------------------------------------


def go_label_selector(selector: Mapping[str, Any] | None) -> str:
    """A metav1.LabelSelector as %#v prints it."""
    selector = selector or {}
    match_labels = selector.get("matchLabels")
    expressions = selector.get("matchExpressions")
    if expressions is None:
        rendered_expressions = "[]v1.LabelSelectorRequirement(nil)"
    else:
        rendered_expressions = (
            "[]v1.LabelSelectorRequirement{"
            + ", ".join(
                go_struct(
                    "v1.LabelSelectorRequirement",
                    [
                        ("Key", go_quote(str(e.get("key") or ""))),
                        ("Operator", go_quote(str(e.get("operator") or ""))),
                        ("Values", go_strings(e.get("values"))),
                    ],
                )
                for e in expressions
            )
            + "}"
        )
    return go_struct(
        "v1.LabelSelector",
        [
            (
                "MatchLabels",
                go_string_map(match_labels if isinstance(match_labels, dict) else None),
            ),
            ("MatchExpressions", rendered_expressions),
        ],
    )


def _go_int_or_string(value: Any) -> str:
    """intstr.IntOrString prints through its String(): the number or the string, unquoted."""
    return str(value) if value is not None else "0"


def _go_pointer(type_name: str, value: Any) -> str:
    """A pointer field inside a struct: stable only when nil, so a set one prints a placeholder."""
    return f"(*{type_name})(nil)" if value is None else f"(*{type_name})(0xc000000000)"


def _go_stateful_set_rolling(rolling: Any) -> str:
    rolling = rolling if isinstance(rolling, dict) else {}
    return go_struct(
        "apps.RollingUpdateStatefulSetStrategy",
        [
            ("Partition", str(_int(rolling.get("partition")))),
            ("MaxUnavailable", _go_pointer("intstr.IntOrString", rolling.get("maxUnavailable"))),
        ],
    )


def _not_supported_rendered(path: str, rendered: str, supported: list[str]) -> FieldError:
    """An Unsupported value error whose value is already spelled as Kubernetes prints it."""
    values = ", ".join(f'"{s}"' for s in supported)
    return FieldError(NOT_SUPPORTED, path, detail=f"{rendered}: supported values: {values}")


def semantic_equal(a: Any, b: Any) -> bool:
    """apiequality.Semantic.DeepEqual on JSON: an empty map or list equals a missing one."""
    if _is_empty(a) and _is_empty(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return all(semantic_equal(a.get(k), b.get(k)) for k in set(a) | set(b))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(semantic_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _is_empty(value: Any) -> bool:
    return value is None or value == {} or value == []


def _spec(obj: Obj) -> Obj:
    spec = obj.get("spec")
    return spec if isinstance(spec, dict) else {}


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
