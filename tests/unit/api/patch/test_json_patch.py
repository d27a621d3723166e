"""RFC 6902 JSON Patch, as `kubectl patch --type=json` sees the Kubernetes API server apply it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.patch import GENERIC_INVALID_MESSAGE, PatchError, apply_json_patch


def deployment() -> dict[str, Any]:
    return {
        "metadata": {
            "name": "web",
            "labels": {"app": "web"},
            "annotations": {"example.com/owner": "team-a", "a~b": "tilde"},
        },
        "spec": {
            "replicas": 1,
            "paused": None,
            "template": {"spec": {"containers": [{"name": "app", "args": ["--a", "--b"]}]}},
        },
    }


ARGS = "/spec/template/spec/containers/0/args"

CASES = [
    pytest.param(
        [{"op": "add", "path": "/metadata/labels/tier", "value": "frontend"}],
        lambda d: d["metadata"]["labels"].update(tier="frontend"),
        id="add sets an object member",
    ),
    pytest.param(
        [{"op": "add", "path": f"{ARGS}/1", "value": "--x"}],
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["args"].insert(1, "--x"),
        id="add inserts before an array index",
    ),
    pytest.param(
        [{"op": "add", "path": f"{ARGS}/-", "value": "--z"}],
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["args"].append("--z"),
        id="add with - appends",
    ),
    pytest.param(
        [{"op": "add", "path": f"{ARGS}/2", "value": "--z"}],
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["args"].append("--z"),
        id="add at the array length appends",
    ),
    pytest.param(
        [{"op": "remove", "path": f"{ARGS}/-1"}],
        lambda d: d["spec"]["template"]["spec"]["containers"][0]["args"].pop(),
        id="a negative index counts from the end",
    ),
    pytest.param(
        [{"op": "replace", "path": "/spec/replicas", "value": 3}],
        lambda d: d["spec"].update(replicas=3),
        id="replace changes a value",
    ),
    pytest.param(
        [{"op": "replace", "path": "/spec/minReadySeconds", "value": 5}],
        lambda d: d["spec"].update(minReadySeconds=5),
        id="replace of a missing member adds it, as Kubernetes does",
    ),
    pytest.param(
        [{"op": "remove", "path": "/metadata/annotations/example.com~1owner"}],
        lambda d: d["metadata"]["annotations"].pop("example.com/owner"),
        id="~1 escapes a slash",
    ),
    pytest.param(
        [{"op": "replace", "path": "/metadata/annotations/a~0b", "value": "x"}],
        lambda d: d["metadata"]["annotations"].update({"a~b": "x"}),
        id="~0 escapes a tilde",
    ),
    pytest.param(
        [{"op": "add", "path": "/metadata/annotations/~01", "value": "x"}],
        lambda d: d["metadata"]["annotations"].update({"~1": "x"}),
        id="~01 is a tilde and a one, not a slash",
    ),
    pytest.param(
        [{"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/name"}],
        lambda d: d["metadata"].update(labels={"name": "web"}),
        id="move",
    ),
    pytest.param(
        [{"op": "copy", "from": "/metadata/labels", "path": "/spec/selector"}],
        lambda d: d["spec"].update(selector={"app": "web"}),
        id="copy",
    ),
    pytest.param(
        [
            {"op": "test", "path": "/metadata/labels/app", "value": "web"},
            {"op": "test", "path": "/spec/paused", "value": None},
            {"op": "test", "path": "/spec/missing", "value": None},
            {"op": "test", "path": "/metadata/labels", "value": {"app": "web"}},
            {"op": "replace", "path": "/metadata/labels/app", "value": "api"},
        ],
        lambda d: d["metadata"]["labels"].update(app="api"),
        id="passing tests let the patch through; null matches null and missing",
    ),
    pytest.param(
        [{"op": "replace", "path": "", "value": {"kind": "Other"}}],
        lambda d: (d.clear(), d.update(kind="Other")),
        id="replace of the root replaces the document",
    ),
    pytest.param(
        None,
        lambda d: None,
        id="a null patch changes nothing",
    ),
]


@pytest.mark.parametrize(("operations", "change"), CASES)
def test_operations(operations: list[dict[str, Any]] | None, change: Any) -> None:
    expected = deployment()
    change(expected)
    assert apply_json_patch(deployment(), operations) == expected


# Kubernetes answers every failed operation with the same 422 message; `detail` is what failed.
FAILURES = [
    pytest.param(
        [{"op": "test", "path": "/metadata/labels/app", "value": "api"}],
        "testing value /metadata/labels/app failed: test failed",
        id="test of a different value",
    ),
    pytest.param(
        [{"op": "test", "path": "/spec/replicas", "value": 1.0}],
        "testing value /spec/replicas failed: test failed",
        id="test compares numbers as written: 1.0 is not 1",
    ),
    pytest.param(
        [{"op": "test", "path": "/metadata/labels/tier", "value": "frontend"}],
        "testing value /metadata/labels/tier failed: test failed",
        id="test of a missing member",
    ),
    pytest.param(
        [{"op": "add", "path": "/spec/strategy/type", "value": "Recreate"}],
        'add operation does not apply: doc is missing path: "/spec/strategy/type": missing value',
        id="add below a missing member",
    ),
    pytest.param(
        [{"op": "add", "path": "/spec/paused/x", "value": 1}],
        'add operation does not apply: doc is missing path: "/spec/paused/x": missing value',
        id="add below a null member",
    ),
    pytest.param(
        [{"op": "remove", "path": "/metadata/labels/tier"}],
        "error in remove for path: '/metadata/labels/tier': "
        "Unable to remove nonexistent key: tier: missing value",
        id="remove of a missing member",
    ),
    pytest.param(
        [{"op": "replace", "path": f"{ARGS}/2", "value": "--c"}],
        f"replace operation does not apply: doc is missing key: {ARGS}/2: missing value",
        id="replace past the end of an array",
    ),
    pytest.param(
        [{"op": "add", "path": f"{ARGS}/3", "value": "--c"}],
        f"error in add for path: '{ARGS}/3': "
        "Unable to access invalid index: 3: invalid index referenced",
        id="add past the end of an array",
    ),
    pytest.param(
        [{"op": "add", "path": f"{ARGS}/first", "value": "--c"}],
        f"error in add for path: '{ARGS}/first': value was not a proper array index: 'first': "
        'strconv.Atoi: parsing "first": invalid syntax',
        id="array index that is not a number",
    ),
    pytest.param(
        [{"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/x"}],
        "error in move for path: 'tier': Unable to remove nonexistent key: tier: missing value",
        id="move from a missing member",
    ),
    pytest.param(
        [{"op": "add", "value": 1}],
        "add operation failed to decode path: missing value",
        id="operation without a path",
    ),
    pytest.param(
        [{"op": "merge", "path": "/spec"}],
        "Unexpected kind: merge",
        id="unknown operation",
    ),
    pytest.param(
        [
            {"op": "replace", "path": "/spec/replicas", "value": 2},
            {"op": "test", "path": "/spec/replicas", "value": 1},
        ],
        "testing value /spec/replicas failed: test failed",
        id="operations see the changes of those before them",
    ),
]


@pytest.mark.parametrize(("operations", "detail"), FAILURES)
def test_failed_operation_is_422_invalid(operations: list[dict[str, Any]], detail: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch(deployment(), operations)
    assert (caught.value.code, caught.value.reason) == (422, "Invalid")
    assert caught.value.message == GENERIC_INVALID_MESSAGE
    assert caught.value.detail == detail


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"op": "add", "path": "/a", "value": 1},
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
            id="an operation that is not in a list",
        ),
        pytest.param(
            ["add"],
            "json: cannot unmarshal string into Go value of type jsonpatch.Operation",
            id="a list item that is not an operation",
        ),
    ],
)
def test_malformed_patch_is_400_bad_request(body: Any, message: str) -> None:
    with pytest.raises(PatchError) as caught:
        apply_json_patch(deployment(), body)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        400,
        "BadRequest",
        message,
    )


def test_more_than_10000_operations_is_413() -> None:
    operations = [{"op": "test", "path": "/spec/replicas", "value": 1}] * 10001
    with pytest.raises(PatchError) as caught:
        apply_json_patch(deployment(), operations)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001",
    )


def test_failed_patch_applies_nothing_and_changes_no_input() -> None:
    doc = deployment()
    operations = [
        {"op": "add", "path": "/metadata/labels/tier", "value": {"nested": ["x"]}},
        {"op": "test", "path": "/spec/replicas", "value": 5},
    ]
    before = copy.deepcopy((doc, operations))
    with pytest.raises(PatchError):
        apply_json_patch(doc, operations)
    assert (doc, operations) == before


def test_added_values_are_copies() -> None:
    value = {"nested": ["x"]}
    result = apply_json_patch(
        deployment(), [{"op": "add", "path": "/metadata/labels/tier", "value": value}]
    )
    result["metadata"]["labels"]["tier"]["nested"].append("y")
    assert value == {"nested": ["x"]}
