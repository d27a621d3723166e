"""Whether a node satisfies a pod's node selector and node affinity.

The scheduler's NodeAffinity plugin filters and scores with these rules, and the kubelet checks
the same ones when it admits a pod bound to its node, so they live here once. They follow
component-helpers `scheduling/corev1/nodeaffinity` (Kubernetes 1.33):

* `spec.nodeSelector` is a set of `key=value` labels the node must all carry.
* `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms` are ORed. A term ANDs its
  `matchExpressions` (on labels: In, NotIn, Exists, DoesNotExist, Gt, Lt) and its `matchFields`
  (on fields: only `metadata.name`, with In or NotIn and exactly one value). A term with neither
  matches nothing, and so does a selector with no such term.
* A term that does not parse (unknown operator, a bad label key or value, Gt with a non-integer)
  matches nothing, but the other terms still count: Kubernetes reports such errors only when no
  term matches (its "lazy error" selector), and the scheduler ignores them.
* Preferred terms add their weight to a node's score when they match; a term of weight 0 or with
  neither expressions nor fields is left out, and any parse error refuses the whole list.

Everything is compiled once per pod (`RequiredNodeAffinity.from_pod`), then matched against a
node's name and labels, which is all a match needs: the scheduler matches one pod against
thousands of nodes.

>>> affinity = RequiredNodeAffinity.from_pod({"spec": {"nodeSelector": {"disk": "ssd"}}})
>>> affinity.matches("node-1", {"disk": "ssd"}), affinity.matches("node-2", {})
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from kubelite.api import labels
from kubelite.api.errors import (
    FieldError,
    GoStrings,
    aggregate,
    child,
    invalid,
    not_supported,
)
from kubelite.api.types import ObjView

# metav1.ObjectNameField: the only field a node selector term can match.
METADATA_NAME = "metadata.name"

# v1.NodeSelectorOperator values and the label selector operators they become.
OPERATORS = {
    "In": labels.IN,
    "NotIn": labels.NOT_IN,
    "Exists": labels.EXISTS,
    "DoesNotExist": labels.DOES_NOT_EXIST,
    "Gt": labels.GREATER_THAN,
    "Lt": labels.LESS_THAN,
}
FIELD_OPERATORS = ("In", "NotIn")


class NodeAffinityError(ValueError):
    """Terms that do not parse; str() is the aggregate Kubernetes reports."""


class NodeSelectorTerm:
    """One v1.NodeSelectorTerm, compiled: its label requirements, its field requirements as
    (must equal, is metadata.name, value), and the errors that make it match nothing."""

    __slots__ = ("errors", "fields", "requirements")

    def __init__(self, term: ObjView, path: str = "") -> None:
        errors: list[FieldError] = []
        self.requirements: tuple[labels.Requirement, ...] | None = None
        self.fields: tuple[tuple[bool, bool, str], ...] | None = None
        expressions = term.get("matchExpressions") or ()
        if expressions:
            self.requirements = _label_requirements(
                expressions, child(path, "matchExpressions"), errors
            )
        match_fields = term.get("matchFields") or ()
        if match_fields:
            self.fields = _field_requirements(match_fields, child(path, "matchFields"), errors)
        self.errors: tuple[str, ...] = tuple(str(e) for e in errors)

    def matches(self, name: str, node_labels: Mapping[str, str]) -> bool:
        if self.errors:
            return False
        if self.requirements is not None:
            for requirement in self.requirements:
                if not requirement.matches(node_labels):
                    return False
        # A node without a name has no fields to match, and Kubernetes then ignores matchFields.
        if self.fields is not None and name:
            for equal, is_name, value in self.fields:
                have = name if is_name else ""
                if (have == value) != equal:
                    return False
        return True


def _is_empty(term: ObjView) -> bool:
    return not term.get("matchExpressions") and not term.get("matchFields")


def _label_requirements(
    expressions: Sequence[ObjView], path: str, errors: list[FieldError]
) -> tuple[labels.Requirement, ...]:
    """nodeSelectorRequirementsAsSelector: every expression a checked label requirement."""
    result = []
    for i, expr in enumerate(expressions):
        p = f"{path}[{i}]"
        operator = OPERATORS.get(expr.get("operator") or "")
        if operator is None:
            errors.append(
                not_supported(child(p, "operator"), expr.get("operator") or "", tuple(OPERATORS))
            )
            continue
        values = expr.get("values")
        values = list(values) if values is not None else None
        problems = labels.requirement_errors(expr.get("key") or "", operator, values, p)
        if problems:
            errors.extend(problems)
            continue
        result.append(labels.Requirement(expr.get("key") or "", operator, tuple(values or ())))
    return tuple(result)


def _field_requirements(
    expressions: Sequence[ObjView], path: str, errors: list[FieldError]
) -> tuple[tuple[bool, bool, str], ...]:
    """nodeSelectorRequirementsAsFieldSelector: In / NotIn with exactly one value."""
    result = []
    for i, expr in enumerate(expressions):
        p = f"{path}[{i}]"
        operator = expr.get("operator") or ""
        values = expr.get("values")
        if operator not in FIELD_OPERATORS:
            errors.append(not_supported(child(p, "operator"), operator, FIELD_OPERATORS))
            continue
        if values is None or len(values) != 1:
            shown = GoStrings(tuple(values) if values is not None else None)
            errors.append(invalid(child(p, "values"), shown, "must have one element"))
            continue
        result.append((operator == "In", expr.get("key") == METADATA_NAME, values[0]))
    return tuple(result)


class NodeSelector:
    """A v1.NodeSelector (terms ORed) that, like Kubernetes' LazyErrorNodeSelector, lets the
    terms that parse match and keeps the others' errors in `errors`."""

    __slots__ = ("errors", "terms")

    def __init__(self, selector: ObjView | None, path: str = "") -> None:
        terms = []
        errors: list[str] = []
        for i, term in enumerate((selector or {}).get("nodeSelectorTerms") or ()):
            if _is_empty(term):
                continue  # a nil or empty term selects nothing
            compiled = NodeSelectorTerm(term, f"{child(path, 'nodeSelectorTerms')}[{i}]")
            errors.extend(compiled.errors)
            terms.append(compiled)
        self.terms: tuple[NodeSelectorTerm, ...] = tuple(terms)
        self.errors: tuple[str, ...] = tuple(errors)

    def matches(self, name: str, node_labels: Mapping[str, str]) -> bool:
        return any(term.matches(name, node_labels) for term in self.terms)

    def match_node(self, node: ObjView) -> bool:
        return self.matches(*_name_and_labels(node))


class PreferredSchedulingTerms:
    """[]v1.PreferredSchedulingTerm compiled for scoring: (term, weight) pairs."""

    __slots__ = ("terms",)

    def __init__(self, terms: Sequence[ObjView] | None, path: str = "") -> None:
        """NewPreferredSchedulingTerms: raises NodeAffinityError if any term does not parse."""
        compiled = []
        errors: list[str] = []
        for i, term in enumerate(terms or ()):
            weight = int(term.get("weight") or 0)
            preference = term.get("preference") or {}
            if weight == 0 or _is_empty(preference):
                continue
            parsed = NodeSelectorTerm(preference, f"{path}[{i}]" if path else f"[{i}]")
            if parsed.errors:
                errors.extend(parsed.errors)
            else:
                compiled.append((parsed, weight))
        if errors:
            raise NodeAffinityError(aggregate(errors))
        self.terms: tuple[tuple[NodeSelectorTerm, int], ...] = tuple(compiled)

    def score(self, name: str, node_labels: Mapping[str, str]) -> int:
        """The sum of the weights of the terms the node matches."""
        total = 0
        for term, weight in self.terms:
            if term.matches(name, node_labels):
                total += weight
        return total


class RequiredNodeAffinity:
    """What a pod requires of its node: `spec.nodeSelector` and the required node affinity
    (GetRequiredNodeAffinity). Either may be absent; with neither, every node matches."""

    __slots__ = ("node_selector", "selector")

    def __init__(
        self, node_selector: Mapping[str, str] | None, selector: NodeSelector | None
    ) -> None:
        self.node_selector: tuple[tuple[str, str], ...] | None = (
            tuple(node_selector.items()) if node_selector else None
        )
        self.selector = selector

    @classmethod
    def from_pod(cls, pod: ObjView) -> RequiredNodeAffinity:
        spec = pod.get("spec") or {}
        required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        return cls(
            spec.get("nodeSelector"),
            NodeSelector(required) if required is not None else None,
        )

    def matches(self, name: str, node_labels: Mapping[str, str]) -> bool:
        if self.node_selector is not None:
            for key, value in self.node_selector:
                if node_labels.get(key) != value:
                    return False
        if self.selector is not None:
            return self.selector.matches(name, node_labels)
        return True

    def match_node(self, node: ObjView) -> bool:
        return self.matches(*_name_and_labels(node))

    @property
    def errors(self) -> tuple[str, ...]:
        """Parse errors of the required terms (reported by Kubernetes only when nothing
        matched; the scheduler ignores them)."""
        return self.selector.errors if self.selector is not None else ()


def preferred_scheduling_terms(pod: ObjView) -> PreferredSchedulingTerms | None:
    """The pod's preferred node affinity, or None when it has none; raises
    NodeAffinityError when a term does not parse."""
    spec = pod.get("spec") or {}
    node_affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    terms = node_affinity.get("preferredDuringSchedulingIgnoredDuringExecution")
    if terms is None:
        return None
    return PreferredSchedulingTerms(terms)


def _name_and_labels(node: ObjView) -> tuple[str, Mapping[str, str]]:
    metadata = node.get("metadata") or {}
    return metadata.get("name") or "", metadata.get("labels") or {}
