"""Validation of batch/v1 Jobs and CronJobs (Kubernetes' `pkg/apis/batch/validation`).

A Job's pod template is a pod spec whose restartPolicy is OnFailure or Never (a pod that always
restarts never finishes); its selector must match the template, and unless the user chose a
manual selector, the selector and labels the API server generated must be there unchanged. Much
of the spec is fixed once the Job exists: completions (except scaling an Indexed Job with its
parallelism), selector, template (except scheduling directives and container resources of a
suspended Job whose pods are gone), completionMode, podFailurePolicy, backoffLimitPerIndex,
successPolicy, managedBy.

A CronJob's schedule must parse as robfig/cron's standard syntax (`kubelite.api.cron`), without a
`TZ=` prefix (the `timeZone` field is the way), and its name leaves room for the
`-<minutes since epoch>` suffix of the Jobs it makes.

Messages and field paths are Kubernetes' own.
"""

from __future__ import annotations

import re
from typing import Any

from kubelite.api import cron, jobindexes, labels, meta
from kubelite.api.errors import (
    INVALID,
    FieldError,
    child,
    duplicate,
    forbidden_field,
    invalid,
    not_supported,
    required,
    too_long,
    too_many,
)
from kubelite.api.goformat import go_quote
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.apps import go_label_selector, semantic_equal
from kubelite.api.validation.objectmeta import (
    FIELD_IMMUTABLE,
    go_string_map,
    invalid_rendered,
    validate_annotations,
    validate_labels,
    validate_nonnegative,
)
from kubelite.api.validation.pods import validate_pod_spec

# Label and annotation keys of batch/v1 (k8s.io/api/batch/v1 types.go).
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"

INDEXED = "Indexed"
NON_INDEXED = "NonIndexed"
# The limits of pkg/apis/batch/validation.
MAX_PARALLELISM_INDEXED = 100_000
MAX_COMPLETIONS_PER_INDEX = 100_000
MAX_FAILED_INDEXES = 100_000
MAX_FAILURE_POLICY_RULES = 20
MAX_EXIT_CODE_VALUES = 255
MAX_CONDITION_PATTERNS = 20
MAX_SUCCESS_POLICY_RULES = 20
MAX_SUCCEEDED_INDEXES_LENGTH = 64 * 1024
MAX_MANAGED_BY_LENGTH = 63
# DNS-1035 labels are at most 63 characters; the CronJob controller adds 11 (`-` and the
# scheduled time in minutes).
MAX_CRON_JOB_NAME = 63 - 11

_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
_OPERATORS = ("In", "NotIn")
_CONDITION_STATUSES = ("False", "True", "Unknown")
_REPLACEMENT_POLICIES = ("Failed", "TerminatingOrFailed")
_CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
_DOMAIN_PREFIXED = 'must be a domain-prefixed path (such as "acme.io/foo")'
_BOTH_MATCHERS = "specifying both OnExitCodes and OnPodConditions is not supported"
_NO_MATCHER = "specifying one of OnExitCodes and OnPodConditions is required"
_NO_SUCCESS_RULES = "at least one rules must be specified when the successPolicy is specified"
_NO_SUCCESS_CRITERIA = "at least one of succeededCount or succeededIndexes must be specified"
# Each part of a timeZone, as Kubernetes checks it before loading the zone.
_TZ_PART = re.compile(r"^[A-Za-z.\-_0-9+]{1,14}$")


def _go_list(values: tuple[str, ...]) -> str:
    """A []string as %q prints it: `["a" "b"]`."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


def _mapping(value: Any) -> Obj:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _template_labels(spec: Obj) -> Obj:
    return _mapping(_mapping(_mapping(spec.get("template")).get("metadata")).get("labels"))


# --- Job ----------------------------------------------------------------------------------------


def validate_job(obj: Obj, *, require_prefixed_labels: bool = True) -> list[FieldError]:
    """ValidateJob beyond ObjectMeta: the generated selector, then the spec."""
    spec = _mapping(obj.get("spec"))
    return validate_generated_selector(obj, require_prefixed_labels) + validate_job_spec(
        spec, "spec"
    )


def _has_label(labels_: Obj, path: str, key: str, expected: str) -> list[FieldError]:
    """ValidateHasLabel."""
    where = f"{child(path, 'labels')}[{key}]"
    if key not in labels_:
        return [required(where, f"must be '{expected}'")]
    if labels_[key] != expected:
        return [invalid_rendered(where, go_string_map(labels_), f"must be '{expected}'")]
    return []


def validate_generated_selector(obj: Obj, require_prefixed_labels: bool) -> list[FieldError]:
    """The labels and selector the API server generated are still what it generated."""
    spec = _mapping(obj.get("spec"))
    selector = spec.get("selector")
    if spec.get("manualSelector") is True or selector is None:
        return []
    md = _mapping(obj.get("metadata"))
    uid, name = str(md.get("uid") or ""), str(md.get("name") or "")
    errs: list[FieldError] = []
    if not uid:
        errs.append(required("metadata.uid"))
    template_labels = _template_labels(spec)
    path = "spec.template.metadata"
    errs += _has_label(template_labels, path, LEGACY_CONTROLLER_UID, uid)
    errs += _has_label(template_labels, path, LEGACY_JOB_NAME, name)
    expected = {LEGACY_CONTROLLER_UID: uid, LEGACY_JOB_NAME: name}
    if require_prefixed_labels:
        errs += _has_label(template_labels, path, CONTROLLER_UID, uid)
        errs += _has_label(template_labels, path, JOB_NAME, name)
        expected |= {CONTROLLER_UID: uid, JOB_NAME: name}
    try:
        made = labels.from_label_selector(selector)
    except labels.SelectorError:
        return errs
    if not made.matches(expected):
        errs.append(
            invalid_rendered(
                "spec.selector", go_label_selector(selector), "`selector` not auto-generated"
            )
        )
    return errs


def validate_job_spec(spec: Obj, path: str) -> list[FieldError]:
    """ValidateJobSpec: the shared rules, a required valid selector matching the template."""
    errs = _validate_job_spec(spec, path)
    selector = spec.get("selector")
    if selector is None:
        errs.append(required(child(path, "selector")))
        return errs
    errs += labels.validate_label_selector(selector, child(path, "selector"))
    try:
        made = labels.from_label_selector(selector)
    except labels.SelectorError:
        return errs
    template_labels = _template_labels(spec)
    if not made.matches(template_labels):
        errs.append(
            invalid_rendered(
                child(path, "template.metadata.labels"),
                go_string_map(template_labels or None),
                "`selector` does not match template `labels`",
            )
        )
    return errs


def _validate_job_spec(spec: Obj, path: str) -> list[FieldError]:
    """validateJobSpec: the rules a Job and a CronJob's job template share."""
    errs: list[FieldError] = []
    for name in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        if spec.get(name) is not None:
            errs += validate_nonnegative(_int(spec[name]), child(path, name))
    per_index = spec.get("backoffLimitPerIndex")
    max_failed = spec.get("maxFailedIndexes")
    if max_failed is not None:
        errs += validate_nonnegative(_int(max_failed), child(path, "maxFailedIndexes"))
        if per_index is None:
            errs.append(
                required(child(path, "backoffLimitPerIndex"), "when maxFailedIndexes is specified")
            )
    managed_by = spec.get("managedBy")
    if managed_by is not None:
        errs += _validate_managed_by(str(managed_by), child(path, "managedBy"))
    mode = spec.get("completionMode")
    completions = spec.get("completions")
    if mode is not None and mode not in (NON_INDEXED, INDEXED):
        errs.append(not_supported(child(path, "completionMode"), mode, (NON_INDEXED, INDEXED)))
    if mode == INDEXED:
        if completions is None:
            errs.append(required(child(path, "completions"), f"when completion mode is {INDEXED}"))
        parallelism = spec.get("parallelism")
        if parallelism is not None and _int(parallelism) > MAX_PARALLELISM_INDEXED:
            errs.append(
                invalid(
                    child(path, "parallelism"),
                    parallelism,
                    f"must be less than or equal to {MAX_PARALLELISM_INDEXED} when completion "
                    f"mode is {INDEXED}",
                )
            )
        if completions is not None and max_failed is not None and max_failed > completions:
            errs.append(
                invalid(
                    child(path, "maxFailedIndexes"),
                    max_failed,
                    "must be less than or equal to completions",
                )
            )
        if max_failed is not None and _int(max_failed) > MAX_FAILED_INDEXES:
            errs.append(
                invalid(
                    child(path, "maxFailedIndexes"),
                    max_failed,
                    f"must be less than or equal to {MAX_FAILED_INDEXES}",
                )
            )
        if (
            completions is not None
            and per_index is not None
            and _int(completions) > MAX_COMPLETIONS_PER_INDEX
        ):
            errs.append(
                invalid(
                    child(path, "completions"),
                    completions,
                    f"must be less than or equal to {MAX_COMPLETIONS_PER_INDEX} when "
                    "backoffLimitPerIndex is specified",
                )
            )
    else:
        if per_index is not None:
            errs.append(
                invalid(
                    child(path, "backoffLimitPerIndex"),
                    per_index,
                    "requires indexed completion mode",
                )
            )
        if max_failed is not None:
            errs.append(
                invalid(
                    child(path, "maxFailedIndexes"), max_failed, "requires indexed completion mode"
                )
            )
    template = _mapping(spec.get("template"))
    pod = _mapping(template.get("spec"))
    failure_policy = spec.get("podFailurePolicy")
    if isinstance(failure_policy, dict):
        errs += _validate_pod_failure_policy(spec, failure_policy, child(path, "podFailurePolicy"))
    success_policy = spec.get("successPolicy")
    if isinstance(success_policy, dict):
        if mode != INDEXED:
            errs.append(
                invalid_rendered(
                    child(path, "successPolicy"),
                    "batch.SuccessPolicy{Rules:[]batch.SuccessPolicyRule{...}}",
                    "requires indexed completion mode",
                )
            )
        else:
            errs += _validate_success_policy(
                success_policy, _int(completions), child(path, "successPolicy")
            )
    errs += _validate_replacement_policy(spec, child(path, "podReplacementPolicy"))
    errs += _validate_pod_template(template, child(path, "template"))
    restart_path = child(path, "template.spec.restartPolicy")
    restart = pod.get("restartPolicy") or ""
    if restart in ("", "Always"):
        errs.append(required(restart_path, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(not_supported(restart_path, restart, ("OnFailure", "Never")))
    elif isinstance(failure_policy, dict) and restart != "Never":
        errs.append(
            invalid(
                restart_path,
                restart,
                'only "Never" is supported when podFailurePolicy is specified',
            )
        )
    return errs


def _validate_pod_template(template: Obj, path: str) -> list[FieldError]:
    """ValidatePodTemplateSpec: template labels, annotations and the pod spec."""
    template_meta = _mapping(template.get("metadata"))
    errs = validate_labels(template_meta.get("labels"), child(path, "labels"))
    errs += validate_annotations(template_meta.get("annotations"), child(path, "annotations"))
    pod = _mapping(template.get("spec"))
    errs += validate_pod_spec(pod, child(path, "spec"))
    if pod.get("ephemeralContainers"):
        errs.append(
            forbidden_field(
                child(path, "spec.ephemeralContainers"),
                "ephemeral containers not allowed in pod template",
            )
        )
    return errs


def _validate_managed_by(value: str, path: str) -> list[FieldError]:
    """IsDomainPrefixedPath and the length limit."""
    errs: list[FieldError] = []
    domain, slash, rest = value.partition("/")
    if not slash or not domain or not rest or names.is_dns1123_subdomain(domain):
        errs.append(invalid(path, value, _DOMAIN_PREFIXED))
    if len(value) > MAX_MANAGED_BY_LENGTH:
        errs.append(too_long(path, MAX_MANAGED_BY_LENGTH))
    return errs


def _validate_pod_failure_policy(spec: Obj, policy: Obj, path: str) -> list[FieldError]:
    rules = policy.get("rules") or []
    rules_path = child(path, "rules")
    errs: list[FieldError] = []
    if len(rules) > MAX_FAILURE_POLICY_RULES:
        errs.append(too_many(rules_path, len(rules), MAX_FAILURE_POLICY_RULES))
    pod = _mapping(_mapping(spec.get("template")).get("spec"))
    container_names = {
        c.get("name")
        for kind in ("containers", "initContainers")
        for c in pod.get(kind) or ()
        if isinstance(c, dict)
    }
    for i, rule in enumerate(rules):
        errs += _validate_failure_rule(spec, _mapping(rule), f"{rules_path}[{i}]", container_names)
    return errs


def _validate_failure_rule(
    spec: Obj, rule: Obj, path: str, container_names: set[Any]
) -> list[FieldError]:
    errs: list[FieldError] = []
    action = rule.get("action") or ""
    action_path = child(path, "action")
    if not action:
        errs.append(required(action_path, f"valid values: {_go_list(_ACTIONS)}"))
    elif action == "FailIndex":
        if spec.get("backoffLimitPerIndex") is None:
            errs.append(invalid(action_path, action, "requires the backoffLimitPerIndex to be set"))
    elif action not in _ACTIONS:
        errs.append(not_supported(action_path, action, _ACTIONS))
    on_exit = rule.get("onExitCodes")
    on_conditions = rule.get("onPodConditions") or []
    if isinstance(on_exit, dict):
        errs += _validate_on_exit_codes(on_exit, child(path, "onExitCodes"), container_names)
    if on_conditions:
        errs += _validate_on_conditions(on_conditions, child(path, "onPodConditions"))
    if isinstance(on_exit, dict) and on_conditions:
        errs.append(
            FieldError(
                INVALID,
                path,
                detail=_BOTH_MATCHERS,
            )
        )
    if on_exit is None and not on_conditions:
        errs.append(
            FieldError(
                INVALID,
                path,
                detail=_NO_MATCHER,
            )
        )
    return errs


def _validate_on_exit_codes(
    requirement: Obj, path: str, container_names: set[Any]
) -> list[FieldError]:
    errs: list[FieldError] = []
    operator = requirement.get("operator") or ""
    operator_path = child(path, "operator")
    if not operator:
        errs.append(required(operator_path, f"valid values: {_go_list(_OPERATORS)}"))
    elif operator not in _OPERATORS:
        errs.append(not_supported(operator_path, operator, _OPERATORS))
    container = requirement.get("containerName")
    if container is not None and container not in container_names:
        errs.append(
            invalid(
                child(path, "containerName"),
                container,
                "must be one of the container or initContainer names in the pod template",
            )
        )
    values = requirement.get("values") or []
    values_path = child(path, "values")
    if not values:
        errs.append(invalid_rendered(values_path, "[]int32(nil)", "at least one value is required"))
    elif len(values) > MAX_EXIT_CODE_VALUES:
        errs.append(too_many(values_path, len(values), MAX_EXIT_CODE_VALUES))
    else:
        seen: set[int] = set()
        ordered = True
        for j, value in enumerate(values):
            value_path = f"{values_path}[{j}]"
            if operator == "In" and value == 0:
                errs.append(invalid(value_path, value, "must not be 0 for the In operator"))
            if value in seen:
                errs.append(duplicate(value_path, value))
            seen.add(value)
            if j > 0 and values[j - 1] > value:
                ordered = False
        if not ordered:
            rendered = "[]int32{" + ", ".join(str(v) for v in values) + "}"
            errs.append(invalid_rendered(values_path, rendered, "must be ordered"))
    return errs


def _validate_on_conditions(patterns: list[Any], path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    if len(patterns) > MAX_CONDITION_PATTERNS:
        errs.append(too_many(path, len(patterns), MAX_CONDITION_PATTERNS))
    for j, pattern in enumerate(patterns):
        pattern = _mapping(pattern)
        pattern_path = f"{path}[{j}]"
        type_ = str(pattern.get("type") or "")
        for problem in names.is_qualified_name(type_):
            errs.append(invalid(child(pattern_path, "type"), type_, problem))
        status = pattern.get("status") or ""
        status_path = child(pattern_path, "status")
        if not status:
            errs.append(required(status_path, f"valid values: {_go_list(_CONDITION_STATUSES)}"))
        elif status not in _CONDITION_STATUSES:
            errs.append(not_supported(status_path, status, _CONDITION_STATUSES))
    return errs


def _validate_success_policy(policy: Obj, completions: int, path: str) -> list[FieldError]:
    rules = policy.get("rules") or []
    rules_path = child(path, "rules")
    errs: list[FieldError] = []
    if not rules:
        errs.append(
            required(
                rules_path,
                "at least one rules must be specified when the successPolicy is specified",
            )
        )
    if len(rules) > MAX_SUCCESS_POLICY_RULES:
        errs.append(too_many(rules_path, len(rules), MAX_SUCCESS_POLICY_RULES))
    for i, rule in enumerate(rules):
        rule = _mapping(rule)
        rule_path = f"{rules_path}[{i}]"
        count, indexes = rule.get("succeededCount"), rule.get("succeededIndexes")
        if count is None and indexes is None:
            errs.append(
                required(
                    rule_path,
                    "at least one of succeededCount or succeededIndexes must be specified",
                )
            )
        total = 0
        if indexes is not None:
            indexes_path = child(rule_path, "succeededIndexes")
            if len(indexes) > MAX_SUCCEEDED_INDEXES_LENGTH:
                errs.append(too_long(indexes_path, MAX_SUCCEEDED_INDEXES_LENGTH))
            try:
                total = jobindexes.check(str(indexes), completions)
            except jobindexes.IndexesError as e:
                errs.append(invalid(indexes_path, indexes, f"error parsing succeededIndexes: {e}"))
        if count is not None:
            count_path = child(rule_path, "succeededCount")
            errs += validate_nonnegative(_int(count), count_path)
            if _int(count) > completions:
                errs.append(
                    invalid(
                        count_path,
                        count,
                        f"must be less than or equal to {completions} (the number of specified "
                        "completions)",
                    )
                )
            if indexes is not None and _int(count) > total:
                errs.append(
                    invalid(
                        count_path,
                        count,
                        f"must be less than or equal to {total} (the number of indexes in the "
                        "specified succeededIndexes field)",
                    )
                )
    return errs


def _validate_replacement_policy(spec: Obj, path: str) -> list[FieldError]:
    policy = spec.get("podReplacementPolicy")
    if policy is None:
        return []
    if isinstance(spec.get("podFailurePolicy"), dict):
        if policy != "Failed":
            return [not_supported(path, policy, ("Failed",))]
        return []
    if policy not in _REPLACEMENT_POLICIES:
        return [not_supported(path, policy, _REPLACEMENT_POLICIES)]
    return []


def validate_job_update(new: Obj, old: Obj) -> list[FieldError]:
    """ValidateJobSpecUpdate's immutability rules (the spec itself is checked apart)."""
    spec, old_spec = _mapping(new.get("spec")), _mapping(old.get("spec"))
    errs = _validate_completions_update(spec, old_spec)
    if not semantic_equal(spec.get("selector"), old_spec.get("selector")):
        selector = spec.get("selector")
        rendered = "null" if selector is None else go_label_selector(selector)
        errs.append(invalid_rendered("spec.selector", rendered, FIELD_IMMUTABLE))
    errs += _validate_template_update(spec, old_spec, old)
    for name in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy"):
        if not semantic_equal(spec.get(name), old_spec.get(name)):
            errs.append(_immutable(f"spec.{name}", spec.get(name)))
    if not semantic_equal(spec.get("successPolicy"), old_spec.get("successPolicy")):
        errs.append(_immutable("spec.successPolicy", spec.get("successPolicy")))
    return errs


def _immutable(path: str, value: Any) -> FieldError:
    if value is None or isinstance(value, str | int):
        return invalid(path, value, FIELD_IMMUTABLE)
    # A struct prints as Go's %#v, which a JSON value cannot reproduce; its type stands in.
    return invalid_rendered(path, "{...}", FIELD_IMMUTABLE)


def _validate_completions_update(spec: Obj, old_spec: Obj) -> list[FieldError]:
    """Completions is fixed, except on an Indexed Job scaled together with its parallelism
    (ElasticIndexedJob, on in 1.33)."""
    new, old = spec.get("completions"), old_spec.get("completions")
    if new == old:
        return []
    if spec.get("completionMode") != INDEXED:
        return [invalid("spec.completions", new, FIELD_IMMUTABLE)]
    if new is None:
        return []
    if new != spec.get("parallelism"):
        return [
            invalid("spec.completions", new, "can only be modified in tandem with spec.parallelism")
        ]
    return []


_SCHEDULING_FIELDS = ("nodeSelector", "tolerations", "schedulingGates")


def template_mutable(old: Obj) -> bool:
    """Whether a Job's pod template may change where its pods go and what they request
    (validationOptionsForJob, 1.37: MutableSchedulingDirectivesForSuspendedJobs and
    MutablePodResourcesForSuspendedJobs, both beta and on).

    The stored Job must be suspended, and either never started (a Job created suspended, before
    the controller set its `Suspended` condition: the 1.36 regression kubernetes#139287 fixed)
    or already marked `Suspended=True` with no active pod left, so that no pod runs the old
    template. Only the stored Job counts: an update that resumes the Job may carry the change.
    """
    if _mapping(old.get("spec")).get("suspend") is not True:
        return False
    status = _mapping(old.get("status"))
    if not status.get("startTime"):
        return True
    suspended = any(
        isinstance(c, dict) and c.get("type") == "Suspended" and c.get("status") == "True"
        for c in status.get("conditions") or ()
    )
    return suspended and not status.get("active")


def _validate_template_update(spec: Obj, old_spec: Obj, old: Obj) -> list[FieldError]:
    """The template is fixed, but a Job whose pods are all gone while it is suspended (see
    template_mutable) may change where its pods go (node affinity, node selector, tolerations,
    scheduling gates), the template's labels and annotations, and the resources (requests,
    limits, claims) of its containers and init containers, which pods made after it resumes
    get. Containers are matched by position; adding or removing one is still a change to the
    template, as is pod-level `resources`."""
    template = _mapping(spec.get("template"))
    old_template = meta.clone(_mapping(old_spec.get("template")))
    if template_mutable(old):
        new_pod = _mapping(template.get("spec"))
        old_pod = old_template.setdefault("spec", {})
        _take_scheduling_directives(new_pod, old_pod)
        _take_container_resources(new_pod, old_pod)
        old_md = old_template.setdefault("metadata", {})
        new_md = _mapping(template.get("metadata"))
        for name in ("labels", "annotations"):
            if name in new_md:
                old_md[name] = new_md[name]
            else:
                old_md.pop(name, None)
    if semantic_equal(template, old_template):
        return []
    return [invalid_rendered("spec.template", "core.PodTemplateSpec{...}", FIELD_IMMUTABLE)]


def _take_scheduling_directives(new_pod: Obj, old_pod: Obj) -> None:
    """Copy into the old pod spec what may change of where pods go: node selector,
    tolerations, scheduling gates, and node affinity (other affinities stay as they were)."""
    for name in _SCHEDULING_FIELDS:
        if name in new_pod:
            old_pod[name] = new_pod[name]
        else:
            old_pod.pop(name, None)
    new_affinity = _mapping(new_pod.get("affinity"))
    old_affinity = _mapping(old_pod.get("affinity"))
    merged = {k: v for k, v in old_affinity.items() if k != "nodeAffinity"}
    if "nodeAffinity" in new_affinity:
        merged["nodeAffinity"] = new_affinity["nodeAffinity"]
    if merged or "affinity" in new_pod:
        old_pod["affinity"] = merged
    else:
        old_pod.pop("affinity", None)


def _take_container_resources(new_pod: Obj, old_pod: Obj) -> None:
    """Copy each container's and init container's `resources` into the old pod spec, position
    by position, so that only the resources may differ."""
    for kind in ("containers", "initContainers"):
        new_list = new_pod.get(kind)
        old_list = old_pod.get(kind)
        if not isinstance(new_list, list) or not isinstance(old_list, list):
            continue
        for new_c, old_c in zip(new_list, old_list, strict=False):
            if not isinstance(new_c, dict) or not isinstance(old_c, dict):
                continue
            if "resources" in new_c:
                old_c["resources"] = new_c["resources"]
            else:
                old_c.pop("resources", None)


def validate_job_status(new: Obj) -> list[FieldError]:
    """The counters of a Job's status are never negative; uncounted pods are listed once."""
    status = _mapping(new.get("status"))
    errs: list[FieldError] = []
    for name in ("active", "succeeded", "failed", "ready", "terminating"):
        if status.get(name) is not None:
            errs += validate_nonnegative(_int(status[name]), f"status.{name}")
    uncounted = _mapping(status.get("uncountedTerminatedPods"))
    for kind in ("succeeded", "failed"):
        seen: set[str] = set()
        for i, uid in enumerate(uncounted.get(kind) or ()):
            path = f"status.uncountedTerminatedPods.{kind}[{i}]"
            if not uid:
                errs.append(invalid(path, uid, "must not be empty"))
            elif uid in seen:
                errs.append(duplicate(path, uid))
            seen.add(uid)
    return errs


# --- CronJob ------------------------------------------------------------------------------------


def validate_cron_job(obj: Obj) -> list[FieldError]:
    """ValidateCronJobCreate beyond ObjectMeta: the spec, and a name that leaves room for the
    Jobs' suffix."""
    errs = validate_cron_job_spec(_mapping(obj.get("spec")), None)
    name = str(_mapping(obj.get("metadata")).get("name") or "")
    if len(name) > MAX_CRON_JOB_NAME:
        errs.append(invalid("metadata.name", name, "must be no more than 52 characters"))
    return errs


def validate_cron_job_spec(spec: Obj, old_spec: Obj | None) -> list[FieldError]:
    """validateCronJobSpec; `old_spec` on update (a TZ= schedule stored before 1.27 may stay)."""
    errs: list[FieldError] = []
    schedule = spec.get("schedule") or ""
    time_zone = spec.get("timeZone")
    if not schedule:
        errs.append(required("spec.schedule"))
    else:
        allow_tz = old_spec is not None and "TZ" in str(old_spec.get("schedule") or "")
        errs += _validate_schedule(str(schedule), allow_tz, time_zone)
    if spec.get("startingDeadlineSeconds") is not None:
        errs += validate_nonnegative(
            _int(spec["startingDeadlineSeconds"]), "spec.startingDeadlineSeconds"
        )
    if old_spec is None or old_spec.get("timeZone") != time_zone:
        errs += _validate_time_zone(time_zone)
    policy = spec.get("concurrencyPolicy") or ""
    if not policy:
        errs.append(required("spec.concurrencyPolicy"))
    elif policy not in _CONCURRENCY_POLICIES:
        errs.append(not_supported("spec.concurrencyPolicy", policy, _CONCURRENCY_POLICIES))
    errs += validate_job_template(_mapping(spec.get("jobTemplate")), "spec.jobTemplate")
    for name in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        if spec.get(name) is not None:
            errs += validate_nonnegative(_int(spec[name]), f"spec.{name}")
    return errs


def _validate_schedule(schedule: str, allow_tz: bool, time_zone: Any) -> list[FieldError]:
    errs: list[FieldError] = []
    try:
        cron.parse_standard(schedule)
    except cron.CronError as e:
        errs.append(invalid("spec.schedule", schedule, str(e)))
    if allow_tz and "TZ" in schedule and time_zone is not None:
        errs.append(
            invalid(
                "spec.schedule",
                schedule,
                "cannot use both timeZone field and TZ or CRON_TZ in schedule",
            )
        )
    elif not allow_tz and "TZ" in schedule:
        errs.append(
            invalid(
                "spec.schedule",
                schedule,
                "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
            )
        )
    return errs


def _validate_time_zone(time_zone: Any) -> list[FieldError]:
    if time_zone is None:
        return []
    path = "spec.timeZone"
    text = str(time_zone)
    if not text:
        return [invalid(path, text, "timeZone must be nil or non-empty string")]
    for part in text.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.match(part):
            return [invalid(path, text, f"unknown time zone {text}")]
    errs: list[FieldError] = []
    if text.lower() == "local":
        errs.append(
            invalid(
                path,
                text,
                "timeZone must be an explicit time zone as defined in "
                "https://www.iana.org/time-zones",
            )
        )
    try:
        cron.load_zone(text)
    except cron.CronError as e:
        errs.append(invalid(path, text, str(e)))
    return errs


def validate_job_template(template: Obj, path: str) -> list[FieldError]:
    """ValidateJobTemplateSpec: the Job rules, and no selector (the Job's is generated)."""
    template_meta = _mapping(template.get("metadata"))
    errs = validate_labels(template_meta.get("labels"), child(path, "metadata.labels"))
    errs += validate_annotations(
        template_meta.get("annotations"), child(path, "metadata.annotations")
    )
    spec = _mapping(template.get("spec"))
    errs += _validate_job_spec(spec, child(path, "spec"))
    if spec.get("selector") is not None:
        errs.append(
            invalid_rendered(
                child(path, "spec.selector"),
                go_label_selector(spec["selector"]),
                "`selector` will be auto-generated",
            )
        )
    if spec.get("manualSelector") is True:
        errs.append(not_supported(child(path, "spec.manualSelector"), True, ("nil", "false")))
    return errs
