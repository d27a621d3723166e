"""InterPodAffinity: places a pod near the pods it has affinity to and away from those it has
anti-affinity to, and keeps it out of the way of running pods' anti-affinity.

A term selects pods by labels (`labelSelector`) in some namespaces (`namespaces`, a
`namespaceSelector` on the namespaces' labels, or by default the pod's own namespace), and names
a `topologyKey`: two nodes are in the same domain when they carry the same value of that label.

Filter, from counts PreFilter makes once per pod over the cluster:

* required affinity: every term's topology label must be on the node, and some pod matching
  all the terms must run in the node's domain of each term (`node(s) didn't match pod affinity
  rules`, UnschedulableAndUnresolvable) -- except for the first pod of a group that matches its
  own terms while no pod anywhere does yet, which may go anywhere with those labels;
* required anti-affinity: no pod matching a term may run in the node's domain of that term
  (`node(s) didn't match pod anti-affinity rules`, Unschedulable);
* existing pods' required anti-affinity: no running pod whose anti-affinity term matches this
  pod may be in the node's domain of that term (`node(s) didn't satisfy existing pods
  anti-affinity rules`, Unschedulable).

PreFilter answers Skip when the pod has no required terms and no running pod's anti-affinity
matches it. Score adds, per topology domain, the weights of the pod's preferred terms matched by
the pods running there (minus for anti-affinity), of those pods' preferred terms that match this
pod, and 1 for each of their required affinity terms that matches it (the default
hardPodAffinityWeight); NormalizeScore maps the lowest total to 0 and the highest to 100.

The namespaces a `namespaceSelector` selects are resolved through `namespace_labels(name)`, the
labels of a namespace or None when it does not exist: a pod in a namespace that does not exist
is selected by no non-empty namespaceSelector, and an empty one (`{}`) selects every namespace.

Kubernetes: pkg/scheduler/framework/plugins/interpodaffinity/{plugin,filtering,scoring}.go and
AffinityTerm in pkg/scheduler/framework/types.go (1.33). `matchLabelKeys` and
`mismatchLabelKeys` are the API server's to merge into the label selector at creation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kubelite.api import labels
from kubelite.api.errors import aggregate
from kubelite.scheduler.framework.events import (
    NODE_ADD,
    NODE_UPDATE,
    POD_ADD,
    POD_DELETE,
    POD_UPDATE,
)
from kubelite.scheduler.framework.interface import MAX_NODE_SCORE, Handle
from kubelite.scheduler.framework.status import (
    SKIP,
    SUCCESS,
    Status,
    error,
    unresolvable,
    unschedulable,
)
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult

NAME = "InterPodAffinity"

ERR_REASON_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH = "node(s) didn't match pod anti-affinity rules"
ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH = (
    "node(s) didn't satisfy existing pods anti-affinity rules"
)

# InterPodAffinityArgs.hardPodAffinityWeight's default: the score a running pod's required
# affinity term gives the domains where the incoming pod would satisfy it.
DEFAULT_HARD_POD_AFFINITY_WEIGHT = 1

_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

NamespaceLabels = Callable[[str], Mapping[str, str] | None]
TopologyCounts = dict[tuple[str, str], int]


class AffinityTerm:
    """A parsed PodAffinityTerm: the pods it selects and its topology key.

    `namespace_selector` None is a nil selector (selects no namespace); an empty Selector is
    `{}` (every namespace).
    """

    __slots__ = ("namespace_selector", "namespaces", "selector", "topology_key")

    def __init__(self, pod_namespace: str, term: Mapping[str, Any]) -> None:
        """newAffinityTerm; raises labels.SelectorError on a bad selector."""
        self.selector = labels.from_label_selector(term.get("labelSelector"))
        namespace_selector = term.get("namespaceSelector")
        namespaces = term.get("namespaces") or ()
        if not namespaces and namespace_selector is None:
            self.namespaces: frozenset[str] = frozenset((pod_namespace,))
        else:
            self.namespaces = frozenset(namespaces)
        self.namespace_selector: labels.Selector | None = (
            None if namespace_selector is None else labels.from_label_selector(namespace_selector)
        )
        self.topology_key: str = term.get("topologyKey") or ""

    def matches(
        self, namespace: str, pod_labels: Mapping[str, str], namespace_labels: Mapping[str, str]
    ) -> bool:
        """AffinityTerm.Matches: a running pod's term against a pod whose namespace carries
        `namespace_labels`."""
        if namespace in self.namespaces or (
            self.namespace_selector is not None
            and self.namespace_selector.matches(namespace_labels)
        ):
            return self.selector.matches(pod_labels)
        return False


@dataclass(frozen=True, slots=True)
class PodTerms:
    """A pod's inter-pod affinity, parsed once (PodInfo's RequiredAffinityTerms & co.): a
    category whose terms do not parse is empty, and the error says why."""

    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti_affinity: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[tuple[AffinityTerm, int], ...] = ()
    preferred_anti_affinity: tuple[tuple[AffinityTerm, int], ...] = ()
    error: str = ""


_NO_TERMS = PodTerms()


def pod_terms(pod: PodInfo) -> PodTerms:
    """The pod's parsed terms, kept in its memo."""
    terms = pod.memo.get(NAME)
    if terms is None:
        terms = pod.memo[NAME] = _parse(pod) if pod.has_affinity else _NO_TERMS
    return terms


def _parse(pod: PodInfo) -> PodTerms:
    namespace = pod.namespace
    affinity = pod.affinity.get("podAffinity") or {}
    anti = pod.affinity.get("podAntiAffinity") or {}
    errors: list[str] = []

    def required(category: str, spec: Mapping[str, Any]) -> tuple[AffinityTerm, ...]:
        try:
            return tuple(
                AffinityTerm(namespace, t)
                for t in spec.get("requiredDuringSchedulingIgnoredDuringExecution") or ()
            )
        except labels.SelectorError as e:
            errors.append(f"{category}: {e}")
            return ()

    def preferred(category: str, spec: Mapping[str, Any]) -> tuple[tuple[AffinityTerm, int], ...]:
        try:
            return tuple(
                (AffinityTerm(namespace, t.get("podAffinityTerm") or {}), int(t.get("weight") or 0))
                for t in spec.get("preferredDuringSchedulingIgnoredDuringExecution") or ()
            )
        except labels.SelectorError as e:
            errors.append(f"{category}: {e}")
            return ()

    return PodTerms(
        required("requiredAffinityTerms", affinity),
        required("requiredAntiAffinityTerms", anti),
        preferred("preferredAffinityTerms", affinity),
        preferred("preferredAntiAffinityTerms", anti),
        aggregate(errors) if errors else "",
    )


class _Namespaces:
    """The incoming pod's side of namespace selection, for one cycle.

    Kubernetes lists the namespaces a non-empty namespaceSelector of the incoming pod selects
    and adds them to the term's namespaces; asking whether the namespace of each pod met
    selects is the same question, and the answers are kept for the cycle.
    """

    __slots__ = ("_answers", "_lookup")

    def __init__(self, lookup: NamespaceLabels) -> None:
        self._lookup = lookup
        self._answers: dict[tuple[int, str], bool] = {}

    def labels_of(self, namespace: str) -> Mapping[str, str]:
        """GetNamespaceLabelsSnapshot: no labels for a namespace that does not exist."""
        return self._lookup(namespace) or {}

    def term_matches(
        self, term: AffinityTerm, namespace: str, pod_labels: Mapping[str, str]
    ) -> bool:
        """An incoming pod's term against a pod in `namespace`."""
        if namespace not in term.namespaces:
            selector = term.namespace_selector
            if selector is None:
                return False
            if not selector.empty():
                key = (id(term), namespace)
                selected = self._answers.get(key)
                if selected is None:
                    found = self._lookup(namespace)
                    selected = self._answers[key] = found is not None and selector.matches(found)
                if not selected:
                    return False
        return term.selector.matches(pod_labels)

    def matches_all(self, terms: tuple[AffinityTerm, ...], pod: PodInfo) -> bool:
        """podMatchesAllAffinityTerms: false for no terms."""
        if not terms:
            return False
        namespace = pod.namespace
        pod_labels = pod.labels
        return all(self.term_matches(t, namespace, pod_labels) for t in terms)


@dataclass(slots=True)
class _FilterState:
    affinity_keys: tuple[str, ...]
    affinity_counts: TopologyCounts
    anti_affinity_keys: tuple[str, ...]
    anti_affinity_counts: TopologyCounts
    existing_anti_affinity_keys: tuple[str, ...]
    existing_anti_affinity_counts: TopologyCounts
    # The first pod of a group may go where its own terms' topology labels are.
    self_affinity: bool


def _count(counts: TopologyCounts, node_labels: Mapping[str, str], key: str, value: int) -> None:
    domain = node_labels.get(key)
    if domain is not None:
        pair = (key, domain)
        counts[pair] = counts.get(pair, 0) + value


class InterPodAffinity:
    """Filters and scores nodes by the pod's affinity and anti-affinity to other pods, and by other
    pods' anti-affinity to it."""

    name = NAME

    def __init__(self, handle: Handle, namespace_labels: NamespaceLabels | None = None) -> None:
        self._handle = handle
        self._namespace_labels: NamespaceLabels = namespace_labels or _no_namespaces
        self._refused_affinity = unresolvable(ERR_REASON_AFFINITY_RULES_NOT_MATCH, plugin=NAME)
        self._refused_anti_affinity = unschedulable(
            ERR_REASON_ANTI_AFFINITY_RULES_NOT_MATCH, plugin=NAME
        )
        self._refused_existing = unschedulable(
            ERR_REASON_EXISTING_ANTI_AFFINITY_RULES_NOT_MATCH, plugin=NAME
        )

    def events_to_register(self) -> set[str]:
        """An assigned pod added (affinity), deleted (anti-affinity) or relabelled; a node
        added or relabelled (topology)."""
        return {POD_ADD, POD_UPDATE, POD_DELETE, NODE_ADD, NODE_UPDATE}

    # --- filtering ----------------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        with_anti_affinity = self._handle.snapshot.with_pods_with_required_anti_affinity()
        terms = pod_terms(pod)
        if terms.error:
            return None, unresolvable(f"parsing pod: {terms.error}", plugin=NAME)
        affinity = terms.required_affinity
        anti_affinity = terms.required_anti_affinity
        if not with_anti_affinity and not affinity and not anti_affinity:
            return None, SKIP
        namespaces = _Namespaces(self._namespace_labels)
        existing = self._existing_anti_affinity_counts(pod, namespaces, with_anti_affinity)
        if not existing and not affinity and not anti_affinity:
            return None, SKIP
        affinity_counts: TopologyCounts = {}
        anti_affinity_counts: TopologyCounts = {}
        if affinity or anti_affinity:
            for node in nodes:
                node_labels = node.labels
                for other in node.pods.values():
                    # A pod counts for the affinity only if it matches all the terms.
                    if affinity and namespaces.matches_all(affinity, other):
                        for term in affinity:
                            _count(affinity_counts, node_labels, term.topology_key, 1)
                    for term in anti_affinity:
                        if namespaces.term_matches(term, other.namespace, other.labels):
                            _count(anti_affinity_counts, node_labels, term.topology_key, 1)
        state[_PRE_FILTER_KEY] = _FilterState(
            tuple(t.topology_key for t in affinity),
            affinity_counts,
            tuple(t.topology_key for t in anti_affinity),
            anti_affinity_counts,
            tuple({key for key, _ in existing}),
            existing,
            not affinity_counts and namespaces.matches_all(affinity, pod),
        )
        return None, SUCCESS

    def _existing_anti_affinity_counts(
        self, pod: PodInfo, namespaces: _Namespaces, nodes: list[NodeInfo]
    ) -> TopologyCounts:
        """getExistingAntiAffinityCounts: per domain, the running pods' anti-affinity terms
        that match the incoming pod."""
        counts: TopologyCounts = {}
        if not nodes:
            return counts
        namespace = pod.namespace
        pod_labels = pod.labels
        namespace_labels = namespaces.labels_of(namespace)
        for node in nodes:
            node_labels = node.labels
            for other in node.pods_with_required_anti_affinity.values():
                for term in pod_terms(other).required_anti_affinity:
                    if term.matches(namespace, pod_labels, namespace_labels):
                        _count(counts, node_labels, term.topology_key, 1)
        return counts

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return error(f'reading "{_PRE_FILTER_KEY}" from cycleState: not found', NAME)
        node_labels = node.labels
        if s.affinity_keys:
            pods_exist = True
            for key in s.affinity_keys:
                domain = node_labels.get(key)
                if domain is None:
                    return self._refused_affinity  # every topology label must be on the node
                if s.affinity_counts.get((key, domain), 0) <= 0:
                    pods_exist = False
            if not pods_exist and not s.self_affinity:
                return self._refused_affinity
        if s.anti_affinity_counts:
            for key in s.anti_affinity_keys:
                domain = node_labels.get(key)
                if domain is not None and s.anti_affinity_counts.get((key, domain), 0) > 0:
                    return self._refused_anti_affinity
        if s.existing_anti_affinity_counts:
            for key in s.existing_anti_affinity_keys:
                domain = node_labels.get(key)
                if domain is not None and s.existing_anti_affinity_counts.get((key, domain), 0) > 0:
                    return self._refused_existing
        return SUCCESS

    # --- scoring ------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        terms = pod_terms(pod)
        if terms.error:
            return error(f"failed to parse pod: {terms.error}", NAME)
        has_constraints = bool(terms.preferred_affinity or terms.preferred_anti_affinity)
        snapshot = self._handle.snapshot
        # Unless the pod has preferred terms, only pods with affinity can add to a score.
        all_nodes = snapshot.list() if has_constraints else snapshot.with_pods_with_affinity()
        if not all_nodes:
            return SKIP
        namespaces = _Namespaces(self._namespace_labels)
        namespace = pod.namespace
        pod_labels = pod.labels
        namespace_labels = namespaces.labels_of(namespace)
        scores: dict[str, dict[str, int]] = {}

        def add(key: str, domain: str, value: int) -> None:
            by_domain = scores.get(key)
            if by_domain is None:
                by_domain = scores[key] = {}
            by_domain[domain] = by_domain.get(domain, 0) + value

        for node in all_nodes:
            others = node.pods if has_constraints else node.pods_with_affinity
            node_labels = node.labels
            if not others or not node_labels:
                continue
            for other in others.values():
                other_namespace = other.namespace
                other_labels = other.labels
                # The incoming pod's preferred terms, matched by the pods running here.
                for term, weight in terms.preferred_affinity:
                    domain = node_labels.get(term.topology_key)
                    if domain is not None and namespaces.term_matches(
                        term, other_namespace, other_labels
                    ):
                        add(term.topology_key, domain, weight)
                for term, weight in terms.preferred_anti_affinity:
                    domain = node_labels.get(term.topology_key)
                    if domain is not None and namespaces.term_matches(
                        term, other_namespace, other_labels
                    ):
                        add(term.topology_key, domain, -weight)
                # The running pods' terms, matched by the incoming pod.
                other_terms = pod_terms(other)
                for term in other_terms.required_affinity:
                    domain = node_labels.get(term.topology_key)
                    if domain is not None and term.matches(namespace, pod_labels, namespace_labels):
                        add(term.topology_key, domain, DEFAULT_HARD_POD_AFFINITY_WEIGHT)
                for term, weight in other_terms.preferred_affinity:
                    domain = node_labels.get(term.topology_key)
                    if domain is not None and term.matches(namespace, pod_labels, namespace_labels):
                        add(term.topology_key, domain, weight)
                for term, weight in other_terms.preferred_anti_affinity:
                    domain = node_labels.get(term.topology_key)
                    if domain is not None and term.matches(namespace, pod_labels, namespace_labels):
                        add(term.topology_key, domain, -weight)
        if not scores:
            return SKIP
        state[_PRE_SCORE_KEY] = scores
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        scores: dict[str, dict[str, int]] | None = state.get(_PRE_SCORE_KEY)
        if scores is None:
            return 0, error(f'failed to read "{_PRE_SCORE_KEY}" from cycleState', NAME)
        node_labels = node.labels
        total = 0
        for key, by_domain in scores.items():
            domain = node_labels.get(key)
            if domain is not None:
                total += by_domain.get(domain, 0)
        return total, SUCCESS

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: list[tuple[str, int]]
    ) -> tuple[list[tuple[str, int]], Status]:
        """Lowest to 0, highest to 100, linearly (truncated); all 0 when they are equal."""
        if not scores or not state.get(_PRE_SCORE_KEY):
            return scores, SUCCESS
        lowest = min(score for _, score in scores)
        spread = max(score for _, score in scores) - lowest
        if spread <= 0:
            return [(name, 0) for name, _ in scores], SUCCESS
        return [
            (name, int(float(MAX_NODE_SCORE) * (float(score - lowest) / float(spread))))
            for name, score in scores
        ], SUCCESS


def _no_namespaces(name: str) -> None:
    return None
