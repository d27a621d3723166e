"""A create's entry, found by its own walk (`managedfields.created`), is the general path's.

`update(None, obj)` with no entries in the request takes the short way; the general path
(`track` from an empty object, then `managers.encode`) is what every other write takes. Both must
give the same bytes, for objects as clients send them and for the odd ones: nulls, empty values,
values of the wrong type, repeated keys, unknown fields, items that cannot be keyed.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from kubelite.api import schema
from kubelite.api.managedfields import fieldpath, managers, typed, update
from kubelite.api.managedfields.update import track

T0 = "2024-05-01T10:00:00Z"
SCHEMA = schema.load()
POD = SCHEMA.for_kind("", "v1", "Pod")
DEPLOYMENT = SCHEMA.for_kind("apps", "v1", "Deployment")
SERVICE = SCHEMA.for_kind("", "v1", "Service")
CONFIG_MAP = SCHEMA.for_kind("", "v1", "ConfigMap")

Obj = dict[str, Any]


def pod(spec: Any, **metadata: Any) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "uid": "u", **metadata},
        "spec": spec,
    }


NGINX = {"name": "nginx", "image": "nginx"}

CASES: list[tuple[str, Any, Obj, Sequence[str]]] = [
    ("an empty pod", POD, {"apiVersion": "v1", "kind": "Pod"}, ("status",)),
    ("a pod with one container", POD, pod({"containers": [NGINX]}), ("status",)),
    ("nothing reset", POD, pod({"containers": [NGINX]}, labels={"a": "b"}), ()),
    ("the spec reset", POD, pod({"containers": [NGINX]}, labels={"a": "b"}), ("spec",)),
    ("metadata reset", POD, pod({"containers": [NGINX]}, labels={"a": "b"}), ("metadata",)),
    ("labels reset", POD, pod({"containers": [NGINX]}, labels={"a": "b"}), ("metadata.labels",)),
    ("a label reset", POD, pod({"containers": [NGINX]}, labels={"a": "b"}), ("metadata.labels.a",)),
    (
        "a pod's /status resets",
        POD,
        pod({"containers": [NGINX]}, ownerReferences=[{"uid": "1", "kind": "X", "name": "x"}]),
        ("spec", "metadata.deletionTimestamp", "metadata.ownerReferences"),
    ),
    ("a null spec", POD, pod(None), ("status",)),
    ("an empty spec", POD, pod({}), ("status",)),
    ("a spec of the wrong type", POD, pod("x"), ("status",)),
    ("null containers", POD, pod({"containers": None}), ("status",)),
    ("no containers", POD, pod({"containers": []}), ("status",)),
    ("containers of the wrong type", POD, pod({"containers": {"a": 1}}), ("status",)),
    ("empty labels", POD, pod({"containers": [NGINX]}, labels={}), ("status",)),
    ("null labels", POD, pod({"containers": [NGINX]}, labels=None), ("status",)),
    ("a null status", POD, {**pod({"containers": [NGINX]}), "status": None}, ("status",)),
    ("a null metadata", POD, {"apiVersion": "v1", "kind": "Pod", "metadata": None}, ()),
    (
        "two containers of one name",
        POD,
        pod({"containers": [NGINX, {**NGINX, "image": "other"}]}),
        ("status",),
    ),
    (
        "a port without its protocol",
        POD,
        pod({"containers": [{**NGINX, "ports": [{"containerPort": 80}, {"containerPort": 80}]}]}),
        ("status",),
    ),
    ("an item without its key", POD, pod({"containers": [{"image": "x"}]}), ("status",)),
    (
        "a bad item under a reset field",
        POD,
        {**pod({"containers": [NGINX]}), "status": {"conditions": [{"status": "x"}]}},
        ("status",),
    ),
    ("unknown fields", POD, pod({"containers": [{**NGINX, "x": {"y": 1}}], "z": [1]}), ()),
    (
        "empty structs and lists",
        POD,
        pod({"containers": [{**NGINX, "resources": {}, "ports": []}], "securityContext": {}}),
        ("status",),
    ),
    (
        "a container without resources",
        POD,
        pod({"containers": [{"name": "a", "image": "b", "env": [{"name": "X", "value": "1"}]}]}),
        ("status",),
    ),
    (
        "a deployment's template",
        DEPLOYMENT,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "d"},
            "spec": {
                "selector": {"matchLabels": {"app": "d"}},
                "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [NGINX]}},
            },
        },
        ("status",),
    ),
    ("a deployment without a spec", DEPLOYMENT, {"metadata": {"name": "d"}}, ("status",)),
    (
        "a service's ports",
        SERVICE,
        {
            "metadata": {"name": "s"},
            "spec": {"ports": [{"port": 80}, {"port": 80, "protocol": "UDP"}]},
        },
        ("status",),
    ),
    ("a config map", CONFIG_MAP, {"metadata": {"name": "c"}, "data": {"a": "1", "b": ""}}, ()),
]

SEED = json.loads((Path(__file__).parent / "seed_objects.json").read_text())


def general_path(obj: Obj, node: Any, reset: Sequence[str]) -> Any:
    """The managedFields the general path records for a create: None for an untyped object."""
    managed: managers.Managed = {}
    try:
        track(
            {},
            obj,
            managed,
            manager="creator",
            node=node,
            api_version="v1",
            time=T0,
            subresource="",
            reset=fieldpath.dotted(reset),
        )
    except typed.SchemaError:
        return None
    return managers.encode(managed) if managed else None


def short_way(obj: Obj, node: Any, reset: Sequence[str]) -> Any:
    created = copy.deepcopy(obj)
    update(
        None,
        created,
        manager="creator",
        node=node,
        api_version="v1",
        time=T0,
        reset_fields=reset,
    )
    metadata = created.get("metadata")
    return metadata.get("managedFields") if isinstance(metadata, dict) else None


def exact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@pytest.mark.parametrize(
    ("node", "obj", "reset"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_create_records_what_the_general_path_records(
    node: Any, obj: Obj, reset: Sequence[str]
) -> None:
    if not isinstance(obj.get("metadata"), dict):
        # update() leaves an object without metadata alone; the general path has no such rule.
        assert short_way(obj, node, reset) is None
        return
    assert exact(short_way(obj, node, reset)) == exact(general_path(obj, node, reset))


@pytest.mark.parametrize("case", SEED, ids=[c["manifest"]["metadata"]["name"] for c in SEED])
def test_the_seed_objects_take_the_short_way_to_the_same_entry(case: Obj) -> None:
    group, _, version = case["created"]["apiVersion"].rpartition("/")
    node = SCHEMA.for_kind(group, version, case["created"]["kind"])
    reset = case["resetFields"]
    obj = case["created"]
    assert exact(short_way(obj, node, reset)) == exact(general_path(obj, node, reset))


def test_an_object_whose_lists_cannot_be_keyed_is_stored_untracked() -> None:
    assert short_way(pod({"containers": [{"image": "x"}]}), POD, ("status",)) is None
