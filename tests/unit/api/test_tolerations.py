"""Toleration matching: key, operator (Exists, Equal), value and effect, as
Toleration.ToleratesTaint decides."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.tolerations import (
    DO_NOT_SCHEDULE,
    compile_tolerations,
    find_untolerated_taint,
    tolerates_taint,
    tolerations_tolerate_taint,
)

TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


@pytest.mark.parametrize(
    ("toleration", "tolerated"),
    [
        ({"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}, True),
        ({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}, True),  # "" is Equal
        ({"key": "dedicated", "operator": "Equal", "value": "cpu"}, False),
        ({"key": "dedicated", "operator": "Exists"}, True),
        ({"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}, True),
        ({"key": "dedicated", "operator": "Exists", "effect": "NoExecute"}, False),
        ({"key": "other", "operator": "Exists"}, False),
        ({"operator": "Exists"}, True),  # empty key and Exists: every taint
        ({"operator": "Exists", "effect": "PreferNoSchedule"}, False),
        # An empty key skips the key check whatever the operator, as in Kubernetes.
        ({"operator": "Equal", "value": "gpu"}, True),
        ({"operator": "Equal"}, False),
        ({"key": "dedicated", "operator": "Lt", "value": "gpu"}, False),  # unknown operator
    ],
)
def test_toleration_matches_taint(toleration: dict[str, Any], tolerated: bool) -> None:
    assert tolerates_taint(toleration, TAINT) is tolerated


def test_a_taint_without_value_is_tolerated_by_equal_without_value() -> None:
    taint = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    assert tolerates_taint({"key": "node.kubernetes.io/unschedulable"}, taint)
    assert not tolerates_taint({"key": "node.kubernetes.io/unschedulable", "value": "x"}, taint)


def test_any_toleration_will_do() -> None:
    tolerations = compile_tolerations(
        [{"key": "a", "operator": "Exists"}, {"key": "dedicated", "value": "gpu"}]
    )
    assert tolerations_tolerate_taint(tolerations, TAINT)
    assert not tolerations_tolerate_taint(compile_tolerations(None), TAINT)


def test_first_untolerated_taint_among_those_that_keep_pods_off() -> None:
    taints = [
        {"key": "soft", "effect": "PreferNoSchedule"},
        {"key": "tolerated", "value": "1", "effect": "NoSchedule"},
        {"key": "evicts", "value": "2", "effect": "NoExecute"},
        {"key": "later", "effect": "NoSchedule"},
    ]
    tolerations = compile_tolerations([{"key": "tolerated", "operator": "Exists"}])
    assert find_untolerated_taint(taints, tolerations, DO_NOT_SCHEDULE) == taints[2]
    assert find_untolerated_taint(taints, tolerations) == taints[0]
    assert find_untolerated_taint(taints[:2], tolerations, DO_NOT_SCHEDULE) is None
