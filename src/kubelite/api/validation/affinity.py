"""The rules of a PodSpec's `affinity` (Kubernetes 1.33, `pkg/apis/core/validation`).

A malformed affinity is refused at the API server rather than left for the scheduler to trip over:
an empty `nodeSelectorTerms` list or an `In` requirement without values would otherwise leave the
pod Pending forever with nothing telling the client why. Every rule keeps Kubernetes' field path
and message so kubectl prints the same `... is invalid: ...` lines against kubelite, including
Kubernetes' own quirks (a pod affinity term's namespaces are reported at `.namespace`, and a key
in both matchLabelKeys and the label selector at `<term>[i]`).

Pods are validated on create, where Kubernetes' PodValidationOptions allow no invalid label
values: so required node affinity and pod (anti-)affinity selectors check their values, while
preferred node affinity never does (such a term can still match when a cluster has one node).

Field paths are written out only for errors: this runs for every pod and pod template written.
"""

from __future__ import annotations

from typing import Any

from kubelite.api.errors import FieldError, child, forbidden_field, invalid, required
from kubelite.api.labels import validate_label_selector
from kubelite.api.types import Obj
from kubelite.api.validation import names
from kubelite.api.validation.objectmeta import validate_label_name

# The one node field a node selector may match on (nodeFieldSelectorValidators).
_NODE_NAME_FIELD = "metadata.name"
_WEIGHT_RANGE = "must be in the range 1-100"
_NOT_AN_OPERATOR = "not a valid selector operator"
_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_PREFERRED = "preferredDuringSchedulingIgnoredDuringExecution"


def validate_affinity(affinity: Any, path: str) -> list[FieldError]:
    """validateAffinity: node affinity, pod affinity and pod anti-affinity, each if set."""
    if not isinstance(affinity, dict):
        return []
    errs: list[FieldError] = []
    if affinity.get("nodeAffinity") is not None:
        errs.extend(_validate_node_affinity(affinity["nodeAffinity"], child(path, "nodeAffinity")))
    for key in ("podAffinity", "podAntiAffinity"):
        if affinity.get(key) is not None:
            errs.extend(_validate_pod_affinity(affinity[key], child(path, key)))
    return errs


# --- node affinity --------------------------------------------------------------------------------


def _validate_node_affinity(node_affinity: Obj, path: str) -> list[FieldError]:
    """validateNodeAffinity: the required selector (values checked) and the preferred terms."""
    errs: list[FieldError] = []
    selector = node_affinity.get(_REQUIRED)
    if selector is not None:
        errs.extend(validate_node_selector(selector, child(path, _REQUIRED)))
    preferred = node_affinity.get(_PREFERRED) or []
    if preferred:
        errs.extend(validate_preferred_scheduling_terms(preferred, child(path, _PREFERRED)))
    return errs


def validate_node_selector(
    selector: Obj, path: str, *, allow_invalid_label_value: bool = False
) -> list[FieldError]:
    """ValidateNodeSelector: at least one term, since an empty list would match no node at all."""
    terms = selector.get("nodeSelectorTerms") or []
    terms_path = child(path, "nodeSelectorTerms")
    if not terms:
        return [required(terms_path, "must have at least one node selector term")]
    errs: list[FieldError] = []
    for i, term in enumerate(terms):
        errs.extend(
            validate_node_selector_term(
                term or {},
                f"{terms_path}[{i}]",
                allow_invalid_label_value=allow_invalid_label_value,
            )
        )
    return errs


def validate_node_selector_term(
    term: Obj, path: str, *, allow_invalid_label_value: bool = False
) -> list[FieldError]:
    """ValidateNodeSelectorTerm: its label requirements, then its field requirements."""
    errs: list[FieldError] = []
    for j, requirement in enumerate(term.get("matchExpressions") or []):
        errs.extend(
            validate_node_selector_requirement(
                requirement or {},
                f"{child(path, 'matchExpressions')}[{j}]",
                allow_invalid_label_value=allow_invalid_label_value,
            )
        )
    for j, requirement in enumerate(term.get("matchFields") or []):
        errs.extend(
            _validate_node_field_selector_requirement(
                requirement or {}, f"{child(path, 'matchFields')}[{j}]"
            )
        )
    return errs


def validate_node_selector_requirement(
    requirement: Obj, path: str, *, allow_invalid_label_value: bool = False
) -> list[FieldError]:
    """ValidateNodeSelectorRequirement: the operator's arity, a label-name key, label values.

    Kubernetes checks only the count of a `Gt`/`Lt` requirement's values, not that the value is
    an integer (the scheduler treats a non-integer as matching no node).
    """
    errs: list[FieldError] = []
    operator = requirement.get("operator") or ""
    values = requirement.get("values") or []
    if operator in ("In", "NotIn"):
        if not values:
            errs.append(
                required(
                    child(path, "values"), "must be specified when `operator` is 'In' or 'NotIn'"
                )
            )
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            errs.append(
                forbidden_field(
                    child(path, "values"),
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )
    elif operator in ("Gt", "Lt"):
        if len(values) != 1:
            errs.append(
                required(
                    child(path, "values"),
                    "must be specified single value when `operator` is 'Lt' or 'Gt'",
                )
            )
    else:
        errs.append(invalid(child(path, "operator"), operator, _NOT_AN_OPERATOR))
    errs.extend(validate_label_name(requirement.get("key") or "", child(path, "key")))
    if not allow_invalid_label_value:
        for i, value in enumerate(values):
            problems = names.is_valid_label_value(value)
            if problems:
                value_path = f"{child(path, 'values')}[{i}]"
                errs.extend(invalid(value_path, value, msg) for msg in problems)
    return errs


def _validate_node_field_selector_requirement(requirement: Obj, path: str) -> list[FieldError]:
    """ValidateNodeFieldSelectorRequirement: `metadata.name` In/NotIn exactly one node name."""
    errs: list[FieldError] = []
    operator = requirement.get("operator") or ""
    values = requirement.get("values") or []
    if operator in ("In", "NotIn"):
        if len(values) != 1:
            errs.append(
                required(
                    child(path, "values"),
                    "must be only one value when `operator` is 'In' or 'NotIn' for node field "
                    "selector",
                )
            )
    else:
        errs.append(invalid(child(path, "operator"), operator, _NOT_AN_OPERATOR))
    key = requirement.get("key") or ""
    if key != _NODE_NAME_FIELD:
        errs.append(invalid(child(path, "key"), key, "not a valid field selector key"))
        return errs
    for i, value in enumerate(values):
        problems = names.name_is_dns_subdomain(value, False)
        if problems:
            value_path = f"{child(path, 'values')}[{i}]"
            errs.extend(invalid(value_path, value, msg) for msg in problems)
    return errs


def validate_preferred_scheduling_terms(terms: list[Obj], path: str) -> list[FieldError]:
    """ValidatePreferredSchedulingTerms: a weight of 1..100 and a term whose values go unchecked."""
    errs: list[FieldError] = []
    for i, term in enumerate(terms):
        term = term or {}
        item_path = f"{path}[{i}]"
        errs.extend(_weight(term, item_path))
        errs.extend(
            validate_node_selector_term(
                term.get("preference") or {},
                child(item_path, "preference"),
                allow_invalid_label_value=True,
            )
        )
    return errs


def _weight(term: Obj, item_path: str) -> list[FieldError]:
    """A weighted term's weight; a missing one is Go's zero value, so out of range too."""
    weight = term.get("weight") or 0
    if isinstance(weight, int) and 1 <= weight <= 100:
        return []
    return [invalid(child(item_path, "weight"), weight, _WEIGHT_RANGE)]


# --- pod affinity and anti-affinity ---------------------------------------------------------------


def _validate_pod_affinity(pod_affinity: Obj, path: str) -> list[FieldError]:
    """validatePodAffinity and validatePodAntiAffinity, which check the same things."""
    errs: list[FieldError] = []
    required_terms = pod_affinity.get(_REQUIRED)
    if required_terms is not None:
        terms_path = child(path, _REQUIRED)
        for i, term in enumerate(required_terms):
            errs.extend(validate_pod_affinity_term(term or {}, f"{terms_path}[{i}]"))
    preferred_terms = pod_affinity.get(_PREFERRED)
    if preferred_terms is not None:
        terms_path = child(path, _PREFERRED)
        for j, weighted in enumerate(preferred_terms):
            weighted = weighted or {}
            item_path = f"{terms_path}[{j}]"
            errs.extend(_weight(weighted, item_path))
            errs.extend(
                validate_pod_affinity_term(
                    weighted.get("podAffinityTerm") or {}, child(item_path, "podAffinityTerm")
                )
            )
    return errs


def validate_pod_affinity_term(term: Obj, path: str) -> list[FieldError]:
    """validatePodAffinityTerm: selectors, namespaces, label keys and a topology key."""
    errs = validate_label_selector(term.get("labelSelector"), child(path, "labelSelector"))
    errs.extend(
        validate_label_selector(term.get("namespaceSelector"), child(path, "namespaceSelector"))
    )
    for name in term.get("namespaces") or []:
        # Kubernetes reports these at `namespace`, singular, without an index.
        errs.extend(
            invalid(child(path, "namespace"), name, msg)
            for msg in names.name_is_dns_label(name, False)
        )
    if term.get("matchLabelKeys") or term.get("mismatchLabelKeys"):
        errs.extend(_validate_match_label_keys(term, path))
    topology_key = term.get("topologyKey") or ""
    if not topology_key:
        errs.append(required(child(path, "topologyKey"), "can not be empty"))
    errs.extend(validate_label_name(topology_key, child(path, "topologyKey")))
    return errs


def _validate_match_label_keys(term: Obj, path: str) -> list[FieldError]:
    """validateMatchLabelKeysAndMismatchLabelKeys: label names, set only with a label selector,
    and no key in both lists or in both matchLabelKeys and the selector."""
    selector = term.get("labelSelector")
    match_keys: list[str] = term.get("matchLabelKeys") or []
    mismatch_keys: list[str] = term.get("mismatchLabelKeys") or []
    errs: list[FieldError] = []
    for name, keys in (("matchLabelKeys", match_keys), ("mismatchLabelKeys", mismatch_keys)):
        if not keys:
            continue
        keys_path = child(path, name)
        if selector is None:
            errs.append(
                forbidden_field(keys_path, "must not be specified when labelSelector is not set")
            )
            continue
        for i, key in enumerate(keys):
            errs.extend(validate_label_name(key, f"{keys_path}[{i}]"))
    if selector is not None:
        # The last index of each key, as Go's map of them keeps.
        match_index = {key: i for i, key in enumerate(match_keys)}
        seen = set((selector.get("matchLabels") or {}).keys())
        for expression in selector.get("matchExpressions") or []:
            key = (expression or {}).get("key") or ""
            if key in match_index and key in seen:
                # Kubernetes indexes the term's own path here, not matchLabelKeys.
                errs.append(
                    invalid(
                        f"{path}[{match_index[key]}]",
                        key,
                        "exists in both matchLabelKeys and labelSelector",
                    )
                )
            seen.add(key)
    mismatch = set(mismatch_keys)
    for i, key in enumerate(match_keys):
        if key in mismatch:
            errs.append(
                invalid(
                    f"{child(path, 'matchLabelKeys')}[{i}]",
                    key,
                    "exists in both matchLabelKeys and mismatchLabelKeys",
                )
            )
    return errs
