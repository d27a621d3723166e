"""NodeName: a pod that names a node fits only that node."""

from __future__ import annotations

import pytest
from plugin_objects import filter_all, make_node, make_pod

from kubelite.scheduler.framework.status import Code
from kubelite.scheduler.framework.types import CycleState
from kubelite.scheduler.plugins.node_name import NodeName


@pytest.mark.parametrize(
    ("node_name", "code", "reasons"),
    [
        (None, Code.SUCCESS, []),
        ("", Code.SUCCESS, []),
        ("n1", Code.SUCCESS, []),
        (
            "n2",
            Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
            ["node(s) didn't match the requested node name"],
        ),
    ],
)
def test_pod_fits_only_the_node_it_names(
    node_name: str | None, code: Code, reasons: list[str]
) -> None:
    (status,) = filter_all(NodeName(), make_pod(node_name=node_name), [make_node("n1")])
    assert (status.code, status.reasons) == (code, reasons)


@pytest.mark.parametrize(("node_name", "code"), [(None, Code.SKIP), ("n1", Code.SUCCESS)])
def test_prefilter_never_narrows_and_skips_pods_without_a_node_name(
    node_name: str | None, code: Code
) -> None:
    result, status = NodeName().pre_filter(CycleState(), make_pod(node_name=node_name), [])
    assert (result, status.code) == (None, code)


def test_registers_node_adds() -> None:
    assert NodeName().events_to_register() == {"Node/Add"}
