"""Path elements, their order and printing, and the fieldsV1 encoding of field sets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kubelite.api.managedfields import fieldpath
from kubelite.api.managedfields.fieldpath import FieldSet, Path

NGINX = 'k:{"name":"nginx"}'


def fs(*paths: Path) -> FieldSet:
    return frozenset(paths)


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        (fieldpath.field("image"), "f:image"),
        (fieldpath.field("app.kubernetes.io/name"), "f:app.kubernetes.io/name"),
        (fieldpath.key({"name": "nginx"}), 'k:{"name":"nginx"}'),
        # Key fields are sorted by name, whatever order the schema lists them in.
        (
            fieldpath.key({"protocol": "TCP", "containerPort": 80}),
            'k:{"containerPort":80,"protocol":"TCP"}',
        ),
        (fieldpath.value("kubernetes.io/pvc-protection"), 'v:"kubernetes.io/pvc-protection"'),
        (fieldpath.value(3), "v:3"),
        # Go's JSON encoder escapes HTML-unsafe characters.
        (fieldpath.value("a<b&c"), 'v:"a\\u003cb\\u0026c"'),
        (fieldpath.index(2), "i:2"),
    ],
)
def test_elements_are_written_as_kubernetes_writes_them(element: str, expected: str) -> None:
    assert element == expected


def test_elements_sort_fields_then_keys_then_values_then_indexes() -> None:
    elements = ["i:0", 'v:"a"', NGINX, "f:zeta", "f:alpha"]
    assert sorted(elements, key=fieldpath.element_order) == [
        "f:alpha",
        "f:zeta",
        NGINX,
        'v:"a"',
        "i:0",
    ]


@pytest.mark.parametrize(
    ("unordered", "ordered"),
    [
        # Numbers compare as numbers: 80 before 443, although "443" < "80" as text.
        (
            ['k:{"containerPort":443,"protocol":"TCP"}', 'k:{"containerPort":80,"protocol":"UDP"}'],
            ['k:{"containerPort":80,"protocol":"UDP"}', 'k:{"containerPort":443,"protocol":"TCP"}'],
        ),
        # Values of different types: numbers, then strings, then booleans.
        (["v:true", 'v:"a"', "v:10", "v:9"], ["v:9", "v:10", 'v:"a"', "v:true"]),
        (["i:10", "i:9"], ["i:9", "i:10"]),
    ],
)
def test_keys_and_values_sort_by_value(unordered: list[str], ordered: list[str]) -> None:
    assert sorted(unordered, key=fieldpath.element_order) == ordered


@pytest.mark.parametrize(
    ("path", "printed"),
    [
        (("f:spec", "f:containers", NGINX, "f:image"), '.spec.containers[name="nginx"].image'),
        (
            ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}'),
            '.spec.ports[port=80,protocol="TCP"]',
        ),
        (
            ("f:metadata", "f:finalizers", 'v:"example.com/x"'),
            '.metadata.finalizers[="example.com/x"]',
        ),
        (("f:spec", "f:nodeSelector"), ".spec.nodeSelector"),
        (("f:items", "i:0"), ".items[0]"),
    ],
)
def test_paths_print_as_in_conflict_messages(path: Path, printed: str) -> None:
    assert fieldpath.path_string(path) == printed


def test_encoding_puts_the_node_itself_first_and_sorts_the_rest() -> None:
    paths = fs(
        ("f:spec", "f:containers", NGINX),
        ("f:spec", "f:containers", NGINX, "f:name"),
        ("f:spec", "f:containers", NGINX, "f:image"),
        ("f:metadata", "f:labels", "f:app"),
    )
    assert compact(fieldpath.encode(paths)) == (
        '{"f:metadata":{"f:labels":{"f:app":{}}},'
        '"f:spec":{"f:containers":{"k:{\\"name\\":\\"nginx\\"}":{".":{},"f:image":{},"f:name":{}}}}}'
    )


def test_an_empty_set_encodes_as_an_empty_object() -> None:
    assert fieldpath.encode(frozenset()) == {}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"f:a": {}}, fs(("f:a",))),
        # "." marks the node itself as owned, besides what is below it.
        ({"f:a": {".": {}, "f:b": {}}}, fs(("f:a",), ("f:a", "f:b"))),
        # Without "." only what is below is owned.
        ({"f:a": {"f:b": {}}}, fs(("f:a", "f:b"))),
        # Element kinds this version does not know are dropped, as Kubernetes drops them.
        ({"f:a": {}, "r:future": {}}, fs(("f:a",))),
        # Keys decode into their canonical form, key fields sorted.
        (
            {'k:{"protocol":"TCP","containerPort":80}': {}},
            fs(('k:{"containerPort":80,"protocol":"TCP"}',)),
        ),
    ],
)
def test_decoding_reads_members_and_children(fields: dict[str, Any], expected: FieldSet) -> None:
    assert fieldpath.decode(fields) == expected


@pytest.mark.parametrize("fields", [{"k:{": {}}, {"f:a": []}, {"x": {}}, ["f:a"]])
def test_decoding_refuses_what_is_not_a_field_set(fields: Any) -> None:
    with pytest.raises(fieldpath.FieldsError):
        fieldpath.decode(fields)


def test_encoding_and_decoding_round_trip() -> None:
    paths = fs(
        ("f:metadata", "f:finalizers", 'v:"a"'),
        ("f:metadata", "f:labels"),
        ("f:metadata", "f:labels", "f:app"),
        ("f:spec", "f:ports", 'k:{"port":443,"protocol":"TCP"}'),
        ("f:spec", "f:ports", 'k:{"port":443,"protocol":"TCP"}', "f:port"),
        ("f:spec", "f:ports", 'k:{"port":80,"protocol":"TCP"}'),
    )
    assert fieldpath.decode(fieldpath.encode(paths)) == paths


def test_recursive_difference_removes_whole_subtrees() -> None:
    paths = fs(("f:spec", "f:replicas"), ("f:status",), ("f:status", "f:phase"))
    assert fieldpath.recursive_difference(paths, fs(("f:status",))) == fs(("f:spec", "f:replicas"))


def test_paths_iterate_level_by_level_members_first() -> None:
    paths = fs(("f:status", "f:conditions"), ("f:status", "f:acceptedNames", "f:kind"), ("f:a",))
    assert list(fieldpath.iter_paths(paths)) == [
        ("f:a",),
        ("f:status", "f:conditions"),
        ("f:status", "f:acceptedNames", "f:kind"),
    ]


def test_dotted_paths_name_struct_fields() -> None:
    assert fieldpath.dotted(["status", "metadata.deletionTimestamp"]) == fs(
        ("f:status",), ("f:metadata", "f:deletionTimestamp")
    )
