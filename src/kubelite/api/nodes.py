"""Readers of Node JSON that several components share (Kubernetes' `pkg/controller/util/node`
and `component-helpers/node/util`).

A node is Ready when its kubelet says so in the Ready condition; the node lifecycle controller
turns that to Unknown when the kubelet stops reporting, so a node with no Ready condition, or
any other status, counts as not ready.
"""

from __future__ import annotations

from kubelite.api.meta import find_condition, get_path
from kubelite.api.types import Obj


def ready_condition(node: Obj) -> Obj | None:
    """GetNodeCondition(Ready): the node's Ready condition, if it has one."""
    return find_condition(get_path(node, "status", "conditions"), "Ready")


def is_node_ready(node: Obj) -> bool:
    """IsNodeReady: the Ready condition is True."""
    condition = ready_condition(node)
    return condition is not None and condition.get("status") == "True"
