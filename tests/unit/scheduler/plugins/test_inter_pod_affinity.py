"""InterPodAffinity: required affinity and anti-affinity, the running pods' anti-affinity, the
first pod of a group, namespaces and namespaceSelector, and the preferred-terms score
(after kube-scheduler's interpodaffinity/filtering_test.go and scoring_test.go)."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import FakeHandle, filter_all, make_node, make_pod, score_all

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import CycleState, NodeInfo, PodInfo
from kubelite.scheduler.plugins.inter_pod_affinity import InterPodAffinity

AFFINITY = "node(s) didn't match pod affinity rules"
ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
EXISTING = "node(s) didn't satisfy existing pods anti-affinity rules"

NAMESPACES = {"default": {"team": "a"}, "team-a": {"team": "a"}, "team-b": {"team": "b"}}


def term(
    labels: dict[str, str] | None,
    topology_key: str = "region",
    *,
    namespaces: list[str] | None = None,
    namespace_selector: dict[str, Any] | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {"topologyKey": topology_key}
    if labels is not None:
        result["labelSelector"] = {"matchLabels": labels}
    if namespaces is not None:
        result["namespaces"] = namespaces
    if namespace_selector is not None:
        result["namespaceSelector"] = namespace_selector
    return result


def affinity(
    required: list[dict[str, Any]] | None = None,
    anti: list[dict[str, Any]] | None = None,
    preferred: list[tuple[int, dict[str, Any]]] | None = None,
    preferred_anti: list[tuple[int, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    result: dict[str, Any] = {}
    if required or preferred:
        result["podAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": required or [],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in preferred or ()
            ],
        }
    if anti or preferred_anti:
        result["podAntiAffinity"] = {
            "requiredDuringSchedulingIgnoredDuringExecution": anti or [],
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "podAffinityTerm": t} for w, t in preferred_anti or ()
            ],
        }
    return result


def topology(*pods_per_node: list[PodInfo]) -> list[NodeInfo]:
    """node1 and node2 in region r1 (zones z1, z2), node3 in region r2, node4 without labels
    but its hostname."""
    labels = [
        {"region": "r1", "zone": "z1"},
        {"region": "r1", "zone": "z2"},
        {"region": "r2", "zone": "z3"},
        {},
    ]
    nodes = []
    for i, node_labels in enumerate(labels):
        name = f"node{i + 1}"
        pods = pods_per_node[i] if i < len(pods_per_node) else []
        nodes.append(
            make_node(name, labels={**node_labels, "kubernetes.io/hostname": name}, pods=pods)
        )
    return nodes


def run_filter(pod: PodInfo, nodes: list[NodeInfo]) -> list[str]:
    """Each node's outcome: "ok", or its reason with U (Unschedulable) / UU (...Unresolvable)."""
    plugin = InterPodAffinity(FakeHandle(nodes), NAMESPACES.get)
    out = []
    for status in filter_all(plugin, pod, nodes):
        if status.ok:
            out.append("ok")
        else:
            code = "UU" if status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE else "U"
            out.append(f"{code}: {status.message()}")
    return out


SCAN = {"service": "securityscan"}
OK4 = ["ok"] * 4


@pytest.mark.parametrize(
    ("pod", "pods_per_node", "expected"),
    [
        pytest.param(make_pod(), [], OK4, id="no affinity"),
        pytest.param(
            make_pod(affinity=affinity(required=[term(SCAN)])),
            [[make_pod("scan", labels=SCAN)]],
            ["ok", "ok", f"UU: {AFFINITY}", f"UU: {AFFINITY}"],
            id="affinity to a pod in the region; nodes without the label refuse",
        ),
        pytest.param(
            make_pod(affinity=affinity(required=[term(SCAN, "kubernetes.io/hostname")])),
            [[], [make_pod("scan", labels=SCAN)]],
            [f"UU: {AFFINITY}", "ok", f"UU: {AFFINITY}", f"UU: {AFFINITY}"],
            id="affinity to a pod on the same host",
        ),
        pytest.param(
            make_pod(affinity=affinity(required=[term(SCAN)])),
            [[make_pod("scan", "other", labels=SCAN)]],
            [f"UU: {AFFINITY}"] * 4,
            id="affinity looks in the pod's own namespace by default",
        ),
        pytest.param(
            make_pod(affinity=affinity(required=[term(SCAN, namespaces=["other"])])),
            [[make_pod("scan", "other", labels=SCAN)]],
            ["ok", "ok", f"UU: {AFFINITY}", f"UU: {AFFINITY}"],
            id="affinity in the namespaces named",
        ),
        pytest.param(
            make_pod(
                affinity=affinity(
                    required=[term(SCAN, namespace_selector={"matchLabels": {"team": "b"}})]
                )
            ),
            [
                [make_pod("scan", "team-a", labels=SCAN)],
                [],
                [make_pod("s2", "team-b", labels=SCAN)],
            ],
            [f"UU: {AFFINITY}", f"UU: {AFFINITY}", "ok", f"UU: {AFFINITY}"],
            id="affinity in the namespaces a namespaceSelector selects",
        ),
        pytest.param(
            make_pod(affinity=affinity(required=[term(SCAN, namespace_selector={})])),
            [[], [], [make_pod("s", "unknown", labels=SCAN)]],
            [f"UU: {AFFINITY}", f"UU: {AFFINITY}", "ok", f"UU: {AFFINITY}"],
            id="an empty namespaceSelector selects every namespace",
        ),
        pytest.param(
            make_pod(
                affinity=affinity(
                    required=[term(SCAN, namespace_selector={"matchLabels": {"team": "b"}})]
                )
            ),
            [[make_pod("s", "unknown", labels=SCAN)]],
            [f"UU: {AFFINITY}"] * 4,
            id="a namespace that does not exist is selected by no namespaceSelector",
        ),
        pytest.param(
            make_pod(labels=SCAN, affinity=affinity(required=[term(SCAN)])),
            [],
            ["ok", "ok", "ok", f"UU: {AFFINITY}"],
            id="the first pod of a group that matches its own terms",
        ),
        pytest.param(
            make_pod(affinity=affinity(required=[term(SCAN)])),
            [],
            [f"UU: {AFFINITY}"] * 4,
            id="a first pod that does not match its own terms",
        ),
        pytest.param(
            make_pod(
                labels={"a": "1", "b": "2"},
                affinity=affinity(required=[term({"a": "1"}), term({"b": "2"}, "zone")]),
            ),
            [[make_pod("x", labels={"a": "1"})], [make_pod("y", labels={"b": "2"})]],
            ["ok", "ok", "ok", f"UU: {AFFINITY}"],
            id="no single pod matches all terms: the group rule applies",
        ),
        pytest.param(
            make_pod(affinity=affinity(required=[term({"a": "1"}), term({"b": "2"}, "zone")])),
            [[make_pod("x", labels={"a": "1", "b": "2"})], [make_pod("y", labels={"b": "2"})]],
            ["ok", f"UU: {AFFINITY}", f"UU: {AFFINITY}", f"UU: {AFFINITY}"],
            id="one pod matching all the terms, counted in each term's domain",
        ),
        pytest.param(
            make_pod(affinity=affinity(anti=[term(SCAN, "zone")])),
            [[make_pod("scan", labels=SCAN)]],
            [f"U: {ANTI_AFFINITY}", "ok", "ok", "ok"],
            id="anti-affinity to a pod in the zone",
        ),
        pytest.param(
            make_pod(affinity=affinity(anti=[term(SCAN)])),
            [[make_pod("scan", labels=SCAN)]],
            [f"U: {ANTI_AFFINITY}", f"U: {ANTI_AFFINITY}", "ok", "ok"],
            id="anti-affinity to a pod in the region",
        ),
        pytest.param(
            make_pod(labels=SCAN),
            [[make_pod("guard", affinity=affinity(anti=[term(SCAN, "zone")]))]],
            [f"U: {EXISTING}", "ok", "ok", "ok"],
            id="a running pod's anti-affinity keeps the pod out of its zone",
        ),
        pytest.param(
            make_pod(labels=SCAN),
            [[make_pod("guard", "other", affinity=affinity(anti=[term(SCAN, "zone")]))]],
            OK4,
            id="a running pod's anti-affinity in its own namespace only",
        ),
        pytest.param(
            make_pod(labels=SCAN),
            [
                [],
                [],
                [
                    make_pod(
                        "guard",
                        "team-b",
                        affinity=affinity(
                            anti=[term(SCAN, namespace_selector={"matchLabels": {"team": "a"}})]
                        ),
                    )
                ],
            ],
            ["ok", "ok", f"U: {EXISTING}", "ok"],
            id="a running pod's anti-affinity with a namespaceSelector on the pod's namespace",
        ),
        pytest.param(
            make_pod(labels=SCAN, affinity=affinity(required=[term(SCAN)])),
            [
                [make_pod("scan", labels=SCAN)],
                [],
                [make_pod("guard", affinity=affinity(anti=[term(SCAN)]))],
            ],
            ["ok", "ok", f"UU: {AFFINITY}", f"UU: {AFFINITY}"],
            id="affinity is checked before the running pods' anti-affinity",
        ),
        pytest.param(
            make_pod(labels=SCAN, affinity=affinity(required=[term(SCAN)])),
            [[], [], [make_pod("guard", affinity=affinity(anti=[term(SCAN)]))]],
            ["ok", "ok", f"U: {EXISTING}", f"UU: {AFFINITY}"],
            id="the first pod of a group still meets running pods' anti-affinity",
        ),
    ],
)
def test_filter(pod: PodInfo, pods_per_node: list[list[PodInfo]], expected: list[str]) -> None:
    assert run_filter(pod, topology(*pods_per_node)) == expected


def test_prefilter_skips_when_nothing_applies() -> None:
    nodes = topology([make_pod("guard", affinity=affinity(anti=[term({"other": "x"})]))])
    plugin = InterPodAffinity(FakeHandle(nodes), NAMESPACES.get)
    _, status = plugin.pre_filter(CycleState(), make_pod(labels=SCAN), nodes)
    assert status.code == Code.SKIP


def test_prefilter_refuses_terms_that_do_not_parse() -> None:
    bad = {
        "topologyKey": "region",
        "labelSelector": {"matchExpressions": [{"key": "a", "operator": "Bogus"}]},
    }
    plugin = InterPodAffinity(FakeHandle([]), NAMESPACES.get)
    _, status = plugin.pre_filter(CycleState(), make_pod(affinity=affinity(required=[bad])), [])
    assert status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE
    assert status.reasons == [
        'parsing pod: requiredAffinityTerms: "Bogus" is not a valid label selector operator'
    ]


S1 = {"security": "S1"}
S2 = {"security": "S2"}


@pytest.mark.parametrize(
    ("pod", "pods_per_node", "scores"),
    [
        pytest.param(make_pod(labels=S1), [], None, id="nothing to score"),
        pytest.param(
            make_pod(affinity=affinity(preferred=[(5, term(S1))])),
            [[make_pod("a", labels=S1)], [], [make_pod("b", labels=S2)]],
            [100, 100, 0, 0],
            id="preferred affinity favours the region of matching pods",
        ),
        pytest.param(
            make_pod(affinity=affinity(preferred=[(5, term(S1)), (3, term(S2, "zone"))])),
            [[make_pod("a", labels=S1)], [make_pod("b", labels=S2)], [make_pod("c", labels=S2)]],
            [62, 100, 37, 0],
            id="weights add per domain, then min to 0 and max to 100",
        ),
        pytest.param(
            make_pod(affinity=affinity(preferred_anti=[(5, term(S1))])),
            [[make_pod("a", labels=S1)], [], [make_pod("b", labels=S2)]],
            [0, 0, 100, 100],
            id="preferred anti-affinity counts against the region",
        ),
        pytest.param(
            make_pod(labels=S1),
            [[], [make_pod("a", affinity=affinity(required=[term(S1, "zone")]))]],
            [0, 100, 0, 0],
            id="a running pod's required affinity to the pod counts (hard weight 1)",
        ),
        pytest.param(
            make_pod(labels=S1),
            [
                [make_pod("a", affinity=affinity(preferred=[(4, term(S1, "zone"))]))],
                [make_pod("b", affinity=affinity(preferred_anti=[(4, term(S1, "zone"))]))],
            ],
            [100, 0, 50, 50],
            id="running pods' preferred terms that match the pod",
        ),
        pytest.param(
            make_pod(affinity=affinity(preferred=[(5, term(S1, "zone", namespaces=["team-b"]))])),
            [[make_pod("a", labels=S1)], [make_pod("b", "team-b", labels=S1)]],
            [0, 100, 0, 0],
            id="preferred terms look in their namespaces",
        ),
    ],
)
def test_score(pod: PodInfo, pods_per_node: list[list[PodInfo]], scores: list[int] | None) -> None:
    nodes = topology(*pods_per_node)
    plugin = InterPodAffinity(FakeHandle(nodes), NAMESPACES.get)
    assert score_all(plugin, pod, nodes) == scores


def test_registers_pod_and_node_events() -> None:
    assert InterPodAffinity(FakeHandle([])).events_to_register() == {
        "Pod/Add",
        "Pod/Update",
        "Pod/Delete",
        "Node/Add",
        "Node/Update",
    }
