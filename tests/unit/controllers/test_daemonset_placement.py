"""Which nodes a DaemonSet's pods belong on, and what its pods are made of.

Each row of the eligibility table is a node and a DaemonSet template, and the answer Kubernetes'
NodeShouldRunDaemonPod gives: (shouldRun, shouldContinueRunning).
"""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.controllers import daemonset_util as du

Obj = dict[str, Any]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"


def node(name: str = "n1", labels: Obj | None = None, taints: list[Obj] | None = None) -> Obj:
    spec: Obj = {"taints": taints} if taints else {}
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def taint(key: str, effect: str, value: str = "") -> Obj:
    found = {"key": key, "effect": effect}
    if value:
        found["value"] = value
    return found


def daemon_set(**pod_spec: Any) -> Obj:
    spec = {"containers": [{"name": "c", "image": "i"}], **pod_spec}
    return {
        "metadata": {"name": "ds", "namespace": "default"},
        "spec": {"template": {"metadata": {"labels": {"app": "ds"}}, "spec": spec}},
    }


def required(*terms: Obj) -> Obj:
    """An affinity requiring one of `terms` of the node."""
    selector = {"nodeSelectorTerms": list(terms)}
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": selector}}


def expression(key: str, operator: str, *values: str) -> Obj:
    found: Obj = {"key": key, "operator": operator}
    if values:
        found["values"] = list(values)
    return found


BOTH = (True, True)
NEITHER = (False, False)
STAY_ONLY = (False, True)

ELIGIBILITY = [
    # (what, node, DaemonSet, (should run, should continue running))
    ("any node, no constraints", node(), daemon_set(), BOTH),
    (
        "nodeSelector matches",
        node(labels={"disk": "ssd", "zone": "a"}),
        daemon_set(nodeSelector={"disk": "ssd"}),
        BOTH,
    ),
    (
        "nodeSelector value differs",
        node(labels={"disk": "hdd"}),
        daemon_set(nodeSelector={"disk": "ssd"}),
        NEITHER,
    ),
    ("nodeSelector label missing", node(), daemon_set(nodeSelector={"disk": "ssd"}), NEITHER),
    (
        "affinity In matches",
        node(labels={"zone": "b"}),
        daemon_set(affinity=required({"matchExpressions": [expression("zone", "In", "a", "b")]})),
        BOTH,
    ),
    (
        "affinity NotIn excludes",
        node(labels={"zone": "b"}),
        daemon_set(affinity=required({"matchExpressions": [expression("zone", "NotIn", "b")]})),
        NEITHER,
    ),
    (
        "affinity terms are ORed",
        node(labels={"gpu": "yes"}),
        daemon_set(
            affinity=required(
                {"matchExpressions": [expression("zone", "Exists")]},
                {"matchExpressions": [expression("gpu", "Exists")]},
            )
        ),
        BOTH,
    ),
    (
        "affinity on metadata.name of another node",
        node("n1"),
        daemon_set(affinity=required({"matchFields": [expression("metadata.name", "In", "n2")]})),
        NEITHER,
    ),
    (
        "affinity on metadata.name of this node",
        node("n1"),
        daemon_set(affinity=required({"matchFields": [expression("metadata.name", "In", "n1")]})),
        BOTH,
    ),
    (
        "affinity Gt on a number label",
        node(labels={"cores": "16"}),
        daemon_set(affinity=required({"matchExpressions": [expression("cores", "Gt", "8")]})),
        BOTH,
    ),
    (
        "nodeSelector and affinity must both match",
        node(labels={"disk": "ssd"}),
        daemon_set(
            nodeSelector={"disk": "ssd"},
            affinity=required({"matchExpressions": [expression("zone", "Exists")]}),
        ),
        NEITHER,
    ),
    ("template nodeName is this node", node("n1"), daemon_set(nodeName="n1"), BOTH),
    ("template nodeName is another node", node("n1"), daemon_set(nodeName="n2"), NEITHER),
    (
        "untolerated NoSchedule: no new pod, the one there stays",
        node(taints=[taint("dedicated", "NoSchedule", "gpu")]),
        daemon_set(),
        STAY_ONLY,
    ),
    (
        "untolerated NoExecute: no pod at all",
        node(taints=[taint("dedicated", "NoExecute", "gpu")]),
        daemon_set(),
        NEITHER,
    ),
    (
        "untolerated NoSchedule and NoExecute: no pod at all",
        node(taints=[taint("a", "NoSchedule"), taint("b", "NoExecute")]),
        daemon_set(),
        NEITHER,
    ),
    (
        "PreferNoSchedule never keeps a daemon off",
        node(taints=[taint("dedicated", "PreferNoSchedule")]),
        daemon_set(),
        BOTH,
    ),
    (
        "tolerated by value",
        node(taints=[taint("dedicated", "NoSchedule", "gpu")]),
        daemon_set(
            tolerations=[
                {"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}
            ]
        ),
        BOTH,
    ),
    (
        "a toleration of another value does not count",
        node(taints=[taint("dedicated", "NoSchedule", "gpu")]),
        daemon_set(
            tolerations=[
                {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}
            ]
        ),
        STAY_ONLY,
    ),
    (
        "Exists with no key tolerates everything",
        node(taints=[taint("a", "NoExecute"), taint("b", "NoSchedule")]),
        daemon_set(tolerations=[{"operator": "Exists"}]),
        BOTH,
    ),
    (
        "NoExecute tolerated, NoSchedule not: stays only",
        node(taints=[taint("a", "NoExecute"), taint("b", "NoSchedule")]),
        daemon_set(tolerations=[{"key": "a", "operator": "Exists", "effect": "NoExecute"}]),
        STAY_ONLY,
    ),
    (
        "daemons tolerate a cordoned node",
        node(taints=[taint(UNSCHEDULABLE, "NoSchedule")]),
        daemon_set(),
        BOTH,
    ),
    (
        "daemons tolerate a not-ready node",
        node(taints=[taint(NOT_READY, "NoExecute")]),
        daemon_set(),
        BOTH,
    ),
    (
        "daemons tolerate an unreachable node",
        node(taints=[taint(UNREACHABLE, "NoExecute")]),
        daemon_set(),
        BOTH,
    ),
    (
        "daemons tolerate memory pressure",
        node(taints=[taint("node.kubernetes.io/memory-pressure", "NoSchedule")]),
        daemon_set(),
        BOTH,
    ),
    (
        "only host-network daemons tolerate an unready network",
        node(taints=[taint(NETWORK_UNAVAILABLE, "NoSchedule")]),
        daemon_set(),
        STAY_ONLY,
    ),
    (
        "a host-network daemon tolerates an unready network",
        node(taints=[taint(NETWORK_UNAVAILABLE, "NoSchedule")]),
        daemon_set(hostNetwork=True),
        BOTH,
    ),
    (
        "a taint is checked only on eligible nodes",
        node(labels={"disk": "hdd"}, taints=[taint("a", "NoSchedule")]),
        daemon_set(nodeSelector={"disk": "ssd"}),
        NEITHER,
    ),
]


@pytest.mark.parametrize(
    ("node_obj", "ds", "expected"),
    [pytest.param(n, d, e, id=what) for what, n, d, e in ELIGIBILITY],
)
def test_node_should_run_daemon_pod(node_obj: Obj, ds: Obj, expected: tuple[bool, bool]) -> None:
    placement = du.node_should_run_daemon_pod(node_obj, ds)
    assert (placement.should_run, placement.should_continue) == expected


def test_a_compiled_placement_answers_for_many_nodes() -> None:
    placement = du.DaemonPlacement(daemon_set(nodeSelector={"role": "edge"}))
    answers = [
        placement.on(node(f"n{i}", labels={"role": role})).should_run
        for i, role in enumerate(["edge", "core", "edge"])
    ]
    assert answers == [True, False, True]


# --- tolerations ----------------------------------------------------------------------------------


def test_daemon_tolerations_are_added_in_kubernetes_order() -> None:
    spec: Obj = {}
    du.add_daemon_tolerations(spec)
    assert spec["tolerations"] == [
        {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute"},
        {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"},
        {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
        {"key": UNSCHEDULABLE, "operator": "Exists", "effect": "NoSchedule"},
    ]


def test_host_network_pods_also_tolerate_an_unready_network() -> None:
    spec: Obj = {"hostNetwork": True}
    du.add_daemon_tolerations(spec)
    assert spec["tolerations"][-1] == {
        "key": NETWORK_UNAVAILABLE,
        "operator": "Exists",
        "effect": "NoSchedule",
    }


def test_a_timed_toleration_of_the_same_taint_is_replaced_so_the_daemon_is_never_evicted() -> None:
    timed = {
        "key": UNREACHABLE,
        "operator": "Exists",
        "effect": "NoExecute",
        "tolerationSeconds": 300,
    }
    own = {"key": "dedicated", "operator": "Exists"}
    spec: Obj = {"tolerations": [own, timed]}
    du.add_daemon_tolerations(spec)
    unreachable = [t for t in spec["tolerations"] if t["key"] == UNREACHABLE]
    assert unreachable == [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}]
    assert spec["tolerations"][0] == own  # The user's own stay, in place.
    assert spec["tolerations"][1]["key"] == UNREACHABLE


def test_adding_a_toleration_already_there_changes_nothing() -> None:
    toleration = {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute"}
    spec: Obj = {"tolerations": [dict(toleration)]}
    assert du.add_or_update_toleration(spec, toleration) is False
    assert spec["tolerations"] == [toleration]


# --- the pod --------------------------------------------------------------------------------------


def test_the_pod_template_gets_tolerations_and_revision_labels_and_the_original_is_kept() -> None:
    template = daemon_set()["spec"]["template"]
    made = du.create_pod_template(template, 3, "abc")
    assert made["metadata"]["labels"] == {
        "app": "ds",
        du.TEMPLATE_GENERATION_LABEL: "3",
        du.HASH_LABEL: "abc",
    }
    assert len(made["spec"]["tolerations"]) == 6
    assert "tolerations" not in template["spec"]
    assert template["metadata"]["labels"] == {"app": "ds"}


def test_without_a_template_generation_only_the_hash_is_labelled() -> None:
    made = du.create_pod_template(daemon_set()["spec"]["template"], None, "abc")
    assert du.TEMPLATE_GENERATION_LABEL not in made["metadata"]["labels"]


def test_pinning_replaces_required_terms_and_keeps_preferred_ones() -> None:
    preferred = [{"weight": 1, "preference": {"matchExpressions": [expression("z", "Exists")]}}]
    spec: Obj = {
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [expression("zone", "Exists")]}]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": preferred,
            },
            "podAntiAffinity": {"x": 1},
        }
    }
    du.pin_to_node(spec, "n7")
    node_affinity = spec["affinity"]["nodeAffinity"]
    assert node_affinity["requiredDuringSchedulingIgnoredDuringExecution"] == {
        "nodeSelectorTerms": [{"matchFields": [expression("metadata.name", "In", "n7")]}]
    }
    assert node_affinity["preferredDuringSchedulingIgnoredDuringExecution"] == preferred
    assert spec["affinity"]["podAntiAffinity"] == {"x": 1}


def test_pinning_a_pod_without_affinity() -> None:
    spec: Obj = {}
    du.pin_to_node(spec, "n1")
    assert du.target_node_name({"spec": spec}) == "n1"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"nodeName": "bound"}, "bound"),
        ({}, None),
        (required({"matchFields": [expression("metadata.name", "In", "n2")]}), "n2"),
        (required({"matchFields": [expression("metadata.name", "NotIn", "n2")]}), None),
        (required({"matchFields": [expression("metadata.name", "In", "a", "b")]}), None),
        (required({"matchExpressions": [expression("zone", "In", "a")]}), None),
    ],
    ids=["bound", "nothing", "affinity", "not-in", "two-names", "labels-only"],
)
def test_target_node_name(spec: Obj, expected: str | None) -> None:
    body = {"affinity": spec} if "nodeAffinity" in spec else spec
    assert du.target_node_name({"spec": body}) == expected


@pytest.mark.parametrize(
    ("pod_labels", "hash_", "generation", "updated"),
    [
        ({du.HASH_LABEL: "new"}, "new", 2, True),
        ({du.HASH_LABEL: "old"}, "new", 2, False),
        ({du.HASH_LABEL: "old", du.TEMPLATE_GENERATION_LABEL: "2"}, "new", 2, True),
        ({du.TEMPLATE_GENERATION_LABEL: "1"}, "new", 2, False),
        ({du.TEMPLATE_GENERATION_LABEL: "2"}, "new", None, False),
        ({}, "", None, False),
    ],
)
def test_is_pod_updated(pod_labels: Obj, hash_: str, generation: int | None, updated: bool) -> None:
    assert du.is_pod_updated({"metadata": {"labels": pod_labels}}, hash_, generation) is updated


def test_template_generation_reads_the_annotation() -> None:
    annotated = {"metadata": {"annotations": {du.TEMPLATE_GENERATION_ANNOTATION: "4"}}}
    assert du.template_generation(annotated) == 4
    assert du.template_generation({"metadata": {}}) is None
    garbled = {"metadata": {"annotations": {du.TEMPLATE_GENERATION_ANNOTATION: "x"}}}
    assert du.template_generation(garbled) is None
