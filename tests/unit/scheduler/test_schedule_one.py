"""One scheduling cycle: how many nodes are looked at, where the next cycle starts, scores."""

from __future__ import annotations

import random

import pytest
from sched_objects import make_node, make_pod

from kubelite.scheduler.cache import Cache
from kubelite.scheduler.framework import status as st
from kubelite.scheduler.framework.runtime import FitError, Framework, Weighted
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo, PreFilterResult
from kubelite.scheduler.schedule_one import (
    Algorithm,
    NoNodesAvailable,
    SchedulingError,
    num_feasible_nodes_to_find,
)


class Refuse:
    """Refuses the nodes named, with a reason of its own; counts the nodes it saw."""

    name = "Refuse"

    def __init__(self, refused: dict[str, str], *, code: st.Code = st.Code.UNSCHEDULABLE) -> None:
        self.refused = refused
        self.code = code
        self.seen: list[str] = []

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> st.Status:
        self.seen.append(node.name)
        if node.name in self.refused:
            return st.Status(self.code, [self.refused[node.name]])
        return st.SUCCESS


class Prefer:
    name = "Prefer"

    def __init__(self, scores: dict[str, int]) -> None:
        self.scores = scores

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> tuple[int, st.Status]:
        return self.scores.get(node.name, 0), st.SUCCESS


class OnlyNode:
    name = "OnlyNode"

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def pre_filter(
        self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]
    ) -> tuple[PreFilterResult | None, st.Status]:
        return PreFilterResult(set(self.names)), st.SUCCESS


def cluster(count: int) -> Cache:
    cache = Cache()
    for i in range(count):
        cache.add_node(make_node(f"n{i:04d}"))
    return cache


def algorithm(cache: Cache, *plugins: object) -> Algorithm:
    framework = Framework([Weighted(p) for p in plugins], scheduler_name="default-scheduler")  # type: ignore[arg-type]
    return Algorithm(framework, cache, rng=random.Random(1))


@pytest.mark.parametrize(
    ("nodes", "wanted"),
    [
        (1, 1),
        (99, 99),
        (100, 100),
        (200, 100),
        (1000, 420),
        (5000, 500),
        (6000, 300),
        (50000, 2500),
    ],
)
def test_how_many_feasible_nodes_a_cycle_looks_for(nodes: int, wanted: int) -> None:
    assert num_feasible_nodes_to_find(nodes) == wanted


def test_a_cycle_stops_at_enough_feasible_nodes_and_the_next_goes_on_from_there() -> None:
    cache = cluster(1000)
    refuse = Refuse({})
    algo = algorithm(cache, refuse)
    algo.schedule(PodInfo(make_pod("a")))
    assert len(refuse.seen) == 420 and refuse.seen[0] == "n0000"
    refuse.seen.clear()
    algo.schedule(PodInfo(make_pod("b")))
    assert refuse.seen[0] == "n0420"


def test_filtering_in_batches_looks_at_exactly_the_nodes_one_at_a_time_would() -> None:
    # Every third node refused: batches overshoot the last feasible node needed, and what lies
    # past it must count neither as processed nor in the diagnosis.
    cache = cluster(1000)
    refused = {f"n{i:04d}": "Insufficient cpu" for i in range(0, 1000, 3)}
    algo = algorithm(cache, Refuse(refused))
    state = CycleState()
    feasible, diagnosis, processed = algo._find_feasible(
        state, PodInfo(make_pod("a")), cache.list()
    )
    # 420 feasible nodes sought; the 420th feasible is node 629 (two of every three pass).
    assert len(feasible) == 420 and feasible[-1].name == "n0629"
    assert processed == 630
    assert algo.next_start_node_index == 630
    assert set(diagnosis.node_statuses) == {f"n{i:04d}" for i in range(0, 630, 3)}


def test_a_plugin_error_past_the_last_needed_node_is_not_seen() -> None:
    cache = cluster(200)
    full = Refuse({f"n{i:04d}": "Insufficient cpu" for i in range(10)})
    failing = Refuse({"n0120": "boom"}, code=st.Code.ERROR)
    algo = algorithm(cache, full, failing)
    # 100 feasible nodes sought: the first batch (nodes 0-99) finds 90, the second (100-131)
    # completes them at node 109, and the error of node 120 in the same batch is past it.
    assert algo.schedule(PodInfo(make_pod("a"))).evaluated == 110
    assert "n0120" in failing.seen


def test_the_best_score_wins() -> None:
    cache = cluster(3)
    algo = algorithm(cache, Prefer({"n0001": 7, "n0002": 3}))
    assert algo.schedule(PodInfo(make_pod("a"))).node == "n0001"


def test_ties_are_broken_at_random_among_the_best() -> None:
    cache = cluster(4)
    algo = algorithm(cache, Prefer({"n0001": 5, "n0003": 5}))
    chosen = {algo.schedule(PodInfo(make_pod(f"p{i}"))).node for i in range(40)}
    assert chosen == {"n0001", "n0003"}


def test_a_pod_that_fits_nowhere_says_why_for_every_node() -> None:
    cache = cluster(3)
    refuse = Refuse(
        {"n0000": "Insufficient cpu", "n0001": "Insufficient cpu", "n0002": "Too many pods"}
    )
    with pytest.raises(FitError) as caught:
        algorithm(cache, refuse).schedule(PodInfo(make_pod("a")))
    assert caught.value.message() == (
        "0/3 nodes are available: 1 Too many pods, 2 Insufficient cpu."
    )
    assert caught.value.diagnosis.unschedulable_plugins == {"Refuse"}


def test_a_pre_filter_narrows_the_nodes_filtered() -> None:
    cache = cluster(5)
    refuse = Refuse({})
    algo = algorithm(cache, OnlyNode({"n0003"}), refuse)
    assert algo.schedule(PodInfo(make_pod("a"))).node == "n0003"
    assert refuse.seen == ["n0003"]


def test_no_nodes_at_all() -> None:
    with pytest.raises(NoNodesAvailable, match="no nodes available to schedule pods"):
        algorithm(Cache()).schedule(PodInfo(make_pod("a")))


def test_a_plugin_error_is_the_schedulers_not_the_pods() -> None:
    cache = cluster(2)
    with pytest.raises(SchedulingError):
        algorithm(cache, Refuse({"n0000": "boom"}, code=st.Code.ERROR)).schedule(
            PodInfo(make_pod("a"))
        )
