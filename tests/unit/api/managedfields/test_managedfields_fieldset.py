"""The field set an applied configuration claims, under the Kubernetes schema."""

from __future__ import annotations

from typing import Any

import pytest

from kubelite.api import schema
from kubelite.api.managedfields.fieldpath import FieldSet, Path
from kubelite.api.managedfields.fieldset import field_set
from kubelite.api.managedfields.typed import SchemaError

POD = schema.load().for_kind("", "v1", "Pod")
SERVICE = schema.load().for_kind("", "v1", "Service")
NGINX = 'k:{"name":"nginx"}'
CONTAINER = ("f:spec", "f:containers", NGINX)


def spec(**fields: Any) -> dict[str, Any]:
    return {"spec": fields}


def container(**fields: Any) -> dict[str, Any]:
    return spec(containers=[{"name": "nginx", **fields}])


def fs(*paths: Path) -> FieldSet:
    return frozenset(paths)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "simple-pod"},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:latest"}]},
            },
            fs(
                ("f:apiVersion",),
                ("f:kind",),
                ("f:metadata", "f:name"),
                CONTAINER,
                (*CONTAINER, "f:name"),
                (*CONTAINER, "f:image"),
            ),
            id="the simple pod: leaves, and the container item itself",
        ),
        pytest.param(
            container(ports=[{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]),
            fs(
                CONTAINER,
                (*CONTAINER, "f:name"),
                (*CONTAINER, "f:ports", 'k:{"containerPort":80,"protocol":"TCP"}'),
                (
                    *CONTAINER,
                    "f:ports",
                    'k:{"containerPort":80,"protocol":"TCP"}',
                    "f:containerPort",
                ),
                (*CONTAINER, "f:ports", 'k:{"containerPort":53,"protocol":"UDP"}'),
                (
                    *CONTAINER,
                    "f:ports",
                    'k:{"containerPort":53,"protocol":"UDP"}',
                    "f:containerPort",
                ),
                (*CONTAINER, "f:ports", 'k:{"containerPort":53,"protocol":"UDP"}', "f:protocol"),
            ),
            id="ports are keyed by containerPort and protocol, TCP when left out",
        ),
        pytest.param(
            {"metadata": {"labels": {"app": "web", "tier": "front"}}},
            fs(("f:metadata", "f:labels", "f:app"), ("f:metadata", "f:labels", "f:tier")),
            id="labels are a granular map: each key is owned, not the map",
        ),
        pytest.param(
            spec(nodeSelector={"disktype": "ssd", "zone": "a"}),
            fs(
                ("f:spec", "f:nodeSelector"),
            ),
            id="nodeSelector is an atomic map: owned whole",
        ),
        pytest.param(
            container(args=["-c", "sleep 1"]),
            fs(CONTAINER, (*CONTAINER, "f:name"), (*CONTAINER, "f:args")),
            id="args is an atomic list",
        ),
        pytest.param(
            spec(volumes=[{"name": "logs", "emptyDir": {}}]),
            fs(
                ("f:spec", "f:volumes", 'k:{"name":"logs"}'),
                ("f:spec", "f:volumes", 'k:{"name":"logs"}', "f:name"),
                ("f:spec", "f:volumes", 'k:{"name":"logs"}', "f:emptyDir"),
            ),
            id="an empty struct is owned as a field of its own",
        ),
        pytest.param(
            {"metadata": {"finalizers": ["example.com/a", "example.com/b"]}},
            fs(
                ("f:metadata", "f:finalizers", 'v:"example.com/a"'),
                ("f:metadata", "f:finalizers", 'v:"example.com/b"'),
            ),
            id="finalizers are a set: items by value",
        ),
        pytest.param(
            spec(containers=[]),
            fs(),
            id="an empty associative list claims nothing",
        ),
    ],
)
def test_field_set_of_a_pod(obj: dict[str, Any], expected: FieldSet) -> None:
    assert field_set(obj, POD) == expected


def test_service_ports_are_keyed_by_port_and_protocol() -> None:
    obj = spec(ports=[{"port": 80, "targetPort": 8080}])
    key = 'k:{"port":80,"protocol":"TCP"}'
    assert field_set(obj, SERVICE) == fs(
        ("f:spec", "f:ports", key),
        ("f:spec", "f:ports", key, "f:port"),
        ("f:spec", "f:ports", key, "f:targetPort"),
    )


def test_a_stored_object_may_repeat_a_key_which_is_then_owned_whole() -> None:
    env = [{"name": "A", "value": "1"}, {"name": "A", "value": "2"}]
    assert field_set(container(env=env), POD) == fs(
        CONTAINER, (*CONTAINER, "f:name"), (*CONTAINER, "f:env", 'k:{"name":"A"}')
    )


def test_an_applied_configuration_may_not_repeat_a_key() -> None:
    obj = spec(containers=[{"name": "nginx"}, {"name": "nginx"}])
    with pytest.raises(
        SchemaError, match=r'^\.spec\.containers: duplicate entries for key \[name="nginx"\]$'
    ):
        field_set(obj, POD, allow_duplicates=False)


def test_an_item_without_its_key_cannot_be_owned() -> None:
    with pytest.raises(SchemaError) as caught:
        field_set(spec(containers=[{"image": "nginx"}]), POD)
    assert str(caught.value) == (
        ".spec.containers: element 0: associative list with keys has an element that omits key "
        'field "name" (and doesn\'t have default value)'
    )
