"""NodeUnschedulable: cordoned nodes refuse pods that do not tolerate the unschedulable taint."""

from __future__ import annotations

from typing import Any

import pytest
from plugin_objects import filter_all, make_node, make_pod

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.plugins.node_unschedulable import NodeUnschedulable

UNSCHEDULABLE_TOLERATION = {
    "key": "node.kubernetes.io/unschedulable",
    "operator": "Exists",
    "effect": "NoSchedule",
}


@pytest.mark.parametrize(
    ("unschedulable", "tolerations", "code", "reasons"),
    [
        (False, None, Code.SUCCESS, []),
        (True, None, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ["node(s) were unschedulable"]),
        (True, [UNSCHEDULABLE_TOLERATION], Code.SUCCESS, []),
        # An empty key with Exists tolerates every taint, this one too.
        (True, [{"operator": "Exists"}], Code.SUCCESS, []),
        # The toleration must cover NoSchedule.
        (
            True,
            [{**UNSCHEDULABLE_TOLERATION, "effect": "NoExecute"}],
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            ["node(s) were unschedulable"],
        ),
        # The taint has no value, so Equal with no value tolerates it.
        (
            True,
            [{"key": "node.kubernetes.io/unschedulable", "operator": "Equal"}],
            Code.SUCCESS,
            [],
        ),
    ],
)
def test_cordoned_node_refuses_pods_without_the_toleration(
    unschedulable: bool, tolerations: list[dict[str, Any]] | None, code: Code, reasons: list[str]
) -> None:
    node = make_node("n1", unschedulable=unschedulable)
    (status,) = filter_all(NodeUnschedulable(), make_pod(tolerations=tolerations), [node])
    assert (status.code, status.reasons) == (code, reasons)


def test_registers_node_changes_and_the_pods_own_update() -> None:
    assert NodeUnschedulable().events_to_register() == {
        "Node/Add",
        "Node/Update",
        "UnscheduledPod/Update",
    }
