"""The patches client-side `kubectl apply` computes from last-applied, manifest and live object."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelite.api.patch import (
    PatchError,
    apply_strategic_merge_patch,
    create_three_way_json_merge_patch,
    create_three_way_merge_patch,
    create_two_way_merge_patch,
)
from kubelite.api.schema import Node, load


@pytest.fixture(scope="module")
def pod_schema() -> Node:
    node = load().for_kind("", "v1", "Pod")
    assert node is not None
    return node


def manifest(
    *,
    labels: dict[str, str] | None = None,
    containers: list[dict[str, Any]] | None = None,
    finalizers: list[str] | None = None,
    volumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Pod as a user writes it."""
    metadata: dict[str, Any] = {"name": "web", "labels": labels or {"app": "web"}}
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    spec: dict[str, Any] = {"containers": containers or [{"name": "app", "image": "app:1"}]}
    if volumes is not None:
        spec["volumes"] = volumes
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def live(applied: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The object as the server holds it: the manifest plus defaults, status and others' edits."""
    obj = copy.deepcopy(applied)
    obj["metadata"].update(
        namespace="default", uid="0b1c", resourceVersion="42", **changes.pop("metadata", {})
    )
    for c in obj["spec"]["containers"]:
        c.setdefault("imagePullPolicy", "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
    obj["spec"].update(restartPolicy="Always", dnsPolicy="ClusterFirst", **changes)
    obj["status"] = {"phase": "Running"}
    return obj


def test_dropped_label_is_removed_and_a_label_added_by_someone_else_is_kept(
    pod_schema: Node,
) -> None:
    last_applied = manifest(labels={"app": "web", "tier": "frontend"})
    new = manifest(labels={"app": "web"})
    current = live(last_applied)
    current["metadata"]["labels"]["owner"] = "team-a"  # kubectl label pod web owner=team-a

    patch = create_three_way_merge_patch(last_applied, new, current, pod_schema)

    assert patch == {"metadata": {"labels": {"tier": None}}}
    result = apply_strategic_merge_patch(current, patch, pod_schema)
    assert result["metadata"]["labels"] == {"app": "web", "owner": "team-a"}


def test_unchanged_object_gives_an_empty_patch(pod_schema: Node) -> None:
    applied = manifest(finalizers=["example.com/a"])
    assert create_three_way_merge_patch(applied, applied, live(applied), pod_schema) == {}


def test_strings_out_of_sorted_order_always_carry_their_order(pod_schema: Node) -> None:
    # apimachinery sorts the live list in place before comparing it with the manifest, so
    # kubectl sends this patch (and reports "configured") for an unchanged object.
    applied = manifest(finalizers=["example.com/b", "example.com/a"])
    patch = create_three_way_merge_patch(applied, applied, live(applied), pod_schema)
    assert patch == {
        "metadata": {"$setElementOrder/finalizers": ["example.com/b", "example.com/a"]}
    }


def test_first_apply_without_last_applied_sets_only_what_differs(pod_schema: Node) -> None:
    new = manifest(labels={"app": "web", "tier": "frontend"})
    current = live(manifest())
    patch = create_three_way_merge_patch(None, new, current, pod_schema)
    assert patch == {"metadata": {"labels": {"tier": "frontend"}}}


def test_changed_image_and_new_container_carry_the_manifest_order(pod_schema: Node) -> None:
    last_applied = manifest()
    new = manifest(
        containers=[{"name": "app", "image": "app:2"}, {"name": "proxy", "image": "envoy:1"}]
    )

    patch = create_three_way_merge_patch(last_applied, new, live(last_applied), pod_schema)

    assert patch == {
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "proxy"}],
            "containers": [
                {"name": "app", "image": "app:2"},
                {"name": "proxy", "image": "envoy:1"},
            ],
        }
    }


def test_container_dropped_from_the_manifest_is_deleted(pod_schema: Node) -> None:
    last_applied = manifest(
        containers=[{"name": "app", "image": "app:1"}, {"name": "proxy", "image": "envoy:1"}]
    )
    new = manifest()
    current = live(last_applied)

    patch = create_three_way_merge_patch(last_applied, new, current, pod_schema)

    assert patch == {
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"$patch": "delete", "name": "proxy"}],
        }
    }
    result = apply_strategic_merge_patch(current, patch, pod_schema)
    assert [c["name"] for c in result["spec"]["containers"]] == ["app"]


def test_finalizer_dropped_from_the_manifest_is_deleted_and_a_controllers_kept(
    pod_schema: Node,
) -> None:
    last_applied = manifest(finalizers=["example.com/a", "example.com/b"])
    new = manifest(finalizers=["example.com/a"])
    current = live(last_applied)
    current["metadata"]["finalizers"].append("controller.example.com/cleanup")

    patch = create_three_way_merge_patch(last_applied, new, current, pod_schema)

    assert patch == {
        "metadata": {
            "$deleteFromPrimitiveList/finalizers": ["example.com/b"],
            "$setElementOrder/finalizers": ["example.com/a"],
        }
    }
    result = apply_strategic_merge_patch(current, patch, pod_schema)
    assert result["metadata"]["finalizers"] == [
        "example.com/a",
        "controller.example.com/cleanup",
    ]


def test_volume_switching_source_sends_retain_keys(pod_schema: Node) -> None:
    last_applied = manifest(volumes=[{"name": "data", "emptyDir": {}}])
    new = manifest(volumes=[{"name": "data", "hostPath": {"path": "/srv/data"}}])
    # The service account admission plugin added a volume the manifest never had.
    token = {"name": "kube-api-access-x7k2p", "projected": {"sources": []}}
    current = live(last_applied, volumes=[{"name": "data", "emptyDir": {}}, token])

    patch = create_three_way_merge_patch(last_applied, new, current, pod_schema)

    assert patch == {
        "spec": {
            "$setElementOrder/volumes": [{"name": "data"}],
            "volumes": [
                {
                    "$retainKeys": ["hostPath", "name"],
                    "emptyDir": None,
                    "hostPath": {"path": "/srv/data"},
                    "name": "data",
                }
            ],
        }
    }
    result = apply_strategic_merge_patch(current, patch, pod_schema)
    assert result["spec"]["volumes"] == [
        {"name": "data", "hostPath": {"path": "/srv/data"}},
        token,
    ]


def test_overwrite_false_refuses_to_undo_a_live_change(pod_schema: Node) -> None:
    last_applied = manifest(labels={"app": "web", "tier": "frontend"})
    new = manifest(labels={"app": "web", "tier": "backend"})
    current = live(last_applied)
    current["metadata"]["labels"]["tier"] = "edge"

    with pytest.raises(PatchError) as caught:
        create_three_way_merge_patch(last_applied, new, current, pod_schema, overwrite=False)
    assert caught.value.code == 409
    assert "conflicts with changes made from original to current" in caught.value.message

    # With overwrite (kubectl's default) the manifest wins.
    patch = create_three_way_merge_patch(last_applied, new, current, pod_schema)
    assert patch == {"metadata": {"labels": {"tier": "backend"}}}


def test_overwrite_false_allows_changes_nobody_else_made(pod_schema: Node) -> None:
    last_applied = manifest(labels={"app": "web", "tier": "frontend"})
    new = manifest(labels={"app": "web", "tier": "backend"})
    patch = create_three_way_merge_patch(
        last_applied, new, live(last_applied), pod_schema, overwrite=False
    )
    assert patch == {"metadata": {"labels": {"tier": "backend"}}}


def test_two_way_patch_turns_original_into_modified(pod_schema: Node) -> None:
    original = manifest(labels={"app": "web", "tier": "frontend"})
    modified = manifest(
        labels={"app": "web"},
        containers=[{"name": "app", "image": "app:2"}],
    )

    patch = create_two_way_merge_patch(original, modified, pod_schema)

    assert patch == {
        "metadata": {"labels": {"tier": None}},
        "spec": {
            "$setElementOrder/containers": [{"name": "app"}],
            "containers": [{"name": "app", "image": "app:2"}],
        },
    }
    assert apply_strategic_merge_patch(original, patch, pod_schema) == modified


def test_kinds_without_a_schema_get_a_json_merge_patch() -> None:
    last_applied = {"spec": {"replicas": 1, "size": "small", "zones": ["a"]}}
    new = {"spec": {"replicas": 2, "zones": ["a", "b"]}}
    current = {"spec": {"replicas": 1, "size": "small", "zones": ["a"], "paused": True}}

    patch = create_three_way_json_merge_patch(last_applied, new, current)

    assert patch == {"spec": {"replicas": 2, "size": None, "zones": ["a", "b"]}}


def test_json_merge_patch_of_unchanged_object_is_empty() -> None:
    obj = {"spec": {"replicas": 1}}
    assert create_three_way_json_merge_patch(obj, obj, {**obj, "status": {}}) == {}


def test_inputs_are_not_changed(pod_schema: Node) -> None:
    last_applied = manifest(finalizers=["b", "a"])
    new = manifest(finalizers=["c"])
    current = live(last_applied)
    before = copy.deepcopy((last_applied, new, current))
    create_three_way_merge_patch(last_applied, new, current, pod_schema, overwrite=False)
    assert (last_applied, new, current) == before
