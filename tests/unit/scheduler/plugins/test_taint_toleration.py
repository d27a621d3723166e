"""TaintToleration: NoSchedule and NoExecute taints refuse, PreferNoSchedule ones lower the
score (kube-scheduler's tainttoleration/taint_toleration_test.go cases among them)."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import filter_all, make_node, make_pod, score_all

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.plugins.taint_toleration import TaintToleration

# Since 1.35 (#134740) the refusal no longer names the taint.
UNTOLERATED = "node(s) had untolerated taint(s)"


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> dict[str, Any]:
    result = {"key": key, "effect": effect}
    if value:
        result["value"] = value
    return result


@pytest.mark.parametrize(
    ("taints", "tolerations", "reasons"),
    [
        ([], None, []),
        ([taint("dedicated", "gpu")], None, [UNTOLERATED]),
        (
            [taint("dedicated", "gpu", "NoExecute")],
            None,
            [UNTOLERATED],
        ),
        ([taint("dedicated", "gpu", "PreferNoSchedule")], None, []),
        ([taint("dedicated")], None, [UNTOLERATED]),
        (
            [taint("dedicated", "gpu")],
            [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}],
            [],
        ),
        (
            [taint("dedicated", "gpu")],
            [{"key": "dedicated", "operator": "Equal", "value": "cpu", "effect": "NoSchedule"}],
            [UNTOLERATED],
        ),
        (
            [taint("a", "1"), taint("b", "2")],
            [{"key": "a", "operator": "Exists"}],
            [UNTOLERATED],
        ),
        ([taint("a", "1"), taint("b", "2")], [{"operator": "Exists"}], []),
    ],
)
def test_filter_refuses_a_node_with_an_untolerated_taint(
    taints: list[dict[str, Any]], tolerations: list[dict[str, Any]] | None, reasons: list[str]
) -> None:
    node = make_node("n1", taints=taints)
    (status,) = filter_all(TaintToleration(), make_pod(tolerations=tolerations), [node])
    code = Code.UNSCHEDULABLE_AND_UNRESOLVABLE if reasons else Code.SUCCESS
    assert (status.code, status.reasons) == (code, reasons)


@pytest.mark.parametrize(
    ("tolerations", "node_taints", "scores"),
    [
        pytest.param(
            [{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}],
            [[taint("foo", "bar", "PreferNoSchedule")], [taint("foo", "blah", "PreferNoSchedule")]],
            [100, 0],
            id="the node whose taints the pod tolerates is preferred",
        ),
        pytest.param(
            [
                {
                    "key": "cpu-type",
                    "operator": "Equal",
                    "value": "arm64",
                    "effect": "PreferNoSchedule",
                },
                {
                    "key": "disk-type",
                    "operator": "Equal",
                    "value": "ssd",
                    "effect": "PreferNoSchedule",
                },
            ],
            [
                [],
                [taint("cpu-type", "arm64", "PreferNoSchedule")],
                [
                    taint("cpu-type", "arm64", "PreferNoSchedule"),
                    taint("disk-type", "ssd", "PreferNoSchedule"),
                ],
            ],
            [100, 100, 100],
            id="all intolerable taints tolerated",
        ),
        pytest.param(
            [{"key": "foo", "operator": "Equal", "value": "bar", "effect": "PreferNoSchedule"}],
            [
                [],
                [taint("cpu-type", "arm64", "PreferNoSchedule")],
                [
                    taint("cpu-type", "arm64", "PreferNoSchedule"),
                    taint("disk-type", "ssd", "PreferNoSchedule"),
                ],
            ],
            [100, 50, 0],
            id="more intolerable taints, lower score",
        ),
        pytest.param(
            [{"key": "cpu-type", "operator": "Equal", "value": "arm64", "effect": "NoSchedule"}],
            [
                [],
                [taint("cpu-type", "arm64", "NoSchedule")],
                [taint("cpu-type", "arm64", "PreferNoSchedule")],
            ],
            [100, 100, 0],
            id="only PreferNoSchedule taints count, and only tolerations for them",
        ),
        pytest.param(
            [{"key": "cpu-type", "operator": "Exists"}],
            [
                [taint("cpu-type", "arm64", "PreferNoSchedule")],
                [taint("x", "", "PreferNoSchedule")],
            ],
            [100, 0],
            id="a toleration without effect tolerates PreferNoSchedule",
        ),
    ],
)
def test_score_counts_intolerable_prefer_no_schedule_taints_reversed(
    tolerations: list[dict[str, Any]], node_taints: list[list[dict[str, Any]]], scores: list[int]
) -> None:
    nodes = [make_node(f"n{i}", taints=t) for i, t in enumerate(node_taints)]
    assert score_all(TaintToleration(), make_pod(tolerations=tolerations), nodes) == scores


def test_score_is_left_out_when_no_node_has_prefer_no_schedule_taints() -> None:
    nodes = [make_node("n1"), make_node("n2", taints=[taint("hard", "x")])]
    assert score_all(TaintToleration(), make_pod(), nodes) is None


def test_registers_node_changes_and_the_pods_own_update() -> None:
    assert TaintToleration().events_to_register() == {
        "Node/Add",
        "Node/Update",
        "UnscheduledPod/Update",
    }
