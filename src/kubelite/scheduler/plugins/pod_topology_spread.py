"""PodTopologySpread: spreads a group of pods evenly over topology domains (zones, hosts, any
node label), as the pod's `spec.topologySpreadConstraints` ask.

A constraint names a `topologyKey` (two nodes are in the same domain when they carry the same
value of that label), a `labelSelector` picking the pods of the group in the pod's own
namespace (the API server added the pod's values of `matchLabelKeys` to it when the pod was
created, MatchLabelKeysInPodTopologySpreadSelectorMerge: from 1.35 the plugin no longer adds them
again, KEP-3243), and a `maxSkew`: how many more matching pods one domain may
hold than the emptiest. Which nodes make up the domains is set by `nodeAffinityPolicy` (Honor,
the default: only nodes that match the pod's nodeSelector and required node affinity) and
`nodeTaintsPolicy` (Ignore, the default; Honor leaves out nodes with a NoSchedule/NoExecute
taint the pod does not tolerate). Terminating pods (with a deletionTimestamp) do not count.

Filter, for the `whenUnsatisfiable: DoNotSchedule` constraints, from counts PreFilter makes
once per pod over all nodes that carry every such constraint's topology key:

* a node without one of the topology keys is refused with `node(s) didn't match pod topology
  spread constraints (missing required label)` (UnschedulableAndUnresolvable: no pod leaving
  will give the node the label);
* otherwise, per constraint, `matching pods in the node's domain + 1 if the pod matches its own
  selector - the global minimum` must not exceed maxSkew, or the node is refused with
  `node(s) didn't match pod topology spread constraints` (Unschedulable: pods going away may
  fix it). The global minimum is the fewest matching pods in any eligible domain, or 0 while
  there are fewer eligible domains than `minDomains` (default 1), which lets a group open new
  domains before piling into the existing ones.

Score, for the `whenUnsatisfiable: ScheduleAnyway` constraints: a node gets, per constraint,
`matching pods in its domain * log(domains + 2) + maxSkew - 1`, where the domains are those of
the nodes being scored (the weight keeps a key with few large domains from drowning one with
many small ones); the sum is rounded. Nodes missing a topology key are left out and score 0
(except under the System defaults, below).
NormalizeScore reverses the sums onto 0..100 (`100 * (max + min - score) / max`), so the node
whose domains hold the fewest matching pods scores highest.

A pod without `topologySpreadConstraints` of its own gets the cluster's default constraints
(PodTopologySpreadArgs, the constructor's `defaulting_type` and `default_constraints`; the
scheduler runs with the default, `defaultingType: System`): `kubernetes.io/hostname` with
maxSkew 3 and `topology.kubernetes.io/zone` with maxSkew 5, both ScheduleAnyway, so that the
replicas of one workload spread over hosts and zones though nobody asked. Their selector is
built each cycle from what selects the pod (helper.default_selector, through the scheduler's
Service/ReplicationController/ReplicaSet/StatefulSet listers): the Services of its namespace
that match it and its controller's selector. A pod that nothing selects (a bare pod) gets no
default constraint and costs no more than the look-ups. With System defaults a node missing a
key is still scored by the keys it has (hollow nodes carry no zone: hostname alone spreads
them), where the pod's own constraints leave such a node out. Neither Services nor controllers
wake parked pods (kube-scheduler registers no such event): the System defaults only score, and
never made a pod unschedulable.

PreFilter answers Skip when the pod has no DoNotSchedule constraint (the System defaults have
none), and PreScore Skip when it has no ScheduleAnyway constraint. Each node's count of
matching pods is kept from cycle to cycle, by namespace and selector, while the node's pods are
unchanged: the pods of a workload come one after another with one selector, and recounting
every pod of the cluster for each of them is what would make default spreading costly.

Kubernetes: pkg/scheduler/framework/plugins/podtopologyspread/{common,filtering,scoring,
plugin}.go and helper/spread.go (1.33), with the MinDomains, NodeInclusionPolicy and
MatchLabelKeys features on, as they are by default; without PreFilterExtensions, which only
preemption uses.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kubelite.api import labels
from kubelite.api.nodeaffinity import RequiredNodeAffinity
from kubelite.api.tolerations import (
    DO_NOT_SCHEDULE,
    Toleration,
    compile_tolerations,
    find_untolerated_taint,
)
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
from kubelite.scheduler.plugins.helper import default_selector

NAME = "PodTopologySpread"

ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"

DO_NOT_SCHEDULE_ACTION = "DoNotSchedule"
SCHEDULE_ANYWAY_ACTION = "ScheduleAnyway"
HONOR = "Honor"
IGNORE = "Ignore"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_TOPOLOGY_ZONE = "topology.kubernetes.io/zone"

# PodTopologySpreadArgs.defaultingType: the built-in constraints below, or the args' own list.
SYSTEM_DEFAULTING = "System"
LIST_DEFAULTING = "List"

# systemDefaultConstraints (plugin.go): spread each workload over hosts and zones, softly.
SYSTEM_DEFAULT_CONSTRAINTS: tuple[Mapping[str, Any], ...] = (
    {"topologyKey": LABEL_HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY_ACTION, "maxSkew": 3},
    {"topologyKey": LABEL_TOPOLOGY_ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY_ACTION, "maxSkew": 5},
)

_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME


@dataclass(frozen=True, slots=True)
class Constraint:
    """A parsed TopologySpreadConstraint (topologySpreadConstraint in common.go)."""

    max_skew: int
    topology_key: str
    selector: labels.Selector
    min_domains: int = 1
    node_affinity_policy: str = HONOR
    node_taints_policy: str = IGNORE


@dataclass(frozen=True, slots=True)
class PodConstraints:
    """A pod's constraints by action, parsed once and kept in its memo; `error` says why a
    selector did not parse (then both are empty). `declared`: the pod has constraints of its
    own, so the default ones do not apply to it (even when none of its own is of an action)."""

    hard: tuple[Constraint, ...] = ()
    soft: tuple[Constraint, ...] = ()
    error: str = ""
    declared: bool = False


_NO_CONSTRAINTS = PodConstraints()


def pod_constraints(pod: PodInfo) -> PodConstraints:
    """The pod's parsed constraints, kept in its memo: a pod is tried many times."""
    parsed = pod.memo.get(NAME)
    if parsed is None:
        parsed = pod.memo[NAME] = _parse(pod)
    return parsed


def _parse(pod: PodInfo) -> PodConstraints:
    raw = pod.spec.get("topologySpreadConstraints") or ()
    if not raw:
        return _NO_CONSTRAINTS
    try:
        return PodConstraints(
            _constraints(raw, DO_NOT_SCHEDULE_ACTION),
            _constraints(raw, SCHEDULE_ANYWAY_ACTION),
            declared=True,
        )
    except labels.SelectorError as e:
        return PodConstraints(error=str(e), declared=True)


def _constraints(raw: Sequence[Mapping[str, Any]], action: str) -> tuple[Constraint, ...]:
    """filterTopologySpreadConstraints: the constraints with `whenUnsatisfiable: action`, their
    nil fields defaulted; raises labels.SelectorError on a bad selector."""
    result = []
    for c in raw:
        if c.get("whenUnsatisfiable") != action:
            continue
        selector = labels.from_label_selector(c.get("labelSelector"))
        min_domains = c.get("minDomains")
        result.append(
            Constraint(
                int(c.get("maxSkew") or 0),
                c.get("topologyKey") or "",
                selector,
                1 if min_domains is None else int(min_domains),
                c.get("nodeAffinityPolicy") or HONOR,
                c.get("nodeTaintsPolicy") or IGNORE,
            )
        )
    return tuple(result)


def _count_matching(node: NodeInfo, selector: labels.Selector, namespace: str) -> int:
    """countPodsMatchSelector: the node's pods in `namespace` that the selector matches, not
    counting terminating ones (they are about to free their place, kubernetes#87621). An
    empty selector counts nothing."""
    if selector.empty():
        return 0
    count = 0
    for other in node.pods.values():
        metadata = other.pod["metadata"]
        if metadata.get("deletionTimestamp") or other.namespace != namespace:
            continue
        if selector.matches(other.labels):
            count += 1
    return count


# How many selectors the count cache keeps (the least recently used goes first): a few
# workloads being scheduled at once, a rolling update's old and new ReplicaSets.
_CACHED_SELECTORS = 32

NodeCounter = Callable[[NodeInfo], int]


class _MatchCounts:
    """The matching pods of each node, by (namespace, selector), kept from cycle to cycle.

    A workload's pods are scheduled one after another with the same selector, and between two
    of them only the node that took the last one (and those the watch changed) have other
    pods: counting every node's pods again each cycle would cost O(pods in the cluster) per
    pod. A count is reused while its node is the same NodeInfo at the same generation, which
    the cache bumps on every pod added, removed or relabelled there.
    """

    __slots__ = ("_by_selector",)

    def __init__(self) -> None:
        self._by_selector: OrderedDict[
            tuple[str, labels.Selector], dict[str, tuple[NodeInfo, int, int]]
        ] = OrderedDict()

    def counter(self, selector: labels.Selector, namespace: str) -> NodeCounter:
        """A function giving a node's count of pods in `namespace` matching `selector`."""
        key = (namespace, selector)
        counts = self._by_selector.get(key)
        if counts is None:
            counts = self._by_selector[key] = {}
            if len(self._by_selector) > _CACHED_SELECTORS:
                self._by_selector.popitem(last=False)
        else:
            self._by_selector.move_to_end(key)

        def count(node: NodeInfo) -> int:
            entry = counts.get(node.name)
            if entry is not None and entry[0] is node and entry[1] == node.generation:
                return entry[2]
            matched = _count_matching(node, selector, namespace)
            counts[node.name] = (node, node.generation, matched)
            return matched

        return count


def _has_keys(node_labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    """nodeLabelsMatchSpreadConstraints: every constraint's topology key is on the node."""
    return all(c.topology_key in node_labels for c in constraints)


class _Inclusion:
    """matchNodeInclusionPolicies for one pod: whether a node's domain counts for a
    constraint. The node-affinity and taint answers are worked out at most once per node."""

    __slots__ = ("_affinity", "_pod", "_tolerations")

    def __init__(self, pod: PodInfo) -> None:
        self._pod = pod
        self._affinity: RequiredNodeAffinity | None = None
        self._tolerations: tuple[Toleration, ...] | None = None

    def node_checks(self, constraints: Sequence[Constraint], node: NodeInfo) -> tuple[bool, bool]:
        """(matches the pod's required node affinity, has no untolerated NoSchedule/NoExecute
        taint), each computed only when some constraint Honors that policy."""
        affinity_ok = taints_ok = True
        if any(c.node_affinity_policy == HONOR for c in constraints):
            if self._affinity is None:
                self._affinity = RequiredNodeAffinity.from_pod(self._pod.pod)
            affinity_ok = self._affinity.matches(node.name, node.labels)
        if node.taints and any(c.node_taints_policy == HONOR for c in constraints):
            if self._tolerations is None:
                self._tolerations = compile_tolerations(self._pod.spec.get("tolerations"))
            taints_ok = (
                find_untolerated_taint(node.taints, self._tolerations, DO_NOT_SCHEDULE) is None
            )
        return affinity_ok, taints_ok


def _included(c: Constraint, affinity_ok: bool, taints_ok: bool) -> bool:
    if c.node_affinity_policy == HONOR and not affinity_ok:
        return False
    return not (c.node_taints_policy == HONOR and not taints_ok)


@dataclass(slots=True)
class _FilterState:
    constraints: tuple[Constraint, ...]
    # Per constraint: matching pods by topology value, over the eligible domains.
    counts: list[dict[str, int]]
    # Per constraint: the global minimum of the skew rule (minMatchNum), minDomains applied.
    minimums: list[int]
    # Per constraint: 1 when the incoming pod matches the constraint's own selector.
    self_match: list[int]


@dataclass(slots=True)
class _ScoreState:
    # Raw score of each scored node that carries every topology key.
    scores: dict[str, int]
    ignored: set[str]


class PodTopologySpread:
    """Filters and scores nodes so that matching pods spread over zones, hosts or any topology key
    within the skew the pod allows."""

    name = NAME

    def __init__(
        self,
        handle: Handle,
        *,
        defaulting_type: str = SYSTEM_DEFAULTING,
        default_constraints: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        """`defaulting_type` and `default_constraints` are PodTopologySpreadArgs': System (the
        default) applies SYSTEM_DEFAULT_CONSTRAINTS and takes no list; List applies the given
        constraints, which carry no labelSelector (it is built per pod). Raises ValueError on
        args kube-scheduler's validation refuses."""
        self._handle = handle
        self._listers = handle.listers
        raw = _validated_defaults(defaulting_type, default_constraints)
        # Only for System defaults may a node without one of the keys still be scored (by the
        # keys it has): a cluster without zones is spread by hostname alone.
        self._system_defaulted = defaulting_type == SYSTEM_DEFAULTING
        # Parsed once; each pod's cycle gives them its own selector.
        self._default_hard = _constraints(raw, DO_NOT_SCHEDULE_ACTION)
        self._default_soft = _constraints(raw, SCHEDULE_ANYWAY_ACTION)
        self._refused = unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH, plugin=NAME)
        self._refused_label = unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH, plugin=NAME)
        self._match_counts = _MatchCounts()

    def _defaults(
        self, pod: PodInfo, constraints: tuple[Constraint, ...]
    ) -> tuple[Constraint, ...]:
        """buildDefaultConstraints: the default constraints of one action, each with the
        pod's default selector (that of its Services and controller); none when there are
        none of that action or nothing selects the pod. Worked out every cycle: the
        Services and controllers may have changed since the pod's last try."""
        if not constraints:
            return ()
        selector = default_selector(pod.pod, self._listers)
        if selector.empty():
            return ()
        return tuple(dataclasses.replace(c, selector=selector) for c in constraints)

    def events_to_register(self) -> set[str]:
        """An assigned pod added, relabelled or deleted changes the counts; a node added or
        relabelled changes the domains (or gives a node the missing key)."""
        return {POD_ADD, POD_UPDATE, POD_DELETE, NODE_ADD, NODE_UPDATE}

    # --- filtering ----------------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        """calPreFilterState: count the matching pods per domain of each hard constraint."""
        parsed = pod_constraints(pod)
        if parsed.error:
            return None, error(f"get constraints from pod: {parsed.error}", NAME)
        constraints = parsed.hard if parsed.declared else self._defaults(pod, self._default_hard)
        if not constraints:
            return None, SKIP
        namespace = pod.namespace
        counts: list[dict[str, int]] = [{} for _ in constraints]
        counters = [self._match_counts.counter(c.selector, namespace) for c in constraints]
        inclusion = _Inclusion(pod)
        for node in nodes:
            node_labels = node.labels
            if not _has_keys(node_labels, constraints):
                continue
            affinity_ok, taints_ok = inclusion.node_checks(constraints, node)
            for i, c in enumerate(constraints):
                if not _included(c, affinity_ok, taints_ok):
                    continue
                value = node_labels[c.topology_key]
                by_value = counts[i]
                by_value[value] = by_value.get(value, 0) + counters[i](node)
        minimums = []
        for c, by_value in zip(constraints, counts, strict=True):
            # Fewer eligible domains than minDomains: the global minimum is taken as 0. With
            # no domain at all (minDomains >= 1) that is always the case.
            if len(by_value) < c.min_domains:
                minimums.append(0)
            else:
                minimums.append(min(by_value.values()))
        pod_labels = pod.labels
        state[_PRE_FILTER_KEY] = _FilterState(
            constraints,
            counts,
            minimums,
            [1 if c.selector.matches(pod_labels) else 0 for c in constraints],
        )
        return None, SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: _FilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return error(f'reading "{_PRE_FILTER_KEY}" from cycleState: not found', NAME)
        node_labels = node.labels
        for i, c in enumerate(s.constraints):
            value = node_labels.get(c.topology_key)
            if value is None:
                return self._refused_label
            skew = s.counts[i].get(value, 0) + s.self_match[i] - s.minimums[i]
            if skew > c.max_skew:
                return self._refused
        return SUCCESS

    # --- scoring ------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        """Count the matching pods per domain of each soft constraint over all nodes, and
        work out every scored node's raw score, so that Score is a look-up.

        A pod without constraints of its own gets the default ones. With System defaults a
        node is scored by the keys it has (a node without a zone by its hostname alone) and
        nodes without a key share the domain "" in the weights, as in kube-scheduler; with
        the pod's own constraints or List defaults, a node without every key is left out."""
        parsed = pod_constraints(pod)
        if parsed.error:
            return error(
                f"calculating preScoreState: obtaining pod's soft topology spread constraints: "
                f"{parsed.error}",
                NAME,
            )
        if parsed.declared:
            constraints = parsed.soft
            require_all = True
        else:
            constraints = self._defaults(pod, self._default_soft)
            require_all = not self._system_defaulted
        if not constraints:
            return SKIP
        # Asked after the constraints: most pods have none, and Skip either way.
        all_nodes = self._handle.snapshot.list()
        if not nodes or not all_nodes:
            return SKIP
        namespace = pod.namespace
        # Domains are those of the scored nodes; hostname counts come from the node itself.
        ignored: set[str] = set()
        counts: list[dict[str, int]] = [{} for _ in constraints]
        # Per constraint, the domains some scored node carries the key of: only their counts
        # are read. (A node without the key is in domain "" for the weight alone.)
        wanted: list[set[str]] = [set() for _ in constraints]
        for node in nodes:
            node_labels = node.labels
            if require_all and not _has_keys(node_labels, constraints):
                ignored.add(node.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == LABEL_HOSTNAME:
                    continue
                value = node_labels.get(c.topology_key)
                if value is None:
                    counts[i].setdefault("", 0)
                else:
                    counts[i].setdefault(value, 0)
                    wanted[i].add(value)
        weights = [
            _normalizing_weight(
                len(nodes) - len(ignored) if c.topology_key == LABEL_HOSTNAME else len(counts[i])
            )
            for i, c in enumerate(constraints)
        ]
        # Only the constraints with domains to count walk all nodes (never hostname: the
        # scored node's own pods are its domain; nor a key no scored node has, such as the
        # zone of the System defaults in a cluster without zones).
        counters = [self._match_counts.counter(c.selector, namespace) for c in constraints]
        counted = [i for i in range(len(constraints)) if wanted[i]]
        if counted:
            inclusion = _Inclusion(pod)
            for node in all_nodes:
                if not node.pods:
                    continue  # nothing to add to its domain
                node_labels = node.labels
                if require_all and not _has_keys(node_labels, constraints):
                    continue
                checks: tuple[bool, bool] | None = None
                for i in counted:
                    c = constraints[i]
                    # A node without the key is in domain "", which a scored node may name.
                    value = node_labels.get(c.topology_key, "")
                    if value not in wanted[i]:
                        continue
                    matched = counters[i](node)
                    if not matched:
                        continue
                    # Whether the node counts is asked only of nodes with pods to count.
                    if checks is None:
                        checks = inclusion.node_checks(constraints, node)
                    if _included(c, *checks):
                        counts[i][value] += matched
        scores: dict[str, int] = {}
        for node in nodes:
            if node.name in ignored:
                continue
            node_labels = node.labels
            total = 0.0
            for i, c in enumerate(constraints):
                value = node_labels.get(c.topology_key)
                if value is None:
                    continue  # System defaults only: the node is scored by its other keys.
                hostname = c.topology_key == LABEL_HOSTNAME
                count = counters[i](node) if hostname else counts[i][value]
                total += count * weights[i] + float(c.max_skew - 1)
            # math.Round: halves away from zero (the total is never negative in practice).
            scores[node.name] = math.floor(total + 0.5)
        state[_PRE_SCORE_KEY] = _ScoreState(scores, ignored)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        s: _ScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None:
            return 0, error(f'reading "{_PRE_SCORE_KEY}" from cycleState: not found', NAME)
        return s.scores.get(node.name, 0), SUCCESS

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: list[tuple[str, int]]
    ) -> tuple[list[tuple[str, int]], Status]:
        """Fewest matching pods to 100: `100 * (max + min - score) // max` over the nodes that
        carry every key; the others 0; all 100 when the highest is 0."""
        s: _ScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None:
            return scores, SUCCESS
        ignored = s.ignored
        counted = [score for name, score in scores if name not in ignored]
        if not counted:
            return [(name, 0) for name, _ in scores], SUCCESS
        lowest = min(counted)
        highest = max(max(counted), 0)
        result = []
        for name, score in scores:
            if name in ignored:
                result.append((name, 0))
            elif highest == 0:
                result.append((name, MAX_NODE_SCORE))
            else:
                result.append((name, MAX_NODE_SCORE * (highest + lowest - score) // highest))
        return result, SUCCESS


def _normalizing_weight(size: int) -> float:
    """topologyNormalizingWeight: log(domains + 2), so that a pod in one of few big domains
    weighs less than one in one of many small ones, and 0 domains still weigh log(2)."""
    return math.log(size + 2)


def _validated_defaults(
    defaulting_type: str, constraints: Sequence[Mapping[str, Any]]
) -> Sequence[Mapping[str, Any]]:
    """The default constraints the args call for, checked as ValidatePodTopologySpreadArgs
    checks them (a subset: the fields a constraint here must have right)."""
    if defaulting_type == SYSTEM_DEFAULTING:
        if constraints:
            raise ValueError('defaultConstraints: must be empty for defaultingType "System"')
        return SYSTEM_DEFAULT_CONSTRAINTS
    if defaulting_type != LIST_DEFAULTING:
        raise ValueError(
            f'defaultingType: Unsupported value: "{defaulting_type}": '
            f'supported values: "{LIST_DEFAULTING}", "{SYSTEM_DEFAULTING}"'
        )
    seen: set[tuple[str, str]] = set()
    for i, c in enumerate(constraints):
        path = f"defaultConstraints[{i}]"
        if int(c.get("maxSkew") or 0) <= 0:
            raise ValueError(f"{path}.maxSkew: must be greater than zero")
        if not c.get("topologyKey"):
            raise ValueError(f"{path}.topologyKey: Required value: can not be empty")
        when = c.get("whenUnsatisfiable")
        if when not in (DO_NOT_SCHEDULE_ACTION, SCHEDULE_ANYWAY_ACTION):
            raise ValueError(f'{path}.whenUnsatisfiable: Unsupported value: "{when}"')
        if c.get("labelSelector") is not None:
            raise ValueError(
                f"{path}.labelSelector: Forbidden: constraint must not define a selector, "
                "as they deduced for each pod"
            )
        pair = (c["topologyKey"], when)
        if pair in seen:
            raise ValueError(f"{path}: Duplicate value: {pair}")
        seen.add(pair)
    return constraints
