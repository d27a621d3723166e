"""The extension points a plugin may implement, and what the framework hands plugins.

A plugin is a class with a `name` and one method per extension point it takes part in; the
framework finds them by these Protocols. Each is called on the event loop and must not await:
one pod's scheduling cycle runs from start to end without letting anything change the cache.

- PreFilter runs once per pod before any node is looked at. It may work out what Filter needs
  (into the CycleState), refuse the pod outright (then no node is filtered), narrow the nodes
  (a PreFilterResult), or answer Skip when the pod gives it nothing to check.
- Filter says whether one node can run the pod: Success, or Unschedulable /
  UnschedulableAndUnresolvable with the reason that ends up in the FailedScheduling message.
- PreScore runs once per pod over the nodes that passed the filters; Skip leaves Score out.
- Score rates one node from 0 to MAX_NODE_SCORE (after NormalizeScore, when the plugin has
  one); the framework multiplies by the plugin's weight and adds the plugins up.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from kubelite.scheduler.framework.status import Status
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult

MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Snapshot(Protocol):
    """The nodes as the scheduler knows them during a cycle."""

    def list(self) -> list[NodeInfo]:
        """Every node, in the order the scheduler walks them."""
        ...

    def get(self, name: str) -> NodeInfo | None: ...

    def with_pods_with_affinity(self) -> builtins.list[NodeInfo]:
        """Nodes that run at least one pod with inter-pod affinity or anti-affinity."""
        ...

    def with_pods_with_required_anti_affinity(self) -> builtins.list[NodeInfo]: ...


class WorkloadListers(Protocol):
    """The Services, workload controllers and claims the scheduler's informers cache, by
    namespace and name: kube-scheduler's Service, ReplicationController, ReplicaSet,
    StatefulSet and PersistentVolumeClaim listers. PodTopologySpread builds its default
    constraints' selector from the first four; VolumeBinding reads the claims. The objects
    are the informers' own: never mutate them."""

    def services(self, namespace: str) -> Iterable[dict[str, Any]]:
        """Every Service in the namespace."""
        ...

    def replication_controller(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def replica_set(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def stateful_set(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def persistent_volume_claim(self, namespace: str, name: str) -> dict[str, Any] | None:
        """A claim, for VolumeBinding."""
        ...


class Handle(Protocol):
    """What a plugin may use besides the pod and the node: the snapshot, and the listers of
    the objects that select pods (None where the scheduler keeps none, as in most tests)."""

    @property
    def snapshot(self) -> Snapshot: ...

    @property
    def listers(self) -> WorkloadListers | None: ...


class Plugin(Protocol):
    """What every plugin has: a name, which its statuses carry and the framework keys it by."""

    name: str


@runtime_checkable
class PreFilterPlugin(Protocol):
    """Runs once per cycle before filtering: computes state the filter reuses, and may narrow the
    nodes worth filtering."""

    name: str

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, Status]: ...


@runtime_checkable
class FilterPlugin(Protocol):
    """Decides whether one node can run the pod; a refusal says why, for the FailedScheduling
    message."""

    name: str

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status: ...


@runtime_checkable
class BatchFilterPlugin(Protocol):
    """A Filter plugin that also answers for many nodes in one call.

    `filter_nodes` must give, for each node in order, exactly the status `filter` gives it. It
    exists for speed alone: a cycle filters hundreds of nodes, and one call that loops over
    them costs a fraction of a call per node. The framework uses it when a plugin has it.
    """

    name: str

    def filter_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> list[Status]: ...


@runtime_checkable
class PreScorePlugin(Protocol):
    """Runs once per cycle before scoring, over the feasible nodes: prepares state for its Score."""

    name: str

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status: ...


@runtime_checkable
class ScorePlugin(Protocol):
    """Scores one feasible node for the pod; the framework weighs and sums the plugins' scores."""

    name: str

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, Status]: ...


@runtime_checkable
class BatchScorePlugin(Protocol):
    """A Score plugin that also scores many nodes in one call: `score_nodes` gives, in order,
    the scores `score` gives node by node (and fails only where `score` would)."""

    name: str

    def score_nodes(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[list[int], Status]: ...


@runtime_checkable
class NormalizeScorePlugin(Protocol):
    """A Score plugin whose raw scores need scaling to 0..MAX_NODE_SCORE over all nodes."""

    name: str

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: list[tuple[str, int]]
    ) -> tuple[list[tuple[str, int]], Status]: ...


@runtime_checkable
class EnqueueExtensions(Protocol):
    """The cluster events after which a pod this plugin refused may fit (QueueingHint's
    coarse form): e.g. {"Node/Add", "Node/Update", "Pod/Delete"}."""

    name: str

    def events_to_register(self) -> set[str]: ...
