"""Merging a configuration into a live object, and removing fields from one, by schema."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api import schema
from kubelite.api.managedfields.merge import merge
from kubelite.api.managedfields.remove import remove

POD = schema.load().for_kind("", "v1", "Pod")


def containers(*names: str) -> dict[str, Any]:
    return {"spec": {"containers": [{"name": n} for n in names]}}


def names(obj: dict[str, Any]) -> list[str]:
    return [c["name"] for c in obj["spec"]["containers"]]


@pytest.mark.parametrize(
    ("live", "applied", "order"),
    [
        (["a", "b"], ["a", "b"], ["a", "b"]),
        (["a"], ["b"], ["a", "b"]),
        (["a", "b"], ["b", "a"], ["b", "a"]),
        # Items only the live list has stay in place; shared ones follow the configuration.
        (["a", "x", "b"], ["b", "a"], ["x", "b", "a"]),
        (["a", "b", "c"], ["c", "new", "a"], ["b", "c", "new", "a"]),
    ],
)
def test_merged_lists_keep_a_stable_order(
    live: list[str], applied: list[str], order: list[str]
) -> None:
    assert names(merge(containers(*live), containers(*applied), POD)) == order


def test_the_configuration_wins_on_the_leaves_it_sets_and_keeps_the_rest() -> None:
    live = {"spec": {"containers": [{"name": "a", "image": "x:1", "imagePullPolicy": "Always"}]}}
    applied = {"spec": {"containers": [{"name": "a", "image": "x:2"}]}}
    assert merge(live, applied, POD) == {
        "spec": {"containers": [{"name": "a", "image": "x:2", "imagePullPolicy": "Always"}]}
    }


@pytest.mark.parametrize(
    ("field", "live", "applied", "merged"),
    [
        ("labels", {"a": "1"}, {"b": "2"}, {"a": "1", "b": "2"}),
        ("nodeSelector", {"a": "1"}, {"b": "2"}, {"b": "2"}),
    ],
    ids=["a granular map merges", "an atomic map is replaced"],
)
def test_maps_merge_by_their_map_type(
    field: str, live: dict[str, str], applied: dict[str, str], merged: dict[str, str]
) -> None:
    where = "metadata" if field == "labels" else "spec"
    result = merge({where: {field: live}}, {where: {field: applied}}, POD)
    assert result[where][field] == merged


def test_remove_takes_out_fields_items_and_emptied_parents() -> None:
    obj = {
        "metadata": {"name": "p", "labels": {"a": "1"}},
        "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]},
    }
    removed = remove(
        obj,
        frozenset(
            {
                ("f:metadata", "f:labels", "f:a"),
                ("f:spec", "f:containers", 'k:{"name":"a"}'),
                ("f:spec", "f:containers", 'k:{"name":"b"}', "f:image"),
            }
        ),
        POD,
    )
    assert removed == {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "b"}]}}
    assert obj["metadata"]["labels"] == {"a": "1"}
