"""Node readiness as every component reads it (`kubelite.api.nodes`)."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api.nodes import is_node_ready, ready_condition


def _node(*conditions: dict[str, str]) -> Any:
    return {"status": {"conditions": list(conditions)}}


@pytest.mark.parametrize(
    ("node", "ready"),
    [
        (_node({"type": "Ready", "status": "True"}), True),
        (_node({"type": "Ready", "status": "False"}), False),
        (_node({"type": "Ready", "status": "Unknown"}), False),
        (_node({"type": "MemoryPressure", "status": "True"}), False),
        ({}, False),
    ],
)
def test_a_node_is_ready_when_its_ready_condition_is_true(node: Any, ready: bool) -> None:
    assert is_node_ready(node) is ready


def test_the_ready_condition() -> None:
    condition = {"type": "Ready", "status": "True"}
    assert (
        ready_condition(_node({"type": "DiskPressure", "status": "False"}, condition)) == condition
    )
    assert ready_condition({}) is None
