"""Strategic merge patch, applied as the API server applies `kubectl patch` and `kubectl apply`."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.patch import GENERIC_INVALID_MESSAGE, PatchError, apply_strategic_merge_patch
from kubelite.api.schema import Node, load


@pytest.fixture(scope="module")
def pod_schema() -> Node:
    node = load().for_kind("", "v1", "Pod")
    assert node is not None
    return node


@pytest.fixture(scope="module")
def deployment_schema() -> Node:
    node = load().for_kind("apps", "v1", "Deployment")
    assert node is not None
    return node


def container(name: str, image: str = "nginx:1.27", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **fields}


def pod(
    *containers: dict[str, Any], labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": "web", "namespace": "default"}
    if labels is not None:
        metadata["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata,
        "spec": {"containers": list(containers), **spec},
    }


def spec_patch(**fields: Any) -> dict[str, Any]:
    return {"spec": fields}


def order(*names: str) -> list[dict[str, str]]:
    return [{"name": name} for name in names]


APP = container("app", "app:1")
SIDECAR = container("sidecar", "proxy:1")
WITH_PORTS = container(
    "app",
    "app:1",
    ports=[{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}],
)

POD_CASES = [
    pytest.param(
        pod(APP, SIDECAR),
        spec_patch(
            **{
                "$setElementOrder/containers": order("sidecar", "app"),
                "containers": [{"name": "app", "image": "app:2"}],
            }
        ),
        pod(SIDECAR, container("app", "app:2")),
        id="containers merge by name and take the order of $setElementOrder",
    ),
    pytest.param(
        pod(APP, SIDECAR),
        spec_patch(
            **{
                "$setElementOrder/containers": order("app", "logger", "sidecar"),
                "containers": [container("logger", "busybox")],
            }
        ),
        pod(APP, container("logger", "busybox"), SIDECAR),
        id="a new container lands where $setElementOrder puts it",
    ),
    pytest.param(
        pod(APP, SIDECAR),
        spec_patch(containers=[{"name": "sidecar", "image": "proxy:2"}]),
        pod(APP, container("sidecar", "proxy:2")),
        id="a changed container keeps its place",
    ),
    pytest.param(
        pod(APP, SIDECAR),
        spec_patch(
            **{
                "$setElementOrder/containers": order("app"),
                "containers": [{"$patch": "delete", "name": "sidecar"}],
            }
        ),
        pod(APP),
        id="$patch: delete removes the container with that name",
    ),
    pytest.param(
        pod(APP),
        spec_patch(containers=[{"$patch": "delete", "name": "ghost"}]),
        pod(APP),
        id="$patch: delete of a missing container changes nothing",
    ),
    pytest.param(
        pod(APP, SIDECAR),
        spec_patch(containers=[{"$patch": "replace"}, container("only", "busybox")]),
        pod(container("only", "busybox")),
        id="$patch: replace in a list replaces the whole list",
    ),
    pytest.param(
        pod(APP, labels={"app": "web", "tier": "frontend"}),
        {"metadata": {"labels": {"$patch": "replace", "team": "a"}}},
        pod(APP, labels={"team": "a"}),
        id="$patch: replace in a map replaces the whole map",
    ),
    pytest.param(
        pod(APP, securityContext={"runAsUser": 1000, "runAsNonRoot": True}),
        spec_patch(securityContext={"$patch": "delete"}),
        pod(APP, securityContext={}),
        id="$patch: delete in a map leaves it empty",
    ),
    pytest.param(
        pod(APP, labels={"app": "web", "tier": "frontend"}),
        {"metadata": {"labels": {"tier": None}}},
        pod(APP, labels={"app": "web"}),
        id="null removes a label and keeps the others",
    ),
    pytest.param(
        pod(APP, labels={"app": "web"}),
        {"metadata": {"labels": {"absent": None}}},
        pod(APP, labels={"app": "web"}),
        id="null for a label that is not there changes nothing",
    ),
    pytest.param(
        pod(APP),
        spec_patch(nodeSelector={"disk": "ssd", "zone": None}),
        pod(APP, nodeSelector={"disk": "ssd"}),
        id="nulls inside a new map are dropped",
    ),
    pytest.param(
        pod(WITH_PORTS),
        spec_patch(containers=[{"name": "app", "ports": [{"containerPort": 443, "name": "tls"}]}]),
        pod(
            container(
                "app",
                "app:1",
                ports=[
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 443, "name": "tls"},
                ],
            )
        ),
        id="ports merge by containerPort",
    ),
    pytest.param(
        pod(WITH_PORTS),
        spec_patch(containers=[{"name": "app", "ports": [{"containerPort": 8080}]}]),
        pod(
            container(
                "app",
                "app:1",
                ports=[
                    {"containerPort": 8080},
                    {"containerPort": 80, "name": "http"},
                    {"containerPort": 443, "name": "https"},
                ],
            )
        ),
        id="without $setElementOrder a new port goes before the live ones",
    ),
    pytest.param(
        pod(APP, args=["--a"]),
        spec_patch(args=["--b"]),
        pod(APP, args=["--b"]),
        id="lists without a merge strategy are replaced",
    ),
    pytest.param(
        pod(
            APP,
            volumes=[{"name": "data", "emptyDir": {}}, {"name": "cache", "emptyDir": {}}],
        ),
        spec_patch(
            **{
                "$setElementOrder/volumes": order("data", "cache"),
                "volumes": [
                    {
                        "$retainKeys": ["hostPath", "name"],
                        "name": "data",
                        "hostPath": {"path": "/srv/data"},
                    }
                ],
            }
        ),
        pod(
            APP,
            volumes=[
                {"name": "data", "hostPath": {"path": "/srv/data"}},
                {"name": "cache", "emptyDir": {}},
            ],
        ),
        id="$retainKeys switches a volume from emptyDir to hostPath",
    ),
    pytest.param(
        pod(APP, volumes=[{"name": "data", "emptyDir": {}}]),
        spec_patch(volumes=[{"name": "data", "hostPath": {"path": "/srv/data"}}]),
        pod(APP, volumes=[{"name": "data", "emptyDir": {}, "hostPath": {"path": "/srv/data"}}]),
        id="without $retainKeys the old volume source stays",
    ),
]


@pytest.mark.parametrize(("original", "patch", "expected"), POD_CASES)
def test_pod_patch(
    pod_schema: Node, original: dict[str, Any], patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert apply_strategic_merge_patch(original, patch, pod_schema) == expected


FINALIZER_CASES = [
    pytest.param(
        ["example.com/a", "example.com/b"],
        {"finalizers": ["example.com/a", "example.com/c"]},
        ["example.com/a", "example.com/c", "example.com/b"],
        id="finalizers are a set: the patch adds what is missing",
    ),
    pytest.param(
        ["example.com/a"],
        {
            "$setElementOrder/finalizers": ["example.com/a", "example.com/b"],
            "finalizers": ["example.com/b"],
        },
        ["example.com/a", "example.com/b"],
        id="$setElementOrder orders a list of strings",
    ),
    pytest.param(
        ["example.com/a", "example.com/b", "example.com/c"],
        {"$deleteFromPrimitiveList/finalizers": ["example.com/b"]},
        ["example.com/a", "example.com/c"],
        id="$deleteFromPrimitiveList removes strings",
    ),
    pytest.param(
        ["example.com/a", "example.com/b"],
        {
            "$setElementOrder/finalizers": ["example.com/b", "example.com/c"],
            "$deleteFromPrimitiveList/finalizers": ["example.com/a"],
            "finalizers": ["example.com/c"],
        },
        ["example.com/b", "example.com/c"],
        id="one patch can add, delete and order",
    ),
    pytest.param(
        None,
        {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]},
        None,
        id="$deleteFromPrimitiveList on an absent list adds nothing",
    ),
]


@pytest.mark.parametrize(("live", "metadata_patch", "expected"), FINALIZER_CASES)
def test_finalizers(
    pod_schema: Node,
    live: list[str] | None,
    metadata_patch: dict[str, Any],
    expected: list[str] | None,
) -> None:
    original = pod(APP)
    if live is not None:
        original["metadata"]["finalizers"] = live
    result = apply_strategic_merge_patch(original, {"metadata": metadata_patch}, pod_schema)
    assert result["metadata"].get("finalizers") == expected


ROLLING_UPDATE = {
    "type": "RollingUpdate",
    "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
}


def deployment(strategy: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 2, "strategy": strategy},
    }


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        pytest.param(
            {"$retainKeys": ["type"], "type": "Recreate"},
            {"type": "Recreate"},
            id="$retainKeys drops rollingUpdate when switching to Recreate",
        ),
        pytest.param(
            {"type": "Recreate"},
            {"type": "Recreate", **{"rollingUpdate": ROLLING_UPDATE["rollingUpdate"]}},
            id="without $retainKeys rollingUpdate stays",
        ),
    ],
)
def test_deployment_strategy(
    deployment_schema: Node, patch: dict[str, Any], expected: dict[str, Any]
) -> None:
    result = apply_strategic_merge_patch(
        deployment(ROLLING_UPDATE), {"spec": {"strategy": patch}}, deployment_schema
    )
    assert result["spec"]["strategy"] == expected
    assert result["spec"]["replicas"] == 2


# (patch, code, reason, message) as the Kubernetes API server answers them, but for one thing:
# where Kubernetes passes the patch library's error through as a 500 with no reason, kubelite
# answers 400 BadRequest with the same words (a client's mistake is never a server error).
ERROR_CASES = [
    pytest.param(
        spec_patch(containers=[{"name": "app", "$patch": "remove"}]),
        400,
        "BadRequest",
        "unknown patch type: remove in map: map[$patch:remove name:app]",
        id="unknown $patch value on a list item",
    ),
    pytest.param(
        {"metadata": {"labels": {"$patch": "merge"}}},
        400,
        "BadRequest",
        "unknown patch type: merge in map: map[$patch:merge]",
        id="$patch: merge on a map",
    ),
    pytest.param(
        spec_patch(containers=[{"name": "app", "$patch": "merge"}]),
        400,
        "BadRequest",
        "merging lists cannot yet be specified in the patch",
        id="$patch: merge on a list item",
    ),
    pytest.param(
        spec_patch(containers=[{"image": "nginx:1.25"}]),
        400,
        "BadRequest",
        "map: map[image:nginx:1.25] does not contain declared merge key: name",
        id="list item without its merge key",
    ),
    pytest.param(
        spec_patch(volumes=[{"$retainKeys": "hostPath", "name": "data"}]),
        400,
        "BadRequest",
        "invalid patch format of retainKeys",
        id="$retainKeys that is not a list",
    ),
    pytest.param(
        spec_patch(
            volumes=[{"$retainKeys": ["name"], "name": "data", "hostPath": {"path": "/srv"}}]
        ),
        400,
        "BadRequest",
        "invalid patch format of retainKeys",
        id="field missing from $retainKeys",
    ),
    pytest.param(
        spec_patch(**{"$setElementOrder": [{"name": "app"}]}),
        400,
        "BadRequest",
        "invalid patch format of setElementOrder list",
        id="$setElementOrder without a field",
    ),
    pytest.param(
        {"metadata": {"$deleteFromPrimitiveList": ["example.com/a"]}},
        400,
        "BadRequest",
        "invalid patch format of primitive list",
        id="$deleteFromPrimitiveList without a field",
    ),
    pytest.param(
        spec_patch(
            **{
                "$setElementOrder/containers": order("app"),
                "containers": [{"name": "sidecar", "image": "proxy:2"}],
            }
        ),
        400,
        "BadRequest",
        "The order in patch list:\n[map[image:proxy:2 name:sidecar]]\n doesn't match "
        "$setElementOrder list:\n[map[name:app]]\n",
        id="patch list item missing from $setElementOrder",
    ),
    pytest.param(
        {"$patch": "nope"},
        400,
        "BadRequest",
        "unknown patch type: nope in map: map[$patch:nope]",
        id="unknown $patch value on the object",
    ),
    pytest.param(
        {"metadata": {"$setElementOrder/finalizers": 5}},
        400,
        "BadRequest",
        "$setElementOrder/finalizers: expected a []interface {}, but received a int64",
        id="$setElementOrder that is not a list names the directive",
    ),
    pytest.param(
        {"metadata": {"finalizers": [["example.com/a"]]}},
        422,
        "Invalid",
        GENERIC_INVALID_MESSAGE,
        id="list of lists",
    ),
]


@pytest.mark.parametrize(("patch", "code", "reason", "message"), ERROR_CASES)
def test_malformed_patches_fail_like_kubernetes(
    pod_schema: Node, patch: dict[str, Any], code: int, reason: str, message: str
) -> None:
    original = pod(APP, SIDECAR, labels={"app": "web"}, volumes=[{"name": "data", "emptyDir": {}}])
    original["metadata"]["finalizers"] = []
    with pytest.raises(PatchError) as caught:
        apply_strategic_merge_patch(original, patch, pod_schema)
    assert (caught.value.code, caught.value.reason, caught.value.message) == (
        code,
        reason,
        message,
    )
    assert caught.value.to_status()["code"] == code


def test_patch_that_is_not_an_object_is_a_bad_request(pod_schema: Node) -> None:
    with pytest.raises(PatchError) as caught:
        apply_strategic_merge_patch(pod(APP), ["spec"], pod_schema)  # type: ignore[arg-type]
    assert caught.value.code == 400
    assert caught.value.message == (
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    )


def test_directives_are_not_stored_where_nothing_is_merged(pod_schema: Node) -> None:
    patch = {"metadata": {"labels": {"$patch": "merge"}, "annotations": {"a": "1", "b": None}}}
    result = apply_strategic_merge_patch(pod(APP), patch, pod_schema)
    assert "labels" not in result["metadata"]
    assert result["metadata"]["annotations"] == {"a": "1"}


def test_null_patch_changes_nothing(pod_schema: Node) -> None:
    assert apply_strategic_merge_patch(pod(APP), None, pod_schema) == pod(APP)


def test_without_a_schema_lists_are_replaced_and_maps_merged() -> None:
    original = {"spec": {"items": [{"name": "a"}], "settings": {"x": 1, "y": 2}}}
    patch = {"spec": {"items": [{"name": "b"}], "settings": {"y": None, "z": 3}}}
    assert apply_strategic_merge_patch(original, patch, None) == {
        "spec": {"items": [{"name": "b"}], "settings": {"x": 1, "z": 3}}
    }


def test_inputs_are_not_changed(pod_schema: Node) -> None:
    original = pod(APP, SIDECAR, labels={"app": "web"})
    patch = spec_patch(
        **{
            "$setElementOrder/containers": order("app"),
            "containers": [{"$patch": "delete", "name": "sidecar"}],
        }
    )
    original_before, patch_before = copy.deepcopy(original), copy.deepcopy(patch)
    result = apply_strategic_merge_patch(original, patch, pod_schema)
    result["spec"]["containers"][0]["image"] = "changed"
    assert original == original_before
    assert patch == patch_before
