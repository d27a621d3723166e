"""RFC 7386 JSON Merge Patch, as `kubectl patch --type=merge` sees the API server apply it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.patch import PatchError, apply_merge_patch, create_merge_patch

# The examples of RFC 7386 appendix A, where Kubernetes agrees with the RFC.
RFC_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("doc", "patch", "expected"), RFC_EXAMPLES)
def test_rfc_7386_examples(doc: Any, patch: Any, expected: Any) -> None:
    assert apply_merge_patch(doc, patch) == expected


POD = {
    "metadata": {"name": "web", "labels": {"app": "web", "tier": "frontend"}},
    "spec": {"containers": [{"name": "app", "image": "app:1"}, {"name": "proxy"}]},
}

POD_CASES = [
    pytest.param(
        {"metadata": {"labels": {"tier": None}}},
        {**POD, "metadata": {"name": "web", "labels": {"app": "web"}}},
        id="null removes a label",
    ),
    pytest.param(
        {"spec": {"containers": [{"name": "app", "image": "app:2"}]}},
        {**POD, "spec": {"containers": [{"name": "app", "image": "app:2"}]}},
        id="lists are replaced whole, unlike a strategic merge patch",
    ),
    pytest.param(
        {"metadata": {"annotations": {"a": "1", "b": None}}},
        {**POD, "metadata": {**POD["metadata"], "annotations": {"a": "1"}}},
        id="nulls in a new map are dropped",
    ),
    pytest.param(
        {"spec": {"args": ["--a", None]}},
        {**POD, "spec": {**POD["spec"], "args": ["--a"]}},
        id="nulls in a new list are dropped, as evanphx/json-patch does",
    ),
    pytest.param(
        {"metadata": {"labels": ["app", None]}},
        {**POD, "metadata": {"name": "web", "labels": ["app", None]}},
        id="a list that replaces a map is kept as sent",
    ),
]


@pytest.mark.parametrize(("patch", "expected"), POD_CASES)
def test_pod_patch(patch: dict[str, Any], expected: dict[str, Any]) -> None:
    assert apply_merge_patch(POD, patch) == expected


@pytest.mark.parametrize("patch", [None, "spec", 3, True], ids=repr)
def test_patch_that_is_null_or_a_scalar_is_400(patch: Any) -> None:
    with pytest.raises(PatchError) as caught:
        apply_merge_patch(POD, patch)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        "Invalid JSON Patch",
    )


def test_inputs_are_not_changed() -> None:
    doc = copy.deepcopy(POD)
    patch = {"metadata": {"labels": {"tier": None, "new": "x"}}, "spec": {"nodeName": "n1"}}
    before = copy.deepcopy((doc, patch))
    result = apply_merge_patch(doc, patch)
    result["metadata"]["labels"]["app"] = "changed"
    assert (doc, patch) == before


@pytest.mark.parametrize(
    ("original", "modified", "patch"),
    [
        pytest.param({"a": 1, "b": {"c": 2}}, {"b": {"c": 3}}, {"a": None, "b": {"c": 3}}),
        pytest.param({"a": [1, 2]}, {"a": [1, 2]}, {}, id="equal lists"),
        pytest.param({"a": [1, 2]}, {"a": [2, 1]}, {"a": [2, 1]}, id="reordered list"),
        pytest.param({"a": 1}, {"a": 1.0}, {}, id="numbers compare by value"),
        pytest.param({"a": 1}, {"a": True}, {"a": True}, id="true is not 1"),
        pytest.param({"a": {"b": 1}}, {"a": "x"}, {"a": "x"}, id="type change"),
    ],
)
def test_create_merge_patch(
    original: dict[str, Any], modified: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert create_merge_patch(original, modified) == patch
    assert apply_merge_patch(original, patch) == modified
