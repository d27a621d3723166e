"""NodeAffinity: a pod runs only on nodes that match its `nodeSelector` and required node
affinity, and prefers those that match its preferred terms.

PreFilter answers Skip for a pod with neither, compiles both once (kubelite.api.nodeaffinity),
and, like Kubernetes, narrows the nodes when every required term pins `metadata.name` with In:
the union over the terms of the intersection within each. Terms that pin disjoint names leave
no node (`pod affinity terms conflict`). Filter refuses a node that does not match as
UnschedulableAndUnresolvable. Score sums the weights of the preferred terms a node matches;
NormalizeScore scales the sums to 0-100 over the nodes.

Kubernetes: pkg/scheduler/framework/plugins/nodeaffinity/node_affinity.go (1.33), without the
profile's `addedAffinity` argument.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kubelite.api.nodeaffinity import (
    METADATA_NAME,
    NodeAffinityError,
    PreferredSchedulingTerms,
    RequiredNodeAffinity,
    preferred_scheduling_terms,
)
from kubelite.scheduler.framework.events import NODE_ADD, NODE_UPDATE
from kubelite.scheduler.framework.status import SKIP, SUCCESS, Status, error, unresolvable
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult
from kubelite.scheduler.plugins.helper import default_normalize_score

NAME = "NodeAffinity"

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_CONFLICT = "pod affinity terms conflict"

_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
# PodInfo.memo keys: the compiled required and preferred affinity of the pod.
_REQUIRED_MEMO = NAME + "/required"
_PREFERRED_MEMO = NAME + "/preferred"


class NodeAffinity:
    """Keeps the pod to nodes matching its nodeSelector and required node affinity, and prefers
    those matching its preferred terms."""

    name = NAME

    def __init__(self) -> None:
        self._refused = unresolvable(ERR_REASON_POD, plugin=NAME)

    def events_to_register(self) -> set[str]:
        """A node added, or its labels changed."""
        return {NODE_ADD, NODE_UPDATE}

    # --- filtering ----------------------------------------------------------------------------

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]:
        spec = pod.spec
        required = (pod.affinity.get("nodeAffinity") or {}).get(
            "requiredDuringSchedulingIgnoredDuringExecution"
        )
        if required is None and spec.get("nodeSelector") is None:
            return None, SKIP
        state[_PRE_FILTER_KEY] = _required(pod)
        if required is None:
            return None, SUCCESS
        names = _pinned_node_names(required.get("nodeSelectorTerms") or ())
        if names is None:
            return None, SUCCESS
        if not names:
            return None, unresolvable(ERR_REASON_CONFLICT, plugin=NAME)
        return PreFilterResult(names), SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        affinity: RequiredNodeAffinity | None = state.get(_PRE_FILTER_KEY)
        if affinity is None:
            affinity = _required(pod)
        if affinity.matches(node.name, node.labels):
            return SUCCESS
        return self._refused

    def filter_nodes(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[Status]:
        """`filter` for many nodes, the pod's required affinity read once."""
        affinity: RequiredNodeAffinity | None = state.get(_PRE_FILTER_KEY)
        if affinity is None:
            affinity = _required(pod)
        matches = affinity.matches
        refused = self._refused
        return [SUCCESS if matches(node.name, node.labels) else refused for node in nodes]

    # --- scoring ------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        try:
            terms = _preferred(pod)
        except NodeAffinityError as e:
            return error(str(e), NAME)
        if terms is None or not terms.terms:
            # No preferred term scores every node 0: the same as not scoring.
            return SKIP
        state[_PRE_SCORE_KEY] = terms
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]:
        terms: PreferredSchedulingTerms | None = state.get(_PRE_SCORE_KEY)
        if terms is None:
            try:
                terms = _preferred(pod)
            except NodeAffinityError as e:
                return 0, error(str(e), NAME)
            if terms is None:
                return 0, SUCCESS
        return terms.score(node.name, node.labels), SUCCESS

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: list[tuple[str, int]]
    ) -> tuple[list[tuple[str, int]], Status]:
        return default_normalize_score(scores, reverse=False), SUCCESS


def _required(pod: PodInfo) -> RequiredNodeAffinity:
    affinity = pod.memo.get(_REQUIRED_MEMO)
    if affinity is None:
        affinity = pod.memo[_REQUIRED_MEMO] = RequiredNodeAffinity.from_pod(pod.pod)
    return affinity


def _preferred(pod: PodInfo) -> PreferredSchedulingTerms | None:
    if _PREFERRED_MEMO not in pod.memo:
        pod.memo[_PREFERRED_MEMO] = preferred_scheduling_terms(pod.pod)
    return pod.memo[_PREFERRED_MEMO]


def _pinned_node_names(terms: Sequence[Mapping[str, Any]]) -> set[str] | None:
    """The node names the required terms allow through `metadata.name In`, or None when some
    term does not pin names (then any node may match)."""
    names: set[str] | None = None
    for term in terms:
        term_names: set[str] | None = None
        for requirement in term.get("matchFields") or ():
            if requirement.get("key") == METADATA_NAME and requirement.get("operator") == "In":
                values = set(requirement.get("values") or ())
                # A term ANDs its requirements.
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        # Terms are ORed.
        names = term_names if names is None else names | term_names
    return names
