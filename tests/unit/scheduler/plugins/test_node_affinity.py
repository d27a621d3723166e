"""NodeAffinity: nodeSelector and required affinity filter, matchFields narrow, preferred
terms score (kube-scheduler's nodeaffinity/node_affinity_test.go cases among them)."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import filter_all, make_node, make_pod, score_all

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import CycleState
from kubelite.scheduler.plugins.node_affinity import NodeAffinity

REASON = "node(s) didn't match Pod's node affinity/selector"


def required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


def expr(key: str, operator: str, *values: str) -> dict[str, Any]:
    result: dict[str, Any] = {"key": key, "operator": operator}
    if values:
        result["values"] = list(values)
    return result


@pytest.mark.parametrize(
    ("node_selector", "affinity", "node_labels", "fits"),
    [
        ({"foo": "bar"}, None, {"foo": "bar"}, True),
        ({"foo": "bar"}, None, {"foo": "baz"}, False),
        ({"foo": "bar"}, None, {}, False),
        (
            None,
            required({"matchExpressions": [expr("foo", "In", "bar", "value2")]}),
            {"foo": "bar"},
            True,
        ),
        (
            None,
            required({"matchExpressions": [expr("kernel-version", "Gt", "0204")]}),
            {"kernel-version": "0206"},
            True,
        ),
        (
            None,
            required({"matchExpressions": [expr("mem-type", "NotIn", "DDR", "DDR2")]}),
            {"mem-type": "DDR3"},
            True,
        ),
        (
            None,
            required({"matchExpressions": [expr("GPU", "Exists")]}),
            {"GPU": "NVIDIA-GRID-K1"},
            True,
        ),
        (
            None,
            required({"matchExpressions": [expr("foo", "In", "value1", "value2")]}),
            {"foo": "bar"},
            False,
        ),
        (
            None,
            required({"matchExpressions": [expr("foo", "DoesNotExist")]}),
            {"foo": "bar"},
            False,
        ),
        (
            None,
            required(
                {"matchExpressions": [expr("foo", "In", "bar"), expr("diffkey", "In", "wrong")]}
            ),
            {"foo": "bar"},
            False,
        ),
        (
            None,
            required(
                {"matchExpressions": [expr("foo", "In", "bar")]},
                {"matchExpressions": [expr("diffkey", "In", "wrong")]},
            ),
            {"foo": "bar"},
            True,
        ),
        (
            {"foo": "bar"},
            required({"matchExpressions": [expr("foo", "Exists")]}),
            {"foo": "bar"},
            True,
        ),
        (
            {"foo": "baz"},
            required({"matchExpressions": [expr("foo", "Exists")]}),
            {"foo": "bar"},
            False,
        ),
        (None, required(), {"foo": "bar"}, False),
        (None, required({}), {"foo": "bar"}, False),
        (None, required({"matchFields": [expr("metadata.name", "In", "node1")]}), {}, True),
        (None, required({"matchFields": [expr("metadata.name", "NotIn", "node1")]}), {}, False),
        (
            None,
            required({"matchExpressions": [expr("foo", "Bogus", "bar")]}),
            {"foo": "bar"},
            False,
        ),
    ],
)
def test_filter_matches_node_selector_and_required_affinity(
    node_selector: dict[str, str] | None,
    affinity: dict[str, Any] | None,
    node_labels: dict[str, str],
    fits: bool,
) -> None:
    pod = make_pod(node_selector=node_selector, affinity=affinity)
    (status,) = filter_all(NodeAffinity(), pod, [make_node("node1", labels=node_labels)])
    if fits:
        assert status.ok
    else:
        assert (status.code, status.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, [REASON])


@pytest.mark.parametrize(
    ("affinity", "names", "code"),
    [
        (None, None, Code.SKIP),
        (required({"matchExpressions": [expr("foo", "Exists")]}), None, Code.SUCCESS),
        (
            required({"matchFields": [expr("metadata.name", "In", "node1")]}),
            {"node1"},
            Code.SUCCESS,
        ),
        (
            required(
                {"matchFields": [expr("metadata.name", "In", "node1")]},
                {"matchFields": [expr("metadata.name", "In", "node2")]},
            ),
            {"node1", "node2"},
            Code.SUCCESS,
        ),
        (
            required(
                {"matchFields": [expr("metadata.name", "In", "node1")]},
                {"matchExpressions": [expr("foo", "Exists")]},
            ),
            None,
            Code.SUCCESS,
        ),
        (
            required(
                {
                    "matchFields": [
                        expr("metadata.name", "In", "node1"),
                        expr("metadata.name", "In", "node2"),
                    ]
                }
            ),
            None,
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
        ),
        (required({"matchFields": [expr("metadata.name", "NotIn", "node1")]}), None, Code.SUCCESS),
    ],
)
def test_prefilter_narrows_to_pinned_node_names(
    affinity: dict[str, Any] | None, names: set[str] | None, code: Code
) -> None:
    result, status = NodeAffinity().pre_filter(CycleState(), make_pod(affinity=affinity), [])
    assert status.code == code
    assert (result.node_names if result else None) == names
    if code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
        assert status.reasons == ["pod affinity terms conflict"]


def test_prefilter_does_not_skip_a_pod_with_only_a_node_selector() -> None:
    _, status = NodeAffinity().pre_filter(CycleState(), make_pod(node_selector={"a": "b"}), [])
    assert status.code == Code.SUCCESS


def preferred(*terms: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": weight, "preference": preference} for weight, preference in terms
            ]
        }
    }


LABEL1 = {"foo": "bar"}
LABEL2 = {"key": "value"}
LABEL5 = {"foo": "bar", "key": "value", "az": "az1"}


@pytest.mark.parametrize(
    ("affinity", "scores"),
    [
        pytest.param(
            preferred((2, {"matchExpressions": [expr("foo", "In", "bar")]})),
            [100, 0, 100],
            id="one term",
        ),
        pytest.param(
            preferred(
                (2, {"matchExpressions": [expr("foo", "In", "bar")]}),
                (4, {"matchExpressions": [expr("key", "In", "value")]}),
                (
                    5,
                    {
                        "matchExpressions": [
                            expr("foo", "In", "bar"),
                            expr("key", "In", "value"),
                            expr("az", "In", "az1"),
                        ]
                    },
                ),
            ),
            [18, 36, 100],
            id="several terms add up, then scale to 100",
        ),
        pytest.param(
            preferred((2, {"matchExpressions": [expr("nope", "Exists")]})),
            [0, 0, 0],
            id="no node matches",
        ),
    ],
)
def test_preferred_terms_score_and_normalize(affinity: dict[str, Any], scores: list[int]) -> None:
    nodes = [
        make_node("node1", labels=LABEL1),
        make_node("node2", labels=LABEL2),
        make_node("node3", labels=LABEL5),
    ]
    assert score_all(NodeAffinity(), make_pod(affinity=affinity), nodes) == scores


def test_prescore_skips_a_pod_without_preferred_terms() -> None:
    assert score_all(NodeAffinity(), make_pod(node_selector={"a": "b"}), [make_node("n")]) is None


def test_prescore_reports_preferred_terms_that_do_not_parse() -> None:
    pod = make_pod(affinity=preferred((1, {"matchExpressions": [expr("a", "In")]})))
    status = NodeAffinity().pre_score(CycleState(), pod, [])
    assert status.code == Code.ERROR


def test_registers_node_changes() -> None:
    assert NodeAffinity().events_to_register() == {"Node/Add", "Node/Update"}
